/**
 * PCI Power Management capability (PCI_CAP_ID_PM 0x01; PCI Bus Power Management Interface 1.2,
 * PCIe Base 4.0 §7.5.2).
 *
 * JSON names: pmc { version, pmeClock, dsi, auxCurrent, d1Support, d2Support, pmeSupport },
 * pmcsr { powerState, noSoftReset, pmeEnable, dataSelect, dataScale, pmeStatus },
 * pmcsrBse { b2b3, bpccEnable }, pmData.
 *
 * PME_Status is RW1C; it and PME_En are sticky when the function can signal PME from D3cold
 * (they must survive the loss of main power). A write of a power state the function does not
 * support is discarded by hardware; that is behaviour (a post-write hook), not a mask.
 */
import { bit, bits, defineCap, reg } from "../regs.js";
import type { CapConfig } from "./common.js";
import { checkRange, value, when } from "./common.js";

export const PCI_CAP_ID_PM = 0x01; // Power Management
export const PCI_PM_PMC = 2; // Power Management Capabilities
export const PCI_PM_CAP_VER_MASK = 0x0007; // Version
export const PCI_PM_CAP_PME_CLOCK = 0x0008; // PME Clock
export const PCI_PM_CAP_DSI = 0x0020; // Device Specific Initialization
export const PCI_PM_CAP_AUX_POWER = 0x01c0; // Aux_Current
export const PCI_PM_CAP_D1 = 0x0200; // D1_Support
export const PCI_PM_CAP_D2 = 0x0400; // D2_Support
export const PCI_PM_CAP_PME_MASK = 0xf800; // PME_Support
export const PCI_PM_CAP_PME_D0 = 0x0800; // PME from D0
export const PCI_PM_CAP_PME_D1 = 0x1000; // PME from D1
export const PCI_PM_CAP_PME_D2 = 0x2000; // PME from D2
export const PCI_PM_CAP_PME_D3hot = 0x4000; // PME from D3hot
export const PCI_PM_CAP_PME_D3cold = 0x8000; // PME from D3cold
export const PCI_PM_CTRL = 4; // Power Management Control/Status (PMCSR)
export const PCI_PM_CTRL_STATE_MASK = 0x0003; // PowerState
export const PCI_PM_CTRL_NO_SOFT_RESET = 0x0008; // No_Soft_Reset
export const PCI_PM_CTRL_PME_ENABLE = 0x0100; // PME_En
export const PCI_PM_CTRL_DATA_SEL_MASK = 0x1e00; // Data_Select
export const PCI_PM_CTRL_DATA_SCALE_MASK = 0x6000; // Data_Scale
export const PCI_PM_CTRL_PME_STATUS = 0x8000; // PME_Status
export const PCI_PM_PPB_EXTENSIONS = 6; // PMCSR_BSE (bridge support extensions)
export const PCI_PM_PPB_B2_B3 = 0x40; // B2_B3#
export const PCI_PM_BPCC_ENABLE = 0x80; // BPCC_En
export const PCI_PM_DATA_REGISTER = 7; // Data
export const PCI_PM_SIZEOF = 8;
/** PMC version 3: PCI Bus Power Management Interface Specification 1.2 (what PCIe functions report). */
export const PCI_PM_CAP_VER_1_2 = 3;

export const PM_CAP = defineCap("Power Management", PCI_CAP_ID_PM, PCI_PM_SIZEOF, {
  PMC: reg(PCI_PM_PMC, 2, {
    reset: PCI_PM_CAP_VER_1_2,
    json: "pmc",
    fields: {
      VERSION: bits(2, 0, "version"),
      PME_CLOCK: bit(3, "pmeClock"),
      DSI: bit(5, "dsi"),
      AUX_POWER: bits(8, 6, "auxCurrent"),
      D1: bit(9, "d1Support"),
      D2: bit(10, "d2Support"),
      PME: bits(15, 11, "pmeSupport"),
    },
  }),
  CTRL: reg(PCI_PM_CTRL, 2, {
    rw: PCI_PM_CTRL_STATE_MASK | PCI_PM_CTRL_PME_ENABLE,
    w1c: PCI_PM_CTRL_PME_STATUS,
    json: "pmcsr",
    fields: {
      STATE: bits(1, 0, "powerState"),
      NO_SOFT_RESET: bit(3, "noSoftReset"),
      PME_ENABLE: bit(8, "pmeEnable"),
      DATA_SEL: bits(12, 9, "dataSelect"),
      DATA_SCALE: bits(14, 13, "dataScale"),
      PME_STATUS: bit(15, "pmeStatus"),
    },
  }),
  PPB_EXTENSIONS: reg(PCI_PM_PPB_EXTENSIONS, 1, { json: "pmcsrBse", fields: { B2_B3: bit(6, "b2b3"), BPCC_ENABLE: bit(7, "bpccEnable") } }),
  DATA_REGISTER: value(PCI_PM_DATA_REGISTER, 1, "pmData"),
});

export type PmeState = "d0" | "d1" | "d2" | "d3hot" | "d3cold";
const PME_BIT: Record<PmeState, number> = {
  d0: PCI_PM_CAP_PME_D0,
  d1: PCI_PM_CAP_PME_D1,
  d2: PCI_PM_CAP_PME_D2,
  d3hot: PCI_PM_CAP_PME_D3hot,
  d3cold: PCI_PM_CAP_PME_D3cold,
};

export interface PmCapOptions {
  /** States from which the function can signal PME (PMC PME_Support). */
  readonly pme?: readonly PmeState[];
  readonly d1?: boolean;
  readonly d2?: boolean;
  readonly dsi?: boolean;
  /** Aux_Current encoding 0..7 (0 = self powered / not reported). */
  readonly auxCurrent?: number;
  /** No_Soft_Reset: the function keeps its state across D3hot→D0. */
  readonly noSoftReset?: boolean;
}

/** Power Management for one device: PMC values and the stickiness PME from D3cold implies. */
export function pmCap(o: PmCapOptions = {}): CapConfig<typeof PM_CAP.regs> {
  let pme = 0;
  for (const s of o.pme ?? []) pme |= PME_BIT[s];
  const aux = checkRange("Aux_Current", o.auxCurrent ?? 0, 0, 7);
  const pmc = PCI_PM_CAP_VER_1_2 | when(o.dsi, PCI_PM_CAP_DSI) | (aux << 6) | when(o.d1, PCI_PM_CAP_D1) | when(o.d2, PCI_PM_CAP_D2) | pme;
  const sticky = (pme & PCI_PM_CAP_PME_D3cold) !== 0 ? PCI_PM_CTRL_PME_STATUS | PCI_PM_CTRL_PME_ENABLE : 0;
  return {
    def: PM_CAP,
    overrides: {
      PMC: pmc,
      CTRL: { reset: when(o.noSoftReset, PCI_PM_CTRL_NO_SOFT_RESET), sticky },
    },
  };
}
