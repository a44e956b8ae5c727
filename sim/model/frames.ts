import { copyBytes } from "../../src/memory/bytes.js";

/**
 * A pool of frame buffers for frames between two events (on a wire, in a software queue). Slots are
 * reused; the pool grows only when every slot is in use (warm-up), so the steady state allocates
 * nothing per packet.
 */
export class FramePool {
  private bufs: Uint8Array[] = [];
  private lens: Int32Array = new Int32Array(0);
  /** Creation time of the frame's first byte at its source (ns), for latency. */
  private born: Float64Array = new Float64Array(0);
  private free: Int32Array = new Int32Array(0);
  private freeTop = 0;

  constructor(
    readonly slotBytes: number,
    initial = 256,
  ) {
    this.grow(initial);
  }

  private grow(n: number): void {
    const old = this.bufs.length;
    const cap = old + n;
    for (let i = old; i < cap; i++) this.bufs.push(new Uint8Array(this.slotBytes));
    const lens = new Int32Array(cap);
    lens.set(this.lens);
    this.lens = lens;
    const born = new Float64Array(cap);
    born.set(this.born);
    this.born = born;
    const free = new Int32Array(cap);
    free.set(this.free.subarray(0, this.freeTop));
    for (let i = old; i < cap; i++) free[this.freeTop++] = i;
    this.free = free;
  }

  /** A free slot to fill in place (set its length with `setLen`). */
  alloc(bornNs: number): number {
    if (this.freeTop === 0) this.grow(Math.max(64, this.bufs.length));
    const s = this.free[--this.freeTop]!;
    this.lens[s] = 0;
    this.born[s] = bornNs;
    return s;
  }

  setLen(s: number, len: number): void {
    this.lens[s] = len;
  }

  /** A free slot holding a copy of src[off..off+len). */
  put(src: Uint8Array, off: number, len: number, bornNs: number): number {
    if (this.freeTop === 0) this.grow(Math.max(64, this.bufs.length));
    const s = this.free[--this.freeTop]!;
    const b = this.bufs[s]!;
    copyBytes(b, 0, src, off, len);
    this.lens[s] = len;
    this.born[s] = bornNs;
    return s;
  }

  buf(s: number): Uint8Array {
    return this.bufs[s]!;
  }
  len(s: number): number {
    return this.lens[s]!;
  }
  bornNs(s: number): number {
    return this.born[s]!;
  }

  release(s: number): void {
    this.free[this.freeTop++] = s;
  }

  /** Slots currently holding a frame. */
  get inUse(): number {
    return this.bufs.length - this.freeTop;
  }
}
