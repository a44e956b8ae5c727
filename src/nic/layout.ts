/**
 * Where the registers of a NIC function sit: BAR0 assembled from the tables of regs.ts (common block,
 * one EITR per vector, one IVAR per two queues, RX/TX queue blocks, then the PF-only registers or the
 * VF statistics), and the MSI-X table + PBA on the MSI-X BAR. Built once per kind and shared.
 */
import { IovError } from "../errors.js";
import type { RegBlockSpec } from "./regfile.js";
import { MmioLayout } from "./regfile.js";
import {
  E1000_EITR,
  E1000_IVAR,
  E1000_RXQ,
  E1000_TXQ,
  HOOK_CTRL,
  HOOK_CTRL_EXT,
  HOOK_EICS,
  HOOK_EIMC,
  HOOK_EIMS,
  HOOK_ICS,
  HOOK_IMC,
  HOOK_IMS,
  HOOK_MSIX_CTRL,
  HOOK_RDH,
  HOOK_TDH,
  HOOK_TDT,
  HOOK_TXDCTL,
  MAX_EICR_VECTORS,
  MSIX_ENTRY_REGS,
  MSIX_PBA_OFFSET,
  MSIX_PBA_REGS,
  NIC_EITR_REGS,
  NIC_FN_REGS,
  NIC_IVAR_REGS,
  NIC_PF_REGS,
  NIC_RXQ_REGS,
  NIC_TXQ_REGS,
  NIC_VFSTATS_REGS,
  PCI_MSIX_ENTRY_SIZE,
  RHOOK_ICR,
  RHOOK_STAT,
  RHOOK_STATUS,
  VFSTATS_BASE,
} from "./regs.js";

/** Where each function's MSI-X table sits. */
export interface MsixLayoutInfo {
  readonly bar: number;
  /** Offsets of the table and the PBA in that BAR. */
  readonly tableOffset: number;
  readonly pbaOffset: number;
  readonly vectors: number;
  /** Start of the MSI-X register window in the BAR (the lower of the two offsets). */
  readonly base: number;
}
/** When a template puts MSI-X in BAR0, the table starts here (past the register file). */
export const MSIX_IN_BAR0_OFFSET = 0x10000;

/**
 * Table and PBA placement: defaults as NicHwTemplate describes; explicit offsets must be 8-aligned,
 * must not overlap each other, and in BAR0 must lie past the register file.
 */
export function msixLayoutInfo(bar: number, vectors: number, tableOffset?: number, pbaOffset?: number): MsixLayoutInfo {
  const table = tableOffset ?? (bar === 0 ? MSIX_IN_BAR0_OFFSET : 0);
  const tableBytes = vectors * PCI_MSIX_ENTRY_SIZE;
  const pba = pbaOffset ?? table + Math.max(MSIX_PBA_OFFSET, Math.ceil(tableBytes / 0x1000) * 0x1000);
  const pbaBytes = Math.ceil(vectors / 64) * 8;
  const where = `MSI-X in BAR${bar}: table 0x${table.toString(16)}+0x${tableBytes.toString(16)}, PBA 0x${pba.toString(16)}+0x${pbaBytes.toString(16)}`;
  if (!Number.isInteger(table) || !Number.isInteger(pba) || table < 0 || pba < 0 || table % 8 !== 0 || pba % 8 !== 0)
    throw new IovError("EINVAL", `${where}: offsets must be non-negative multiples of 8`);
  if (table < pba + pbaBytes && pba < table + tableBytes) throw new IovError("EINVAL", `${where}: table and PBA overlap`);
  if (bar === 0 && Math.min(table, pba) < MSIX_IN_BAR0_OFFSET) throw new IovError("EINVAL", `${where}: overlaps the registers (below 0x${MSIX_IN_BAR0_OFFSET.toString(16)})`);
  return { bar, tableOffset: table, pbaOffset: pba, vectors, base: Math.min(table, pba) };
}

const one = (): number => 0;

export function buildFnLayout(isPf: boolean, queues: number, vectors: number): MmioLayout {
  const eitrs = Math.min(vectors, MAX_EICR_VECTORS);
  const blocks: RegBlockSpec[] = [
    {
      def: NIC_FN_REGS,
      count: 1,
      at: one,
      hooks: { CTRL: HOOK_CTRL, EICS: HOOK_EICS, EIMS: HOOK_EIMS, EIMC: HOOK_EIMC },
      readHooks: { STATUS: RHOOK_STATUS },
    },
    { def: NIC_EITR_REGS, count: eitrs, at: E1000_EITR },
    { def: NIC_IVAR_REGS, count: Math.ceil(queues / 2), at: E1000_IVAR },
    {
      def: NIC_RXQ_REGS,
      count: queues,
      at: E1000_RXQ,
      hooks: { RDH: HOOK_RDH },
    },
    {
      def: NIC_TXQ_REGS,
      count: queues,
      at: E1000_TXQ,
      hooks: { TDT: HOOK_TDT, TXDCTL: HOOK_TXDCTL, TDH: HOOK_TDH },
    },
  ];
  if (isPf) {
    blocks.push({ def: NIC_PF_REGS, count: 1, at: one, hooks: { ICS: HOOK_ICS, IMS: HOOK_IMS, IMC: HOOK_IMC, CTRL_EXT: HOOK_CTRL_EXT }, readHooks: { ICR: RHOOK_ICR } });
  } else {
    const stat: Record<string, number> = {};
    for (const k of Object.keys(NIC_VFSTATS_REGS.regs)) stat[k] = RHOOK_STAT;
    blocks.push({ def: NIC_VFSTATS_REGS, count: 1, at: () => VFSTATS_BASE, readHooks: stat });
  }
  return new MmioLayout(isPf ? "pf-bar0" : "vf-bar0", blocks);
}

/** The MSI-X window of a function, offsets relative to `info.base`. */
export function buildMsixLayout(info: MsixLayoutInfo): MmioLayout {
  const table = info.tableOffset - info.base;
  const pba = info.pbaOffset - info.base;
  return new MmioLayout("msix", [
    { def: MSIX_ENTRY_REGS, count: info.vectors, at: (i) => table + i * PCI_MSIX_ENTRY_SIZE, hooks: { VECTOR_CTRL: HOOK_MSIX_CTRL } },
    { def: MSIX_PBA_REGS, count: Math.ceil(info.vectors / 32), at: (w) => pba + 4 * w },
  ]);
}

