/**
 * The descriptor-ring driver of an igb-family function, PF or VF (the queue registers E1000_*(q) are
 * the same on both), as Linux's igb and igbvf drive it: igb_configure_tx_ring / igb_configure_rx_ring,
 * igb_alloc_rx_buffers, igb_xmit_frame, igb_clean_tx_irq, igb_clean_rx_irq. Legacy 16-byte
 * descriptors in memory the driver owns, buffers handed to the device by DMA address, tails written
 * through BAR0, DD write-backs polled. The guest's VF driver (VfDriver), the simulator's guest VF
 * driver and host PF driver, and the NIC's tests and benchmarks all drive queues through this class.
 *
 * It reaches the device only by 32-bit MMIO on BAR0 (`RegPort`) and its memory only through RAM
 * accessors (`DriverMemory`: a guest's RAM by GPA, or the host's). Rings and buffers are where a
 * `DmaLayout` (dma-layout.ts) puts them. RX slot i always uses the buffer at base + i × stride (igb's
 * buffers stay with their descriptor and are recycled in place), so an RX ring's DMA working set is
 * ring size × stride bytes. A TX frame is sent from where the stack built it, a socket buffer the
 * kernel's slab allocator hands out: the queue's TX buffers are a pool taken last freed, first
 * reused (a per-CPU slab freelist), so the TX working set is the frames in flight, not the ring.
 *
 * DMA API: every buffer is mapped (`DmaMapper.map`, dma_map_single) right before the device may
 * touch it and unmapped once the driver takes it back: a TX buffer at xmit and at reclaim, an RX
 * buffer when posted and when its frame is taken. The rings are mapped at setup. The identity mapper
 * (IOVA = address) is the default: all of the driver's memory mapped once (VFIO's static mapping of
 * guest RAM, iommu=pt), no per-buffer work.
 *
 * TX: `xmit` copies a frame into the next buffer(s), one descriptor per buffer with RS and IFCS, EOP
 * on the last (and VLE with the tag, when asked); `xmitTso` queues a TCP packet of up to 64 KiB for
 * the device to segment (igb_tso: an advanced context descriptor, then advanced data descriptors with
 * TSE, RS and EOP on the last only); `kick` writes TDT once per queue with new descriptors;
 * `reclaim` walks DD write-backs (of every descriptor, or of a TSO packet's last: next_to_watch),
 * unmaps, and counts completed packets.
 * RX: setup posts a buffer in every slot but one (igb_desc_unused: a full ring would look empty to the
 * device, RDH == RDT). `poll` takes DD descriptors in order up to a budget, unmaps each buffer, hands
 * the frame up (its address and length, or, with `pollCopy`, its bytes copied into `scratch`), posts
 * a buffer at next_to_use, and writes RDT (= next_to_use) once per queue. A write-back the driver
 * cannot trust (a length of 0 or beyond the buffer; a frame spanning buffers, unless `rxChains`) is
 * counted and dropped. Posting re-writes the driver's own address: nothing the device wrote back
 * into a descriptor is used as an address.
 *
 * Nothing here allocates or throws after `setup`; what happens is counted in `counters`.
 */
import {
  DESC_LEN,
  DESC_SIZE,
  E1000_ADVTXD_DCMD_TSE,
  E1000_ADVTXD_DTYP_CTXT,
  E1000_ADVTXD_DTYP_DATA,
  E1000_ADVTXD_L4LEN_SHIFT,
  E1000_ADVTXD_MACLEN_SHIFT,
  E1000_ADVTXD_MSS_SHIFT,
  E1000_ADVTXD_PAYLEN_SHIFT,
  E1000_ADVTXD_POPTS_IXSM,
  E1000_ADVTXD_POPTS_TXSM,
  E1000_ADVTXD_TUCMD_IPV4,
  E1000_ADVTXD_TUCMD_L4T_TCP,
  E1000_ADVTXD_VLAN_SHIFT,
  E1000_RXD_STAT_DD,
  E1000_RXD_STAT_EOP,
  E1000_TXD_CMD_DEXT,
  E1000_TXD_CMD_EOP,
  E1000_TXD_CMD_IFCS,
  E1000_TXD_CMD_RS,
  E1000_TXD_CMD_VLE,
  E1000_TXD_STAT_DD,
  RXD_STATUS,
  TXD_STA,
} from "../nic/descriptors.js";
import { foldChecksum, onesComplementSum } from "../nic/checksum.js";
import { TcpLayout, tcpLayout } from "../nic/tso.js";
import { ETH_HLEN, MAX_FRAME } from "../nic/frame.js";
import {
  E1000_RDBAH,
  E1000_RDBAL,
  E1000_RDH,
  E1000_RDLEN,
  E1000_RDT,
  E1000_RXDCTL,
  E1000_RXDCTL_QUEUE_ENABLE,
  E1000_SRRCTL,
  E1000_SRRCTL_DROP_EN,
  E1000_TDBAH,
  E1000_TDBAL,
  E1000_TDH,
  E1000_TDLEN,
  E1000_TDT,
  E1000_TXDCTL,
  E1000_TXDCTL_QUEUE_ENABLE,
  MAX_QUEUES,
} from "../nic/regs.js";
import type { PhysMem } from "../memory/physmem.js";
import { BufferPool } from "../memory/buffer-pool.js";
import type { DmaLayout } from "./dma-layout.js";
import type { RingCounters } from "./types.js";

/** 32-bit MMIO on the function's BAR0, as the driver issues it. */
export interface RegPort {
  read32(off: number): number;
  write32(off: number, value: number): void;
}

/** The driver's own memory (rings and buffers), by the addresses it uses for it (GPA for a guest). */
export interface DriverMemory {
  read8(addr: number): number;
  read16(addr: number): number;
  write32(addr: number, v: number): void;
  write64n(addr: number, v: number): void;
  writeBytes(addr: number, src: Uint8Array, off: number, len: number): void;
  readBytes(addr: number, dst: Uint8Array, off: number, len: number): void;
}

/** Host physical memory as a driver on the host addresses it (its addresses are host physical). */
export function hostMemory(mem: PhysMem): DriverMemory {
  return {
    read8: (a) => mem.read8(a),
    read16: (a) => mem.read16(a),
    write32: (a, v) => mem.write32(a, v),
    write64n: (a, v) => mem.write64n(a, v),
    writeBytes: (a, src, off, len) => mem.writeFrom(a, src, off, len),
    readBytes: (a, dst, off, len) => mem.readInto(a, dst, off, len),
  };
}

/** The driver's DMA API: streaming mappings of its memory for the device (dma_map_single / dma_unmap_single). */
export interface DmaMapper {
  /** The DMA address (IOVA) the device is to use for [addr, addr+len) of the driver's memory. */
  map(addr: number, len: number): number;
  unmap(iova: number, len: number): void;
}

/** IOVA = address: the driver's memory is mapped once and for all (VFIO's static guest-RAM mapping, or iommu=pt). */
export const IDENTITY_DMA: DmaMapper = {
  map: (addr) => addr,
  unmap: () => undefined,
};

export function newRingCounters(): RingCounters {
  return { txQueued: 0, txPackets: 0, txBytes: 0, txRingFull: 0, txInvalid: 0, txDoorbells: 0, rxDoorbells: 0, rxPackets: 0, rxBytes: 0, rxErrors: 0, rxPolls: 0 };
}

/**
 * A received buffer: its address in the driver's memory, the length written, and the address of its
 * descriptor, whose write-back (status, VLAN tag) stays readable until the poll returns. The bytes
 * are valid until the poll returns.
 */
export type RingRxHandler = (addr: number, len: number, desc: number) => void;
/** A received frame's bytes, copied out of its buffer into the driver's scratch buffer (valid during the call). */
export type RingRxBytesHandler = (buf: Uint8Array, len: number) => void;

export interface IgbRingsOptions {
  /** Descriptors per TX / RX ring. */
  readonly txCount: number;
  readonly rxCount: number;
  /** Bytes per packet buffer (SRRCTL.BSIZEPKT is programmed in whole KiB, rounded up). */
  readonly bufSize: number;
  /** dma_map_single / dma_unmap_single; identity by default. */
  readonly dma?: DmaMapper;
  /** Where to count (default: a fresh object). */
  readonly counters?: RingCounters;
  /**
   * Hand up every buffer of a frame that spans buffers (the handler tells the last by EOP in its
   * descriptor) instead of dropping the frame. For drivers that reassemble; default false.
   */
  readonly rxChains?: boolean;
}

/*
 * Data-path constants as module-local bindings: under the TypeScript runners (tsx/esbuild, vite) an
 * imported binding can compile to an accessor call per use.
 */
const D_SIZE = DESC_SIZE;
const D_LEN = DESC_LEN;
const D_TXD_STA = TXD_STA;
const D_RXD_STATUS = RXD_STATUS;
const TX_DD = E1000_TXD_STAT_DD;
const RX_DD = E1000_RXD_STAT_DD;
const RX_EOP = E1000_RXD_STAT_EOP;
const MIN_LEN = ETH_HLEN;
const MAX_LEN = MAX_FRAME;
/** TXD_CMD is byte 11: bits 31:24 of the descriptor's second dword. */
const CMD_SHIFT = 24;
const CMD_MID = (E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS) << CMD_SHIFT;
const CMD_LAST = (E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS) << CMD_SHIFT;
const CMD_LAST_VLAN = (E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS | E1000_TXD_CMD_VLE) << CMD_SHIFT;
const TWO32 = 0x1_0000_0000;

export class IgbRings {
  /** Queue pairs the layout holds (set by `setup` / `attach`), and their bit mask. */
  nq = 0;
  allQueues = 0;
  /** Where `pollCopy` puts each frame's bytes (bufSize bytes, allocated once). */
  readonly scratch: Uint8Array;
  readonly counters: RingCounters;

  private readonly mem: DriverMemory;
  private readonly regs: RegPort;
  private readonly dma: DmaMapper;
  private readonly chains: boolean;
  private stride = 0;
  /** Per queue: ring and first-buffer addresses in the driver's memory, the rings' IOVAs, tail registers. */
  private readonly txRing = new Float64Array(MAX_QUEUES);
  private readonly rxRing = new Float64Array(MAX_QUEUES);
  private readonly txBufs = new Float64Array(MAX_QUEUES);
  private readonly rxBufs = new Float64Array(MAX_QUEUES);
  private readonly txRingIova = new Float64Array(MAX_QUEUES).fill(-1);
  private readonly rxRingIova = new Float64Array(MAX_QUEUES).fill(-1);
  private readonly tdt = new Int32Array(MAX_QUEUES);
  private readonly rdt = new Int32Array(MAX_QUEUES);
  /** TX: next descriptor to fill (next_to_use), next to reclaim (next_to_clean), the tail last written to TDT. */
  private readonly txTail = new Int32Array(MAX_QUEUES);
  private readonly txClean = new Int32Array(MAX_QUEUES);
  private readonly txKicked = new Int32Array(MAX_QUEUES);
  /** RX: next descriptor to look at (next_to_clean), next slot to post a buffer in (next_to_use; RDT). */
  private readonly rxNext = new Int32Array(MAX_QUEUES);
  private readonly rxNtu = new Int32Array(MAX_QUEUES);
  /** Inside a frame that spans buffers (its descriptors are dropped up to EOP). */
  private readonly rxSkipping = new Uint8Array(MAX_QUEUES);
  /** Per slot ([q × count + i]): the IOVA its buffer is mapped at (-1: not mapped) and the bytes mapped (TX). */
  private txIova = new Float64Array(0);
  private txSeg = new Int32Array(0);
  /** Frame length at the slot of each frame's EOP descriptor, 0 elsewhere. */
  private txFrameLen = new Int32Array(0);
  /** For a TSO packet's first slot, the index of its last descriptor, whose DD completes it (next_to_watch); −1 otherwise. */
  private txWatch = new Int32Array(0);
  /** Per slot: the index of the TX buffer it holds (−1: none). */
  private txBufAt = new Int32Array(0);
  /** Per queue: its free TX buffers, the last freed taken first. */
  private txPool: BufferPool[] = [];
  /** A TSO packet's headers, pre-filled for the device before they are copied. */
  private readonly tsoHdr = new Uint8Array(512);
  private rxIova = new Float64Array(0);
  private rxBusy = false;

  readonly txCount: number;
  readonly rxCount: number;
  readonly bufSize: number;

  constructor(mem: DriverMemory, regs: RegPort, o: IgbRingsOptions) {
    this.mem = mem;
    this.regs = regs;
    this.txCount = o.txCount;
    this.rxCount = o.rxCount;
    this.bufSize = o.bufSize;
    this.dma = o.dma ?? IDENTITY_DMA;
    this.counters = o.counters ?? newRingCounters();
    this.chains = o.rxChains ?? false;
    this.scratch = new Uint8Array(o.bufSize);
    for (let q = 0; q < MAX_QUEUES; q++) {
      this.tdt[q] = E1000_TDT(q);
      this.rdt[q] = E1000_RDT(q);
    }
  }

  /**
   * Take the rings of queue pairs 0..queues-1 from `L` and bring each up (TX, then RX): registers
   * programmed and read back, RX buffers posted, queues enabled. Returns what failed, or null.
   */
  setup(L: DmaLayout, queues: number = L.txRing.length): string | null {
    const err = this.attach(L, queues);
    if (err !== null) return err;
    for (let q = 0; q < queues; q++) {
      const e = this.setupTx(q) ?? this.setupRx(q);
      if (e !== null) return e;
    }
    return null;
  }

  /** Take the rings of `queues` queue pairs from `L` without touching the device (bring queues up with setupTx / setupRx). */
  attach(L: DmaLayout, queues: number = L.txRing.length): string | null {
    if (!(queues >= 1 && queues <= MAX_QUEUES && queues <= L.txRing.length)) return `layout holds ${L.txRing.length} queue pairs, not ${queues}`;
    if (!(L.stride >= this.bufSize)) return `buffer stride ${L.stride} is below the buffer size ${this.bufSize}`;
    this.release();
    this.nq = queues;
    this.allQueues = (1 << queues) - 1;
    this.stride = L.stride;
    this.txIova = new Float64Array(queues * this.txCount).fill(-1);
    this.txSeg = new Int32Array(queues * this.txCount);
    this.txFrameLen = new Int32Array(queues * this.txCount);
    this.txWatch = new Int32Array(queues * this.txCount).fill(-1);
    this.txBufAt = new Int32Array(queues * this.txCount).fill(-1);
    this.txPool = Array.from({ length: queues }, () => new BufferPool(this.txCount));
    this.rxIova = new Float64Array(queues * this.rxCount).fill(-1);
    for (let q = 0; q < queues; q++) {
      this.txRing[q] = L.txRing[q]!;
      this.rxRing[q] = L.rxRing[q]!;
      this.txBufs[q] = L.txBufs[q]!;
      this.rxBufs[q] = L.rxBufs[q]!;
      this.txTail[q] = 0;
      this.txClean[q] = 0;
      this.txKicked[q] = 0;
      this.rxNext[q] = 0;
      this.rxNtu[q] = 0;
      this.rxSkipping[q] = 0;
    }
    return null;
  }

  /** (Re)program TX queue q (igb_configure_tx_ring): disabled, descriptors cleared, ring mapped, base/length/head/tail, enabled. */
  setupTx(q: number): string | null {
    if (!(q >= 0 && q < this.nq)) return `TX queue ${q} is not in the layout`;
    const mem = this.mem;
    const r = this.regs;
    this.cleanTx(q);
    r.write32(E1000_TXDCTL(q), 0);
    const ring = this.txRing[q]!;
    const bytes = this.txCount * D_SIZE;
    const iova = this.dma.map(ring, bytes);
    this.txRingIova[q] = iova;
    for (let i = 0; i < this.txCount; i++) {
      const d = ring + i * D_SIZE;
      mem.write64n(d, 0);
      mem.write32(d + D_LEN, 0);
      mem.write32(d + D_TXD_STA, 0);
    }
    r.write32(E1000_TDBAL(q), iova % TWO32);
    r.write32(E1000_TDBAH(q), Math.floor(iova / TWO32));
    r.write32(E1000_TDLEN(q), bytes);
    r.write32(E1000_TDH(q), 0);
    r.write32(E1000_TDT(q), 0);
    r.write32(E1000_TXDCTL(q), E1000_TXDCTL_QUEUE_ENABLE);
    if (r.read32(E1000_TDLEN(q)) !== bytes || (r.read32(E1000_TXDCTL(q)) & E1000_TXDCTL_QUEUE_ENABLE) === 0) return `TX queue ${q} registers do not read back`;
    return null;
  }

  /** (Re)program RX queue q (igb_configure_rx_ring + igb_alloc_rx_buffers): disabled, ring mapped, every slot but one posted, enabled. */
  setupRx(q: number): string | null {
    if (!(q >= 0 && q < this.nq)) return `RX queue ${q} is not in the layout`;
    const r = this.regs;
    this.cleanRx(q);
    r.write32(E1000_RXDCTL(q), 0);
    const bytes = this.rxCount * D_SIZE;
    const iova = this.dma.map(this.rxRing[q]!, bytes);
    this.rxRingIova[q] = iova;
    r.write32(E1000_RDBAL(q), iova % TWO32);
    r.write32(E1000_RDBAH(q), Math.floor(iova / TWO32));
    r.write32(E1000_RDLEN(q), bytes);
    r.write32(E1000_SRRCTL(q), Math.max(1, Math.ceil(this.bufSize / 1024)) | E1000_SRRCTL_DROP_EN);
    r.write32(E1000_RDH(q), 0);
    const last = this.rxCount - 1;
    for (let i = 0; i < last; i++) this.postRx(q, i);
    this.rxNext[q] = 0;
    this.rxNtu[q] = last;
    this.rxSkipping[q] = 0;
    r.write32(E1000_RXDCTL(q), E1000_RXDCTL_QUEUE_ENABLE);
    r.write32(E1000_RDT(q), last);
    if (r.read32(E1000_RDLEN(q)) !== bytes || (r.read32(E1000_RXDCTL(q)) & E1000_RXDCTL_QUEUE_ENABLE) === 0) return `RX queue ${q} registers do not read back`;
    return null;
  }

  /** Disable every queue and give back every mapping (igb_down: the rings are cleaned). */
  stop(): void {
    for (let q = 0; q < this.nq; q++) {
      this.regs.write32(E1000_TXDCTL(q), 0);
      this.regs.write32(E1000_RXDCTL(q), 0);
    }
    this.release();
  }

  /** Free TX descriptors of queue q (one always stays empty: head == tail means an empty ring). */
  txFree(q: number): number {
    return this.txCount - 1 - this.txInFlight(q);
  }

  /** Descriptors of queue q filled (kicked or not) and not yet reclaimed. */
  txInFlight(q: number): number {
    const t = this.txTail[q] ?? 0;
    const cl = this.txClean[q] ?? 0;
    return t >= cl ? t - cl : t + this.txCount - cl;
  }

  /** Descriptors queued on q since its last doorbell. */
  txDirty(q: number): boolean {
    return this.txTail[q] !== this.txKicked[q];
  }

  /** Index of the next TX descriptor of queue q to fill (what TDT becomes at the next kick). */
  txNextToUse(q: number): number {
    return this.txTail[q] ?? 0;
  }

  /**
   * Queue `len` bytes of `frame` on TX queue q: copied into the next buffer(s), each mapped, one
   * descriptor per buffer (RS, IFCS; EOP on the last, with VLE and the tag when `vlan` ≥ 0). False
   * (counted) when the ring lacks room or the frame or queue is bad.
   */
  xmit(frame: Uint8Array, len: number, q = 0, vlan = -1): boolean {
    const c = this.counters;
    if (q >>> 0 !== q || q >= this.nq || (len | 0) !== len || len < MIN_LEN || len > MAX_LEN || len > frame.length) {
      c.txInvalid++;
      return false;
    }
    const count = this.txCount;
    const bs = this.bufSize;
    const need = len <= bs ? 1 : Math.ceil(len / bs);
    if (this.txFree(q) < need) {
      c.txRingFull++;
      return false;
    }
    const mem = this.mem;
    const dma = this.dma;
    const ring = this.txRing[q]!;
    const bufs = this.txBufs[q]!;
    const stride = this.stride;
    const base = q * count;
    let i = this.txTail[q]!;
    let off = 0;
    for (let k = 1; k <= need; k++) {
      const seg = len - off < bs ? len - off : bs;
      const b = this.txPool[q]!.take();
      const buf = bufs + b * stride;
      mem.writeBytes(buf, frame, off, seg);
      const iova = dma.map(buf, seg);
      const s = base + i;
      this.txBufAt[s] = b;
      this.txIova[s] = iova;
      this.txSeg[s] = seg;
      const d = ring + i * D_SIZE;
      mem.write64n(d, iova);
      if (k < need) {
        mem.write32(d + D_LEN, (seg | CMD_MID) >>> 0);
        mem.write32(d + D_TXD_STA, 0);
        this.txFrameLen[s] = 0;
      } else {
        mem.write32(d + D_LEN, (seg | (vlan < 0 ? CMD_LAST : CMD_LAST_VLAN)) >>> 0);
        mem.write32(d + D_TXD_STA, vlan < 0 ? 0 : (vlan & 0xffff) * 0x1_0000);
        this.txFrameLen[s] = len;
      }
      off += seg;
      i = i + 1 === count ? 0 : i + 1;
    }
    this.txTail[q] = i;
    c.txQueued++;
    return true;
  }

  /** Descriptors a TSO packet of `len` bytes takes: its context descriptor and one per buffer. */
  tsoDescriptors(len: number): number {
    return 1 + Math.ceil(len / this.bufSize);
  }

  /**
   * Queue a TSO packet on TX queue q (igb_tso, igb_tx_map): `frame` holds an IPv4/TCP packet of `len`
   * bytes — its first segment's headers, then all of its payload — for the device to cut into
   * segments of `mss` payload bytes. One advanced context descriptor (IPLEN, MACLEN, the tag for
   * `vlan` ≥ 0; TUCMD IPv4 and TCP; L4LEN, MSS; IDX 0), then advanced data descriptors over the copied
   * bytes, one per buffer (DTYP data, DEXT, IFCS, TSE, VLE with a tag; EOP and RS on the last only;
   * the first one's olinfo_status: PAYLEN = the payload's bytes, IXSM, TXSM). The headers are left as
   * Linux leaves them for the device: IPv4 total length 0, header checksum 0, and the TCP checksum the
   * pseudo-header's sum without a length. False (counted) without room, or for a frame that is not
   * IPv4/TCP with headers in the first buffer.
   */
  xmitTso(frame: Uint8Array, len: number, mss: number, q = 0, vlan = -1): boolean {
    const c = this.counters;
    const ok = q >>> 0 === q && q < this.nq && (len | 0) === len && len <= frame.length && mss > 0 && mss <= 0xffff && tcpLayout(frame, len);
    const ip = TcpLayout.ipOff;
    const ihl = TcpLayout.l4Off - ip;
    const hdr = TcpLayout.payOff;
    const l4len = hdr - TcpLayout.l4Off;
    if (!ok || hdr >= len || hdr > this.bufSize || len - hdr >= 1 << 18) {
      c.txInvalid++;
      return false;
    }
    const count = this.txCount;
    const bs = this.bufSize;
    const data = Math.ceil(len / bs);
    if (this.txFree(q) < 1 + data) {
      c.txRingFull++;
      return false;
    }
    const mem = this.mem;
    const ring = this.txRing[q]!;
    const base = q * count;
    let i = this.txTail[q]!;
    const first = i;
    // the context descriptor
    let d = ring + i * D_SIZE;
    mem.write32(d, (ihl | (ip << E1000_ADVTXD_MACLEN_SHIFT) | ((vlan < 0 ? 0 : vlan & 0xffff) << E1000_ADVTXD_VLAN_SHIFT)) >>> 0);
    mem.write32(d + 4, 0);
    mem.write32(d + 8, (E1000_ADVTXD_TUCMD_L4T_TCP | E1000_ADVTXD_TUCMD_IPV4 | (E1000_ADVTXD_DTYP_CTXT << 20) | (E1000_TXD_CMD_DEXT << CMD_SHIFT)) >>> 0);
    mem.write32(d + 12, ((mss << E1000_ADVTXD_MSS_SHIFT) | (l4len << E1000_ADVTXD_L4LEN_SHIFT)) >>> 0);
    this.txIova[base + i] = -1;
    this.txSeg[base + i] = 0;
    this.txFrameLen[base + i] = 0;
    i = i + 1 === count ? 0 : i + 1;
    // the headers as the device wants them
    const h = this.tsoHdr;
    h.set(frame.subarray(0, hdr));
    h[ip + 2] = 0;
    h[ip + 3] = 0;
    h[ip + 10] = 0;
    h[ip + 11] = 0;
    const pseudo = ~foldChecksum(onesComplementSum(h, ip + 12, 8, 6)) & 0xffff;
    h[ip + ihl + 16] = pseudo >>> 8;
    h[ip + ihl + 17] = pseudo & 0xff;
    const dcmd = E1000_TXD_CMD_DEXT | E1000_TXD_CMD_IFCS | E1000_ADVTXD_DCMD_TSE | (vlan < 0 ? 0 : E1000_TXD_CMD_VLE);
    let off = 0;
    for (let k = 1; k <= data; k++) {
      const seg = len - off < bs ? len - off : bs;
      const b = this.txPool[q]!.take();
      const buf = this.txBufs[q]! + b * this.stride;
      if (k === 1) {
        mem.writeBytes(buf, h, 0, hdr);
        mem.writeBytes(buf + hdr, frame, hdr, seg - hdr);
      } else mem.writeBytes(buf, frame, off, seg);
      const iova = this.dma.map(buf, seg);
      const s = base + i;
      this.txBufAt[s] = b;
      this.txIova[s] = iova;
      this.txSeg[s] = seg;
      this.txFrameLen[s] = k === data ? len : 0;
      d = ring + i * D_SIZE;
      mem.write64n(d, iova);
      const cmd = k === data ? dcmd | E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS : dcmd;
      mem.write32(d + 8, (seg | (E1000_ADVTXD_DTYP_DATA << 20) | (cmd << CMD_SHIFT)) >>> 0);
      mem.write32(d + 12, k === 1 ? (((len - hdr) << E1000_ADVTXD_PAYLEN_SHIFT) | ((E1000_ADVTXD_POPTS_IXSM | E1000_ADVTXD_POPTS_TXSM) << 8)) >>> 0 : 0);
      off += seg;
      if (k < data) i = i + 1 === count ? 0 : i + 1;
    }
    this.txWatch[base + first] = i;
    this.txTail[q] = i + 1 === count ? 0 : i + 1;
    c.txQueued++;
    return true;
  }

  /**
   * Doorbell of queue q: one TDT write if descriptors were queued since the last; whether it rang.
   * `t` (a value txNextToUse had since the last doorbell) rings for the descriptors before it only.
   */
  kickQueue(q: number, t = this.txTail[q]!): boolean {
    if (t === this.txKicked[q]) return false;
    this.txKicked[q] = t;
    this.counters.txDoorbells++;
    this.regs.write32(this.tdt[q]!, t);
    return true;
  }

  /** Doorbells of every queue with new descriptors; returns how many rang. */
  kick(): number {
    let rung = 0;
    for (let q = 0; q < this.nq; q++) if (this.kickQueue(q)) rung++;
    return rung;
  }

  /** Reclaim queue q's completed (DD) descriptors, unmapping their buffers; returns the frames completed. */
  reclaimQueue(q: number): number {
    const mem = this.mem;
    const dma = this.dma;
    const c = this.counters;
    const count = this.txCount;
    const ring = this.txRing[q]!;
    const tail = this.txKicked[q]!;
    const base = q * count;
    let i = this.txClean[q]!;
    let frames = 0;
    while (i !== tail) {
      const w = this.txWatch[base + i]!;
      if (w >= 0) {
        // a TSO packet: done when its last descriptor is
        if ((mem.read8(ring + w * D_SIZE + D_TXD_STA) & TX_DD) === 0) break;
        this.txWatch[base + i] = -1;
        for (let j = i; ; j = j + 1 === count ? 0 : j + 1) {
          const s = base + j;
          if (this.txIova[s]! >= 0) dma.unmap(this.txIova[s]!, this.txSeg[s]!);
          this.txIova[s] = -1;
          this.freeTxBuf(q, s);
          if (j === w) {
            c.txPackets++;
            c.txBytes += this.txFrameLen[s]!;
            frames++;
            break;
          }
        }
        i = w + 1 === count ? 0 : w + 1;
        continue;
      }
      if ((mem.read8(ring + i * D_SIZE + D_TXD_STA) & TX_DD) === 0) break;
      const s = base + i;
      dma.unmap(this.txIova[s]!, this.txSeg[s]!);
      this.txIova[s] = -1;
      this.freeTxBuf(q, s);
      const len = this.txFrameLen[s]!;
      if (len > 0) {
        c.txPackets++;
        c.txBytes += len;
        frames++;
      }
      i = i + 1 === count ? 0 : i + 1;
    }
    this.txClean[q] = i;
    return frames;
  }

  /** Reclaim the queues in `mask`; returns the frames completed. */
  reclaim(mask: number): number {
    let frames = 0;
    for (let q = 0; q < this.nq; q++) if ((mask & (1 << q)) !== 0) frames += this.reclaimQueue(q);
    return frames;
  }

  /**
   * Up to `budget` RX descriptors of the queues in `mask`, each frame handed to `onFrame` by address.
   * Returns the descriptors taken. A nested call (from inside a handler) takes nothing.
   */
  poll(mask: number, budget: number, onFrame: RingRxHandler): number {
    return this.pollMask(mask, budget, onFrame, null);
  }

  /** As `poll`, each frame's bytes copied into `scratch` and handed to `onBytes`. */
  pollCopy(mask: number, budget: number, onBytes: RingRxBytesHandler): number {
    return this.pollMask(mask, budget, null, onBytes);
  }

  private pollMask(mask: number, budget: number, onFrame: RingRxHandler | null, onBytes: RingRxBytesHandler | null): number {
    if (this.rxBusy || !(budget > 0)) return 0;
    this.rxBusy = true;
    this.counters.rxPolls++;
    let done = 0;
    try {
      for (let q = 0; q < this.nq && done < budget; q++) if ((mask & (1 << q)) !== 0) done += this.pollQueue(q, budget - done, onFrame, onBytes);
    } finally {
      this.rxBusy = false;
    }
    return done;
  }

  private pollQueue(q: number, budget: number, onFrame: RingRxHandler | null, onBytes: RingRxBytesHandler | null): number {
    const mem = this.mem;
    const dma = this.dma;
    const c = this.counters;
    const count = this.rxCount;
    const bs = this.bufSize;
    const ring = this.rxRing[q]!;
    const bufs = this.rxBufs[q]!;
    const stride = this.stride;
    const base = q * count;
    let i = this.rxNext[q]!;
    let ntu = this.rxNtu[q]!;
    let n = 0;
    while (n < budget) {
      const d = ring + i * D_SIZE;
      const st = mem.read8(d + D_RXD_STATUS);
      if ((st & RX_DD) === 0) break;
      const len = mem.read16(d + D_LEN);
      const s = base + i;
      dma.unmap(this.rxIova[s]!, bs);
      this.rxIova[s] = -1;
      const eop = (st & RX_EOP) !== 0;
      if (!eop && !this.chains) {
        // A frame spanning buffers: not what this driver sized its buffers for; drop the chain.
        if (this.rxSkipping[q] === 0) c.rxErrors++;
        this.rxSkipping[q] = 1;
      } else if (this.rxSkipping[q] !== 0) {
        this.rxSkipping[q] = 0;
      } else if (len === 0 || len > bs) {
        c.rxErrors++;
      } else {
        if (eop) c.rxPackets++;
        c.rxBytes += len;
        const buf = bufs + i * stride;
        if (onBytes !== null) {
          mem.readBytes(buf, this.scratch, 0, len);
          onBytes(this.scratch, len);
        } else onFrame!(buf, len, d);
      }
      this.postRx(q, ntu);
      ntu = ntu + 1 === count ? 0 : ntu + 1;
      i = i + 1 === count ? 0 : i + 1;
      n++;
    }
    if (n > 0) {
      this.rxNext[q] = i;
      this.rxNtu[q] = ntu;
      c.rxDoorbells++;
      this.regs.write32(this.rdt[q]!, ntu);
    }
    return n;
  }

  /** Hand slot i of RX queue q a buffer: mapped, its IOVA in the descriptor, the write-back half cleared (DD = 0). */
  private postRx(q: number, i: number): void {
    const mem = this.mem;
    const iova = this.dma.map(this.rxBufs[q]! + i * this.stride, this.bufSize);
    this.rxIova[q * this.rxCount + i] = iova;
    const d = this.rxRing[q]! + i * D_SIZE;
    mem.write64n(d, iova);
    mem.write32(d + D_LEN, 0);
    mem.write32(d + D_RXD_STATUS, 0);
  }

  /** Unmap TX buffers still in flight on queue q (igb_clean_tx_ring) and its ring; indices back to 0. */
  private cleanTx(q: number): void {
    const base = q * this.txCount;
    for (let i = 0; i < this.txCount; i++) {
      const s = base + i;
      if (this.txIova[s]! >= 0) this.dma.unmap(this.txIova[s]!, this.txSeg[s]!);
      this.txIova[s] = -1;
      this.txFrameLen[s] = 0;
      this.txWatch[s] = -1;
      this.txBufAt[s] = -1;
    }
    this.txPool[q]!.reset();
    if (this.txRingIova[q]! >= 0) this.dma.unmap(this.txRingIova[q]!, this.txCount * D_SIZE);
    this.txRingIova[q] = -1;
    this.txTail[q] = 0;
    this.txClean[q] = 0;
    this.txKicked[q] = 0;
  }

  /**
   * Give slot s's TX buffer back to queue q's pool. (The pool never runs dry: a slot in use holds at
   * most one buffer and one slot stays empty.)
   */
  private freeTxBuf(q: number, s: number): void {
    const b = this.txBufAt[s]!;
    if (b < 0) return;
    this.txBufAt[s] = -1;
    this.txPool[q]!.give(b);
  }

  /** Unmap RX buffers still posted on queue q (igb_clean_rx_ring) and its ring. */
  private cleanRx(q: number): void {
    const base = q * this.rxCount;
    for (let i = 0; i < this.rxCount; i++) {
      const s = base + i;
      if (this.rxIova[s]! >= 0) this.dma.unmap(this.rxIova[s]!, this.bufSize);
      this.rxIova[s] = -1;
    }
    if (this.rxRingIova[q]! >= 0) this.dma.unmap(this.rxRingIova[q]!, this.rxCount * D_SIZE);
    this.rxRingIova[q] = -1;
  }

  private release(): void {
    for (let q = 0; q < this.nq; q++) {
      this.cleanTx(q);
      this.cleanRx(q);
    }
  }
}
