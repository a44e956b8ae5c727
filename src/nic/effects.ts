/**
 * What register writes and reads do beyond storing bits (the post-write and read hooks of the
 * tables in regs.ts), function resets, and the TX queue scheduler that doorbells feed.
 *
 * - CTRL.RST: function reset (VF: also a mailbox event for the PF). EICS raises causes; EIMS/EIMC set
 *   and clear the enable mask (enabling a pending cause sends it); MSI-X vector unmask delivers the
 *   pending bit. TDT (and TXDCTL.ENABLE 0→1) schedules the queue. RDH/TDH move only while the
 *   queue is disabled. PF: ICS/IMS/IMC for the "other" causes in ICR (read to clear), CTRL_EXT.PFRSTD
 *   tells the mailbox the PF finished its reset.
 * - STATUS reads compute LU (the wire for the PF, the link state for a VF) and the PF's IOV mode and
 *   VF count; VF statistics registers read the function's counters (low 32 bits).
 * - TX scheduling is re-entrant safe: a doorbell rung while a queue is being processed (from the
 *   uplink callback) is queued and served by the loop already running.
 */
import { C_RESETS, C_RX_BYTES, C_RX_LB_BYTES, C_RX_LB_PACKETS, C_RX_MULTICAST, C_RX_PACKETS, C_TX_BYTES, C_TX_LB_BYTES, C_TX_LB_PACKETS, C_TX_PACKETS } from "./counters.js";
import type { NicFunction } from "./fn.js";
import { LINK_AUTO, LINK_ENABLE } from "./fn.js";
import type { MailboxPort } from "./mmio.js";
import type { InterruptUnit } from "./msix.js";
import type { DataPath } from "./queues.js";
import type { MmioLayout, RegHookSink } from "./regfile.js";
import {
  E1000_CTRL_EXT_PFRSTD,
  E1000_CTRL_RST,
  E1000_ICR_VMMB,
  E1000_RXDCTL_QUEUE_ENABLE,
  E1000_STATUS_IOV_MODE,
  E1000_STATUS_LU,
  E1000_STATUS_NUM_VFS_SHIFT,
  E1000_TXDCTL_QUEUE_ENABLE,
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
  ICR_CAUSES,
  MAX_QUEUES,
  NIC_PF_REGS,
  PCI_MSIX_ENTRY_CTRL_MASKBIT,
  RHOOK_ICR,
  RHOOK_STAT,
  RHOOK_STATUS,
} from "./regs.js";
import type { Veb } from "./veb.js";

/** VF statistics registers in NIC_VFSTATS_REGS order → counters. */
const STAT_COUNTERS = [C_RX_PACKETS, C_TX_PACKETS, C_RX_BYTES, C_TX_BYTES, C_RX_MULTICAST, C_RX_LB_PACKETS, C_TX_LB_PACKETS, C_RX_LB_BYTES, C_TX_LB_BYTES];

export class FunctionEffects implements RegHookSink {
  mailbox: MailboxPort | undefined;
  numVfs = 0;
  private fns: readonly NicFunction[] = [];
  private irq!: InterruptUnit;
  private dp!: DataPath;
  private veb!: Veb;
  private sIcr = 0;
  private sIms = 0;
  private draining = false;
  private readonly txStack: Int32Array;
  private readonly txFlag: Uint8Array;
  private txCount = 0;

  constructor(functions: number) {
    this.txStack = new Int32Array(functions * MAX_QUEUES);
    this.txFlag = new Uint8Array(functions * MAX_QUEUES);
  }

  /** Second construction step: the functions exist only after their register files (which need this sink). */
  bind(fns: readonly NicFunction[], irq: InterruptUnit, dp: DataPath, veb: Veb, pfLayout: MmioLayout): void {
    this.fns = fns;
    this.irq = irq;
    this.dp = dp;
    this.veb = veb;
    this.sIcr = pfLayout.slot(NIC_PF_REGS, "ICR");
    this.sIms = pfLayout.slot(NIC_PF_REGS, "IMS");
  }

  regWritten(owner: number, hook: number, inst: number, _key: number, old: number, nu: number, written: number): void {
    const f = this.fns[owner]!;
    const v = f.regs.vals;
    switch (hook) {
      case HOOK_CTRL:
        if ((nu & E1000_CTRL_RST) !== 0) this.functionReset(f, false, true);
        break;
      case HOOK_EICS:
        this.irq.raise(f, written);
        break;
      case HOOK_EIMS:
        v[f.sEims] = old | written;
        this.irq.schedule(f, written);
        break;
      case HOOK_EIMC:
        v[f.sEims] = v[f.sEims]! & ~written;
        break;
      case HOOK_TDT:
        this.kickTx(f, inst);
        break;
      case HOOK_TXDCTL:
        if ((old & E1000_TXDCTL_QUEUE_ENABLE) === 0 && (nu & E1000_TXDCTL_QUEUE_ENABLE) !== 0) {
          f.tsoNext[inst] = 0; // a queue enabled anew starts no packet half-sent
          this.kickTx(f, inst);
        }
        break;
      case HOOK_RDH:
        if ((v[f.rxCtl[inst]!]! & E1000_RXDCTL_QUEUE_ENABLE) !== 0) v[f.rxHead[inst]!] = old;
        break;
      case HOOK_TDH:
        if ((v[f.txCtl[inst]!]! & E1000_TXDCTL_QUEUE_ENABLE) !== 0) v[f.txHead[inst]!] = old;
        break;
      case HOOK_ICS:
        this.pfCause(written & ICR_CAUSES);
        break;
      case HOOK_IMS:
        v[this.sIms] = (old | written) & ICR_CAUSES;
        if ((v[this.sIcr]! & written) !== 0) this.irq.raise(f, this.irq.miscBit(f));
        break;
      case HOOK_IMC:
        v[this.sIms] = v[this.sIms]! & ~written;
        break;
      case HOOK_CTRL_EXT:
        if ((old & E1000_CTRL_EXT_PFRSTD) === 0 && (nu & E1000_CTRL_EXT_PFRSTD) !== 0) this.mailbox?.pfResetDone?.();
        break;
      case HOOK_MSIX_CTRL:
        if ((old & PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0 && (nu & PCI_MSIX_ENTRY_CTRL_MASKBIT) === 0) this.irq.schedulePba(f);
        break;
      default:
        break;
    }
  }

  regRead(owner: number, hook: number, _inst: number, key: number, stored: number): number {
    const f = this.fns[owner]!;
    switch (hook) {
      case RHOOK_STATUS: {
        let s = stored & ~E1000_STATUS_LU;
        if (f.isPf) {
          if (this.veb.wireUp) s |= E1000_STATUS_LU;
          if (this.numVfs > 0) s |= E1000_STATUS_IOV_MODE | (Math.min(this.numVfs, 15) << E1000_STATUS_NUM_VFS_SHIFT);
        } else if (f.link === LINK_ENABLE || (f.link === LINK_AUTO && this.veb.wireUp)) s |= E1000_STATUS_LU;
        return s >>> 0;
      }
      case RHOOK_STAT:
        return f.ctr[STAT_COUNTERS[key]!]! % 2 ** 32;
      case RHOOK_ICR:
        f.regs.vals[this.sIcr] = 0;
        return stored;
      default:
        return stored;
    }
  }

  /** Raise PF "other" causes (ICR); the misc vector fires for those enabled in IMS. */
  pfCause(bits: number): void {
    const pf = this.fns[0]!;
    const v = pf.regs.vals;
    v[this.sIcr] = v[this.sIcr]! | bits;
    if ((bits & v[this.sIms]!) !== 0) this.irq.raise(pf, this.irq.miscBit(pf));
  }

  /**
   * Registers to reset values (queues disabled, interrupts masked); FLR also resets the MSI-X table
   * and the capability's enable. Counters, filters and port settings are kept. A VF reset is a
   * mailbox event for the PF (`notify`); a PF reset puts the mailboxes in reset.
   */
  functionReset(f: NicFunction, flr: boolean, notify: boolean): void {
    f.regs.reset();
    if (flr) {
      f.msix.reset();
      f.msixEnable = false;
      f.msixFunctionMask = false;
    }
    this.irq.clear(f);
    f.txStalled.fill(0);
    f.txCtx.fill(0);
    f.tsoNext.fill(0);
    f.ctr[C_RESETS]!++;
    if (f.isPf) {
      if (notify) this.mailbox?.pfReset?.();
      return;
    }
    if (!notify) return;
    this.pfCause(E1000_ICR_VMMB);
    this.mailbox?.vfReset?.(f.vf);
  }

  kickAll(f: NicFunction): void {
    for (let q = 0; q < f.nq; q++) this.kickTx(f, q);
  }

  /** Schedule TX queue q of f and run the queue loop unless it is already running. */
  kickTx(f: NicFunction, q: number): void {
    const key = f.index * MAX_QUEUES + q;
    if (this.txFlag[key] === 0) {
      this.txFlag[key] = 1;
      this.txStack[this.txCount++] = key;
    }
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.txCount > 0) {
        const k = this.txStack[--this.txCount]!;
        this.txFlag[k] = 0;
        this.dp.processTx(this.fns[(k / MAX_QUEUES) | 0]!, k % MAX_QUEUES);
      }
    } finally {
      this.draining = false;
    }
  }
}
