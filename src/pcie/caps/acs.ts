/**
 * Access Control Services (PCI_EXT_CAP_ID_ACS 0x0D; PCIe Base 4.0 §7.7.8).
 * A control bit is writable only where the capability register advertises the feature: `acsCap(bits)`
 * sets both from one mask. With P2P Egress Control the capability also carries an Egress Control
 * Vector of `egressControlVectorSize` bits (a second table, `ACS_EGRESS_CAP`, 12 bytes).
 *
 * JSON names: acsCap { sourceValidation, translationBlocking, p2pRequestRedirect,
 * p2pCompletionRedirect, upstreamForwarding, p2pEgressControl, directTranslatedP2p,
 * egressControlVectorSize }, acsCtrl { sourceValidationEnable, translationBlockingEnable,
 * p2pRequestRedirectEnable, p2pCompletionRedirectEnable, upstreamForwardingEnable,
 * p2pEgressControlEnable, directTranslatedP2pEnable }, egressControlVector.
 */
import { IovError } from "../../errors.js";
import { bit, bits, defineExtCap, reg } from "../regs.js";
import type { CapConfig } from "./common.js";
import { asCapConfig, checkRange } from "./common.js";

export const PCI_EXT_CAP_ID_ACS = 0x0d; // Access Control Services
export const PCI_ACS_CAP = 0x04; // ACS Capability
export const PCI_ACS_SV = 0x0001; // ACS Source Validation
export const PCI_ACS_TB = 0x0002; // ACS Translation Blocking
export const PCI_ACS_RR = 0x0004; // ACS P2P Request Redirect
export const PCI_ACS_CR = 0x0008; // ACS P2P Completion Redirect
export const PCI_ACS_UF = 0x0010; // ACS Upstream Forwarding
export const PCI_ACS_EC = 0x0020; // ACS P2P Egress Control
export const PCI_ACS_DT = 0x0040; // ACS Direct Translated P2P
/** Every ACS feature bit (the same positions in Capability and Control). */
export const PCI_ACS_ALL = PCI_ACS_SV | PCI_ACS_TB | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF | PCI_ACS_EC | PCI_ACS_DT;
export const PCI_ACS_EGRESS_BITS = 0x05; // Egress Control Vector Size (byte offset inside the capability)
export const PCI_ACS_CTRL = 0x06; // ACS Control
export const PCI_ACS_EGRESS_CTL_V = 0x08; // Egress Control Vector
export const PCI_EXT_CAP_ACS_SIZEOF = 8;
export const PCI_EXT_CAP_ACS_EGRESS_SIZEOF = 12;

const CAP_FIELDS = {
  SV: bit(0, "sourceValidation"),
  TB: bit(1, "translationBlocking"),
  RR: bit(2, "p2pRequestRedirect"),
  CR: bit(3, "p2pCompletionRedirect"),
  UF: bit(4, "upstreamForwarding"),
  EC: bit(5, "p2pEgressControl"),
  DT: bit(6, "directTranslatedP2p"),
  EGRESS_BITS: bits(15, 8, "egressControlVectorSize"),
};
const CTRL_FIELDS = {
  SV: bit(0, "sourceValidationEnable"),
  TB: bit(1, "translationBlockingEnable"),
  RR: bit(2, "p2pRequestRedirectEnable"),
  CR: bit(3, "p2pCompletionRedirectEnable"),
  UF: bit(4, "upstreamForwardingEnable"),
  EC: bit(5, "p2pEgressControlEnable"),
  DT: bit(6, "directTranslatedP2pEnable"),
};
const ACS_REGS = {
  CAP: reg(PCI_ACS_CAP, 2, { json: "acsCap", fields: CAP_FIELDS }),
  CTRL: reg(PCI_ACS_CTRL, 2, { json: "acsCtrl", fields: CTRL_FIELDS }),
};

/** ACS without Egress Control: nothing advertised, nothing writable until `acsCap` says so. */
export const ACS_CAP = defineExtCap("Access Control Services", PCI_EXT_CAP_ID_ACS, PCI_EXT_CAP_ACS_SIZEOF, ACS_REGS);
/** ACS with P2P Egress Control and a one-dword Egress Control Vector (up to 32 functions/ports). */
export const ACS_EGRESS_CAP = defineExtCap("Access Control Services", PCI_EXT_CAP_ID_ACS, PCI_EXT_CAP_ACS_EGRESS_SIZEOF, {
  ...ACS_REGS,
  EGRESS_CTL_V: reg(PCI_ACS_EGRESS_CTL_V, 4, { json: "egressControlVector" }),
});

export interface AcsOptions {
  /** Egress Control Vector bits (1..32) when `PCI_ACS_EC` is advertised. Default 8. */
  readonly egressVectorBits?: number;
}

/**
 * ACS advertising `capBits` (PCI_ACS_SV | PCI_ACS_RR | ...): the same bits become writable in ACS
 * Control, and with `PCI_ACS_EC` the Egress Control Vector is added (the table is then `ACS_EGRESS_CAP`).
 */
export function acsCap(capBits: number, o: AcsOptions = {}): CapConfig {
  if (!Number.isInteger(capBits) || (capBits & ~PCI_ACS_ALL) !== 0 || capBits < 0)
    throw new IovError("EINVAL", `ACS capability bits 0x${capBits.toString(16)} outside 0x${PCI_ACS_ALL.toString(16)}`, { capBits });
  if ((capBits & PCI_ACS_EC) === 0) {
    if (o.egressVectorBits !== undefined) throw new IovError("EINVAL", "an Egress Control Vector needs PCI_ACS_EC", { capBits });
    return asCapConfig({ def: ACS_CAP, overrides: { CAP: capBits, CTRL: { rw: capBits } } });
  }
  const n = checkRange("ACS Egress Control Vector size", o.egressVectorBits ?? 8, 1, 32);
  return asCapConfig({
    def: ACS_EGRESS_CAP,
    overrides: {
      CAP: capBits | (n << 8),
      CTRL: { rw: capBits },
      EGRESS_CTL_V: { rw: n === 32 ? 0xffffffff : (1 << n) - 1 },
    },
  });
}
