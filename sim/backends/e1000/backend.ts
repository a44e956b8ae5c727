/**
 * An emulated Intel 82540EM (e1000) under KVM/QEMU. Every register access of the guest's e1000
 * driver is a trapped MMIO access: a VM exit handled in QEMU (user space). The driver does what
 * Linux's e1000 does per packet and per interrupt: a TDT write per transmitted frame; in the
 * interrupt handler an ICR read (read-to-clear) and an IMC write (mask); in the NAPI poll RDT writes
 * (every 16 refilled buffers and at the end) and an IMS write to unmask when the poll completes.
 *
 * QEMU's device model runs in the vCPU thread for those exits: a TDT write makes it walk the TX
 * ring, copy each buffer out of guest memory and write it to the tap (a system call), and the host
 * kernel switches the frame on that same CPU. Frames for the guest arrive on the tap and are read by
 * QEMU's I/O thread (a host core), which copies them into the posted RX buffers, or leaves them
 * queued on the tap while the guest has none (e1000_can_receive), and raises the interrupt; the
 * device shows a step's frames (descriptors done, interrupt cause) when the step's work is done.
 * Interrupts are injected by KVM (an exit, and an EOI exit); QEMU's interrupt mitigation holds them
 * to at most `itr` per second (the guest driver's ITR register setting).
 *
 * With TSO (e1000.tso, as Linux's e1000 uses it on an 82540EM) the driver queues a TCP super-frame
 * as a TCP/IP context descriptor and data descriptors with TSE (e1000_tso, e1000_tx_map: EOP and RS
 * on the last only, completion seen there); QEMU emulates every descriptor, copies the packet once
 * and cuts it into segments, writing each to the tap (xmit_seg: a system call and the tap's work a
 * segment, and the segmentation's own work, gsoPerSegment).
 */
import type { Guest } from "../../../src/hypervisor-glue/guest.js";
import { DESC_SIZE, E1000_RXD_STAT_DD, E1000_TXD_CMD_EOP, E1000_TXD_CMD_IFCS, E1000_TXD_CMD_RS, E1000_TXD_STAT_DD } from "../../../src/nic/descriptors.js";
import type { HandlerId } from "../../engine/engine.js";
import { perByteNs } from "../../costs.js";
import { CostMeter, ExitLedger, type Worker, type WorkerBody } from "../../model/cpu.js";
import { GuestKernel, TxMarks, type GuestNic, type RxConsumer } from "../../model/guest-kernel.js";
import type { CaptureSet } from "../../model/capture.js";
import { HostNet, hostNetCosts, type GuestPort, type HostCtx, type StagedQueue } from "../common/host-net.js";
import { GUEST_BAR_GPA, GUEST_DATA_BASE, GUEST_NET_VECTOR, guestRamFor, rxBufferFor, type BackendContext, type BackendInstance } from "../types.js";
import { E1000Device } from "./device.js";
import { E1000_TXD_CMD_DEXT, E1000_TXD_CMD_TSE, E1000_TXD_DTYP_D, E1000_TXD_TUCMD_IP, E1000_TXD_TUCMD_TCP } from "./regs.js";
import { TcpLayout, tcpLayout } from "../../../src/nic/tso.js";
import { foldChecksum, onesComplementSum } from "../../../src/nic/checksum.js";
import { TSO_MAX_FRAME } from "../../traffic/packets.js";
import {
  E1000_ICR,
  E1000_IMC,
  E1000_IMS,
  E1000_ICR_RXT0,
  E1000_ICR_TXDW,
  E1000_RDBAH,
  E1000_RDBAL,
  E1000_RDH,
  E1000_RDLEN,
  E1000_RDT,
  E1000_TDBAH,
  E1000_TDBAL,
  E1000_TDH,
  E1000_TDLEN,
  E1000_TDT,
  E1000_MMIO_SIZE,
} from "./regs.js";

/** Linux e1000 writes RDT after this many refilled buffers (E1000_RX_BUFFER_WRITE). */
const RX_BUFFER_WRITE = 16;
const TAP_QUEUE = 256;
const E1000_RING = 256;

export class E1000GuestNic implements GuestNic, HostCtx {
  readonly meter = new CostMeter();
  kernel!: GuestKernel;
  private txTail = 0;
  private txClean = 0;
  private txUsed = 0;
  private txWritten = 0;
  private rxNext = 0;
  private rxNtu = 0;
  private readonly scratch: Uint8Array;
  private rx: RxConsumer | undefined;
  traps = 0;
  /** For a TSO packet's first slot, its last descriptor's index (next_to_watch); −1 otherwise. */
  private readonly txWatch: Int32Array;
  /** Free descriptors sending waits for: one, or with TSO the largest super-frame's. */
  private readonly minTxFree: number;

  constructor(
    readonly g: Guest,
    readonly txq: number,
    private readonly L: { txRing: number; rxRing: number; txBufs: number; rxBufs: number; entries: number; bufSize: number },
    private readonly net: HostNet,
    private readonly c: { txNs: number; rxNs: number; txCleanNs: number },
    private readonly now: () => number,
    private readonly capture: CaptureSet | undefined,
    private readonly port: string,
    tsoMaxFrame = 0,
  ) {
    this.scratch = new Uint8Array(L.bufSize);
    this.txWatch = new Int32Array(L.entries).fill(-1);
    this.minTxFree = tsoMaxFrame > 0 ? 1 + Math.ceil(tsoMaxFrame / L.bufSize) : 1;
  }

  private w(off: number, v: number): void {
    this.traps++;
    this.g.mmioWrite(GUEST_BAR_GPA + off, 4, v >>> 0);
  }
  private r(off: number): number {
    this.traps++;
    return this.g.mmioRead(GUEST_BAR_GPA + off, 4);
  }

  /** e1000_configure_tx/rx + irq enable, through trapped register writes. */
  up(): void {
    const { entries } = this.L;
    this.w(E1000_TDBAL, this.L.txRing % 2 ** 32);
    this.w(E1000_TDBAH, Math.floor(this.L.txRing / 2 ** 32));
    this.w(E1000_TDLEN, entries * DESC_SIZE);
    this.w(E1000_TDH, 0);
    this.w(E1000_TDT, 0);
    this.w(E1000_RDBAL, this.L.rxRing % 2 ** 32);
    this.w(E1000_RDBAH, Math.floor(this.L.rxRing / 2 ** 32));
    this.w(E1000_RDLEN, entries * DESC_SIZE);
    this.w(E1000_RDH, 0);
    for (let i = 0; i < entries - 1; i++) this.postRx(i);
    this.rxNtu = entries - 1;
    this.w(E1000_RDT, entries - 1);
    this.w(E1000_IMS, E1000_ICR_TXDW | E1000_ICR_RXT0);
  }

  private postRx(i: number): void {
    const d = this.L.rxRing + i * DESC_SIZE;
    this.g.write64n(d, this.L.rxBufs + i * this.L.bufSize);
    this.g.write32(d + 8, 0);
    this.g.write32(d + 12, 0);
  }

  /** e1000_intr: read ICR (clears it); if it was ours, mask all (IMC) and schedule NAPI. */
  isr(): void {
    const icr = this.r(E1000_ICR);
    if (icr === 0) return;
    this.w(E1000_IMC, 0xffffffff);
    this.kernel.onInterrupt();
  }

  private cleanTx(): number {
    let n = 0;
    while (this.txUsed > 0) {
      const w = this.txWatch[this.txClean]!;
      if (w >= 0) {
        // a TSO packet: done when its last descriptor is
        const last = this.L.txRing + w * DESC_SIZE;
        if ((this.g.read8(last + 12) & E1000_TXD_STAT_DD) === 0) break;
        this.g.write8(last + 12, 0);
        this.txWatch[this.txClean] = -1;
        this.txUsed -= ((w - this.txClean + this.L.entries) % this.L.entries) + 1;
        this.txClean = (w + 1) % this.L.entries;
        n++;
        continue;
      }
      const d = this.L.txRing + this.txClean * DESC_SIZE;
      if ((this.g.read8(d + 12) & E1000_TXD_STAT_DD) === 0) break;
      this.g.write8(d + 12, 0);
      this.txClean = (this.txClean + 1) % this.L.entries;
      this.txUsed--;
      n++;
    }
    this.meter.ns += n * this.c.txCleanNs;
    return n;
  }

  canXmit(): boolean {
    const room = this.L.entries - 1 - this.minTxFree;
    if (this.txUsed <= room) return true;
    this.cleanTx();
    return this.txUsed <= room;
  }

  xmit(frame: Uint8Array, len: number, gsoSize = 0): boolean {
    if (gsoSize > 0) return this.xmitTso(frame, len, gsoSize);
    if (this.txUsed >= this.L.entries - 1 || len > this.L.bufSize) return false;
    const i = this.txTail;
    const buf = this.L.txBufs + i * this.L.bufSize;
    this.g.writeBytes(buf, frame, 0, len);
    const d = this.L.txRing + i * DESC_SIZE;
    this.g.write64n(d, buf);
    this.g.write32(d + 8, len);
    this.g.write8(d + 11, E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS);
    this.g.write32(d + 12, 0);
    this.txTail = (i + 1) % this.L.entries;
    this.txUsed++;
    this.meter.ns += this.c.txNs;
    this.capture?.frame(this.port, this.now(), frame, len);
    return true;
  }

  /**
   * e1000_tso + e1000_tx_map: a TCP/IP context descriptor (IPCSS, IPCSO, IPCSE, TUCSS, TUCSO, PAYLEN,
   * TUCMD: DEXT, TSE, IP, TCP; HDRLEN, MSS), then data descriptors over the copied bytes (DTYP data,
   * DEXT, TSE, IFCS; EOP and RS on the last; POPTS IXSM and TXSM on the first). The headers are left
   * as Linux leaves them: IPv4 total length and checksum 0, the TCP checksum the pseudo-header's sum
   * without a length. False without room, or for a frame that is not IPv4/TCP.
   */
  private xmitTso(frame: Uint8Array, len: number, mss: number): boolean {
    if (!tcpLayout(frame, len) || TcpLayout.payOff > this.L.bufSize) return false;
    const { entries, bufSize } = this.L;
    const data = Math.ceil(len / bufSize);
    if (this.txUsed + 1 + data > entries - 1) return false;
    const ip = TcpLayout.ipOff;
    const l4 = TcpLayout.l4Off;
    const hdr = TcpLayout.payOff;
    const g = this.g;
    const first = this.txTail;
    let d = this.L.txRing + first * DESC_SIZE;
    g.write32(d, (ip | ((ip + 10) << 8) | ((l4 - 1) << 16)) >>> 0);
    g.write32(d + 4, l4 | ((l4 + 16) << 8));
    g.write32(d + 8, ((len - hdr) & 0xfffff) | ((E1000_TXD_CMD_DEXT | E1000_TXD_CMD_TSE | E1000_TXD_TUCMD_IP | E1000_TXD_TUCMD_TCP) << 24));
    g.write32(d + 12, (hdr << 8) | (mss << 16));
    let i = (first + 1) % entries;
    const cmd = E1000_TXD_CMD_DEXT | E1000_TXD_CMD_TSE | E1000_TXD_CMD_IFCS;
    for (let k = 0, off = 0; k < data; k++) {
      const n = Math.min(bufSize, len - off);
      const buf = this.L.txBufs + i * bufSize;
      g.writeBytes(buf, frame, off, n);
      if (k === 0) {
        // the headers as the device wants them
        g.write8(buf + ip + 2, 0);
        g.write8(buf + ip + 3, 0);
        g.write8(buf + ip + 10, 0);
        g.write8(buf + ip + 11, 0);
        const pseudo = ~foldChecksum(onesComplementSum(frame, ip + 12, 8, 6)) & 0xffff;
        g.write8(buf + l4 + 16, pseudo >>> 8);
        g.write8(buf + l4 + 17, pseudo & 0xff);
      }
      d = this.L.txRing + i * DESC_SIZE;
      g.write64n(d, buf);
      const last = k === data - 1;
      g.write32(d + 8, (n | (E1000_TXD_DTYP_D << 20) | ((last ? cmd | E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS : cmd) << 24)) >>> 0);
      g.write32(d + 12, k === 0 ? 0x0300 : 0); // POPTS IXSM | TXSM
      off += n;
      if (!last) i = (i + 1) % entries;
    }
    this.txWatch[first] = i;
    this.txTail = (i + 1) % entries;
    this.txUsed += 1 + data;
    this.meter.ns += this.c.txNs;
    this.capture?.frame(this.port, this.now(), frame, len);
    return true;
  }

  private readonly marks = new TxMarks();

  mark(): void {
    if (this.txWritten !== this.txTail) this.marks.push(this.txTail);
  }

  flush(): void {
    this.mark(); // what was queued after the last mark is one transmission too
    const m = this.marks;
    for (let i = 0; i < m.n; i++) this.writeTdt(m.at(i));
    m.clear();
  }

  /** A TDT write for the descriptors before `tail` (none when nothing new). */
  private writeTdt(tail: number): void {
    if (this.txWritten === tail) return;
    this.txWritten = tail;
    this.w(E1000_TDT, tail); // exit: QEMU transmits synchronously, then the host switch runs here
    this.net.flushTx(this);
  }

  poll(budget: number, rx: RxConsumer): number {
    this.cleanTx();
    this.rx = rx;
    let n = 0;
    let refill = 0;
    while (n < budget) {
      const i = this.rxNext;
      const d = this.L.rxRing + i * DESC_SIZE;
      const st = this.g.read8(d + 12);
      if ((st & E1000_RXD_STAT_DD) === 0) break;
      const len = this.g.read16(d + 8);
      const m = len <= this.scratch.length ? len : this.scratch.length;
      this.g.readBytes(this.L.rxBufs + i * this.L.bufSize, this.scratch, 0, m);
      this.meter.ns += this.c.rxNs;
      this.capture?.frame(this.port, this.now(), this.scratch, m);
      this.rx.rx(this.scratch, m);
      this.postRx(this.rxNtu);
      this.rxNtu = (this.rxNtu + 1) % this.L.entries;
      this.rxNext = (i + 1) % this.L.entries;
      n++;
      if (++refill === RX_BUFFER_WRITE) {
        refill = 0;
        this.w(E1000_RDT, this.rxNtu);
      }
    }
    if (refill > 0) this.w(E1000_RDT, this.rxNtu);
    this.net.flushTx(this);
    return n;
  }

  complete(): boolean {
    this.w(E1000_IMS, E1000_ICR_TXDW | E1000_ICR_RXT0);
    return false;
  }
}

/** QEMU's side of one VM: the tap (a port of the host switch) and the I/O thread that feeds the device. */
export class QemuTap implements WorkerBody, HostCtx, GuestPort, StagedQueue {
  readonly meter = new CostMeter();
  worker!: Worker;
  private readonly slots = new Int32Array(TAP_QUEUE);
  private head = 0;
  private count = 0;
  private readonly dropTap: number;
  /** Frames at the head of the tap queue the current step is writing into the device. */
  private inService = 0;
  /** Frames handed over by a host step still running (behind count, not yet visible). */
  private staged = 0;
  rxPackets = 0;

  constructor(
    readonly txq: number,
    private readonly dev: E1000Device,
    private readonly net: HostNet,
    private readonly c: { perPacketNs: number; copyPerByteNs: number },
  ) {
    this.dropTap = net.reason("tap:queue-full");
  }

  deliver(buf: Uint8Array, len: number): boolean {
    if (this.count + this.staged === TAP_QUEUE) {
      this.net.dropCount(this.dropTap);
      return false;
    }
    this.slots[(this.head + this.count + this.staged) % TAP_QUEUE] = this.net.platform.pool.put(buf, 0, len, -1);
    this.staged++;
    this.net.handOff(this);
    return true;
  }

  commit(): void {
    this.count += this.staged;
    this.staged = 0;
  }

  step(): number {
    const c = this.meter.take();
    if (this.count === 0) return c > 0 ? c : -1;
    // the frames this step reads from the tap and writes into posted buffers: the device shows them
    // (descriptors done, interrupt cause) when QEMU's work on them is done, at the step's end
    const pool = this.net.platform.pool;
    let n = 0;
    const room = this.dev.freeRxBuffers();
    while (n < this.count && n < 64 && n < room) {
      const s = this.slots[(this.head + n) % TAP_QUEUE]!;
      this.meter.ns += this.c.perPacketNs + pool.len(s) * this.c.copyPerByteNs;
      n++;
    }
    this.inService = n;
    if (n === 0) return c > 0 ? c : -1;
    return c + this.meter.take();
  }

  finish(): void {
    const pool = this.net.platform.pool;
    for (; this.inService > 0; this.inService--) {
      const s = this.slots[this.head]!;
      this.dev.receive(pool.buf(s), pool.len(s));
      pool.release(s);
      this.head = (this.head + 1) % TAP_QUEUE;
      this.count--;
      this.rxPackets++;
    }
    this.net.flushTx(this);
  }
}

/** The largest TSO super-frame the e1000 driver queues (Linux's GSO limit; 256 descriptors of 2 KiB hold it). */
export function e1000TsoMaxFrame(): number {
  return TSO_MAX_FRAME;
}

export function buildE1000(ctx: BackendContext): BackendInstance {
  const { p, platform, t } = ctx;
  const engine = platform.engine;
  const bufSize = rxBufferFor(ctx.maxFrame);
  const hostQueues = Math.min(p.host.hostQueues, p.host.hostCores);
  const host = platform.hv.createGuest("host", guestRamFor(HostNet.bytesFor(hostQueues, p.host.ringEntries, bufSize)), p.host.hostCores);
  const net = new HostNet(platform, host, hostNetCosts(t, false), ctx.ledger, ctx.capture, ctx.workers, ctx.cores.host, hostQueues, p.host.ringEntries, bufSize);
  const entries = E1000_RING;
  const ringBytes = Math.ceil((entries * DESC_SIZE) / 4096) * 4096;
  const L = {
    txRing: GUEST_DATA_BASE,
    rxRing: GUEST_DATA_BASE + ringBytes,
    txBufs: GUEST_DATA_BASE + 2 * ringBytes,
    rxBufs: GUEST_DATA_BASE + 2 * ringBytes + entries * bufSize,
    entries,
    bufSize,
  };
  const ram = guestRamFor(2 * ringBytes + 2 * entries * bufSize);
  const copyNs = perByteNs(ctx.costs, "e1000CopyPerByte");
  // QEMU's TX path per frame, in the vCPU thread: descriptor emulation, copy, tap write (a system call), tap driver
  const qemuTxNs = t.e1000DescriptorEmulation + t.hostSyscall + t.tapPerPacket;
  // QEMU's RX path per frame, in its I/O thread: tap read (a system call), tap driver, descriptor emulation (+ copy)
  const qemuRx = { perPacketNs: t.hostSyscall + t.tapPerPacket + t.e1000DescriptorEmulation, copyPerByteNs: copyNs };
  const itrNs = p.host.itr > 0 ? 1e9 / p.host.itr : 0;
  const tso = p.e1000.tso ? e1000TsoMaxFrame() : 0;
  const dropTso = ctx.ledger.reason("e1000:tso-malformed");
  const kernels: GuestKernel[] = [];
  const guests: Guest[] = [];
  const nics: E1000GuestNic[] = [];
  const taps: QemuTap[] = [];
  const devs: E1000Device[] = [];
  const lastInject = new Float64Array(p.vms).fill(-Infinity);
  const timerArmed = new Uint8Array(p.vms);
  let injections = 0;
  const inject = (i: number): void => {
    lastInject[i] = engine.now;
    injections++;
    guests[i]!.deliverInterrupt(0, GUEST_NET_VECTOR, false);
  };
  const hItr: HandlerId = engine.handler((i) => {
    timerArmed[i] = 0;
    if (devs[i]!.asserted) inject(i);
  }, "e1000.itr");
  for (let i = 0; i < p.vms; i++) {
    const g = platform.hv.createGuest(`vm${i}`, ram, 1);
    guests.push(g);
    const dev = new E1000Device(g);
    devs.push(dev);
    g.mapTrap("e1000", GUEST_BAR_GPA, E1000_MMIO_SIZE, dev, "mmio");
    const nic = new E1000GuestNic(g, net.txqFor(i), L, net, { txNs: t.nicDriverTxPerPacket, rxNs: t.nicDriverRxPerPacket, txCleanNs: t.nicDriverTxCleanPerPacket }, () => engine.now, ctx.capture, `e1000-${i}`, tso);
    nics.push(nic);
    dev.onTx = (frame, len) => {
      nic.meter.ns += qemuTxNs + len * copyNs;
      net.fromGuest(i, frame, len, nic);
    };
    // TSO: every descriptor emulated and the packet copied once; each segment written to the tap
    dev.onTsoPacket = (descs, bytes) => {
      nic.meter.ns += descs * t.e1000DescriptorEmulation + bytes * copyNs;
    };
    dev.onTxSegment = (frame, len) => {
      nic.meter.ns += t.gsoPerSegment + t.hostSyscall + t.tapPerPacket;
      net.fromGuest(i, frame, len, nic);
    };
    dev.onTsoMalformed = (segments) => ctx.ledger.drop(dropTso, segments);
    dev.onInterrupt = () => {
      const at = lastInject[i]! + itrNs;
      if (engine.now >= at) inject(i);
      else if (timerArmed[i] === 0) {
        timerArmed[i] = 1;
        engine.scheduleAt(at, hItr, i);
      }
    };
    const core = (hostQueues + i) % ctx.cores.host.length; // after the PF queues' cores
    const tap = new QemuTap(net.txqFor(core), dev, net, qemuRx);
    tap.worker = ctx.workers.add(`qemu-io-${i}`, ctx.cores.host[core]!, tap);
    taps.push(tap);
    dev.onRxAvailable = () => tap.worker.wake();
    net.ports.push(tap);
    const ledger = new ExitLedger(g.exits, { mmio: t.e1000RegisterTrap, interrupt: t.vmExitKernel, eoi: t.virtualEoi, hlt: t.vmExitKernel });
    const kernel = new GuestKernel(g, nic, ctx.apps[i]!, ledger, { irqEntryNs: t.irqHandlerEntry, napiPollNs: t.napiPollEntry, tickNs: t.guestTimerTick }, Math.max(ctx.maxFrame, tso), ctx.p.host.vcpuHalt ? "kvm" : "none", "kvm");
    kernel.worker = ctx.workers.add(`vm${i}.vcpu`, ctx.cores.guest[i % ctx.cores.guest.length]!, kernel);
    nic.kernel = kernel;
    kernels.push(kernel);
    g.onInterrupt(GUEST_NET_VECTOR, () => nic.isr());
    nic.up();
  }
  return {
    kernels,
    guests,
    host,
    counters() {
      const c: Record<string, number> = { ...net.counters(), registerTraps: 0, injections };
      for (const n of nics) c.registerTraps! += n.traps;
      if (tso > 0) {
        c.qemuTsoPackets = devs.reduce((a, d) => a + d.tsoPackets, 0);
        c.qemuTsoSegments = devs.reduce((a, d) => a + d.tsoSegments, 0);
      }
      return c;
    },
  };
}
