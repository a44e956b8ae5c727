/**
 * Device Serial Number (PCI_EXT_CAP_ID_DSN 0x03; PCIe Base 4.0 §7.9.3): a read-only EUI-64.
 *
 * JSON names: serialNumberLow, serialNumberHigh.
 */
import { IovError } from "../../errors.js";
import { defineExtCap } from "../regs.js";
import type { CapConfig } from "./common.js";
import { value } from "./common.js";

export const PCI_EXT_CAP_ID_DSN = 0x03; // Device Serial Number
export const PCI_DSN_LOWER = 0x04; // Serial Number Register (Lower DW)
export const PCI_DSN_UPPER = 0x08; // Serial Number Register (Upper DW)
export const PCI_EXT_CAP_DSN_SIZEOF = 12;

export const DSN_CAP = defineExtCap("Device Serial Number", PCI_EXT_CAP_ID_DSN, PCI_EXT_CAP_DSN_SIZEOF, {
  LOWER: value(PCI_DSN_LOWER, 4, "serialNumberLow"),
  UPPER: value(PCI_DSN_UPPER, 4, "serialNumberHigh"),
});

/** DSN carrying the 64-bit serial number `serial` (lspci prints it as bytes high to low). */
export function dsnCap(serial: bigint): CapConfig<typeof DSN_CAP.regs> {
  if (serial < 0n || serial > 0xffffffffffffffffn) throw new IovError("ERANGE", `serial number ${serial.toString(16)} is not a 64-bit value`);
  return {
    def: DSN_CAP,
    overrides: { LOWER: Number(serial & 0xffffffffn), UPPER: Number(serial >> 32n) },
  };
}
