/**
 * Process Address Space ID (PCI_EXT_CAP_ID_PASID 0x1B; PCIe Base 4.0 §7.8.8).
 * The Execute and Privileged Mode enables are writable only where the capability supports them.
 *
 * JSON names: pasidCap { executeSupported, privilegedSupported, maxPasidWidth },
 * pasidCtrl { pasidEnable, executeEnable, privilegedEnable }.
 */
import { bit, bits, defineExtCap, reg } from "../regs.js";
import type { CapConfig } from "./common.js";
import { checkRange, when } from "./common.js";

export const PCI_EXT_CAP_ID_PASID = 0x1b; // Process Address Space ID
export const PCI_PASID_CAP = 0x04; // PASID Capability
export const PCI_PASID_CAP_EXEC = 0x0002; // Execute Permission Supported
export const PCI_PASID_CAP_PRIV = 0x0004; // Privileged Mode Supported
export const PCI_PASID_CAP_WIDTH = 0x1f00; // Max PASID Width
export const PCI_PASID_CTRL = 0x06; // PASID Control
export const PCI_PASID_CTRL_ENABLE = 0x0001; // PASID Enable
export const PCI_PASID_CTRL_EXEC = 0x0002; // Execute Permission Enable
export const PCI_PASID_CTRL_PRIV = 0x0004; // Privileged Mode Enable
export const PCI_EXT_CAP_PASID_SIZEOF = 8;

export const PASID_CAP = defineExtCap("Process Address Space ID", PCI_EXT_CAP_ID_PASID, PCI_EXT_CAP_PASID_SIZEOF, {
  CAP: reg(PCI_PASID_CAP, 2, {
    json: "pasidCap",
    fields: { EXEC: bit(1, "executeSupported"), PRIV: bit(2, "privilegedSupported"), WIDTH: bits(12, 8, "maxPasidWidth") },
  }),
  CTRL: reg(PCI_PASID_CTRL, 2, {
    rw: PCI_PASID_CTRL_ENABLE,
    json: "pasidCtrl",
    fields: { ENABLE: bit(0, "pasidEnable"), EXEC: bit(1, "executeEnable"), PRIV: bit(2, "privilegedEnable") },
  }),
});

export interface PasidOptions {
  /** Max PASID Width in bits, 1..20. */
  readonly width: number;
  readonly exec?: boolean;
  readonly priv?: boolean;
}

export function pasidCap(o: PasidOptions): CapConfig<typeof PASID_CAP.regs> {
  const w = checkRange("Max PASID Width", o.width, 1, 20);
  return {
    def: PASID_CAP,
    overrides: {
      CAP: (w << 8) | when(o.exec, PCI_PASID_CAP_EXEC) | when(o.priv, PCI_PASID_CAP_PRIV),
      CTRL: { rw: PCI_PASID_CTRL_ENABLE | when(o.exec, PCI_PASID_CTRL_EXEC) | when(o.priv, PCI_PASID_CTRL_PRIV) },
    },
  };
}
