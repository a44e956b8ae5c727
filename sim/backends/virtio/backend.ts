/**
 * virtio-net with vhost-net under KVM. The guest's virtio-net driver keeps an RX and a TX split
 * virtqueue in its memory; a kick is a write to the device's notify port (VIRTIO_PCI_QUEUE_NOTIFY, an
 * I/O port in legacy virtio-pci): a trapped access, i.e. a VM exit handled in the kernel by KVM's
 * ioeventfd, which wakes the vhost worker. The driver kicks only when the device asked for it (event
 * index), so while the vhost worker is busy the guest's further publishes cost no exit.
 *
 * The vhost worker (a host kernel thread on a vhost core, one per device) copies TX buffers out of
 * guest memory into the tap, through the host switch and out of the PF; and copies frames the switch
 * queued on the tap into the guest's posted RX buffers; the used entries of a step are published
 * (used->idx) when the step ends, then vhost_notify decides. It signals the guest through irqfd: KVM
 * injects the interrupt (an exit to inject, and the guest's EOI exits). TX completions do not
 * interrupt (virtio-net keeps TX callbacks off and reclaims on transmit) unless the TX ring filled,
 * when the driver asks for a delayed callback at 3/4 of the outstanding buffers.
 *
 * With busy polling (virtio.busyPollUs, vhost's busyloop_timeout) a worker that finds nothing keeps
 * looking at its rings and tap, a slice of CPU at a time, with the guest's notifications still off,
 * and re-enables them only when the timeout runs out: a guest publishing meanwhile needs no kick.
 *
 * With TSO (virtio.tso: VIRTIO_NET_F_HOST_TSO4 and F_CSUM) the guest posts its TCP super-frames as
 * one chain of page-sized TX buffers (a GSO_TCPV4 header with NEEDS_CSUM), and stops its queue while
 * fewer descriptors than the largest chain are free (as virtio-net stops below 2 + MAX_SKB_FRAGS).
 * vhost copies a chain once and hands it to the tap whole; the PF's TSO cuts it on the way out.
 * The receive side negotiates GUEST_TSO4 with mergeable RX buffers (MRG_RXBUF): the host's GRO
 * (host-gro.ts) merges the wire's segments for a guest into GSO packets, which vhost copies into as
 * many posted buffers as they need (num_buffers) and the guest's stack takes as one packet.
 */
import type { Guest, TrapHandler } from "../../../src/hypervisor-glue/guest.js";
import { perByteNs } from "../../costs.js";
import { CostMeter, ExitLedger, type Worker, type WorkerBody } from "../../model/cpu.js";
import { GuestKernel, TxMarks, type GuestNic, type RxConsumer } from "../../model/guest-kernel.js";
import type { CaptureSet } from "../../model/capture.js";
import { HostNet, hostNetCosts, type GuestPort, type HostCtx, type StagedQueue } from "../common/host-net.js";
import { GUEST_BAR_GPA, GUEST_DATA_BASE, GUEST_NET_VECTOR, guestRamFor, rxBufferFor, type BackendContext, type BackendInstance } from "../types.js";
import { indirectTableBytes, VIRTIO_NET_HDR_LEN, VringDevice, VringDriver, vringLayout } from "./vring.js";
import { TSO_MAX_FRAME, tsoSegment, tsoSegmentCount } from "../../traffic/packets.js";
import { TcpLayout } from "../../../src/nic/tso.js";

const RX_Q = 0;
const TX_Q = 1;
/** Frames the tap holds for a device before dropping (the tap's queue). */
const TAP_QUEUE = 256;
/** Packets a vhost worker handles per queue before looking at its other queue. */
const VHOST_BATCH = 64;
/**
 * A busy-polling vhost looks at its rings again after this much CPU time [A]: vhost_net_busy_poll
 * spins on them with cpu_relax, so a publish is seen at once; the slice bounds that delay and lets
 * the other workers of the core run between slices, as need_resched ends the real loop.
 */
const BUSY_POLL_SLICE_NS = 500;
/** A TX buffer with TSO: a page, as the skb fragments the driver would point at. */
const TSO_TX_BUFFER = 4096;

/** TX buffer size of a virtio device: one frame and its header, or with TSO a page. */
export function virtioTxBuffer(maxFrame: number, tso: boolean): number {
  const b = rxBufferFor(maxFrame + VIRTIO_NET_HDR_LEN);
  return tso ? Math.max(TSO_TX_BUFFER, b) : b;
}

/** The largest TSO super-frame a TX ring of `queueSize` takes (gso_max_size): 64 KiB, or one chain of the whole ring. */
export function virtioTsoMaxFrame(queueSize: number, maxFrame: number): number {
  return Math.min(TSO_MAX_FRAME, queueSize * virtioTxBuffer(maxFrame, true) - VIRTIO_NET_HDR_LEN);
}

export class VirtioNetDriver implements GuestNic {
  readonly meter = new CostMeter();
  private rx: RxConsumer | undefined;
  private readonly scratch: Uint8Array;
  private readonly onRx = (gpa: number, len: number): void => {
    const n = len <= this.scratch.length ? len : this.scratch.length;
    this.g.readBytes(gpa, this.scratch, 0, n);
    this.meter.ns += this.c.rxNs;
    this.capture?.frame(this.port, this.now(), this.scratch, n);
    this.rx!.rx(this.scratch, n);
  };
  kicks = 0;

  constructor(
    readonly g: Guest,
    readonly rxq: VringDriver,
    readonly txq: VringDriver,
    private readonly notifyGpa: number,
    private readonly c: { txNs: number; rxNs: number; txCleanNs: number },
    private readonly now: () => number,
    private readonly capture: CaptureSet | undefined,
    private readonly port: string,
    maxFrame: number,
    /** With TSO, the largest super-frame: the queue stops while its chain would not fit. */
    tsoMaxFrame = 0,
  ) {
    this.scratch = new Uint8Array(Math.max(maxFrame, tsoMaxFrame));
    this.minTxFree = tsoMaxFrame > 0 ? txq.descsFor(tsoMaxFrame) : 1;
    this.mergeable = tsoMaxFrame > 0;
  }

  /** Mergeable RX buffers (with TSO): a packet spans the buffers its header counts. */
  private readonly mergeable: boolean;
  private readonly onPacket = (len: number): void => {
    this.meter.ns += this.c.rxNs;
    this.capture?.frame(this.port, this.now(), this.scratch, len);
    this.rx!.rx(this.scratch, len, this.rxq.rxGsoSize);
  };

  /**
   * A largest packet's buffers (one without TSO: a TX buffer holds a whole frame). The queue stops
   * while the ring has fewer free descriptors (as Linux's start_xmit stops it below 2 +
   * MAX_SKB_FRAGS, indirect descriptors or not), or the page pool of indirect descriptors fewer pages.
   */
  private readonly minTxFree: number;
  private txRoom(): boolean {
    return this.txq.free >= this.minTxFree && this.txq.pagesFree >= this.minTxFree;
  }

  /** Post every RX buffer, turn TX callbacks off, and tell the device. */
  up(): void {
    while (this.rxq.addInbuf());
    this.txq.disableCb();
    if (this.rxq.kickPrepare()) this.notify(RX_Q);
  }

  private notify(q: number): void {
    this.kicks++;
    this.g.mmioWrite(this.notifyGpa, 2, q);
  }

  private reclaimTx(): void {
    this.meter.ns += this.txq.reclaim(undefined, Infinity, false) * this.c.txCleanNs;
  }

  canXmit(): boolean {
    if (this.txRoom()) return true;
    this.reclaimTx();
    if (this.txRoom()) return true;
    // queue full: stop it and ask for a (delayed) TX interrupt
    if (this.txq.enableCbDelayed()) this.reclaimTx();
    return this.txRoom();
  }

  xmit(frame: Uint8Array, len: number, gsoSize = 0): boolean {
    let hdrLen = 0;
    let csumStart = 0;
    if (gsoSize > 0) {
      if (tsoSegmentCount(frame, len, gsoSize) === 0) return false; // not a TCPv4 super-frame
      hdrLen = TcpLayout.payOff;
      csumStart = TcpLayout.l4Off;
    }
    if (!this.txq.addOutbuf(frame, len, gsoSize, hdrLen, csumStart)) return false;
    this.meter.ns += this.c.txNs;
    this.capture?.frame(this.port, this.now(), frame, len);
    return true;
  }

  private readonly marks = new TxMarks();

  mark(): void {
    if (this.txq.unkicked > 0) this.marks.push(this.txq.availIdxNow);
  }

  flush(): void {
    this.mark(); // what was queued after the last mark is one transmission too
    const m = this.marks;
    for (let i = 0; i < m.n; i++) if (this.txq.kickPrepare(m.at(i))) this.notify(TX_Q);
    m.clear();
  }

  poll(budget: number, rx: RxConsumer): number {
    this.reclaimTx();
    this.txq.disableCb();
    this.rx = rx;
    if (this.mergeable) {
      const got = this.rxq.reclaimMerged(this.scratch, this.onPacket, budget);
      let posted = 0;
      while (this.rxq.free > 0 && this.rxq.addInbuf()) posted++;
      if (posted > 0 && this.rxq.kickPrepare()) this.notify(RX_Q);
      return got;
    }
    const n = this.rxq.reclaim(this.onRx, budget, false);
    if (n > 0) {
      for (let i = 0; i < n; i++) this.rxq.addInbuf();
      if (this.rxq.kickPrepare()) this.notify(RX_Q);
    }
    return n;
  }

  complete(): boolean {
    return this.rxq.enableCb();
  }
}

/** The vhost-net worker of one device, and its tap's port on the host switch. */
export class VhostNet implements WorkerBody, HostCtx, GuestPort, TrapHandler, StagedQueue {
  readonly meter = new CostMeter();
  worker!: Worker;
  private readonly tapSlots = new Int32Array(TAP_QUEUE);
  /** The GSO size of each queued frame (0: a plain frame in the platform's pool; else a GSO packet in the host's big-frame pool). */
  private readonly tapGso = new Int32Array(TAP_QUEUE);
  private tapHead = 0;
  private tapCount = 0;
  /** Frames handed over by a host step still running (behind tapCount, not yet visible). */
  private tapStaged = 0;
  private signal = false;
  private readonly scratch: Uint8Array;
  private readonly dropTap: number;
  /** Busy polling (virtio.busyPollUs): since when the worker has found nothing (-1: it has work, or has given up polling). */
  private idleSince = -1;
  txPackets = 0;
  rxPackets = 0;
  signals = 0;
  /** Busy-poll slices run, and the polls that found work before the timeout (their guest needed no kick). */
  busyPolls = 0;
  busyPollHits = 0;

  constructor(
    readonly vm: number,
    readonly txq: number,
    readonly g: Guest,
    private readonly rxDev: VringDevice,
    private readonly txDev: VringDevice,
    private readonly net: HostNet,
    private readonly c: { perPacketNs: number; copyPerByteNs: number; tapNs: number },
    maxFrame: number,
    /** virtio.busyPollUs in ns (0: no busy polling). */
    private readonly busyPollNs = 0,
  ) {
    this.scratch = new Uint8Array(maxFrame + VIRTIO_NET_HDR_LEN);
    this.dropTap = net.reason("tap:queue-full");
  }

  /** TSO super-frames taken from the guest. */
  tsoFrames = 0;

  // ── the notify port (trapped): ioeventfd wakes the worker ──
  read(): number {
    return 0;
  }
  write(): void {
    this.worker.wake();
  }

  /** The largest packet the guest's RX ring can hold at once (mergeable buffers), set at build. */
  rxMaxPacket = Infinity;
  private cut: Uint8Array | undefined;

  /**
   * A frame (or with `gsoSize` > 0 a GSO packet of segments of that payload size) from the switch for
   * this device's tap. A GSO packet longer than the guest's whole RX ring holds is cut here into its
   * segments (skb_gso_segment for a device that cannot take it), each queued as a frame.
   */
  deliver(buf: Uint8Array, len: number, from?: HostCtx, gsoSize = 0): boolean {
    if (gsoSize > 0 && len > this.rxMaxPacket && from !== undefined) {
      const n = tsoSegmentCount(buf, len, gsoSize);
      const seg = (this.cut ??= new Uint8Array(this.scratch.length));
      let ok = true;
      for (let k = 0; k < n; k++) {
        const sl = tsoSegment(buf, len, gsoSize, k, seg);
        from.meter.ns += this.net.c.gsoSegmentNs;
        ok = this.deliver(seg, sl, from, 0) && ok;
      }
      return ok;
    }
    if (this.tapCount + this.tapStaged === TAP_QUEUE) {
      this.net.dropCount(this.dropTap, gsoSize > 0 ? tsoSegmentCount(buf, len, gsoSize) : 1);
      return false;
    }
    const at = (this.tapHead + this.tapCount + this.tapStaged) % TAP_QUEUE;
    this.tapGso[at] = gsoSize;
    this.tapSlots[at] = (gsoSize > 0 ? this.net.bigPool : this.net.platform.pool).put(buf, 0, len, -1);
    this.tapStaged++;
    this.net.handOff(this);
    return true;
  }

  /** The length of the frame at the tap queue's head. */
  private headLen(): number {
    const s = this.tapSlots[this.tapHead]!;
    return (this.tapGso[this.tapHead]! > 0 ? this.net.bigPool : this.net.platform.pool).len(s);
  }

  commit(): void {
    this.tapCount += this.tapStaged;
    this.tapStaged = 0;
  }

  step(): number {
    const c = this.meter.take();
    let worked = false;
    // TX: guest → tap → switch
    if (this.txDev.pending() > 0) {
      this.txDev.disableNotify();
      let n = 0;
      while (n < VHOST_BATCH) {
        const len = this.txDev.popTx(this.scratch);
        if (len < 0) break;
        this.meter.ns += this.c.perPacketNs + len * this.c.copyPerByteNs + this.c.tapNs;
        this.txPackets++;
        const gso = this.txDev.gsoSize;
        if (gso > 0) this.tsoFrames++;
        this.net.fromGuest(this.vm, this.scratch, len, this, gso);
        n++;
      }
      worked = true;
    }
    // RX: tap → guest
    if (this.tapCount > 0) {
      let n = 0;
      while (this.tapCount > 0 && n < VHOST_BATCH) {
        const s = this.tapSlots[this.tapHead]!;
        const gso = this.tapGso[this.tapHead]!;
        const pool = gso > 0 ? this.net.bigPool : this.net.platform.pool;
        const len = pool.len(s);
        if (!this.rxDev.pushRx(pool.buf(s), len, gso)) break;
        this.tapHead = (this.tapHead + 1) % TAP_QUEUE;
        this.tapCount--;
        pool.release(s);
        this.meter.ns += this.c.perPacketNs + len * this.c.copyPerByteNs + this.c.tapNs;
        this.rxPackets++;
        n++;
      }
      if (n > 0) worked = true;
    }
    if (worked) {
      if (this.idleSince >= 0) this.busyPollHits++;
      this.idleSince = -1;
      return c + this.meter.take();
    }
    // nothing to do: with busy polling, look at the rings again a slice later, notifications still off
    // (vhost_net_busy_poll: the guest's next publish needs no kick), until the timeout runs out
    if (this.busyPollNs > 0) {
      const now = this.net.platform.engine.now;
      if (this.idleSince < 0) this.idleSince = now;
      const left = this.idleSince + this.busyPollNs - now;
      if (left > 0) {
        this.busyPolls++;
        return c + Math.min(BUSY_POLL_SLICE_NS, left);
      }
    }
    // re-arm notifications, and look again (vhost_enable_notify)
    const more = this.txDev.enableNotify() || (this.tapCount > 0 && this.rxDev.enableNotify() && this.rxDev.roomFor(this.headLen()));
    this.idleSince = -1;
    if (more) return c + this.meter.take();
    return c > 0 ? c : -1;
  }

  finish(): void {
    // the used entries the step wrote reach the guest at its end, then vhost_notify
    this.txDev.publishUsed();
    this.rxDev.publishUsed();
    const txSignal = this.txDev.shouldInterrupt();
    const rxSignal = this.rxDev.shouldInterrupt();
    if (txSignal || rxSignal) this.signal = true;
    if (this.signal) {
      this.signal = false;
      this.signals++;
      this.g.deliverInterrupt(0, GUEST_NET_VECTOR, false); // irqfd → KVM injects
    }
    this.net.flushTx(this);
  }
}

export function buildVirtio(ctx: BackendContext): BackendInstance {
  const { p, platform, t } = ctx;
  const bufSize = rxBufferFor(ctx.maxFrame + VIRTIO_NET_HDR_LEN);
  const tso = p.virtio.tso ? virtioTsoMaxFrame(p.virtio.queueSize, ctx.maxFrame) : 0;
  const txBufSize = virtioTxBuffer(ctx.maxFrame, tso > 0);
  const hostQueues = Math.min(p.host.hostQueues, p.host.hostCores);
  const host = platform.hv.createGuest("host", guestRamFor(HostNet.bytesFor(hostQueues, p.host.ringEntries, rxBufferFor(ctx.maxFrame))), p.host.hostCores);
  const net = new HostNet(platform, host, hostNetCosts(t, false), ctx.ledger, ctx.capture, ctx.workers, ctx.cores.host, hostQueues, p.host.ringEntries, rxBufferFor(ctx.maxFrame));
  const qs = p.virtio.queueSize;
  const rxL = vringLayout(GUEST_DATA_BASE, qs);
  const txL = vringLayout(GUEST_DATA_BASE + Math.ceil(rxL.bytes / 4096) * 4096, qs);
  // with indirect descriptors each TX head has a table of up to a largest packet's buffers
  const maxEntries = Math.ceil((VIRTIO_NET_HDR_LEN + Math.max(ctx.maxFrame, tso)) / txBufSize);
  const tables = txL.desc + Math.ceil(txL.bytes / 4096) * 4096;
  const tableBytes = p.virtio.indirect ? Math.ceil(indirectTableBytes(qs, maxEntries) / 4096) * 4096 : 0;
  const bufs = tables + tableBytes;
  const ram = guestRamFor(bufs - GUEST_DATA_BASE + qs * (bufSize + txBufSize));
  const vhostCosts = { perPacketNs: t.vhostPerPacket, copyPerByteNs: perByteNs(ctx.costs, "vhostCopyPerByte"), tapNs: t.tapPerPacket };
  const kernels: GuestKernel[] = [];
  const guests: Guest[] = [];
  const drivers: VirtioNetDriver[] = [];
  const vhosts: VhostNet[] = [];
  const txDevs: VringDevice[] = [];
  if (tso > 0) net.enableGro();
  for (let i = 0; i < p.vms; i++) {
    const g = platform.hv.createGuest(`vm${i}`, ram, 1);
    guests.push(g);
    const ev = p.virtio.eventIdx;
    const rxDrv = new VringDriver(g, rxL, bufs, bufSize, ev);
    const txBufs = bufs + qs * bufSize;
    const indirect = p.virtio.indirect ? { tableGpa: tables, maxEntries, pageGpa: txBufs, pages: qs } : undefined;
    const txDrv = new VringDriver(g, txL, txBufs, txBufSize, ev, indirect);
    const rxDev = new VringDevice(g, rxL, ev);
    rxDev.mergeable = tso > 0;
    const txDev = new VringDevice(g, txL, ev);
    txDevs.push(txDev);
    const core = i % ctx.cores.vhost.length;
    const vh = new VhostNet(i, net.txqFor(core), g, rxDev, txDev, net, vhostCosts, Math.max(ctx.maxFrame, tso), p.virtio.busyPollUs * 1000);
    vh.worker = ctx.workers.add(`vhost-${i}`, ctx.cores.vhost[core]!, vh);
    if (tso > 0) vh.rxMaxPacket = qs * bufSize - VIRTIO_NET_HDR_LEN;
    vhosts.push(vh);
    g.mapTrap("virtio-notify", GUEST_BAR_GPA, 4, vh, "pio");
    const drv = new VirtioNetDriver(g, rxDrv, txDrv, GUEST_BAR_GPA, { txNs: t.nicDriverTxPerPacket, rxNs: t.nicDriverRxPerPacket, txCleanNs: t.nicDriverTxCleanPerPacket }, () => platform.engine.now, ctx.capture, `vnet${i}`, ctx.maxFrame, tso);
    drivers.push(drv);
    const ledger = new ExitLedger(g.exits, { pio: t.virtioKick, interrupt: t.vmExitKernel, eoi: t.virtualEoi, mmio: t.vmExitUser, hlt: t.vmExitKernel });
    const kernel = new GuestKernel(g, drv, ctx.apps[i]!, ledger, { irqEntryNs: t.irqHandlerEntry, napiPollNs: t.napiPollEntry, tickNs: t.guestTimerTick }, Math.max(ctx.maxFrame, tso), ctx.p.host.vcpuHalt ? "kvm" : "none", "kvm");
    kernel.worker = ctx.workers.add(`vm${i}.vcpu`, ctx.cores.guest[i % ctx.cores.guest.length]!, kernel);
    kernels.push(kernel);
    g.onInterrupt(GUEST_NET_VECTOR, () => kernel.onInterrupt());
    net.ports.push(vh);
    rxDev.enableNotify();
    txDev.enableNotify();
    drv.up();
  }
  return {
    kernels,
    guests,
    host,
    counters() {
      const c: Record<string, number> = { ...net.counters(), kicks: 0, suppressedKicks: 0, vhostSignals: 0, suppressedSignals: 0 };
      for (const d of drivers) {
        c.kicks! += d.rxq.kicks + d.txq.kicks;
        c.suppressedKicks! += d.rxq.suppressedKicks + d.txq.suppressedKicks;
      }
      for (const v of vhosts) c.vhostSignals! += v.signals;
      if (tso > 0) c.vhostTsoFrames = vhosts.reduce((a, v) => a + v.tsoFrames, 0);
      if (p.virtio.busyPollUs > 0) {
        c.vhostBusyPolls = vhosts.reduce((a, v) => a + v.busyPolls, 0);
        c.vhostBusyPollHits = vhosts.reduce((a, v) => a + v.busyPollHits, 0);
      }
      if (tso > 0 && p.virtio.indirect) c.indirectTx = drivers.reduce((a, d) => a + d.txq.indirectAdds, 0);
      const broken = txDevs.reduce((a, d) => a + d.errors, 0);
      if (broken > 0) c.vhostQueueErrors = broken;
      return c;
    },
  };
}
