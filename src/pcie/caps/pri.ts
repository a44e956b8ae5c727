/**
 * Page Request Interface (PCI_EXT_CAP_ID_PRI 0x13; PCIe Base 4.0 §10.5.2).
 *
 * JSON names: priCtrl { priEnable, priReset }, priStatus { responseFailure, unexpectedPrgIndex,
 * priStopped, prgResponsePasidRequired }, outstandingPageRequestCapacity,
 * outstandingPageRequestAllocation.
 *
 * Stopped reads 1 while PRI is disabled and idle (its reset value); the device's hook clears it on
 * enable. Reset is a trigger the hook acts on and clears (it reads 0 on hardware).
 */
import { bit, defineExtCap, reg } from "../regs.js";
import type { CapConfig } from "./common.js";
import { checkRange, value, when } from "./common.js";

export const PCI_EXT_CAP_ID_PRI = 0x13; // Page Request Interface
export const PCI_PRI_CTRL = 0x04; // Page Request Control
export const PCI_PRI_CTRL_ENABLE = 0x0001; // Enable
export const PCI_PRI_CTRL_RESET = 0x0002; // Reset
export const PCI_PRI_STATUS = 0x06; // Page Request Status
export const PCI_PRI_STATUS_RF = 0x0001; // Response Failure
export const PCI_PRI_STATUS_UPRGI = 0x0002; // Unexpected Page Request Group Index
export const PCI_PRI_STATUS_STOPPED = 0x0100; // Stopped
export const PCI_PRI_STATUS_PASID = 0x8000; // PRG Response PASID Required
export const PCI_PRI_MAX_REQ = 0x08; // Outstanding Page Request Capacity
export const PCI_PRI_ALLOC_REQ = 0x0c; // Outstanding Page Request Allocation
export const PCI_EXT_CAP_PRI_SIZEOF = 16;

export const PRI_CAP = defineExtCap("Page Request Interface", PCI_EXT_CAP_ID_PRI, PCI_EXT_CAP_PRI_SIZEOF, {
  CTRL: reg(PCI_PRI_CTRL, 2, {
    rw: PCI_PRI_CTRL_ENABLE | PCI_PRI_CTRL_RESET,
    json: "priCtrl",
    fields: { ENABLE: bit(0, "priEnable"), RESET: bit(1, "priReset") },
  }),
  STATUS: reg(PCI_PRI_STATUS, 2, {
    reset: PCI_PRI_STATUS_STOPPED,
    w1c: PCI_PRI_STATUS_RF | PCI_PRI_STATUS_UPRGI,
    json: "priStatus",
    fields: { RF: bit(0, "responseFailure"), UPRGI: bit(1, "unexpectedPrgIndex"), STOPPED: bit(8, "priStopped"), PASID: bit(15, "prgResponsePasidRequired") },
  }),
  MAX_REQ: value(PCI_PRI_MAX_REQ, 4, "outstandingPageRequestCapacity"),
  ALLOC_REQ: reg(PCI_PRI_ALLOC_REQ, 4, { rw: 0xffffffff, json: "outstandingPageRequestAllocation" }),
});

export interface PriOptions {
  /** Outstanding Page Request Capacity. */
  readonly capacity: number;
  readonly pasidRequired?: boolean;
}

export function priCap(o: PriOptions): CapConfig<typeof PRI_CAP.regs> {
  return {
    def: PRI_CAP,
    overrides: {
      STATUS: PCI_PRI_STATUS_STOPPED | when(o.pasidRequired, PCI_PRI_STATUS_PASID),
      MAX_REQ: checkRange("PRI capacity", o.capacity, 0, 0xffffffff),
    },
  };
}
