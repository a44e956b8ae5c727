/**
 * The SR-IOV NIC's hardware: a PF and `maxVfs` VFs, each with a BAR0 register file (igb/igbvf
 * layout, regs.ts) and an MSI-X table, descriptor rings in simulated memory, a DMA engine issuing
 * every access with the function's requester ID, and the embedded switch between the functions and
 * the wire. The PCIe layer attaches `pfMmio` / `vfMmio(k)` as the functions' MmioHandlers; the owner
 * keeps `setRequesterId`, `setBusMaster`, `setMsixControl` and `setNumVfs` in step with config space.
 *
 * Doorbells are synchronous: a TDT write (or TXDCTL enable) processes the queue before the write
 * returns; `poll(nowNs)` advances simulated time, resumes queues waiting on the rate limiter and sends
 * interrupts held back by EITR. Interrupts raised during a step are sent when the step ends.
 *
 * Resets: a VF's CTRL.RST and `resetVf` (FLR) put its registers to their reset values (queues
 * disabled, interrupts masked), raise the PF's ICR.VMMB and tell the mailbox unit (which sets VFLRE
 * and RSTD); FLR also resets the MSI-X table. Counters, the switch filters and the port settings are
 * kept: they are the PF's (host's) state, not the VF's; `clearStats` clears counters.
 */
import { IovError } from "../errors.js";
import type { PhysMem } from "../memory/physmem.js";
import type { DmaTranslator, MsiSink } from "../pcie/dma.js";
import type { MmioHandler } from "../pcie/function.js";
import type { VfPortConfig } from "./port-config.js";
import { isMulticastMac } from "./port-config.js";
import { statsOf } from "./counters.js";
import type { NicFnStats, NicWireStats } from "./counters.js";
import { DmaEngine } from "./dma-engine.js";
import { FunctionEffects } from "./effects.js";
import { NicFunction } from "./fn.js";
import type { MsixLayoutInfo } from "./layout.js";
import { buildFnLayout, buildMsixLayout } from "./layout.js";
import { MAX_FRAME, VLAN_HLEN } from "./frame.js";
import type { MailboxPort } from "./mmio.js";
import { pfMailboxOffset, vfMailboxOffset } from "./mmio.js";
import { InterruptUnit } from "./msix.js";
import { DataPath } from "./queues.js";
import { E1000_ICR_LSC, E1000_ICR_VMMB } from "./regs.js";
import type { NicHwTemplate, NicMsixPlacement } from "./template.js";
import { checkInt, placementOf, resolveTemplate } from "./template.js";
import type { UplinkFn } from "./veb.js";
import { Veb, W_LINK_DOWN, W_RX_BYTES, W_RX_MALFORMED, W_RX_PACKETS, W_RX_UNMATCHED, W_TX_BYTES, W_TX_PACKETS } from "./veb.js";

export type { NicHwTemplate, NicMsixPlacement } from "./template.js";
export { hwTemplateOf } from "./template.js";

export interface NicOptions {
  readonly mem: PhysMem;
  readonly translator: DmaTranslator;
  readonly msiSink: MsiSink;
  readonly template: NicHwTemplate;
  readonly mailbox?: MailboxPort;
  /** Frames leaving on the wire (the bytes are valid only during the call). */
  readonly uplink?: UplinkFn;
}

/** A function of this NIC: the PF or VF k. */
export type FnRef = "pf" | number;

/** Placeholder requester IDs until the owner sets real ones: PF 01:00.0, VF k at offset 0x80 stride 2. */
const DEFAULT_PF_RID = 0x0100;
const defaultVfRid = (k: number): number => DEFAULT_PF_RID + 0x80 + 2 * k;

export class Nic {
  readonly maxVfs: number;
  readonly queuesPerVf: number;
  readonly pfQueues: number;
  readonly pfMmio: MmioHandler;
  private readonly fns: NicFunction[];
  private readonly vfHandlers: MmioHandler[];
  private readonly pfMsix: MsixLayoutInfo;
  private readonly vfMsix: MsixLayoutInfo;
  private readonly dma: DmaEngine;
  private readonly irq: InterruptUnit;
  private readonly dp: DataPath;
  private readonly veb: Veb;
  private readonly fx: FunctionEffects;
  private depth = 0;

  constructor(opts: NicOptions) {
    const t = resolveTemplate(opts.template);
    this.maxVfs = t.maxVfs;
    this.queuesPerVf = t.queuesPerVf;
    this.pfQueues = t.pfQueues;
    this.pfMsix = t.pfMsix;
    this.vfMsix = t.vfMsix;
    this.dma = new DmaEngine(opts.mem, opts.translator);
    this.fx = new FunctionEffects(1 + this.maxVfs);
    const pfLayout = buildFnLayout(true, this.pfQueues, t.pfMsix.vectors);
    const vfLayout = buildFnLayout(false, this.queuesPerVf, t.vfMsix.vectors);
    const pfMsixLayout = buildMsixLayout(t.pfMsix);
    const vfMsixLayout = buildMsixLayout(t.vfMsix);
    this.fns = [new NicFunction(0, this.pfQueues, pfLayout, pfMsixLayout, t.pfMsix.vectors, this.fx, DEFAULT_PF_RID)];
    for (let k = 0; k < this.maxVfs; k++) {
      this.fns.push(new NicFunction(k + 1, this.queuesPerVf, vfLayout, vfMsixLayout, t.vfMsix.vectors, this.fx, defaultVfRid(k)));
    }
    this.irq = new InterruptUnit(this.fns, opts.msiSink);
    this.dp = new DataPath(this.dma, this.irq);
    this.veb = new Veb(this.fns, this.dp);
    this.dp.veb = this.veb;
    this.veb.uplink = opts.uplink;
    this.fx.bind(this.fns, this.irq, this.dp, this.veb, pfLayout);
    this.pfMmio = this.handlerFor(this.fns[0]!);
    this.vfHandlers = this.fns.slice(1).map((f) => this.handlerFor(f));
    this.veb.rebuild();
    if (opts.mailbox !== undefined) this.attachMailbox(opts.mailbox);
  }

  // ------------------------------------------------------------ attachment

  /** Route the mailbox windows to `mb` and, when it has them, point its interrupt callbacks here. */
  attachMailbox(mb: MailboxPort): void {
    this.fx.mailbox = mb;
    if ("onPfInterrupt" in mb) mb.onPfInterrupt = () => this.raiseMailboxInterrupt("pf");
    if ("onVfInterrupt" in mb) mb.onVfInterrupt = (vf) => this.raiseMailboxInterrupt(vf);
  }

  /** The MMIO handler of VF k (attach to the VF's PciFunction.mmio). */
  vfMmio(k: number): MmioHandler {
    return this.vfHandlers[this.vfIndex(k)]!;
  }

  set uplink(fn: UplinkFn | undefined) {
    this.veb.uplink = fn;
  }
  get uplink(): UplinkFn | undefined {
    return this.veb.uplink;
  }
  set translator(t: DmaTranslator) {
    this.dma.translator = t;
  }

  /** Where the MSI-X table and PBA of the PF or of every VF are (for the MSI-X capability). */
  msixPlacement(kind: "pf" | "vf"): NicMsixPlacement {
    return placementOf(kind === "pf" ? this.pfMsix : this.vfMsix);
  }

  setRequesterId(fn: FnRef, rid: number): void {
    this.fn(fn).rid = checkInt("requester ID", rid, 0, 0xffff);
  }
  requesterId(fn: FnRef): number {
    return this.fn(fn).rid;
  }

  /** Command.Bus Master Enable: without it the function issues no DMA (TX waits, RX drops). */
  setBusMaster(fn: FnRef, on: boolean): void {
    const f = this.fn(fn);
    f.busMaster = on;
    if (on) this.step(() => this.fx.kickAll(f));
  }

  /**
   * MSI-X capability Message Control: MSI-X Enable and Function Mask. Clearing the Function Mask
   * delivers pending (PBA) vectors; causes raised while MSI-X was disabled stay in EICR until the
   * driver enables them in EIMS.
   */
  setMsixControl(fn: FnRef, enable: boolean, functionMask: boolean): void {
    const f = this.fn(fn);
    f.msixEnable = enable;
    f.msixFunctionMask = functionMask;
    if (enable && !functionMask) this.step(() => this.irq.schedulePba(f));
  }

  /** SR-IOV NumVFs with VF Enable (0 = disabled). VFs beyond n are reset and leave the switch. */
  setNumVfs(n: number): void {
    checkInt("NumVFs", n, 0, this.maxVfs);
    for (let k = 0; k < this.maxVfs; k++) {
      const f = this.fns[k + 1]!;
      const on = k < n;
      if (f.active && !on) this.fx.functionReset(f, true, false);
      f.active = on;
    }
    this.fx.numVfs = n;
    this.veb.ports = 1 + n;
    this.veb.rebuild();
  }
  get numVfs(): number {
    return this.fx.numVfs;
  }

  // ------------------------------------------------------------ switch configuration

  setVfConfig(k: number, cfg: VfPortConfig): void {
    const f = this.fns[this.vfIndex(k) + 1]!;
    checkInt("MAC", cfg.mac, 0, 2 ** 48 - 1);
    if (cfg.mac !== 0 && isMulticastMac(cfg.mac)) throw new IovError("EINVAL", `VF ${k}: MAC must be unicast`);
    checkInt("VLAN", cfg.vlan, 0, 4095);
    checkInt("QoS", cfg.qos, 0, 7);
    if (!(cfg.minTxRate >= 0 && cfg.maxTxRate >= 0 && Number.isFinite(cfg.minTxRate) && Number.isFinite(cfg.maxTxRate)))
      throw new IovError("ERANGE", `VF ${k}: rates must be finite and ≥ 0`);
    if (cfg.maxTxRate > 0 && cfg.minTxRate > cfg.maxTxRate) throw new IovError("EINVAL", `VF ${k}: min_tx_rate ${cfg.minTxRate} > max_tx_rate ${cfg.maxTxRate}`);
    const wasLimited = f.bucket.rate > 0;
    f.applyPortConfig(cfg, this.dp.nowNs);
    this.veb.rebuild();
    if (wasLimited) this.step(() => this.fx.kickAll(f));
  }
  vfConfig(k: number): VfPortConfig {
    return { ...this.fns[this.vfIndex(k) + 1]!.cfg };
  }

  /** Exact unicast filters added for the function (the VF's through the mailbox; for a VF the admin MAC is added by setVfConfig). */
  setMacFilters(fn: FnRef, macs: readonly number[]): void {
    const f = this.fn(fn);
    for (const m of macs) {
      checkInt("MAC", m, 1, 2 ** 48 - 1);
      if (isMulticastMac(m)) throw new IovError("EINVAL", `unicast filter ${m.toString(16)} is a group address`);
    }
    const added = [...new Set(macs)];
    f.checkUnicast(f.adminMac, added);
    f.addedMacs = added;
    f.rebuildUnicast();
    this.veb.rebuild();
  }
  macFilters(fn: FnRef): number[] {
    const f = this.fn(fn);
    return Array.from({ length: f.ucCount }, (_, i) => f.ucHi[i]! * 2 ** 32 + f.ucLo[i]!);
  }

  setMulticast(fn: FnRef, macs: readonly number[], allMulti = false): void {
    for (const m of macs) if (!isMulticastMac(m) || m >= 2 ** 48) throw new IovError("EINVAL", `multicast filter ${m.toString(16)} is not a group address`);
    this.fn(fn).setMulticast([...new Set(macs)], allMulti);
  }

  /** 802.1Q VLANs (1..4094) the function receives tagged when it has no port VLAN. */
  setVlanFilter(fn: FnRef, vids: readonly number[]): void {
    this.fn(fn).setVlanFilter(vids);
  }

  /** Largest frame the function accepts on RX, tags it keeps included (igb VMOLR.RLPML; VF via E1000_VF_SET_LPE). */
  setMaxFrame(fn: FnRef, bytes: number): void {
    this.fn(fn).maxFrame = checkInt("max frame", bytes, 64, MAX_FRAME + 2 * VLAN_HLEN);
  }

  setWireLink(up: boolean): void {
    if (this.veb.wireUp === up) return;
    this.veb.wireUp = up;
    this.step(() => this.fx.pfCause(E1000_ICR_LSC));
  }
  get wireLinkUp(): boolean {
    return this.veb.wireUp;
  }

  // ------------------------------------------------------------ data plane entry points

  /** A frame from the wire (no FCS). */
  wireRx(frame: Uint8Array, len: number = frame.length): void {
    this.depth++;
    try {
      this.dp.wireRx(frame, len);
    } finally {
      this.leave();
    }
  }

  /** Advance simulated time: rate-limited queues resume, throttled interrupts go out. */
  poll(nowNs: number): void {
    if (nowNs > this.dp.nowNs) {
      this.dp.nowNs = nowNs;
      this.irq.nowNs = nowNs;
    }
    // Nothing deferred whose interval has ended, nothing stalled: nothing to release (the common case per access).
    const irqDue = this.irq.deferredAny && nowNs >= this.irq.deferredMin;
    const stalled = this.dp.stalledAny;
    if (!irqDue && !stalled) return;
    if (irqDue) {
      this.irq.deferredAny = false;
      this.irq.deferredMin = Infinity;
    }
    this.dp.stalledAny = false;
    this.step(() => {
      if (irqDue) this.irq.pollDeferred();
      if (stalled)
        for (const f of this.fns) {
          if (!f.active) continue;
          for (let q = 0; q < f.nq; q++) if (f.txStalled[q] === 1) this.fx.kickTx(f, q);
        }
    });
  }
  get nowNs(): number {
    return this.dp.nowNs;
  }

  /**
   * Earliest simulated time at which `poll` has work that arose since the last call (a vector
   * deferred by its throttle, a queue stalled on its rate limiter), or Infinity; then forgets it.
   * Every `poll` registers again whatever is still pending, so a caller that polls at each time it
   * is given misses nothing, and pays nothing per function (unlike `nextWakeNs`).
   */
  takeNewWakeNs(): number {
    const t = this.irq.newWakeNs < this.dp.newWakeNs ? this.irq.newWakeNs : this.dp.newWakeNs;
    this.irq.newWakeNs = Infinity;
    this.dp.newWakeNs = Infinity;
    return t;
  }

  /** Earliest simulated time at which `poll` has work (a rate-limited frame or a throttled interrupt), or Infinity. */
  nextWakeNs(): number {
    let t = Infinity;
    for (const f of this.fns) {
      for (let q = 0; q < f.nq; q++) if (f.txStalled[q] === 1) t = Math.min(t, f.bucket.readyAtNs(f.txNeed[q]!, this.dp.nowNs));
      let d = f.irqDeferred;
      while (d !== 0) {
        const n = 31 - Math.clz32(d);
        d &= ~(1 << n);
        if (f.nextIrqNs[n]! < t) t = f.nextIrqNs[n]!;
      }
    }
    return t;
  }

  /** VF k's function-level reset (FLR). */
  resetVf(k: number): void {
    const f = this.fns[this.vfIndex(k) + 1]!;
    this.step(() => this.fx.functionReset(f, true, true));
  }

  /** The mailbox hardware signals a message/ack/reset event to the PF ("pf") or to VF k. */
  raiseMailboxInterrupt(target: FnRef): void {
    const f = this.fn(target);
    this.step(() => {
      if (f.isPf) this.fx.pfCause(E1000_ICR_VMMB);
      else this.irq.raise(f, this.irq.miscBit(f));
    });
  }

  stats(fn: FnRef): NicFnStats {
    return statsOf(this.fn(fn).ctr);
  }
  clearStats(fn: FnRef): void {
    this.fn(fn).ctr.fill(0);
  }
  wireStats(): NicWireStats {
    const w = this.veb.wire;
    return {
      rxPackets: w[W_RX_PACKETS]!,
      rxBytes: w[W_RX_BYTES]!,
      txPackets: w[W_TX_PACKETS]!,
      txBytes: w[W_TX_BYTES]!,
      rxUnmatched: w[W_RX_UNMATCHED]!,
      linkDownDrops: w[W_LINK_DOWN]!,
      rxMalformed: w[W_RX_MALFORMED]!,
    };
  }

  /** Trace name of a BAR0 register of the PF or a VF ("rxq[0].RDT", "EICR"). */
  regName(fn: FnRef, off: number): string {
    return this.fn(fn).regs.layout.nameAt(off);
  }

  // ------------------------------------------------------------ internals

  private vfIndex(k: number): number {
    if (!Number.isInteger(k) || k < 0 || k >= this.maxVfs) throw new IovError("ENODEV", `no VF ${k} (0..${this.maxVfs - 1})`, { vf: k });
    return k;
  }
  private fn(ref: FnRef): NicFunction {
    return ref === "pf" ? this.fns[0]! : this.fns[this.vfIndex(ref) + 1]!;
  }

  private step(body: () => void): void {
    this.depth++;
    try {
      body();
    } finally {
      this.leave();
    }
  }
  private leave(): void {
    if (--this.depth === 0) this.irq.flush();
  }

  private handlerFor(f: NicFunction): MmioHandler {
    return {
      mmioRead: (bar, off, size) => this.fnRead(f, bar, off, size),
      mmioWrite: (bar, off, size, value) => {
        this.depth++;
        try {
          this.fnWrite(f, bar, off, size, value);
        } finally {
          this.leave();
        }
      },
    };
  }

  private fnRead(f: NicFunction, bar: number, off: number, size: 1 | 2 | 4): number {
    const m = f.isPf ? this.pfMsix : this.vfMsix;
    if (bar === m.bar && off >= m.base && off - m.base < f.msix.layout.size) return f.msix.read(off - m.base, size);
    if (bar !== 0) return 0;
    const mb = this.fx.mailbox;
    if (f.isPf) {
      if (pfMailboxOffset(off)) return mb === undefined ? 0 : mb.pfRead(off, size);
    } else if (vfMailboxOffset(off)) return mb === undefined ? 0 : mb.vfRead(f.vf, off, size);
    return f.regs.read(off, size);
  }

  private fnWrite(f: NicFunction, bar: number, off: number, size: 1 | 2 | 4, value: number): void {
    const m = f.isPf ? this.pfMsix : this.vfMsix;
    if (bar === m.bar && off >= m.base && off - m.base < f.msix.layout.size) {
      f.msix.write(off - m.base, size, value);
      return;
    }
    if (bar !== 0) return;
    const mb = this.fx.mailbox;
    if (f.isPf) {
      if (pfMailboxOffset(off)) {
        mb?.pfWrite(off, size, value);
        return;
      }
    } else if (vfMailboxOffset(off)) {
      mb?.vfWrite(f.vf, off, size, value);
      return;
    }
    f.regs.write(off, size, value);
  }
}
