/**
 * The physical platform of a simulated host: host memory and guests (Hypervisor), a VT-d IOMMU with
 * interrupt remapping, the SR-IOV NIC, its PCIe link and the Ethernet wire, and the timing glue
 * between the functional NIC and the discrete-event engine.
 *
 * The NIC model is synchronous: a doorbell write processes the ring before it returns, a frame from
 * the wire lands in memory inside `wireRx`. Time is laid over it here, from what each access really
 * did: every DMA the NIC issues passes through `CountingTranslator`, which adds the access's bytes
 * (as TLPs: payload + per-TLP overhead, split at MPS) and the IOMMU page-walk reads; at the end of the
 * access those bytes are charged to the PCIe link directions and the walks to the IOMMU's walker,
 * and MSI messages raised during the access are delivered when the data they announce has landed.
 * Frames the NIC sends to the wire leave the MAC when their descriptor and data reads are done
 * (two dependent DMA read round trips after the link has carried them), in order, and then occupy
 * the wire for their exact serialisation time (preamble, SFD, FCS, inter-frame gap: sim/wire.ts).
 * The transmit path holds a packet buffer's worth (NIC_TX_BUFFER_BYTES): a tail write while it is
 * fuller, or while other queues wait, waits; when the path has drained to half, the waiting queues
 * are served round robin, a few descriptors each per round (`onRelease`), as the NIC's descriptor
 * fetch arbiter does, so no queue is served whole while others wait.
 *
 * Interrupt moderation (EITR) is the NIC's own; the NIC releases throttled vectors in `poll(now)`.
 * After every access the platform asks the NIC when it next has such work (`takeNewWakeNs`: the end
 * of a throttled vector's interval, a rate-limited queue's next send) and schedules a poll at exactly
 * that time, as the NIC's interval timer fires when it expires: a throttled interrupt goes out when
 * its interval ends, not later.
 */
import { IovError } from "../../src/errors.js";
import { Hypervisor, HOST_MAP } from "../../src/hypervisor-glue/hypervisor.js";
import type { Guest, HostMmio } from "../../src/hypervisor-glue/guest.js";
import { VtdIommu } from "../../src/hypervisor-glue/iommu/vtd.js";
import { IommuHost } from "../../src/hypervisor-glue/iommu/host.js";
import { GuestDomain } from "../../src/hypervisor-glue/passthrough.js";
import type { InterruptTarget } from "../../src/hypervisor-glue/iommu/intremap.js";
import { PAGE_2M, PAGE_4K } from "../../src/hypervisor-glue/iommu/defs.js";
import type { DmaTranslator, MsiSink } from "../../src/pcie/dma.js";
import { Nic } from "../../src/nic/nic.js";
import { RDLEN_MASK } from "../../src/nic/regs.js";
import type { MmioHandler } from "../../src/pcie/function.js";
import type { Engine, HandlerId } from "../engine/engine.js";
import type { EventHandle } from "../engine/queue.js";
import type { Resource } from "../engine/resource.js";
import { costNs, type CostTable, type TimeCostsNs } from "../costs.js";
import { ETH_FCS_BYTES, pcieTlpBandwidthBps, wireBytes, type PcieGen, type PcieWidth } from "../wire.js";
import { FramePool } from "./frames.js";
import type { CaptureSet } from "./capture.js";
import type { Ledger } from "./ledger.js";

/** Each function's BARs in the host's 64-bit MMIO window: BAR0 at +0, the MSI-X BAR (3) at +128 KiB. */
export const FN_BAR_WINDOW = 0x40000;
export const MSIX_BAR_OFFSET = 0x20000;
export const MSIX_BAR = 3;
/** Largest read request the NIC issues (PCIe Max_Read_Request_Size). */
export const MAX_READ_REQUEST = 512;
/** IRTE indexes: the PF's vectors from 0, VF k's from VF_IRTE_BASE + k × VF_IRTE_STRIDE. */
export const VF_IRTE_BASE = 64;
export const VF_IRTE_STRIDE = 4;

export type IommuPageSize = typeof PAGE_4K | typeof PAGE_2M;

/**
 * The NIC's on-chip packet buffers (Intel 82599 datasheet: 512 KB receive, 160 KB transmit packet
 * buffer). A frame arriving while the receive DMA path (PCIe writes, IOMMU walks) is further behind
 * than the receive buffer holds at line rate is dropped; a TX doorbell written while the transmit path
 * is further behind than the transmit buffer holds waits (the NIC does not fetch more descriptors),
 * so the driver's ring fills and the sender is held back.
 */
export const NIC_RX_BUFFER_BYTES = 512 * 1024;
export const NIC_TX_BUFFER_BYTES = 160 * 1024;

/* Data-path bindings kept module-local (see the note in src/vf-driver/rings.ts). */
const MMIO64 = HOST_MAP.mmio64Base;
const FCS = ETH_FCS_BYTES;
const wireBytesOf = wireBytes;

/**
 * Descriptors a waiting transmit queue is given per round when the NIC's transmit path frees up: the
 * descriptor fetch arbiter serves the queues that have work round robin, a few descriptors each (a
 * fetch reads whole cache lines of 16-byte descriptors, as far as the queue's PTHRESH/HTHRESH allow),
 * so a queue cannot fill the packet buffer with its whole ring while others wait. 8 (two cache
 * lines) is an assumption [A]; no datasheet figure for the arbitration quantum was at hand.
 */
const TX_ARB_DESCRIPTORS = 8;
/** TDLEN(q) lies this far below TDT(q) in both queue register blocks. */
const TDT_TO_TDLEN = 0x10;

/** 1 at the offsets (in a function's BAR window) of the TDT registers of queues 0..15, E1000_TDT(q). */
const IS_TDT = new Uint8Array(FN_BAR_WINDOW);
for (let q = 0; q < 16; q++) IS_TDT[(q < 4 ? 0x03800 + 0x100 * q : 0x0e000 + 0x40 * q) + 0x18] = 1;

/** BAR `bar` (0 or 3) of function `fn` (0 = PF, k + 1 = VF k), host physical. */
export function fnBarHpa(fn: number, bar: 0 | 3): number {
  return HOST_MAP.mmio64Base + fn * FN_BAR_WINDOW + (bar === MSIX_BAR ? MSIX_BAR_OFFSET : 0);
}

/** The DMA translator the NIC sees: the VT-d unit, with the bytes and page-walk reads of each access counted. */
export class CountingTranslator implements DmaTranslator {
  /** Since the last `takeInto`: completion bytes (device reads), request bytes and write bytes on the link. */
  rdCplBytes = 0;
  upBytes = 0;
  wrBytes = 0;
  walkReads = 0;

  constructor(
    private readonly inner: VtdIommu,
    private readonly mps: number,
    private readonly tlpOverhead: number,
    private readonly cplOverhead: number,
  ) {}

  translate(rid: number, iova: number, len: number, write: boolean): number {
    const h = this.inner.translate(rid, iova, len, write);
    this.walkReads += this.inner.lastWalkReads;
    const tlps = len <= this.mps ? 1 : Math.ceil(len / this.mps);
    if (write) {
      const b = len + tlps * this.tlpOverhead;
      this.wrBytes += b;
      this.upBytes += b;
    } else {
      this.rdCplBytes += len + tlps * this.cplOverhead;
      this.upBytes += (len <= MAX_READ_REQUEST ? 1 : Math.ceil(len / MAX_READ_REQUEST)) * this.tlpOverhead;
    }
    return h;
  }

  clear(): void {
    this.rdCplBytes = 0;
    this.upBytes = 0;
    this.wrBytes = 0;
    this.walkReads = 0;
  }
}

export interface IrqHandler {
  irq(vector: number): void;
}

/** The local APICs: remapped interrupts and posted-interrupt notifications by destination ID. */
export class InterruptRouter implements InterruptTarget {
  private readonly byDest = new Map<number, IrqHandler>();
  stray = 0;
  on(dest: number, h: IrqHandler): void {
    if (this.byDest.has(dest)) throw new IovError("EEXIST", `interrupt destination ${dest} already has a handler`);
    this.byDest.set(dest, h);
  }
  deliver(destId: number, vector: number): void {
    const h = this.byDest.get(destId);
    if (h === undefined) this.stray++;
    else h.irq(vector);
  }
}

/** Where frames leaving the host on the wire go, and who sends frames into it. */
export interface WirePeer {
  /** The frame in pool slot `slot` finished arriving at the peer at `doneNs` (≥ now). The peer releases the slot. */
  fromHost(slot: number, doneNs: number): void;
}

export interface PlatformOptions {
  readonly engine: Engine;
  /** Drops the platform itself decides (the NIC's receive FIFO overflowing). */
  readonly ledger: Ledger;
  readonly costs: CostTable;
  readonly t: TimeCostsNs;
  readonly vfs: number;
  readonly vfQueues: number;
  readonly pfQueues: number;
  readonly hostMemoryBytes: number;
  readonly iotlbEntries: number;
  readonly pcieGen: PcieGen;
  readonly pcieWidth: PcieWidth;
  /** Max interrupts per second per vector (EITR); 0 = no moderation. */
  readonly itr: number;
  readonly slotBytes: number;
  readonly capture?: CaptureSet;
}

export class Platform implements HostMmio, MsiSink {
  readonly engine: Engine;
  readonly costs: CostTable;
  readonly t: TimeCostsNs;
  readonly hv: Hypervisor;
  readonly vtd: VtdIommu;
  readonly iommu: IommuHost;
  readonly xlate: CountingTranslator;
  readonly nic: Nic;
  readonly irqs = new InterruptRouter();
  readonly pool: FramePool;
  readonly pcieUp: Resource;
  readonly pcieDown: Resource;
  readonly walker: Resource;
  readonly wireOut: Resource;
  readonly wireIn: Resource;
  peer: WirePeer | undefined;
  readonly capture: CaptureSet | undefined;
  /** The EITR register value drivers program: interval in µs in bits 14:2, i.e. 0.25 µs units (0 = none). */
  readonly eitrReg: number;

  private readonly nsPerLinkByte: number;
  private readonly nsPerWireBit: number;
  private readonly walkReadNs: number;
  private readonly fnHandlers: MmioHandler[] = [];
  private depth = 0;
  private msiAt = 0;
  private lastTxReady = 0;
  private msiRid: Float64Array<ArrayBuffer> = new Float64Array(64);
  private msiAddr: Float64Array<ArrayBuffer> = new Float64Array(64);
  private msiData: Float64Array<ArrayBuffer> = new Float64Array(64);
  private msiCount = 0;
  private msiQueue = new Float64Array(3 * 256);
  private readonly msiFree: number[] = Array.from({ length: 256 }, (_, i) => 255 - i);
  private readonly hMac: HandlerId;
  private readonly hArrive: HandlerId;
  private readonly hMsi: HandlerId;
  private readonly hWake: HandlerId;
  /** The pending NIC timer event (`takeNewWakeNs`) and its time, Infinity when none. */
  private wakeEvent: EventHandle | undefined;
  private wakeAt = Infinity;
  private readonly rxFifoNs: number;
  private readonly txFifoNs: number;
  private readonly heldFn: number[] = [];
  private readonly heldOff: number[] = [];
  private readonly heldVal: number[] = [];
  private releaseArmed = false;
  private readonly hRelease: HandlerId;
  private readonly dropRxFifo: number;
  /** MSI messages delivered, frames sent to and received from the wire, doorbells held, RX FIFO drops. */
  msis = 0;
  framesOut = 0;
  framesIn = 0;
  heldDoorbells = 0;
  rxFifoDrops = 0;

  private readonly ledgerDrop: (reason: number) => void;

  constructor(o: PlatformOptions) {
    this.engine = o.engine;
    this.ledgerDrop = (r) => o.ledger.drop(r);
    this.costs = o.costs;
    this.t = o.t;
    const e = o.engine;
    this.hv = new Hypervisor({ hostMemoryBytes: o.hostMemoryBytes, cpus: 1 }, this);
    this.vtd = new VtdIommu(this.hv.mem, { iotlbEntries: o.iotlbEntries, interruptTarget: this.irqs });
    this.iommu = new IommuHost(this.vtd, { tables: this.hv.priv, invalidation: "queued" });
    this.iommu.init();
    this.iommu.interrupts.enable({ entries: 2048, x2apic: true });
    const mps = o.costs.pcieMaxPayloadBytes.value;
    this.xlate = new CountingTranslator(this.vtd, mps, o.costs.pcieTlpOverheadBytes.value, o.costs.pcieCplOverheadBytes.value);
    this.nic = new Nic({
      mem: this.hv.mem,
      translator: this.xlate,
      msiSink: this,
      template: { maxVfs: Math.max(1, o.vfs), queuesPerVf: o.vfQueues, pfQueues: o.pfQueues, vfMsixVectors: 3, pfMsixVectors: Math.max(10, o.pfQueues + 1) },
      uplink: (buf, off, len) => this.onUplink(buf, off, len),
    });
    this.nic.setNumVfs(o.vfs);
    this.fnHandlers.push(this.nic.pfMmio);
    for (let k = 0; k < o.vfs; k++) this.fnHandlers.push(this.nic.vfMmio(k));

    this.pcieUp = e.addResource("pcie.up", "pcie");
    this.pcieDown = e.addResource("pcie.down", "pcie");
    this.walker = e.addResource("iommu.walker", "memory");
    this.wireOut = e.addResource("wire.out", "wire");
    this.wireIn = e.addResource("wire.in", "wire");
    this.nsPerLinkByte = 8e9 / pcieTlpBandwidthBps(o.pcieGen, o.pcieWidth, o.costs);
    this.nsPerWireBit = 1 / o.costs.ethRateGbps.value;
    this.walkReadNs = costNs(o.costs, "iotlbMissPerWalkRead");
    this.pool = new FramePool(o.slotBytes);
    this.capture = o.capture;
    this.eitrReg = o.itr > 0 ? (Math.min(0x1fff, Math.max(1, Math.round(1e6 / o.itr))) << 2) & 0x7ffc : 0;
    this.hMac = e.handler((s) => this.onMac(s), "nic.mac");
    this.hArrive = e.handler((s) => this.onArrive(s), "nic.arrive");
    this.hMsi = e.handler((s) => this.onMsi(s), "nic.msi");
    this.hWake = e.handler(() => this.onWake(), "nic.timer");
    this.hRelease = e.handler(() => this.onRelease(), "nic.doorbell-release");
    this.rxFifoNs = NIC_RX_BUFFER_BYTES * 8 * this.nsPerWireBit;
    this.txFifoNs = NIC_TX_BUFFER_BYTES * 8 * this.nsPerWireBit;
    this.dropRxFifo = o.ledger.reason("nic:rx-fifo-full");
  }

  // ── host MMIO routing (the fabric's memory decode for the NIC's BARs) ─────────────────────────────

  private route(addr: number): MmioHandler | undefined {
    const rel = addr - MMIO64;
    if (rel < 0) return undefined;
    return this.fnHandlers[Math.floor(rel / FN_BAR_WINDOW)];
  }

  memWrite(addr: number, size: 1 | 2 | 4, value: number): void {
    const h = this.route(addr);
    if (h === undefined) return;
    const off = (addr - MMIO64) % FN_BAR_WINDOW;
    if (IS_TDT[off] === 1) {
      const fn = Math.floor((addr - MMIO64) / FN_BAR_WINDOW);
      // a tail write waits while the transmit path is full, or while other queues wait for it (it
      // joins them in the arbiter's round robin)
      if (this.heldFn.length > 0 || this.txBacklogNs() > this.txFifoNs) {
        this.holdDoorbell(fn, off, value);
        return;
      }
    }
    this.begin();
    if (off >= MSIX_BAR_OFFSET) h.mmioWrite(MSIX_BAR, off - MSIX_BAR_OFFSET, size, value);
    else h.mmioWrite(0, off, size, value);
    this.end();
  }

  memRead(addr: number, size: 1 | 2 | 4): number {
    const h = this.route(addr);
    if (h === undefined) return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    const off = (addr - MMIO64) % FN_BAR_WINDOW;
    return off >= MSIX_BAR_OFFSET ? h.mmioRead(MSIX_BAR, off - MSIX_BAR_OFFSET, size) : h.mmioRead(0, off, size);
  }

  // ── the NIC's packet buffers ─────────────────────────────────────────────────────────────────────

  /** When the transmit path (descriptor/data fetch, the wire) will have caught up, ns. */
  private txBusyUntil(): number {
    return this.lastTxReady > this.wireOut.busyUntil ? this.lastTxReady : this.wireOut.busyUntil;
  }

  /** How far the transmit path is behind now, ns. */
  private txBacklogNs(): number {
    return this.txBusyUntil() - this.engine.now;
  }

  private heldIndex(fn: number, off: number): number {
    for (let i = 0; i < this.heldFn.length; i++) if (this.heldFn[i] === fn && this.heldOff[i] === off) return i;
    return -1;
  }

  private holdDoorbell(fn: number, off: number, value: number): void {
    this.heldDoorbells++;
    const i = this.heldIndex(fn, off);
    if (i >= 0) {
      this.heldVal[i] = value; // a later tail write supersedes the held one
      return;
    }
    this.heldFn.push(fn);
    this.heldOff.push(off);
    this.heldVal.push(value);
    if (!this.releaseArmed) {
      this.releaseArmed = true;
      this.engine.scheduleAt(Math.max(this.releaseAtNs(), this.engine.now), this.hRelease);
    }
  }

  /**
   * When the transmit path will be within half its buffer of idle: held doorbells go then. An
   * absolute time, compared with the clock as such: a backlog recomputed as a difference can stay a
   * rounding error above the threshold while the clock cannot advance by so little.
   */
  private releaseAtNs(): number {
    return this.txBusyUntil() - this.txFifoNs / 2;
  }

  /**
   * The transmit path has room again: the held queues are served round robin, up to
   * TX_ARB_DESCRIPTORS descriptors each per round (the NIC is given a tail that far ahead of the one
   * it has), for as long as the path stays within half its buffer of idle; the rest waits for the
   * next release. A queue whose ring is not set up gets its tail at once (the NIC judges it).
   */
  private onRelease(): void {
    this.releaseArmed = false;
    while (this.heldFn.length > 0) {
      const at = this.releaseAtNs();
      if (at > this.engine.now) {
        this.releaseArmed = true;
        this.engine.scheduleAt(at, this.hRelease);
        return;
      }
      const fn = this.heldFn.shift()!;
      const off = this.heldOff.shift()!;
      const v = this.heldVal.shift()!;
      const h = this.fnHandlers[fn]!;
      const count = (h.mmioRead(0, off - TDT_TO_TDLEN, 4) & RDLEN_MASK) >>> 4;
      const cur = h.mmioRead(0, off, 4);
      let tail = v;
      if (count > 0 && cur < count && v < count) {
        const ahead = (v - cur + count) % count;
        if (ahead > TX_ARB_DESCRIPTORS) tail = (cur + TX_ARB_DESCRIPTORS) % count;
      }
      this.begin();
      h.mmioWrite(0, off, 4, tail);
      this.end();
      if (tail !== v) {
        // behind the other held queues for the next round
        this.heldFn.push(fn);
        this.heldOff.push(off);
        this.heldVal.push(v);
      }
    }
  }

  // ── timing of NIC accesses ───────────────────────────────────────────────────────────────────────

  private begin(): void {
    if (this.depth++ > 0) return;
    const now = this.engine.now;
    this.xlate.clear();
    this.msiAt = now;
    this.msiCount = 0;
    this.nic.poll(now); // releases throttled vectors: their messages are part of this access
  }

  private end(): void {
    if (--this.depth > 0) return;
    const now = this.engine.now;
    const x = this.xlate;
    let t = now;
    if (x.rdCplBytes > 0) t = Math.max(t, this.pcieDown.charge(now, x.rdCplBytes * this.nsPerLinkByte));
    if (x.upBytes > 0) t = Math.max(t, this.pcieUp.charge(now, x.upBytes * this.nsPerLinkByte));
    if (x.walkReads > 0) t = Math.max(t, this.walker.charge(now, x.walkReads * this.walkReadNs));
    if (x.wrBytes > 0) t += this.t.dmaWriteLatency;
    if (t > this.msiAt) this.msiAt = t;
    x.clear();
    for (let i = 0; i < this.msiCount; i++) this.queueMsi(this.msiRid[i]!, this.msiAddr[i]!, this.msiData[i]!);
    this.msiCount = 0;
    const w = this.nic.takeNewWakeNs();
    if (w < this.wakeAt) {
      if (this.wakeEvent !== undefined) this.engine.cancel(this.wakeEvent);
      this.wakeAt = w;
      this.wakeEvent = this.engine.scheduleAt(Math.max(w, now), this.hWake);
    }
  }

  /** MsiSink for the NIC: held until the access ends, then delivered when the data it announces has landed. */
  msiWrite(rid: number, addr: number, data: number): void {
    if (this.msiCount === this.msiRid.length) {
      const grow = (a: Float64Array): Float64Array<ArrayBuffer> => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.msiRid = grow(this.msiRid);
      this.msiAddr = grow(this.msiAddr);
      this.msiData = grow(this.msiData);
    }
    this.msiRid[this.msiCount] = rid;
    this.msiAddr[this.msiCount] = addr;
    this.msiData[this.msiCount] = data;
    this.msiCount++;
  }

  private queueMsi(rid: number, addr: number, data: number): void {
    let s = this.msiFree.pop();
    if (s === undefined) {
      s = this.msiQueue.length / 3;
      const q = new Float64Array(this.msiQueue.length * 2);
      q.set(this.msiQueue);
      for (let i = q.length / 3 - 1; i > s; i--) this.msiFree.push(i);
      this.msiQueue = q;
    }
    this.msiQueue[3 * s] = rid;
    this.msiQueue[3 * s + 1] = addr;
    this.msiQueue[3 * s + 2] = data;
    // the MSI is itself a posted write upstream (one DW of data)
    const done = this.pcieUp.charge(this.engine.now, (4 + this.costs.pcieTlpOverheadBytes.value) * this.nsPerLinkByte);
    this.engine.scheduleAt(Math.max(done, this.msiAt), this.hMsi, s);
  }

  private onMsi(s: number): void {
    const q = this.msiQueue;
    const rid = q[3 * s]!;
    const addr = q[3 * s + 1]!;
    const data = q[3 * s + 2]!;
    this.msiFree.push(s);
    this.msis++;
    this.vtd.ir.msiWrite(rid, addr, data);
  }

  /** The NIC's interval timer expired: poll it (throttled vectors go out); end() arms the next one. */
  private onWake(): void {
    this.wakeEvent = undefined;
    this.wakeAt = Infinity;
    this.begin();
    this.end();
  }

  // ── frames to and from the wire ──────────────────────────────────────────────────────────────────

  /** Serialisation time of a frame (no FCS in `len`) on the wire, ns. */
  frameNs(len: number): number {
    return wireBytesOf(len + FCS) * 8 * this.nsPerWireBit;
  }

  private onUplink(buf: Uint8Array, off: number, len: number): void {
    const now = this.engine.now;
    const x = this.xlate;
    let t = now;
    if (x.rdCplBytes > 0) t = Math.max(t, this.pcieDown.charge(now, x.rdCplBytes * this.nsPerLinkByte));
    if (x.upBytes > 0) t = Math.max(t, this.pcieUp.charge(now, x.upBytes * this.nsPerLinkByte));
    if (x.walkReads > 0) t = Math.max(t, this.walker.charge(now, x.walkReads * this.walkReadNs));
    x.clear();
    let ready = t + 2 * this.t.dmaReadLatency; // descriptor fetch, then the data it points to
    if (ready < this.lastTxReady) ready = this.lastTxReady;
    this.lastTxReady = ready;
    const tDone = ready + this.t.dmaWriteLatency; // descriptor write-back
    if (tDone > this.msiAt) this.msiAt = tDone;
    const s = this.pool.put(buf, off, len, -1);
    this.engine.scheduleAt(ready, this.hMac, s);
  }

  private onMac(s: number): void {
    const now = this.engine.now;
    const len = this.pool.len(s);
    const done = this.wireOut.charge(now, this.frameNs(len));
    this.framesOut++;
    this.capture?.frame("wire", now, this.pool.buf(s), len);
    const p = this.peer;
    if (p === undefined) this.pool.release(s);
    else p.fromHost(s, done);
  }

  /** The peer puts the frame it built in pool slot `s` on the wire towards the host now; it arrives when fully received. */
  toHost(s: number): void {
    const done = this.wireIn.charge(this.engine.now, this.frameNs(this.pool.len(s)));
    this.engine.scheduleAt(done, this.hArrive, s);
  }

  /** When the wire towards the host is free again (for a peer that paces itself to the line). */
  get wireInFreeAt(): number {
    return this.wireIn.busyUntil;
  }

  private onArrive(s: number): void {
    const len = this.pool.len(s);
    const buf = this.pool.buf(s);
    const now = this.engine.now;
    this.framesIn++;
    this.capture?.frame("wire", now, buf, len);
    const rxBehind = Math.max(this.pcieUp.busyUntil, this.walker.busyUntil) - now;
    if (rxBehind > this.rxFifoNs) {
      this.rxFifoDrops++;
      this.ledgerDrop(this.dropRxFifo);
      this.pool.release(s);
      return;
    }
    this.begin();
    this.nic.wireRx(buf, len);
    this.end();
    this.pool.release(s);
  }

  // ── set-up helpers for backends ──────────────────────────────────────────────────────────────────

  /**
   * A DMA domain for `rid` and guest `g` (domain ID = the guest's ID): with `mapRam` the guest's RAM
   * mapped GPA → HPA in pages of `pageSize` exactly as passthrough maps it for boot (GuestDomain),
   * else empty for the per-DMA mapping policies. Returns the domain ID.
   */
  attachDomain(rid: number, g: Guest, pageSize: IommuPageSize, mapRam: boolean): number {
    let did = g.id;
    if (mapRam) did = new GuestDomain(g, this.iommu, 4, pageSize).did;
    else this.iommu.createDomain(did, 4);
    this.iommu.attach(did, rid);
    return did;
  }

  /** Program MSI-X entry `vec` of function `fn` (0 = PF, k + 1 = VF k) with IRTE `index`'s remappable message, unmasked. */
  programMsix(fn: number, vec: number, index: number): void {
    const m = this.iommu.interrupts.msiMessage(index);
    const h = this.fnHandlers[fn]!;
    const e = vec * 16;
    h.mmioWrite(MSIX_BAR, e, 4, m.address % 2 ** 32);
    h.mmioWrite(MSIX_BAR, e + 4, 4, Math.floor(m.address / 2 ** 32));
    h.mmioWrite(MSIX_BAR, e + 8, 4, m.data);
    h.mmioWrite(MSIX_BAR, e + 12, 4, 0);
  }
}
