/**
 * Alternative Routing-ID Interpretation (PCI_EXT_CAP_ID_ARI 0x0E; PCIe Base 4.0 §7.8.7).
 * Next Function Number links the functions of an ARI device (0 ends the list). The group enables and
 * the Function Group are writable only when MFVC or ACS Function Groups are supported.
 *
 * JSON names: ariCap { mfvcFunctionGroups, acsFunctionGroups, nextFunction },
 * ariCtrl { mfvcFunctionGroupsEnable, acsFunctionGroupsEnable, functionGroup }.
 */
import { bit, bits, defineExtCap, reg } from "../regs.js";
import type { CapConfig } from "./common.js";
import { checkRange, when } from "./common.js";

export const PCI_EXT_CAP_ID_ARI = 0x0e; // Alternative Routing-ID Interpretation
export const PCI_ARI_CAP = 0x04; // ARI Capability
export const PCI_ARI_CAP_MFVC = 0x0001; // MFVC Function Groups Capability
export const PCI_ARI_CAP_ACS = 0x0002; // ACS Function Groups Capability
export const PCI_ARI_CAP_NFN_MASK = 0xff00; // Next Function Number
export const PCI_ARI_CTRL = 0x06; // ARI Control
export const PCI_ARI_CTRL_MFVC = 0x0001; // MFVC Function Groups Enable
export const PCI_ARI_CTRL_ACS = 0x0002; // ACS Function Groups Enable
export const PCI_ARI_CTRL_FG_MASK = 0x0070; // Function Group
export const PCI_EXT_CAP_ARI_SIZEOF = 8;

/** Next Function Number of an ARI Capability register value (pci_regs.h PCI_ARI_CAP_NFN). */
export const PCI_ARI_CAP_NFN = (x: number): number => (x >> 8) & 0xff;

export const ARI_CAP = defineExtCap("Alternative Routing-ID Interpretation", PCI_EXT_CAP_ID_ARI, PCI_EXT_CAP_ARI_SIZEOF, {
  CAP: reg(PCI_ARI_CAP, 2, {
    json: "ariCap",
    fields: { MFVC: bit(0, "mfvcFunctionGroups"), ACS: bit(1, "acsFunctionGroups"), NFN: bits(15, 8, "nextFunction") },
  }),
  CTRL: reg(PCI_ARI_CTRL, 2, {
    json: "ariCtrl",
    fields: { MFVC: bit(0, "mfvcFunctionGroupsEnable"), ACS: bit(1, "acsFunctionGroupsEnable"), FG: bits(6, 4, "functionGroup") },
  }),
});

export interface AriOptions {
  /** Function number of the next function of this device (0 = last). */
  readonly nextFunction: number;
  readonly mfvcFunctionGroups?: boolean;
  readonly acsFunctionGroups?: boolean;
}

export function ariCap(o: AriOptions): CapConfig<typeof ARI_CAP.regs> {
  const nfn = checkRange("ARI Next Function Number", o.nextFunction, 0, 255);
  const groups = o.mfvcFunctionGroups === true || o.acsFunctionGroups === true;
  return {
    def: ARI_CAP,
    overrides: {
      CAP: (nfn << 8) | when(o.mfvcFunctionGroups, PCI_ARI_CAP_MFVC) | when(o.acsFunctionGroups, PCI_ARI_CAP_ACS),
      CTRL: { rw: when(o.mfvcFunctionGroups, PCI_ARI_CTRL_MFVC) | when(o.acsFunctionGroups, PCI_ARI_CTRL_ACS) | when(groups, PCI_ARI_CTRL_FG_MASK) },
    },
  };
}
