/**
 * Buffers 0..n-1 handed out last freed, first reused, as a slab's per-CPU freelist hands out socket
 * buffers: the buffers in use stay few and recently touched. A stack of indices in one typed array;
 * taking and giving back allocate nothing. The caller keeps take and give balanced (a buffer given
 * back twice, or a take from an empty pool, is its bug).
 */
export class BufferPool {
  private readonly stack: Int32Array;
  private top = 0;

  constructor(readonly size: number) {
    this.stack = new Int32Array(size);
    this.reset();
  }

  /** Every buffer free, buffer 0 the first taken. */
  reset(): void {
    for (let k = 0; k < this.size; k++) this.stack[k] = this.size - 1 - k;
    this.top = this.size;
  }

  /** Buffers free now. */
  get free(): number {
    return this.top;
  }

  /** The buffer freed last (or, after a reset, the lowest free). */
  take(): number {
    return this.stack[--this.top]!;
  }

  give(b: number): void {
    this.stack[this.top++] = b;
  }
}
