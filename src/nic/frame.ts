/**
 * Ethernet frame layout the embedded switch reads (frames carry no FCS). Allocation-free helpers:
 * a MAC is handled on the data plane as two integers (high 16 bits, low 32 bits) so that no double
 * is boxed per packet.
 */
import type { Mac } from "./port-config.js";

export const ETH_ALEN = 6;
export const ETH_HLEN = 14;
/** Offset of the EtherType / first TPID. */
export const ETH_TYPE_OFF = 12;
export const VLAN_HLEN = 4;
export const VLAN_VID_MASK = 0x0fff;
export const VLAN_PRIO_SHIFT = 13;
/** Largest frame a descriptor chain may carry (igb's jumbo limit, MAX_JUMBO_FRAME_SIZE rounded: 9728 B). */
export const MAX_FRAME = 9728;
/** Default per-pool RX frame limit: 1518 + one 802.1Q tag (igb VMOLR.RLPML default without LPE). */
export const DEFAULT_MAX_RX_FRAME = 1522;

export const macHiAt = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
export const macLoAt = (b: Uint8Array, o: number): number => ((b[o + 2]! << 24) | (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!) >>> 0;
export const macHi = (m: Mac): number => Math.floor(m / 2 ** 32) & 0xffff;
export const macLo = (m: Mac): number => m % 2 ** 32 >>> 0;
export const be16At = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
