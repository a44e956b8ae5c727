/**
 * BAR decode of one NIC function: which BAR offsets go to the register file, to the MSI-X table,
 * or to the PF↔VF mailbox unit (src/nic/mailbox-hw.ts, reached through `MailboxPort`).
 *
 * VF BAR0: VMBMEM 0x800..0x83F and V2PMAILBOX 0xC40 → `vfRead/vfWrite(vf, off)` with the VF's own
 * offsets. PF BAR0: the windows of PF_MAILBOX_WINDOWS (igb's VMBMEM/P2VMAILBOX/MBVFICR/MBVFIMR/
 * VFLRE and the wide windows for parts with more than 16 VFs) → `pfRead/pfWrite(off)` with the offset
 * the PF used; the mailbox unit decodes inside them. Sizes are passed through.
 */
import { E1000_V2PMAILBOX, E1000_VMBMEM, E1000_VMBMEM_SIZE, PF_MAILBOX_WINDOWS } from "./regs.js";

/** The mailbox unit as the NIC's BAR decode sees it (MailboxHw fits it). */
export interface MailboxPort {
  vfRead(vf: number, off: number, size: number): number;
  vfWrite(vf: number, off: number, size: number, value: number): void;
  pfRead(off: number, size: number): number;
  pfWrite(off: number, size: number, value: number): void;
  /** The VF was reset (its CTRL.RST or an FLR): the mailbox sets VFLRE and RSTD as igb does. */
  vfReset?(vf: number): void;
  /** The PF reset itself (its CTRL.RST): every mailbox shows RSTI. */
  pfReset?(): void;
  /** The PF wrote CTRL_EXT.PFRSTD: RSTD in every VF mailbox. */
  pfResetDone?(): void;
  /** When present the NIC points these at its interrupt logic: the PF's ICR.VMMB, VF n's misc vector. */
  onPfInterrupt?: (vf: number) => void;
  onVfInterrupt?: (vf: number) => void;
}

/** True when a VF BAR0 offset belongs to the mailbox. */
export function vfMailboxOffset(off: number): boolean {
  return (off >= E1000_VMBMEM(0) && off < E1000_VMBMEM(0) + E1000_VMBMEM_SIZE) || (off >= E1000_V2PMAILBOX(0) && off < E1000_V2PMAILBOX(0) + 4);
}

/** True when a PF BAR0 offset belongs to the mailbox unit. */
export function pfMailboxOffset(off: number): boolean {
  for (const [lo, hi] of PF_MAILBOX_WINDOWS) if (off >= lo && off < hi) return true;
  return false;
}
