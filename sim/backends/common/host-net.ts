/**
 * The host's (or Dom0's) network stack for the paravirtual and emulated backends: the physical NIC's
 * PF driven by a host driver (one queue pair per host core up to `hostQueues`, NAPI per queue on its
 * own MSI-X vector, EITR-moderated), and the software switch between the PF and the guests' backend
 * ports (netback VIFs, taps).
 *
 * Forwarding is a bridge's (Xen's vif-bridge, a KVM host's tap on a Linux bridge): the PF is put in
 * promiscuous mode as a bridge port is (RCTL.UPE | MPE, so the NIC hands the PF frames for the guests'
 * MACs), and every frame goes to the port owning its destination MAC: a guest port, or else the PF
 * (the uplink). The forwarding database holds each guest port's MAC; the peer's side is the uplink.
 * Unicast from the wire for a MAC no port owns would be flooded by a real bridge; here it is counted
 * as dropped ("host:unknown-mac"; the traffic never sends such frames).
 *
 * Hand-offs: a frame a host step gives a guest port (netback's RX queue, a tap) is staged and
 * becomes visible to the port's consumer when that step ends (`flushTx`), with the PF doorbells the
 * step owes — never to a consumer that happens to run while the step is still going.
 *
 * The PF's queues are driven by the igb ring driver (src/vf-driver/rings.ts); received frames are
 * copied out of their buffers into its scratch buffer. The PF uses pass-through DMA translation
 * (iommu=pt): DMA addresses are host physical.
 * When a PF TX ring is full, frames wait in a qdisc (pfifo, 1000 frames, as txqueuelen) and are
 * handed to the ring when the NAPI poll of that queue has reclaimed descriptors.
 *
 * A TSO super-frame from a guest (virtio.tso, xen.gso) crosses the tap or netback and the bridge once. Towards the wire
 * the host's PF driver queues it whole for the NIC's TSO (igb_tso: one context descriptor and data
 * descriptors with TSE; the PF driver's per-packet work once); a guest port that takes GSO packets
 * (`enableGro`) gets it whole, any other is given its segments, cut by the host (validate_xmit_skb →
 * skb_gso_segment, `gsoSegmentNs` a segment).
 *
 * With `enableGro` the PF's NAPI contexts also run GRO (host-gro.ts) on frames for the guests: an
 * aggregate crosses the bridge once and reaches its port as one GSO packet.
 */
import type { Guest } from "../../../src/hypervisor-glue/guest.js";
import { E1000_EIAC, E1000_EIAM, E1000_EIMS, E1000_EITR, E1000_IVAR, E1000_IVAR_MISC, E1000_IVAR_VALID, E1000_RCTL, E1000_RCTL_MPE, E1000_RCTL_UPE, ivarRxShift, ivarTxShift } from "../../../src/nic/regs.js";
import { CostMeter, PRIO_SOFTIRQ, type Core, type Worker, type WorkerBody } from "../../model/cpu.js";
import type { Platform } from "../../model/platform.js";
import { fnBarHpa } from "../../model/platform.js";
import { NAPI_BUDGET } from "../../model/guest-kernel.js";
import type { Ledger } from "../../model/ledger.js";
import type { CaptureSet } from "../../model/capture.js";
import { vmMac, HOST_MAC, TSO_MAX_FRAME, finishTsoFrame, parse, tsoSegment, tsoSegmentCount } from "../../traffic/packets.js";
import { FramePool } from "../../model/frames.js";
import { HostGro } from "./host-gro.js";
import { IgbRings, type RegPort } from "../../../src/vf-driver/rings.js";
import { dmaBytesNeeded, planDma } from "../../../src/vf-driver/dma-layout.js";
import { IovError } from "../../../src/errors.js";
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
  /**
   * Take a frame for the guest (bytes valid during the call); false = dropped (counted by the port).
   * `gsoSize` > 0: a TCPv4 GSO packet of segments of that payload size (only given to ports of a
   * HostNet whose guests take them: `enableGro`).
   */
  deliver(buf: Uint8Array, len: number, from: HostCtx, gsoSize?: number): boolean;
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
  /** The host kernel's software segmentation of a GSO super-frame, per segment. */
  readonly gsoSegmentNs: number;
  /** GRO's work on a received TCP segment (dev_gro_receive, tcp_gro_receive). */
  readonly groNs: number;
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
    gsoSegmentNs: t.gsoPerSegment,
    groNs: t.groPerSegment,
  };
}

class Qdisc {
  readonly slots = new Int32Array(QDISC_LEN);
  /** The GSO size of each queued frame (0: a plain frame in the platform's pool; else a TSO packet in the host's big-frame pool). */
  readonly gso = new Int32Array(QDISC_LEN);
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
  readonly rings: IgbRings;
  readonly nQueues: number;
  readonly ports: GuestPort[] = [];
  private readonly napis: PfNapi[] = [];
  private readonly qdiscs: Qdisc[] = [];
  private readonly dirty: Uint8Array;
  private readonly regs: RegPort;
  private readonly dropQdisc: number;
  private readonly dropUnknownMac: number;
  private readonly ctxRx: { ctx: HostCtx | undefined } = { ctx: undefined };
  private readonly onFrame = (buf: Uint8Array, len: number): void => {
    const ctx = this.ctxRx.ctx!;
    ctx.meter.ns += this.c.rxNs;
    this.fromWire(buf, len, ctx);
  };
  forwarded = 0;
  /** Segments the host cut from guests' TSO super-frames (for ports that take no GSO packets), and the super-frames it handed to the PF's TSO. */
  gsoSegments = 0;
  tsoPackets = 0;
  private readonly dropTso: number;
  /** GRO per PF queue, when the guests take GSO packets (enableGro). */
  private gro: HostGro[] | undefined;
  private bigFrames: FramePool | undefined;
  private readonly segBuf: Uint8Array;
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
    this.segBuf = new Uint8Array(bufSize);
    const nic = platform.nic;
    const bar = fnBarHpa(0, 0);
    this.regs = { write32: (o, v) => platform.memWrite(bar + o, 4, v), read32: (o) => platform.memRead(bar + o, 4) };
    this.nQueues = nQueues;
    this.dropQdisc = ledger.reason("host:qdisc-full");
    this.dropUnknownMac = ledger.reason("host:unknown-mac");
    this.dropTso = ledger.reason("host:tso-refused");
    this.dirty = new Uint8Array(nQueues);
    platform.iommu.setPassThrough(nic.requesterId("pf"));
    nic.setMacFilters("pf", [HOST_MAC]);
    if (bufSize > 1522) nic.setMaxFrame("pf", bufSize);
    const toHpa = { map: (gpa: number) => mem.gpaToHpa(gpa), unmap: () => undefined };
    const r = this.regs;
    this.rings = new IgbRings(mem, r, { txCount: entries, rxCount: entries, bufSize, dma: toHpa });
    for (let q = 0; q < nQueues; q++) {
      this.qdiscs.push(new Qdisc());
      const napi = new PfNapi(this, q);
      napi.worker = workers.add(`host.napi${q}`, cores[q % cores.length]!, napi, PRIO_SOFTIRQ);
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
    // a bridge port is promiscuous (igb_set_rx_mode for IFF_PROMISC sets RCTL.UPE and MPE)
    r.write32(E1000_RCTL, r.read32(E1000_RCTL) | E1000_RCTL_UPE | E1000_RCTL_MPE);
    nic.setMsixControl("pf", true, false);
    const err = this.rings.setup(planDma(GUEST_DATA_BASE, nQueues, entries, entries, bufSize), nQueues);
    if (err !== null) throw new IovError("EIO", `PF rings: ${err}`);
    const mask = (1 << nQueues) - 1;
    r.write32(E1000_EIAC, mask);
    r.write32(E1000_EIAM, mask);
    r.write32(E1000_EIMS, mask);
  }

  /** Bytes of host memory the PF queues need (from GUEST_DATA_BASE). */
  static bytesFor(nQueues: number, entries: number, bufSize: number): number {
    return dmaBytesNeeded(GUEST_DATA_BASE, nQueues, entries, entries, bufSize);
  }

  /** The PF TX queue a worker on host core `core` uses (XPS: one queue per core). */
  txqFor(core: number): number {
    return core % this.nQueues;
  }

  /** @internal NAPI poll of PF queue q: reclaim TX, feed the qdisc, receive up to budget frames. */
  pollQueue(n: PfNapi, budget: number): number {
    const q = n.txq;
    n.meter.ns += this.rings.reclaimQueue(q) * this.c.txCleanNs;
    this.drainQdisc(q, n);
    this.ctxRx.ctx = n;
    const got = this.rings.pollCopy(1 << q, budget, this.onFrame);
    this.gro?.[q]!.flushAll(); // napi_gro_flush
    this.ctxRx.ctx = undefined;
    return got;
  }

  /**
   * The guests' ports take GSO packets (virtio with TSO: GUEST_TSO4 and mergeable RX buffers;
   * netfront with GSO): the PF's NAPI contexts run GRO on frames for them, and a guest's super-frame
   * for another guest reaches it whole.
   */
  enableGro(): void {
    this.gro = this.napis.map(
      (n) =>
        new HostGro((buf, len, segs, mss, port) => {
          if (segs > 1) finishTsoFrame(buf, len);
          this.toPort(port, buf, len, n, segs > 1 ? mss : 0);
        }),
    );
  }

  /** Frames too long for the platform's pool slots (GSO packets) wait in these (a tap's queue). */
  get bigPool(): FramePool {
    return (this.bigFrames ??= new FramePool(TSO_MAX_FRAME, 4));
  }

  /** @internal NAPI complete: re-enable the queue's vector. */
  reenable(n: PfNapi): void {
    n.meter.ns += this.c.doorbellNs;
    this.regs.write32(E1000_EIMS, 1 << n.txq);
  }

  private drainQdisc(txq: number, ctx: HostCtx): void {
    const qd = this.qdiscs[txq]!;
    const rings = this.rings;
    const pool = this.platform.pool;
    while (qd.count > 0) {
      const s = qd.slots[qd.head]!;
      const gso = qd.gso[qd.head]!;
      const p = gso > 0 ? this.bigPool : pool;
      if (rings.txFree(txq) < (gso > 0 ? rings.tsoDescriptors(p.len(s)) : 1)) break;
      qd.head = (qd.head + 1) % QDISC_LEN;
      qd.count--;
      this.pfXmit(p.buf(s), p.len(s), gso, txq);
      ctx.meter.ns += this.c.txNs;
      this.dirty[txq] = 1;
      p.release(s);
    }
  }

  /** Queue a frame on PF queue txq (a TSO packet when `gsoSize` > 0; one the driver refuses is dropped, its segments counted). */
  private pfXmit(buf: Uint8Array, len: number, gsoSize: number, txq: number): void {
    if (gsoSize === 0) {
      this.rings.xmit(buf, len, txq);
      return;
    }
    if (this.rings.xmitTso(buf, len, gsoSize, txq)) this.tsoPackets++;
    else this.ledger.drop(this.dropTso, Math.max(1, tsoSegmentCount(buf, len, gsoSize)));
  }

  /** A frame for the wire, from host context `ctx`; with `gsoSize` > 0 a TSO packet for the NIC to cut. */
  toWire(buf: Uint8Array, len: number, ctx: HostCtx, gsoSize = 0): void {
    const txq = ctx.txq;
    const rings = this.rings;
    const qd = this.qdiscs[txq]!;
    const need = gsoSize > 0 ? rings.tsoDescriptors(len) : 1;
    if (qd.count === 0 && (rings.txFree(txq) >= need || (rings.reclaimQueue(txq) > 0 && rings.txFree(txq) >= need))) {
      this.pfXmit(buf, len, gsoSize, txq);
      ctx.meter.ns += this.c.txNs;
      this.dirty[txq] = 1;
      return;
    }
    if (qd.count === QDISC_LEN) {
      this.ledger.drop(this.dropQdisc, gsoSize > 0 ? tsoSegmentCount(buf, len, gsoSize) : 1);
      return;
    }
    const at = (qd.head + qd.count) % QDISC_LEN;
    qd.gso[at] = gsoSize;
    qd.slots[at] = (gsoSize > 0 ? this.bigPool : this.platform.pool).put(buf, 0, len, -1);
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

  dropCount(reason: number, n = 1): void {
    this.ledger.drop(reason, n);
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
      this.rings.kickQueue(q);
    }
  }

  /**
   * Switch a frame that came from guest `vm`'s port; with `gsoSize` > 0 a TSO super-frame, cut into
   * segments of that many payload bytes at the egress.
   */
  fromGuest(vm: number, buf: Uint8Array, len: number, ctx: HostCtx, gsoSize = 0): void {
    ctx.meter.ns += this.c.forwardNs;
    this.forwarded++;
    this.capture?.frame("bridge", this.platform.engine.now, buf, len);
    const dst = this.portOf(buf);
    const local = dst >= 0 && dst !== vm;
    const n = gsoSize > 0 ? tsoSegmentCount(buf, len, gsoSize) : 0;
    if (n === 0) {
      if (local) this.ports[dst]!.deliver(buf, len, ctx);
      else this.toWire(buf, len, ctx);
      return;
    }
    if (local && this.gro !== undefined) {
      this.ports[dst]!.deliver(buf, len, ctx, gsoSize); // a port that takes GSO packets gets it whole
      return;
    }
    if (!local) {
      this.toWire(buf, len, ctx, gsoSize); // the PF's TSO cuts it
      return;
    }
    const seg = this.segBuf;
    for (let k = 0; k < n; k++) {
      const sl = tsoSegment(buf, len, gsoSize, k, seg);
      ctx.meter.ns += this.c.gsoSegmentNs;
      this.gsoSegments++;
      this.ports[dst]!.deliver(seg, sl, ctx);
    }
  }

  /** Bridge a frame from the wire (through the PF) to the guest port owning its destination MAC; with GRO, TCP frames through it first. */
  private fromWire(buf: Uint8Array, len: number, ctx: HostCtx): void {
    const vm = this.portOf(buf);
    if (vm >= 0 && this.gro !== undefined) {
      parse(buf, len);
      ctx.meter.ns += this.c.groNs; // dev_gro_receive looks at every frame
      if (this.gro[ctx.txq]!.receive(buf, len, vm)) return;
    }
    if (vm < 0) {
      ctx.meter.ns += this.c.forwardNs;
      this.forwarded++;
      this.capture?.frame("bridge", this.platform.engine.now, buf, len);
      this.ledger.drop(this.dropUnknownMac);
      return;
    }
    this.toPort(vm, buf, len, ctx, 0);
  }

  /** The bridge's forwarding of a frame (or a GSO packet) to guest port `vm`. */
  private toPort(vm: number, buf: Uint8Array, len: number, ctx: HostCtx, gsoSize: number): void {
    ctx.meter.ns += this.c.forwardNs;
    this.forwarded++;
    this.capture?.frame("bridge", this.platform.engine.now, buf, len);
    this.ports[vm]!.deliver(buf, len, ctx, gsoSize);
  }

  /** The guest port whose MAC is the frame's destination, or −1 (the forwarding database lookup). */
  private portOf(buf: Uint8Array): number {
    const dHi = (buf[0]! << 8) | buf[1]!;
    const dLo = ((buf[2]! << 24) | (buf[3]! << 16) | (buf[4]! << 8) | buf[5]!) >>> 0;
    const k = dHi * 2 ** 32 + dLo - vmMac(0);
    return k >= 0 && k < this.ports.length ? k : -1;
  }

  counters(): Record<string, number> {
    let polls = 0;
    for (const n of this.napis) polls += n.polls;
    const gro: Record<string, number> = this.gro === undefined ? {} : { hostGroSegments: this.gro.reduce((a, g) => a + g.segments, 0), hostGroAggregates: this.gro.reduce((a, g) => a + g.aggregates, 0) };
    return { hostForwarded: this.forwarded, hostNapiPolls: polls, hostDoorbells: this.rings.counters.txDoorbells, ...(this.gsoSegments > 0 ? { hostGsoSegments: this.gsoSegments } : {}), ...(this.tsoPackets > 0 ? { hostTsoPackets: this.tsoPackets } : {}), ...gro };
  }
}
