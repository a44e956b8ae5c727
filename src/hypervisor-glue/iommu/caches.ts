/**
 * The remapping unit's translation caches: a context cache (tagged by source ID) and an IOTLB
 * (tagged by domain ID, page number and page level), both finite, both replaced by CLOCK
 * (second chance: a hit sets the entry's reference bit; the hand clears reference bits until it
 * finds an entry without one, and evicts that).
 *
 * Entries live in typed arrays (structure of arrays): a lookup or a hit allocates nothing.
 * Nothing here reads page tables: a cached entry keeps translating after the tables change until
 * software invalidates it, exactly the hazard VT-d's invalidation interface exists for.
 */
import { IovError } from "../../errors.js";
import { POW2, SQ_MASK } from "./defs.js";

const NO_SLOT = -1;

/** Bytes per page at IOTLB level 1..3 (4 KiB, 2 MiB, 1 GiB); index 0 unused. */
export const LEVEL_BYTES: Float64Array = Float64Array.of(0, 0x1000, 0x20_0000, 0x4000_0000);
/** Offset-within-page mask per level (fits int32, so `iova & mask` is exact for any 52-bit iova). */
export const LEVEL_OFFSET_MASK: Int32Array = Int32Array.of(0, 0xfff, 0x1f_ffff, 0x3fff_ffff);

function checkCapacity(what: string, n: number, min: number): void {
  if (!Number.isInteger(n) || n < min || n > 1 << 20)
    throw new IovError("ERANGE", `${what} capacity ${n} outside ${min}..${1 << 20}`, { capacity: n });
}

/**
 * CLOCK victim selection shared by both caches: advance the hand over `ref`, clearing reference
 * bits, until a free slot (`tag[s] < 0`) or an unreferenced one turns up; the caller evicts the
 * latter. Returns the free slot, or −(slot + 1) when the slot holds an entry to evict (no allocation:
 * this runs on every miss).
 */
function clockVictim(c: { hand: number; readonly capacity: number; readonly ref: Uint8Array }, tag: Int32Array): number {
  for (;;) {
    const s = c.hand;
    c.hand = s + 1 === c.capacity ? 0 : s + 1;
    if (tag[s]! < 0) return s;
    if (c.ref[s] === 1) {
      c.ref[s] = 0;
      continue;
    }
    return -(s + 1);
  }
}

/** Context cache: source ID → decoded context entry (domain, translation type, table root, limits). */
export class ContextCache {
  /** sid → slot, or -1: a direct index over all 65,536 source IDs (lookup is one array read). */
  readonly slotOf: Int32Array = new Int32Array(0x10000).fill(NO_SLOT);
  readonly sid: Int32Array;
  readonly did: Int32Array;
  /** Translation type (CONTEXT_TT_*). */
  readonly tt: Uint8Array;
  /** Paging levels (3 or 4; 0 for pass-through). */
  readonly levels: Uint8Array;
  /** FPD bit of the entry. */
  readonly fpd: Uint8Array;
  /** Second-level table root (host physical). */
  readonly root: Float64Array;
  /** First input address beyond the entry's address width (2^min(AGAW, MGAW); 2^HAW for pass-through). */
  readonly limit: Float64Array;
  readonly ref: Uint8Array;
  hand = 0;
  size = 0;
  evictions = 0;

  constructor(readonly capacity: number) {
    checkCapacity("context cache", capacity, 1);
    this.sid = new Int32Array(capacity).fill(NO_SLOT);
    this.did = new Int32Array(capacity);
    this.tt = new Uint8Array(capacity);
    this.levels = new Uint8Array(capacity);
    this.fpd = new Uint8Array(capacity);
    this.root = new Float64Array(capacity);
    this.limit = new Float64Array(capacity);
    this.ref = new Uint8Array(capacity);
  }

  insert(sid: number, did: number, tt: number, levels: number, fpd: number, root: number, limit: number): number {
    let s = this.slotOf[sid]!;
    if (s < 0) {
      s = this.victim();
      this.sid[s] = sid;
      this.slotOf[sid] = s;
      this.size++;
    }
    this.did[s] = did;
    this.tt[s] = tt;
    this.levels[s] = levels;
    this.fpd[s] = fpd;
    this.root[s] = root;
    this.limit[s] = limit;
    this.ref[s] = 1;
    return s;
  }

  private victim(): number {
    const v = clockVictim(this, this.sid);
    if (v >= 0) return v;
    this.drop(-v - 1);
    this.evictions++;
    return -v - 1;
  }

  private drop(s: number): void {
    this.slotOf[this.sid[s]!] = NO_SLOT;
    this.sid[s] = NO_SLOT;
    this.ref[s] = 0;
    this.size--;
  }

  invalidateAll(): number {
    let n = 0;
    for (let s = 0; s < this.capacity; s++) {
      if (this.sid[s]! >= 0) {
        this.drop(s);
        n++;
      }
    }
    return n;
  }
  invalidateDomain(did: number): number {
    let n = 0;
    for (let s = 0; s < this.capacity; s++) {
      if (this.sid[s]! >= 0 && this.did[s] === did) {
        this.drop(s);
        n++;
      }
    }
    return n;
  }
  /** Device-selective: source IDs equal to `sid` once the low `fm` function bits are ignored (FM 0..3). */
  invalidateDevice(sid: number, fm: number): number {
    const mask = SQ_MASK[fm & 3]!; // FM uses the same encodings as SQ
    let n = 0;
    for (let s = 0; s < this.capacity; s++) {
      const x = this.sid[s]!;
      if (x >= 0 && (x & mask) === (sid & mask)) {
        this.drop(s);
        n++;
      }
    }
    return n;
  }
}

/**
 * IOTLB: (domain ID, level, page number at that level) → page base and accumulated R/W permission.
 * A chained hash over typed arrays; `capacity` 0 disables it (every translation walks).
 */
export class Iotlb {
  /** did << 2 | level, or -1 for a free slot. */
  readonly key: Int32Array;
  /** Page number at the entry's level (iova / page size). */
  readonly vpn: Float64Array;
  /** Host physical base of the page. */
  readonly base: Float64Array;
  /** DMA_PTE_READ | DMA_PTE_WRITE accumulated over the walk. */
  readonly perm: Uint8Array;
  readonly ref: Uint8Array;
  private readonly next: Int32Array;
  private readonly head: Int32Array;
  private readonly bmask: number;
  /** Live entries per level: lookups skip levels with none (most domains use one page size). */
  private readonly levelCount = new Int32Array(4);
  hand = 0;
  size = 0;
  evictions = 0;

  constructor(readonly capacity: number) {
    checkCapacity("IOTLB", capacity, 0);
    let nb = 1;
    while (nb < capacity * 2) nb <<= 1;
    this.bmask = nb - 1;
    this.head = new Int32Array(nb).fill(NO_SLOT);
    this.key = new Int32Array(capacity).fill(NO_SLOT);
    this.vpn = new Float64Array(capacity);
    this.base = new Float64Array(capacity);
    this.perm = new Uint8Array(capacity);
    this.ref = new Uint8Array(capacity);
    this.next = new Int32Array(capacity).fill(NO_SLOT);
  }

  private bucket(key: number, vpn: number): number {
    const lo = vpn >>> 0;
    const hi = (vpn / 4294967296) | 0;
    let h = Math.imul(lo ^ Math.imul(key + 1, 0x27d4eb2d), 0x9e3779b1) ^ Math.imul(hi + 0x165667b1, 0x85ebca6b);
    h ^= h >>> 15;
    return h & this.bmask;
  }

  /** Slot translating `iova` in domain `did`, or -1. Tries 4 KiB, then 2 MiB, then 1 GiB entries. */
  lookup(did: number, iova: number): number {
    const lc = this.levelCount;
    for (let level = 1; level <= 3; level++) {
      if (lc[level] === 0) continue;
      const vpn = Math.floor(iova / LEVEL_BYTES[level]!);
      const k = (did << 2) | level;
      let s = this.head[this.bucket(k, vpn)]!;
      while (s >= 0) {
        if (this.key[s] === k && this.vpn[s] === vpn) return s;
        s = this.next[s]!;
      }
    }
    return NO_SLOT;
  }

  /** Level (1..3) of the entry in `slot`. */
  level(slot: number): number {
    return this.key[slot]! & 3;
  }

  insert(did: number, level: number, vpn: number, base: number, perm: number): number {
    if (this.capacity === 0) return NO_SLOT;
    const k = (did << 2) | level;
    const b = this.bucket(k, vpn);
    for (let s = this.head[b]!; s >= 0; s = this.next[s]!) {
      if (this.key[s] === k && this.vpn[s] === vpn) {
        this.base[s] = base;
        this.perm[s] = perm;
        this.ref[s] = 1;
        return s;
      }
    }
    const s = this.victim();
    this.key[s] = k;
    this.vpn[s] = vpn;
    this.base[s] = base;
    this.perm[s] = perm;
    this.ref[s] = 1;
    this.next[s] = this.head[b]!;
    this.head[b] = s;
    this.levelCount[level]!++;
    this.size++;
    return s;
  }

  private victim(): number {
    const v = clockVictim(this, this.key);
    if (v >= 0) return v;
    this.remove(-v - 1);
    this.evictions++;
    return -v - 1;
  }

  remove(s: number): void {
    const k = this.key[s]!;
    if (k < 0) return;
    const b = this.bucket(k, this.vpn[s]!);
    let p = this.head[b]!;
    if (p === s) this.head[b] = this.next[s]!;
    else {
      while (p >= 0 && this.next[p] !== s) p = this.next[p]!;
      if (p >= 0) this.next[p] = this.next[s]!;
    }
    this.next[s] = NO_SLOT;
    this.key[s] = NO_SLOT;
    this.ref[s] = 0;
    this.levelCount[k & 3]!--;
    this.size--;
  }

  invalidateAll(): number {
    const n = this.size;
    this.key.fill(NO_SLOT);
    this.next.fill(NO_SLOT);
    this.head.fill(NO_SLOT);
    this.ref.fill(0);
    this.levelCount.fill(0);
    this.size = 0;
    return n;
  }
  invalidateDomain(did: number): number {
    let n = 0;
    for (let s = 0; s < this.capacity; s++) {
      const k = this.key[s]!;
      if (k >= 0 && k >>> 2 === did) {
        this.remove(s);
        n++;
      }
    }
    return n;
  }
  /** Page-selective: entries of `did` overlapping the 2^am-page block that contains `addr`. */
  invalidatePages(did: number, addr: number, am: number): number {
    const span = POW2[12 + am]!;
    const start = Math.floor(addr / span) * span;
    const end = start + span;
    let n = 0;
    for (let s = 0; s < this.capacity; s++) {
      const k = this.key[s]!;
      if (k < 0 || k >>> 2 !== did) continue;
      const bytes = LEVEL_BYTES[k & 3]!;
      const eStart = this.vpn[s]! * bytes;
      if (eStart < end && eStart + bytes > start) {
        this.remove(s);
        n++;
      }
    }
    return n;
  }
}
