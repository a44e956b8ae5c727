import { IovError } from "../errors.js";

/** First-fit allocator of aligned ranges in [base, limit): host RAM for guests, IOMMU tables, etc. */
export class RangeAllocator {
  private next: number;
  private readonly free: Array<{ base: number; size: number }> = [];
  constructor(readonly base: number, readonly limit: number, readonly what = "memory") {
    this.next = base;
  }
  alloc(size: number, align = 4096): number {
    for (let i = 0; i < this.free.length; i++) {
      const f = this.free[i]!;
      const a = Math.ceil(f.base / align) * align;
      if (a === f.base && f.size === size) {
        this.free.splice(i, 1);
        return a;
      }
    }
    const a = Math.ceil(this.next / align) * align;
    if (a + size > this.limit)
      throw new IovError("ENOSPC", `${this.what}: need 0x${size.toString(16)} bytes, 0x${Math.max(0, this.limit - a).toString(16)} left`, {
        need: size,
        left: Math.max(0, this.limit - a),
      });
    this.next = a + size;
    return a;
  }
  release(base: number, size: number): void {
    this.free.push({ base, size });
  }
  get used(): number {
    return this.next - this.base;
  }
}
