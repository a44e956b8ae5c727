/**
 * The per-VF port settings an administrator sets through the PF (`ip link set DEV vf N ...`,
 * IFLA_VF_* in netlink) and the embedded switch enforces. Shared by the NIC's VEB (hardware side)
 * and the PF driver (software side).
 */

/** 48-bit MAC as a number (exact in a double); 0 = unset. */
export type Mac = number;

export type VlanProto = "802.1Q" | "802.1ad";
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;

export type LinkState = "auto" | "enable" | "disable";

export interface VfPortConfig {
  /** Administrative MAC (0 = none set: the VF may choose its own). */
  mac: Mac;
  /** Port VLAN 0..4095 (0 = none: no insert/strip, no VLAN filter). */
  vlan: number;
  /** 802.1p priority 0..7 for the inserted tag. */
  qos: number;
  proto: VlanProto;
  /** TX anti-spoof on source MAC (and VLAN). */
  spoofchk: boolean;
  trust: boolean;
  linkState: LinkState;
  /** Mbit/s; 0 = no guarantee / no limit. */
  minTxRate: number;
  maxTxRate: number;
  queryRss: boolean;
}

export function defaultVfPortConfig(): VfPortConfig {
  return { mac: 0, vlan: 0, qos: 0, proto: "802.1Q", spoofchk: true, trust: false, linkState: "auto", minTxRate: 0, maxTxRate: 0, queryRss: false };
}

export function formatMac(m: Mac): string {
  const parts: string[] = [];
  for (let i = 5; i >= 0; i--) parts.push((Math.floor(m / 2 ** (8 * i)) & 0xff).toString(16).padStart(2, "0"));
  return parts.join(":");
}

export function parseMac(s: string): Mac | undefined {
  const m = /^([0-9a-fA-F]{2})(?::([0-9a-fA-F]{2})){5}$/.exec(s);
  if (m === null) return undefined;
  return s.split(":").reduce((acc, h) => acc * 256 + parseInt(h, 16), 0);
}

export const isMulticastMac = (m: Mac): boolean => (Math.floor(m / 2 ** 40) & 1) === 1;
export const BROADCAST_MAC: Mac = 0xffffffffffff;
