import { IovError } from "../errors.js";
import { SMALL_COPY, copyBytes } from "./bytes.js";

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT; // 4 KiB
export const PAGE_MASK = PAGE_SIZE - 1;
/** Physical addresses are JS numbers: 52 bits fit exactly in a double's 53-bit mantissa. */
export const PHYS_ADDR_BITS = 52;
export const PHYS_ADDR_LIMIT = 2 ** PHYS_ADDR_BITS;

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);
/** Entries of the direct-mapped page cache in front of the page map (a power of two). */
const PAGE_CACHE = 256;
/**
 * A page's cache slot: its PFN folded (XOR of bytes 0–2 of the low 32 bits). A plain PFN mod 256
 * put the same page of every guest's RAM (guests laid out at MiB-aligned bases) in one slot: their
 * rings evicted each other on every packet.
 */
const cacheSlot = (pfn: number): number => (pfn ^ (pfn >>> 8) ^ (pfn >>> 16)) & (PAGE_CACHE - 1);

/**
 * Sparse host physical memory. Pages of 4 KiB are allocated on first write; untouched memory reads
 * as zero. All multi-byte accessors are little-endian. The hot-path accessors take plain numbers and
 * allocate nothing; `page()` gives the data plane a zero-copy window on one page.
 */
export class PhysMem {
  private readonly pages = new Map<number, Uint8Array>();
  /**
   * A direct-mapped cache of backed pages (slot = cacheSlot(PFN), tag = PFN; −1 = empty), in
   * front of the map: a packet's accesses touch a few pages (ring, buffer, IOMMU tables) again and
   * again, and a tag compare is much cheaper than a hash lookup. Only backed pages are cached, so a
   * cached page is always the one to write.
   */
  private readonly cacheTag = new Float64Array(PAGE_CACHE).fill(-1);
  private readonly cachePage: Uint8Array[] = new Array<Uint8Array>(PAGE_CACHE).fill(ZERO_PAGE);

  constructor(readonly sizeLimit: number = PHYS_ADDR_LIMIT) {
    if (!Number.isSafeInteger(sizeLimit) || sizeLimit <= 0 || sizeLimit > PHYS_ADDR_LIMIT)
      throw new IovError("ERANGE", `memory size ${sizeLimit} outside 1..2^52`);
  }

  /** Pages actually backed (resident set of the model). */
  get residentPages(): number {
    return this.pages.size;
  }
  get residentBytes(): number {
    return this.pages.size * PAGE_SIZE;
  }

  private check(addr: number, len: number): void {
    if (!(addr >= 0 && len >= 0 && addr + len <= this.sizeLimit && Number.isInteger(addr)))
      throw new IovError("EFAULT", `physical access 0x${addr.toString(16)}+${len} outside 0..0x${this.sizeLimit.toString(16)}`, { addr, len });
  }

  /** The page holding `addr` for reading (a shared zero page if never written). */
  pageForRead(addr: number): Uint8Array {
    const pfn = Math.floor(addr / PAGE_SIZE);
    const slot = cacheSlot(pfn);
    if (this.cacheTag[slot] === pfn) return this.cachePage[slot]!;
    const p = this.pages.get(pfn);
    if (p === undefined) return ZERO_PAGE;
    this.cacheTag[slot] = pfn;
    this.cachePage[slot] = p;
    return p;
  }

  /** The page holding `addr` for writing, allocated on first touch. */
  pageForWrite(addr: number): Uint8Array {
    const pfn = Math.floor(addr / PAGE_SIZE);
    const slot = cacheSlot(pfn);
    if (this.cacheTag[slot] === pfn) return this.cachePage[slot]!;
    let p = this.pages.get(pfn);
    if (p === undefined) {
      if (addr < 0 || addr >= this.sizeLimit) this.check(addr, 1);
      p = new Uint8Array(PAGE_SIZE);
      this.pages.set(pfn, p);
    }
    this.cacheTag[slot] = pfn;
    this.cachePage[slot] = p;
    return p;
  }

  /** Whether the page holding `addr` has been written. */
  isBacked(addr: number): boolean {
    return this.pages.has(Math.floor(addr / PAGE_SIZE));
  }

  read8(addr: number): number {
    return this.pageForRead(addr)[addr & PAGE_MASK]!;
  }
  write8(addr: number, v: number): void {
    this.pageForWrite(addr)[addr & PAGE_MASK] = v;
  }
  read16(addr: number): number {
    const o = addr & PAGE_MASK;
    if (o <= PAGE_SIZE - 2) {
      const p = this.pageForRead(addr);
      return p[o]! | (p[o + 1]! << 8);
    }
    return this.read8(addr) | (this.read8(addr + 1) << 8);
  }
  write16(addr: number, v: number): void {
    const o = addr & PAGE_MASK;
    if (o <= PAGE_SIZE - 2) {
      const p = this.pageForWrite(addr);
      p[o] = v;
      p[o + 1] = v >>> 8;
      return;
    }
    this.write8(addr, v);
    this.write8(addr + 1, v >>> 8);
  }
  read32(addr: number): number {
    const o = addr & PAGE_MASK;
    if (o <= PAGE_SIZE - 4) {
      const p = this.pageForRead(addr);
      return (p[o]! | (p[o + 1]! << 8) | (p[o + 2]! << 16) | (p[o + 3]! << 24)) >>> 0;
    }
    return (this.read16(addr) | (this.read16(addr + 2) << 16)) >>> 0;
  }
  write32(addr: number, v: number): void {
    const o = addr & PAGE_MASK;
    if (o <= PAGE_SIZE - 4) {
      const p = this.pageForWrite(addr);
      p[o] = v;
      p[o + 1] = v >>> 8;
      p[o + 2] = v >>> 16;
      p[o + 3] = v >>> 24;
      return;
    }
    this.write16(addr, v & 0xffff);
    this.write16(addr + 2, v >>> 16);
  }
  /** 64-bit read as a bigint (exact). */
  read64(addr: number): bigint {
    return (BigInt(this.read32(addr + 4)) << 32n) | BigInt(this.read32(addr));
  }
  write64(addr: number, v: bigint): void {
    this.write32(addr, Number(v & 0xffffffffn));
    this.write32(addr + 4, Number((v >> 32n) & 0xffffffffn));
  }
  /** 64-bit read as a number; exact only when the value is below 2^53 (addresses, counters). */
  read64n(addr: number): number {
    return this.read32(addr + 4) * 0x1_0000_0000 + this.read32(addr);
  }
  write64n(addr: number, v: number): void {
    this.write32(addr, v % 0x1_0000_0000 >>> 0);
    this.write32(addr + 4, Math.floor(v / 0x1_0000_0000) >>> 0);
  }

  /** Copy `len` bytes from memory into `dst` (starting at dstOff). */
  readInto(addr: number, dst: Uint8Array, dstOff = 0, len = dst.length - dstOff): void {
    this.check(addr, len);
    let done = 0;
    while (done < len) {
      const a = addr + done;
      const o = a & PAGE_MASK;
      const n = Math.min(PAGE_SIZE - o, len - done);
      const p = this.pageForRead(a);
      if (n <= SMALL_COPY) copyBytes(dst, dstOff + done, p, o, n);
      else dst.set(p.subarray(o, o + n), dstOff + done);
      done += n;
    }
  }
  /** Copy `src` into memory at `addr`. */
  writeFrom(addr: number, src: Uint8Array, srcOff = 0, len = src.length - srcOff): void {
    this.check(addr, len);
    let done = 0;
    while (done < len) {
      const a = addr + done;
      const o = a & PAGE_MASK;
      const n = Math.min(PAGE_SIZE - o, len - done);
      const p = this.pageForWrite(a);
      if (n <= SMALL_COPY) copyBytes(p, o, src, srcOff + done, n);
      else p.set(src.subarray(srcOff + done, srcOff + done + n), o);
      done += n;
    }
  }
  /** Convenience: a fresh copy of `len` bytes (control plane and tests only). */
  read(addr: number, len: number): Uint8Array {
    const b = new Uint8Array(len);
    this.readInto(addr, b);
    return b;
  }
  /** Memory-to-memory copy, page by page, no temporary buffer (copyWithin when on one page). */
  copy(dst: number, src: number, len: number): void {
    this.check(dst, len);
    this.check(src, len);
    let done = 0;
    while (done < len) {
      const s = src + done;
      const d = dst + done;
      const n = Math.min(PAGE_SIZE - (s & PAGE_MASK), PAGE_SIZE - (d & PAGE_MASK), len - done);
      const sp = this.pageForRead(s);
      const dp = this.pageForWrite(d);
      if (sp === dp) dp.copyWithin(d & PAGE_MASK, s & PAGE_MASK, (s & PAGE_MASK) + n);
      else dp.set(sp.subarray(s & PAGE_MASK, (s & PAGE_MASK) + n), d & PAGE_MASK);
      done += n;
    }
  }
  fill(addr: number, len: number, value: number): void {
    this.check(addr, len);
    let done = 0;
    while (done < len) {
      const a = addr + done;
      const o = a & PAGE_MASK;
      const n = Math.min(PAGE_SIZE - o, len - done);
      if (value === 0 && !this.isBacked(a)) {
        done += n;
        continue;
      }
      this.pageForWrite(a).fill(value, o, o + n);
      done += n;
    }
  }
  /**
   * Zero-copy view of [addr, addr+len) for the data plane. The range must lie in one page
   * (packet buffers are page-contained by construction); the view aliases memory.
   */
  view(addr: number, len: number): Uint8Array {
    const o = addr & PAGE_MASK;
    if (o + len > PAGE_SIZE)
      throw new IovError("EINVAL", `view 0x${addr.toString(16)}+${len} crosses a page boundary`);
    return this.pageForWrite(addr).subarray(o, o + len);
  }
  /** Release every page in [addr, addr+len) (page-aligned), so it reads as zero again. */
  discard(addr: number, len: number): void {
    for (let a = addr - (addr & PAGE_MASK); a < addr + len; a += PAGE_SIZE) {
      const pfn = Math.floor(a / PAGE_SIZE);
      this.pages.delete(pfn);
      const slot = cacheSlot(pfn);
      if (this.cacheTag[slot] === pfn) this.cacheTag[slot] = -1;
    }
  }
}
