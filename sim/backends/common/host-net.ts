/**
 * The host's (or Dom0's) network stack for the paravirtual and emulated backends: the physical NIC's
 * PF driven by a host driver (one queue pair per host core up to `hostQueues`, NAPI per queue on its
 * own MSI-X vector, EITR-moderated), and the software switch between the PF and the guests' backend
 * ports (netback VIFs, taps).
 *
 * Forwarding: a frame from a guest port goes to the guest port owning its destination MAC, or else
 * out of the PF. Frames from the wire are addressed to the host's MAC (HOST_MAC) and forwarded to the
 * guest owning the destination IPv4 address, with the destination MAC rewritten: the host routes them
 * (Xen's vif-route / a proxy-ARP router) because the NIC model has no unicast-promiscuous mode to let
 * a bridge see frames for guest MACs; the forwarding cost charged is the bridge's either way.
 *
 * Hand-offs: a frame a host step gives a guest port (netback's RX queue, a tap) is staged and
 * becomes visible to the port's consumer when that step ends (`flushTx`), with the PF doorbells the
 * step owes — never to a consumer that happens to run while the step is still going.
 *
 * The PF uses pass-through DMA translation (iommu=pt): DMA addresses are host physical.
 * When a PF TX ring is full, frames wait in a qdisc (pfifo, 1000 frames, as txqueuelen) and are
 * handed to the ring when the NAPI poll of that queue has reclaimed descriptors.
 */
import type { Guest } from "../../../src/hypervisor-glue/guest.js";
import { E1000_EIAC, E1000_EIAM, E1000_EIMS, E1000_EITR, E1000_IVAR, E1000_IVAR_MISC, E1000_IVAR_VALID, ivarRxShift, ivarTxShift } from "../../../src/nic/regs.js";
import { CostMeter, type Core, type Worker, type WorkerBody } from "../../model/cpu.js";
import type { Platform } from "../../model/platform.js";
import { fnBarHpa } from "../../model/platform.js";
import { NAPI_BUDGET } from "../../model/guest-kernel.js";
import type { Ledger } from "../../model/ledger.js";
import type { CaptureSet } from "../../model/capture.js";
import { P, parse, vmMac, vmOfIp, HOST_MAC } from "../../traffic/packets.js";
import { IgbQueue, igbQueueBytes, igbQueueLayout, type RegPort } from "./igb-queue.js";
import { HOST_DEST_BASE, HOST_DEVICE_VECTOR, GUEST_DATA_BASE } from "../types.js";
import type { Workers } from "../../model/cpu.js";
import type { TimeCostsNs } from "../../costs.js";

/** Who runs host-side work: the CPU time it accumulates, and its TX queue on the PF. */
export interface HostCtx {
  readonly meter: CostMeter;
  readonly txq: number;
}

/** A guest's port on the switch (netback VIF, tap). */
export interface GuestPort {
  /** Take a frame for the guest (bytes valid during the call); false = dropped (counted by the port). */
  deliver(buf: Uint8Array, len: number, from: HostCtx): boolean;
}

/**
 * A queue that takes frames from host steps: frames it takes are staged, and become visible to its
 * consumer when the step that handed them over ends (`commit`, then its worker is woken).
 */
export interface StagedQueue {
  readonly worker: Worker;
  commit(): void;
}

const QDISC_LEN = 1000;

export interface HostNetCosts {
  readonly irqEntryNs: number;
  readonly napiPollNs: number;
  readonly rxNs: number;
  readonly txNs: number;
  readonly txCleanNs: number;
  readonly doorbellNs: number;
  readonly forwardNs: number;
}

export function hostNetCosts(t: TimeCostsNs, xenDom0: boolean): HostNetCosts {
  return {
    // a physical interrupt reaches Dom0 as an event-channel upcall through Xen
    irqEntryNs: t.irqHandlerEntry + (xenDom0 ? t.xenEventChannelUpcall : 0),
    napiPollNs: t.napiPollEntry,
    rxNs: t.nicDriverRxPerPacket,
    txNs: t.nicDriverTxPerPacket,
    txCleanNs: t.nicDriverTxCleanPerPacket,
    doorbellNs: t.doorbellMmioWrite,
    forwardNs: t.bridgeForwardPerPacket,
  };
}

class Qdisc {
  readonly slots = new Int32Array(QDISC_LEN);
  head = 0;
  count = 0;
}

/** NAPI context of one PF queue. */
class PfNapi implements WorkerBody, HostCtx {
  readonly meter = new CostMeter();
  worker!: Worker;
  napi = false;
  irqs = 0;
  polls = 0;
  constructor(
    private readonly net: HostNet,
    readonly txq: number,
  ) {}
  irq(): void {
    this.irqs++;
    this.napi = true;
    this.worker.wake();
  }
  step(): number {
    let c = this.meter.take();
    if (this.irqs > 0) {
      c += this.irqs * this.net.c.irqEntryNs;
      this.irqs = 0;
    }
    if (!this.napi) return c > 0 ? c : -1;
    this.polls++;
    const n = this.net.pollQueue(this, NAPI_BUDGET);
    if (n < NAPI_BUDGET) {
      this.napi = false;
      this.net.reenable(this);
    }
    return c + this.net.c.napiPollNs + this.meter.take();
  }
  finish(): void {
    this.net.flushTx(this);
  }
}

export class HostNet {
  readonly queues: IgbQueue[] = [];
  readonly ports: GuestPort[] = [];
  private readonly napis: PfNapi[] = [];
  private readonly qdiscs: Qdisc[] = [];
  private readonly dirty: Uint8Array;
  private readonly regs: RegPort;
  private readonly dropQdisc: number;
  private readonly dropNoRoute: number;
  private readonly dropNoPort: number;
  private readonly ctxRx: { ctx: HostCtx | undefined } = { ctx: undefined };
  private readonly onFrame = (buf: Uint8Array, len: number): void => {
    const ctx = this.ctxRx.ctx!;
    ctx.meter.ns += this.c.rxNs;
    this.fromWire(buf, len, ctx);
  };
  forwarded = 0;
  private readonly staged: StagedQueue[] = [];

  constructor(
    readonly platform: Platform,
    readonly mem: Guest,
    readonly c: HostNetCosts,
    private readonly ledger: Ledger,
    private readonly capture: CaptureSet | undefined,
    workers: Workers,
    cores: readonly Core[],
    nQueues: number,
    entries: number,
    bufSize: number,
  ) {
    const nic = platform.nic;
    const bar = fnBarHpa(0, 0);
    this.regs = { write32: (o, v) => platform.memWrite(bar + o, 4, v), read32: (o) => platform.memRead(bar + o, 4) };
    this.dropQdisc = ledger.reason("host:qdisc-full");
    this.dropNoRoute = ledger.reason("host:no-route");
    this.dropNoPort = ledger.reason("host:no-port");
    this.dirty = new Uint8Array(nQueues);
    platform.iommu.setPassThrough(nic.requesterId("pf"));
    nic.setMacFilters("pf", [HOST_MAC]);
    if (bufSize > 1522) nic.setMaxFrame("pf", bufSize);
    const qBytes = igbQueueBytes(entries, bufSize);
    const toHpa = { map: (gpa: number) => mem.gpaToHpa(gpa), unmap: () => undefined };
    const r = this.regs;
    for (let q = 0; q < nQueues; q++) {
      const L = igbQueueLayout(q, GUEST_DATA_BASE + q * qBytes, entries, bufSize, bufSize);
      this.queues.push(new IgbQueue(mem, r, L, toHpa));
      this.qdiscs.push(new Qdisc());
      const napi = new PfNapi(this, q);
      napi.worker = workers.add(`host.napi${q}`, cores[q % cores.length]!, napi);
      this.napis.push(napi);
      const dest = HOST_DEST_BASE + q;
      platform.iommu.interrupts.setIrte(q, { mode: "remapped", vector: HOST_DEVICE_VECTOR, dest });
      platform.irqs.on(dest, { irq: () => napi.irq() });
      platform.programMsix(0, q, q);
      const ivar = r.read32(E1000_IVAR(q >> 1));
      const v = q | E1000_IVAR_VALID;
      r.write32(E1000_IVAR(q >> 1), ivar | (v << ivarRxShift(q)) | (v << ivarTxShift(q)));
      r.write32(E1000_EITR(q), platform.eitrReg);
    }
    r.write32(E1000_IVAR_MISC, nQueues | E1000_IVAR_VALID);
    nic.setMsixControl("pf", true, false);
    for (const q of this.queues) q.up();
    const mask = (1 << nQueues) - 1;
    r.write32(E1000_EIAC, mask);
    r.write32(E1000_EIAM, mask);
    r.write32(E1000_EIMS, mask);
  }

  /** Bytes of host memory the PF queues need (from GUEST_DATA_BASE). */
  static bytesFor(nQueues: number, entries: number, bufSize: number): number {
    return nQueues * igbQueueBytes(entries, bufSize);
  }

  /** The PF TX queue a worker on host core `core` uses (XPS: one queue per core). */
  txqFor(core: number): number {
    return core % this.queues.length;
  }

  /** @internal NAPI poll of PF queue q: reclaim TX, feed the qdisc, receive up to budget frames. */
  pollQueue(n: PfNapi, budget: number): number {
    const q = this.queues[n.txq]!;
    n.meter.ns += q.cleanTx() * this.c.txCleanNs;
    this.drainQdisc(n.txq, n);
    this.ctxRx.ctx = n;
    const got = q.rxPoll(budget, this.onFrame);
    this.ctxRx.ctx = undefined;
    return got;
  }

  /** @internal NAPI complete: re-enable the queue's vector. */
  reenable(n: PfNapi): void {
    n.meter.ns += this.c.doorbellNs;
    this.regs.write32(E1000_EIMS, 1 << n.txq);
  }

  private drainQdisc(txq: number, ctx: HostCtx): void {
    const qd = this.qdiscs[txq]!;
    const q = this.queues[txq]!;
    const pool = this.platform.pool;
    while (qd.count > 0 && q.txFree > 0) {
      const s = qd.slots[qd.head]!;
      qd.head = (qd.head + 1) % QDISC_LEN;
      qd.count--;
      q.xmit(pool.buf(s), pool.len(s));
      ctx.meter.ns += this.c.txNs;
      this.dirty[txq] = 1;
      pool.release(s);
    }
  }

  /** A frame for the wire, from host context `ctx`. */
  toWire(buf: Uint8Array, len: number, ctx: HostCtx): void {
    const txq = ctx.txq;
    const q = this.queues[txq]!;
    const qd = this.qdiscs[txq]!;
    if (qd.count === 0 && (q.txFree > 0 || q.cleanTx() > 0)) {
      q.xmit(buf, len);
      ctx.meter.ns += this.c.txNs;
      this.dirty[txq] = 1;
      return;
    }
    if (qd.count === QDISC_LEN) {
      this.ledger.drop(this.dropQdisc);
      return;
    }
    qd.slots[(qd.head + qd.count) % QDISC_LEN] = this.platform.pool.put(buf, 0, len, -1);
    qd.count++;
  }

  /**
   * `q` took a frame from the current host step: it becomes visible to q's consumer, and q's worker is
   * woken, when the step ends (a hand-off is visible at the end of the step that made it, not to a
   * consumer that happens to be running meanwhile).
   */
  handOff(q: StagedQueue): void {
    if (!this.staged.includes(q)) this.staged.push(q);
  }

  /** A drop reason of the run's ledger (register at set-up). */
  reason(name: string): number {
    return this.ledger.reason(name);
  }

  dropCount(reason: number): void {
    this.ledger.drop(reason);
  }

  /**
   * End of a host-side step: doorbells for every PF TX queue written since the last flush, and the
   * frames handed to guest ports during the step are committed and their workers woken.
   */
  flushTx(ctx: HostCtx): void {
    while (this.staged.length > 0) {
      const q = this.staged.pop()!;
      q.commit();
      q.worker.wake();
    }
    for (let q = 0; q < this.dirty.length; q++) {
      if (this.dirty[q] === 0) continue;
      this.dirty[q] = 0;
      ctx.meter.ns += this.c.doorbellNs;
      this.queues[q]!.flush();
    }
  }

  /** Switch a frame that came from guest `vm`'s port. */
  fromGuest(vm: number, buf: Uint8Array, len: number, ctx: HostCtx): void {
    ctx.meter.ns += this.c.forwardNs;
    this.forwarded++;
    this.capture?.frame("bridge", this.platform.engine.now, buf, len);
    const dHi = (buf[0]! << 8) | buf[1]!;
    const dLo = ((buf[2]! << 24) | (buf[3]! << 16) | (buf[4]! << 8) | buf[5]!) >>> 0;
    const dst = dHi * 2 ** 32 + dLo - vmMac(0);
    if (dst >= 0 && dst < this.ports.length && dst !== vm) {
      this.ports[dst]!.deliver(buf, len, ctx);
      return;
    }
    this.toWire(buf, len, ctx);
  }

  /** Route a frame from the wire to the guest owning its destination address. */
  private fromWire(buf: Uint8Array, len: number, ctx: HostCtx): void {
    ctx.meter.ns += this.c.forwardNs;
    this.forwarded++;
    if (!parse(buf, len)) {
      this.ledger.drop(this.dropNoRoute);
      return;
    }
    const vm = vmOfIp(P.dstIp);
    if (vm < 0 || vm >= this.ports.length) {
      this.ledger.drop(vm < 0 ? this.dropNoRoute : this.dropNoPort);
      return;
    }
    const m = vmMac(vm);
    const hi = Math.floor(m / 2 ** 32);
    buf[0] = (hi >>> 8) & 0xff;
    buf[1] = hi & 0xff;
    buf[2] = (m >>> 24) & 0xff;
    buf[3] = (m >>> 16) & 0xff;
    buf[4] = (m >>> 8) & 0xff;
    buf[5] = m & 0xff;
    this.capture?.frame("bridge", this.platform.engine.now, buf, len);
    this.ports[vm]!.deliver(buf, len, ctx);
  }

  counters(): Record<string, number> {
    let polls = 0;
    let doorbells = 0;
    for (const n of this.napis) polls += n.polls;
    for (const q of this.queues) doorbells += q.doorbells;
    return { hostForwarded: this.forwarded, hostNapiPolls: polls, hostDoorbells: doorbells };
  }
}
