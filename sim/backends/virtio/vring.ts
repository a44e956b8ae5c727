/**
 * virtio 1.x split virtqueue in guest memory (virtio spec §2.7): descriptor table (16 B entries),
 * available ring and used ring, with event-index notification suppression
 * (VIRTIO_RING_F_EVENT_IDX). The driver side (guest) and the device side (vhost) both work on the
 * same bytes through the guest's memory; nothing here allocates per packet. A TX packet may be a
 * descriptor chain (VRING_DESC_F_NEXT) or, with VIRTIO_RING_F_INDIRECT_DESC, one ring descriptor
 * pointing at a table of them (VRING_DESC_F_INDIRECT), and an RX packet may span mergeable buffers
 * (VIRTIO_NET_F_MRG_RXBUF: num_buffers in its virtio_net_hdr), as TSO both ways needs.
 */
import type { Guest } from "../../../src/hypervisor-glue/guest.js";
import { BufferPool } from "../../../src/memory/buffer-pool.js";

export const VRING_DESC_F_NEXT = 1;
export const VRING_DESC_F_WRITE = 2;
export const VRING_DESC_F_INDIRECT = 4;
export const VRING_AVAIL_F_NO_INTERRUPT = 1;
export const VRING_USED_F_NO_NOTIFY = 1;
export const VRING_DESC_SIZE = 16;
/** virtio_net_hdr_v1 (flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers). */
export const VIRTIO_NET_HDR_LEN = 12;
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const VIRTIO_NET_HDR_F_DATA_VALID = 2;
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
/** The TCP checksum's offset in its header (virtio_net_hdr.csum_offset for TCP). */
const TCP_CSUM_OFFSET = 16;

/** vring_need_event: notify iff the other side asked for an event at an index in (old, new]. */
export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}

export interface VringLayout {
  readonly size: number;
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  /** Bytes the three parts take (for allocation). */
  readonly bytes: number;
}

/** Place a queue of `size` entries at guest-physical `gpa` (legacy layout: used ring 4 KiB aligned). */
export function vringLayout(gpa: number, size: number): VringLayout {
  const desc = gpa;
  const avail = desc + VRING_DESC_SIZE * size;
  const availBytes = 6 + 2 * size; // flags, idx, ring[], used_event
  const used = Math.ceil((avail + availBytes) / 4096) * 4096;
  const usedBytes = 6 + 8 * size; // flags, idx, ring[] {id,len}, avail_event
  return { size, desc, avail, used, bytes: used + usedBytes - gpa };
}

/**
 * VIRTIO_RING_F_INDIRECT_DESC on a TX queue: where the driver keeps each head's table (`maxEntries`
 * descriptors at tableGpa + head × maxEntries × 16) and the pages its packets' bytes live in, a pool
 * of `pages` buffers at pageGpa + k × bufSize taken last freed first (the socket buffers' pages).
 */
export interface IndirectTx {
  readonly tableGpa: number;
  readonly maxEntries: number;
  readonly pageGpa: number;
  readonly pages: number;
}

/** Bytes the indirect tables of a queue of `size` entries take. */
export function indirectTableBytes(size: number, maxEntries: number): number {
  return size * maxEntries * VRING_DESC_SIZE;
}

/**
 * Guest driver side of one virtqueue. Without indirect descriptors buffers are fixed per descriptor
 * (one buffer per slot), and a TX frame longer than one buffer (a TSO super-frame) takes a chain of
 * them from the free list, linked by the descriptors' next fields with VRING_DESC_F_NEXT on all but
 * the last. With them (`indirect`, as Linux's virtqueue_add_split when a packet has more than one
 * buffer) such a frame takes one ring descriptor, VRING_DESC_F_INDIRECT, whose address is a table
 * of the chain; every TX packet's bytes then come from the page pool.
 */
export class VringDriver {
  private freeHead = 0;
  private numFree: number;
  private availIdx = 0;
  private lastUsed = 0;
  /** avail idx at the time of the last kick decision. */
  private kickedIdx = 0;
  kicks = 0;
  suppressedKicks = 0;
  /** Indirect tables used (packets sent as one ring descriptor). */
  indirectAdds = 0;
  /** With indirect descriptors: free page indices (a stack, the last freed on top), and each head's pages. */
  private readonly pool: BufferPool;
  private readonly pagesOf: Int32Array;
  private readonly pagesCount: Int32Array;

  constructor(
    readonly g: Guest,
    readonly L: VringLayout,
    readonly bufGpa: number,
    readonly bufSize: number,
    readonly eventIdx = true,
    readonly indirect?: IndirectTx,
  ) {
    const ind = indirect;
    this.pool = new BufferPool(ind === undefined ? 0 : ind.pages);
    this.pagesOf = new Int32Array(ind === undefined ? 0 : L.size * ind.maxEntries);
    this.pagesCount = new Int32Array(ind === undefined ? 0 : L.size);
    this.numFree = L.size;
    for (let i = 0; i < L.size; i++) {
      const d = L.desc + i * VRING_DESC_SIZE;
      g.write64n(d, bufGpa + i * bufSize);
      g.write32(d + 8, bufSize);
      g.write16(d + 12, 0);
      g.write16(d + 14, (i + 1) % L.size);
    }
    g.write16(L.avail, 0);
    g.write16(L.avail + 2, 0);
  }

  get free(): number {
    return this.numFree;
  }

  /** Buffers a TX frame of `len` bytes takes (its header and bytes across them): ring descriptors without indirect tables. */
  descsFor(len: number): number {
    return Math.ceil((VIRTIO_NET_HDR_LEN + len) / this.bufSize);
  }

  /** Free pages of the indirect pool (Infinity without indirect descriptors). */
  get pagesFree(): number {
    return this.indirect === undefined ? Infinity : this.pool.free;
  }

  /** Whether a TX frame of `len` bytes can be added now: its ring descriptors, or one and its pages. */
  roomFor(len: number): boolean {
    const need = this.descsFor(len);
    if (this.indirect === undefined) return this.numFree >= need;
    return this.numFree >= 1 && this.pool.free >= need && need <= this.indirect.maxEntries;
  }

  /**
   * TX: write the virtio_net_hdr and the frame into the next buffer(s) — a chain when it is longer
   * than one — and publish the chain's head. With `gsoSize` > 0 the frame is a TCPv4 super-frame
   * whose headers end at `hdrLen`, its TCP checksum partial (csum_start at the TCP header): the
   * header asks the device for segments of `gsoSize` payload bytes and their checksums. Returns
   * false when the ring lacks the descriptors.
   */
  addOutbuf(frame: Uint8Array, len: number, gsoSize = 0, hdrLen = 0, csumStart = 0): boolean {
    if (this.indirect !== undefined) return this.addOutbufPooled(frame, len, gsoSize, hdrLen, csumStart);
    const need = this.descsFor(len);
    if (this.numFree < need) return false;
    const g = this.g;
    const head = this.freeHead;
    let id = head;
    let off = 0;
    for (let j = 0; j < need; j++) {
      const d = this.L.desc + id * VRING_DESC_SIZE;
      const before = off;
      off = this.fill(this.bufGpa + id * this.bufSize, frame, off, len, j === 0, gsoSize, hdrLen, csumStart);
      g.write32(d + 8, (j === 0 ? VIRTIO_NET_HDR_LEN : 0) + off - before);
      g.write16(d + 12, j < need - 1 ? VRING_DESC_F_NEXT : 0);
      if (j < need - 1) id = g.read16(d + 14); // the free list's next is the chain's next
    }
    this.publish(head, id, need);
    return true;
  }

  /**
   * Write buffer `at`: with `first`, the virtio_net_hdr and then the frame from `off`, else the frame
   * from `off`, as much as the buffer holds; returns the frame offset reached.
   */
  private fill(at: number, frame: Uint8Array, off: number, len: number, first: boolean, gsoSize: number, hdrLen: number, csumStart: number): number {
    const g = this.g;
    let room = this.bufSize;
    if (first) {
      if (gsoSize > 0) {
        g.write16(at, VIRTIO_NET_HDR_F_NEEDS_CSUM | (VIRTIO_NET_HDR_GSO_TCPV4 << 8));
        g.write16(at + 2, hdrLen);
        g.write16(at + 4, gsoSize);
        g.write16(at + 6, csumStart);
        g.write16(at + 8, TCP_CSUM_OFFSET);
        g.write16(at + 10, 0);
      } else for (let i = 0; i < VIRTIO_NET_HDR_LEN; i += 4) g.write32(at + i, 0);
      at += VIRTIO_NET_HDR_LEN;
      room -= VIRTIO_NET_HDR_LEN;
    }
    const n = Math.min(room, len - off);
    g.writeBytes(at, frame, off, n);
    return off + n;
  }

  /**
   * TX with indirect descriptors: the packet's bytes go into pages from the pool; a packet of one
   * buffer takes one ring descriptor pointing at its page, a longer one one ring descriptor
   * (VRING_DESC_F_INDIRECT) pointing at its head's table, which chains the pages by NEXT.
   */
  private addOutbufPooled(frame: Uint8Array, len: number, gsoSize: number, hdrLen: number, csumStart: number): boolean {
    if (!this.roomFor(len)) return false;
    const ind = this.indirect!;
    const g = this.g;
    const need = this.descsFor(len);
    const head = this.freeHead;
    const d = this.L.desc + head * VRING_DESC_SIZE;
    const table = ind.tableGpa + head * ind.maxEntries * VRING_DESC_SIZE;
    let off = 0;
    for (let j = 0; j < need; j++) {
      const page = this.pool.take();
      this.pagesOf[head * ind.maxEntries + j] = page;
      const at = ind.pageGpa + page * this.bufSize;
      const before = off;
      off = this.fill(at, frame, off, len, j === 0, gsoSize, hdrLen, csumStart);
      const blen = (j === 0 ? VIRTIO_NET_HDR_LEN : 0) + off - before;
      if (need === 1) {
        g.write64n(d, at);
        g.write32(d + 8, blen);
        g.write16(d + 12, 0);
      } else {
        const e = table + j * VRING_DESC_SIZE;
        g.write64n(e, at);
        g.write32(e + 8, blen);
        g.write16(e + 12, j < need - 1 ? VRING_DESC_F_NEXT : 0);
        g.write16(e + 14, j + 1);
      }
    }
    this.pagesCount[head] = need;
    if (need > 1) {
      g.write64n(d, table);
      g.write32(d + 8, need * VRING_DESC_SIZE);
      g.write16(d + 12, VRING_DESC_F_INDIRECT);
      this.indirectAdds++;
    }
    this.publish(head, head, 1);
    return true;
  }

  /** RX: post an empty device-writable buffer. */
  addInbuf(): boolean {
    if (this.numFree === 0) return false;
    const id = this.freeHead;
    const d = this.L.desc + id * VRING_DESC_SIZE;
    this.g.write32(d + 8, this.bufSize);
    this.g.write16(d + 12, VRING_DESC_F_WRITE);
    this.publish(id, id, 1);
    return true;
  }

  /** Publish the chain head..last (`count` descriptors taken from the free list) in the avail ring. */
  private publish(head: number, last: number, count: number): void {
    this.freeHead = this.g.read16(this.L.desc + last * VRING_DESC_SIZE + 14);
    this.numFree -= count;
    this.g.write16(this.L.avail + 4 + 2 * (this.availIdx % this.L.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.g.write16(this.L.avail + 2, this.availIdx); // (write barrier before idx in real drivers)
  }

  /** The avail index published so far, and the entries published since the last kickPrepare. */
  get availIdxNow(): number {
    return this.availIdx;
  }
  get unkicked(): number {
    return (this.availIdx - this.kickedIdx) & 0xffff;
  }

  /**
   * virtqueue_kick_prepare: whether the device asked to be notified for what was published (up to
   * avail index `upTo`, by default all of it).
   */
  kickPrepare(upTo = this.availIdx): boolean {
    const old = this.kickedIdx;
    const nw = upTo;
    this.kickedIdx = nw;
    let need: boolean;
    if (this.eventIdx) need = vringNeedEvent(this.g.read16(this.L.used + 4 + 8 * this.L.size), nw, old);
    else need = (this.g.read16(this.L.used) & VRING_USED_F_NO_NOTIFY) === 0;
    if (need) this.kicks++;
    else this.suppressedKicks++;
    return need;
  }

  /**
   * Reclaim up to `budget` used buffers; returns how many. For RX, `onRx(gpa, len)` sees each filled
   * buffer. With `rearm` (the default) the driver then asks for an interrupt at the next used entry
   * (virtqueue_enable_cb); NAPI polls pass false and re-arm in `enableCb` when they complete.
   */
  reclaim(onRx?: (gpa: number, len: number) => void, budget = Infinity, rearm = true): number {
    const usedIdx = this.g.read16(this.L.used + 2);
    let n = 0;
    while (this.lastUsed !== usedIdx && n < budget) {
      const e = this.L.used + 4 + 8 * (this.lastUsed % this.L.size);
      const id = this.g.read32(e);
      const len = this.g.read32(e + 4);
      if (onRx !== undefined) onRx(this.bufGpa + id * this.bufSize + VIRTIO_NET_HDR_LEN, len - VIRTIO_NET_HDR_LEN);
      this.detach(id);
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
      n++;
    }
    if (rearm) this.enableCb();
    return n;
  }

  /** detach_buf: the chain headed by `id` goes back to the free list whole (an indirect head alone), its pool pages to the pool. */
  private detach(id: number): void {
    const ind = this.indirect;
    if (ind !== undefined && this.pagesCount[id]! > 0) {
      for (let j = 0; j < this.pagesCount[id]!; j++) this.pool.give(this.pagesOf[id * ind.maxEntries + j]!);
      this.pagesCount[id] = 0;
    }
    let last = id;
    let m = 1;
    while ((this.g.read16(this.L.desc + last * VRING_DESC_SIZE + 12) & VRING_DESC_F_NEXT) !== 0 && m < this.L.size) {
      last = this.g.read16(this.L.desc + last * VRING_DESC_SIZE + 14);
      m++;
    }
    this.g.write16(this.L.desc + last * VRING_DESC_SIZE + 14, this.freeHead);
    this.freeHead = id;
    this.numFree += m;
  }

  /** The virtio_net_hdr of the last packet reclaimMerged handed over: gso_type and gso_size. */
  rxGsoType = VIRTIO_NET_HDR_GSO_NONE;
  rxGsoSize = 0;

  /**
   * RX with mergeable buffers (VIRTIO_NET_F_MRG_RXBUF): up to `budget` packets, each the
   * num_buffers used entries its first header announces, assembled into `out` (at most out.length
   * bytes) and handed to `onPacket(len)` with its GSO fields in rxGsoType/rxGsoSize. A packet whose
   * entries are not all used yet waits. Returns the packets taken.
   */
  reclaimMerged(out: Uint8Array, onPacket: (len: number) => void, budget: number): number {
    const g = this.g;
    const usedIdx = g.read16(this.L.used + 2);
    let n = 0;
    while (this.lastUsed !== usedIdx && n < budget) {
      const e0 = this.L.used + 4 + 8 * (this.lastUsed % this.L.size);
      const hdr = this.bufGpa + g.read32(e0) * this.bufSize;
      const nb = Math.max(1, g.read16(hdr + 10));
      if (((usedIdx - this.lastUsed) & 0xffff) < nb) break;
      const fl = g.read16(hdr);
      this.rxGsoType = fl >>> 8;
      this.rxGsoSize = this.rxGsoType === VIRTIO_NET_HDR_GSO_NONE ? 0 : g.read16(hdr + 4);
      let total = 0;
      for (let j = 0; j < nb; j++) {
        const e = this.L.used + 4 + 8 * (this.lastUsed % this.L.size);
        const id = g.read32(e);
        const skip = j === 0 ? VIRTIO_NET_HDR_LEN : 0;
        const len = Math.max(0, Math.min(g.read32(e + 4) - skip, out.length - total));
        g.readBytes(this.bufGpa + id * this.bufSize + skip, out, total, len);
        total += len;
        this.detach(id);
        this.lastUsed = (this.lastUsed + 1) & 0xffff;
      }
      onPacket(total);
      n++;
    }
    return n;
  }

  /** Used entries the driver has not reclaimed yet. */
  usedPending(): boolean {
    return this.g.read16(this.L.used + 2) !== this.lastUsed;
  }

  /**
   * virtqueue_enable_cb: ask for an interrupt at the next used entry (event index: used_event =
   * last_used; otherwise clear VRING_AVAIL_F_NO_INTERRUPT). Returns true if entries are already
   * used (the caller must poll again: the device may not interrupt for them).
   */
  enableCb(): boolean {
    if (this.eventIdx) this.g.write16(this.L.avail + 4 + 2 * this.L.size, this.lastUsed);
    else this.g.write16(this.L.avail, 0);
    return this.usedPending();
  }

  /**
   * virtqueue_disable_cb: suppress interrupts. With event index used_event is moved half the index
   * space away, so no used index the device reaches soon crosses it.
   */
  disableCb(): void {
    if (!this.eventIdx) this.g.write16(this.L.avail, VRING_AVAIL_F_NO_INTERRUPT);
    else this.g.write16(this.L.avail + 4 + 2 * this.L.size, (this.lastUsed + 0x8000) & 0xffff);
  }

  /**
   * virtqueue_enable_cb_delayed (TX): an interrupt only after 3/4 of the outstanding buffers are
   * used. Returns true if that many are already used.
   */
  enableCbDelayed(): boolean {
    const outstanding = (this.availIdx - this.lastUsed) & 0xffff;
    const at = (this.lastUsed + Math.floor((outstanding * 3) / 4)) & 0xffff;
    if (this.eventIdx) this.g.write16(this.L.avail + 4 + 2 * this.L.size, at);
    else this.g.write16(this.L.avail, 0);
    return vringNeedEvent(at, this.g.read16(this.L.used + 2), this.lastUsed);
  }
}

/** Device side (vhost-net worker) of one virtqueue. */
export class VringDevice {
  /** The virtio_net_hdr of the last frame popTx took: gso_type and gso_size (GSO_NONE / 0 for a plain frame). */
  gsoType = VIRTIO_NET_HDR_GSO_NONE;
  gsoSize = 0;
  private lastAvail = 0;
  private usedIdx = 0;
  private signalledIdx = 0;
  interrupts = 0;
  suppressedInterrupts = 0;
  /**
   * A malformed TX descriptor (a head or next beyond the ring or table, a chain that loops, a buffer
   * or table outside guest RAM; an indirect table whose length is not a whole number of descriptors
   * or that holds an indirect entry) breaks the queue as vhost's vq_err does: nothing more is taken
   * from it (the packet stays where it is) and `errors` counts it.
   */
  broken = false;
  errors = 0;

  constructor(readonly g: Guest, readonly L: VringLayout, readonly eventIdx = true) {
    g.write16(L.used, 0);
    g.write16(L.used + 2, 0);
  }

  /** Entries the driver has published and the device has not consumed (none once the queue is broken). */
  pending(): number {
    if (this.broken) return 0;
    return (this.g.read16(this.L.avail + 2) - this.lastAvail) & 0xffff;
  }

  /**
   * Consume one available TX chain: its virtio_net_hdr into gsoType/gsoSize, its bytes after the
   * header (across the chain's descriptors, in order, at most out.length) into `out`; returns the
   * frame length, -1 when nothing is pending. A chain is followed for at most the ring's size.
   */
  popTx(out: Uint8Array): number {
    if (this.pending() === 0) return -1;
    const g = this.g;
    const head = g.read16(this.L.avail + 4 + 2 * (this.lastAvail % this.L.size));
    if (head >= this.L.size) return this.fail(); // "Guest says index is available": not a descriptor
    const hd = this.L.desc + head * VRING_DESC_SIZE;
    // an indirect head: its table holds the chain (vhost's get_indirect)
    const indirect = (g.read16(hd + 12) & VRING_DESC_F_INDIRECT) !== 0;
    let base = this.L.desc;
    let limit = this.L.size;
    let id = head;
    if (indirect) {
      const tlen = g.read32(hd + 8);
      base = g.read64n(hd);
      if (tlen === 0 || tlen % VRING_DESC_SIZE !== 0 || !this.inRam(base, tlen)) return this.fail();
      limit = tlen / VRING_DESC_SIZE;
      id = 0;
    }
    let total = 0;
    let j = 0;
    for (; j < limit; j++) {
      const d = base + id * VRING_DESC_SIZE;
      if (indirect && (g.read16(d + 12) & VRING_DESC_F_INDIRECT) !== 0) return this.fail();
      let addr = g.read64n(d);
      let len = g.read32(d + 8);
      if (!this.inRam(addr, j === 0 ? Math.max(len, VIRTIO_NET_HDR_LEN) : len)) return this.fail(); // vhost's translation failure
      if (j === 0) {
        const fl = g.read16(addr);
        this.gsoType = fl >>> 8;
        this.gsoSize = this.gsoType === VIRTIO_NET_HDR_GSO_NONE ? 0 : g.read16(addr + 4);
        addr += VIRTIO_NET_HDR_LEN;
        len -= VIRTIO_NET_HDR_LEN;
      }
      const n = Math.max(0, Math.min(len, out.length - total));
      g.readBytes(addr, out, total, n);
      total += n;
      if ((g.read16(d + 12) & VRING_DESC_F_NEXT) === 0) break;
      id = g.read16(d + 14);
      if (id >= limit) return this.fail();
    }
    if (j === limit) return this.fail(); // a chain that loops
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    this.pushUsed(head, 0);
    return total;
  }

  /** Whether [gpa, gpa + len) is guest RAM (vhost translates every buffer through the guest's memory table). */
  private inRam(gpa: number, len: number): boolean {
    return gpa >= 0 && len >= 0 && gpa + len <= this.g.memoryBytes;
  }

  private fail(): number {
    this.broken = true;
    this.errors++;
    return -1;
  }

  /**
   * RX: copy `frame` into the next available buffer. With mergeable buffers (`mergeable`) a frame
   * longer than one buffer spans as many as it needs (num_buffers in the first one's header: all
   * or nothing), and `gsoSize` > 0 marks it a TCPv4 GSO packet (GSO_TCPV4, DATA_VALID: the host's
   * GRO checked its segments). False when the ring lacks the buffers.
   */
  pushRx(frame: Uint8Array, len: number, gsoSize = 0): boolean {
    if (this.mergeable) return this.pushRxMerged(frame, len, gsoSize);
    if (this.pending() === 0) return false;
    const id = this.g.read16(this.L.avail + 4 + 2 * (this.lastAvail % this.L.size));
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    const d = this.L.desc + id * VRING_DESC_SIZE;
    const addr = this.g.read64n(d);
    const cap = this.g.read32(d + 8);
    const n = Math.min(len, cap - VIRTIO_NET_HDR_LEN);
    for (let i = 0; i < VIRTIO_NET_HDR_LEN; i += 4) this.g.write32(addr + i, 0);
    this.g.writeBytes(addr + VIRTIO_NET_HDR_LEN, frame, 0, n);
    this.pushUsed(id, VIRTIO_NET_HDR_LEN + n);
    return true;
  }

  /** Mergeable RX buffers negotiated (VIRTIO_NET_F_MRG_RXBUF). */
  mergeable = false;

  /** Buffers a received frame of `len` bytes takes now (0: none posted): one, or with mergeable buffers as many as it spans. */
  private buffersFor(len: number): number {
    if (this.pending() === 0) return 0;
    if (!this.mergeable) return 1;
    // every posted buffer has the same size: the first one's tells how many the frame needs
    const cap = this.g.read32(this.L.desc + this.g.read16(this.L.avail + 4 + 2 * (this.lastAvail % this.L.size)) * VRING_DESC_SIZE + 8);
    return Math.ceil((VIRTIO_NET_HDR_LEN + len) / cap);
  }

  /** Whether the buffers posted now take a received frame of `len` bytes. */
  roomFor(len: number): boolean {
    const nb = this.buffersFor(len);
    return nb > 0 && nb <= this.pending();
  }

  private pushRxMerged(frame: Uint8Array, len: number, gsoSize: number): boolean {
    const g = this.g;
    const avail = this.pending();
    const nb = this.buffersFor(len);
    if (nb === 0 || nb > avail) return false;
    let off = 0;
    for (let j = 0; j < nb; j++) {
      const id = g.read16(this.L.avail + 4 + 2 * (this.lastAvail % this.L.size));
      this.lastAvail = (this.lastAvail + 1) & 0xffff;
      let at = g.read64n(this.L.desc + id * VRING_DESC_SIZE);
      let room = g.read32(this.L.desc + id * VRING_DESC_SIZE + 8);
      if (j === 0) {
        g.write16(at, gsoSize > 0 ? VIRTIO_NET_HDR_F_DATA_VALID | (VIRTIO_NET_HDR_GSO_TCPV4 << 8) : 0);
        g.write16(at + 2, 0);
        g.write16(at + 4, gsoSize);
        g.write16(at + 6, 0);
        g.write16(at + 8, 0);
        g.write16(at + 10, nb);
        at += VIRTIO_NET_HDR_LEN;
        room -= VIRTIO_NET_HDR_LEN;
      }
      const n = Math.min(room, len - off);
      g.writeBytes(at, frame, off, n);
      off += n;
      this.pushUsed(id, (j === 0 ? VIRTIO_NET_HDR_LEN : 0) + n);
    }
    return true;
  }

  /** Write a used entry; the driver sees it when `publishUsed` updates used->idx. */
  private pushUsed(id: number, len: number): void {
    const e = this.L.used + 4 + 8 * (this.usedIdx % this.L.size);
    this.g.write32(e, id);
    this.g.write32(e + 4, len);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
  }

  /** Publish the used entries written so far (used->idx; vhost_add_used_n's index update). */
  publishUsed(): void {
    this.g.write16(this.L.used + 2, this.usedIdx);
  }

  /**
   * Before sleeping: ask for a kick at the next avail entry (event idx) or enable notifications;
   * returns true if entries arrived meanwhile (vhost_enable_notify: the worker must go on).
   */
  enableNotify(): boolean {
    if (this.eventIdx) this.g.write16(this.L.used + 4 + 8 * this.L.size, this.lastAvail);
    else this.g.write16(this.L.used, 0);
    return this.pending() > 0;
  }
  /**
   * While busy polling: suppress kicks (vhost_disable_notify). With event index nothing is written:
   * avail_event stays where the last enableNotify put it, behind what the driver publishes, so the
   * driver's need-event test is false until the device re-arms.
   */
  disableNotify(): void {
    if (!this.eventIdx) this.g.write16(this.L.used, VRING_USED_F_NO_NOTIFY);
  }

  /** vhost_notify: whether the guest wants an interrupt for the used entries added since the last signal. */
  shouldInterrupt(): boolean {
    const old = this.signalledIdx;
    const nw = this.usedIdx;
    this.signalledIdx = nw;
    if (old === nw) return false;
    let need: boolean;
    if (this.eventIdx) need = vringNeedEvent(this.g.read16(this.L.avail + 4 + 2 * this.L.size), nw, old);
    else need = (this.g.read16(this.L.avail) & VRING_AVAIL_F_NO_INTERRUPT) === 0;
    if (need) this.interrupts++;
    else this.suppressedInterrupts++;
    return need;
  }
}
