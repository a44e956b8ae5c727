/**
 * Packet accounting of a run: every frame a source offers is either delivered to its sink or dropped
 * with a named reason (conservation), frames and bytes; plus a latency histogram of delivered frames.
 * Counting is allocation-free: reasons are registered once and counted by index.
 */
import { IovError } from "../../src/errors.js";

/** Log-linear latency histogram: exact below 64 ns, then 32 buckets per power of two (≤ 3.1 % wide). */
export class LatencyHistogram {
  private static readonly LINEAR = 64;
  private static readonly SUB = 32;
  private readonly counts = new Float64Array(64 + 32 * 27);
  total = 0;
  sum = 0;
  max = 0;

  private static index(ns: number): number {
    const v = ns < 0 ? 0 : Math.floor(ns);
    if (v < LatencyHistogram.LINEAR) return v;
    const x = v > 0xffffffff ? 0xffffffff : v;
    const e = 31 - Math.clz32(x); // ≥ 6
    const m = (x >>> (e - 5)) & 31;
    return LatencyHistogram.LINEAR + (e - 6) * LatencyHistogram.SUB + m;
  }

  /** Lower edge of bucket i (ns). */
  private static lower(i: number): number {
    if (i < LatencyHistogram.LINEAR) return i;
    const k = i - LatencyHistogram.LINEAR;
    const e = 6 + Math.floor(k / LatencyHistogram.SUB);
    const m = k % LatencyHistogram.SUB;
    return (32 + m) * 2 ** (e - 5);
  }

  record(ns: number): void {
    this.counts[LatencyHistogram.index(ns)]!++;
    this.total++;
    this.sum += ns;
    if (ns > this.max) this.max = ns;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.sum = 0;
    this.max = 0;
  }

  /** The q-quantile (0 < q ≤ 1) as the lower edge of its bucket; 0 when empty. */
  quantile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return LatencyHistogram.lower(i);
    }
    return this.max;
  }

  get mean(): number {
    return this.total === 0 ? 0 : this.sum / this.total;
  }
}

export interface LedgerSnapshot {
  readonly offered: number;
  readonly offeredBytes: number;
  readonly delivered: number;
  readonly deliveredBytes: number;
  readonly dropped: Readonly<Record<string, number>>;
  readonly droppedTotal: number;
}

export class Ledger {
  offered = 0;
  offeredBytes = 0;
  delivered = 0;
  deliveredBytes = 0;
  private readonly reasons: string[] = [];
  private readonly drops: number[] = [];

  /** A drop reason's index (register once at set-up, count by index on the data plane). */
  reason(name: string): number {
    const i = this.reasons.indexOf(name);
    if (i >= 0) return i;
    this.reasons.push(name);
    this.drops.push(0);
    return this.reasons.length - 1;
  }

  offer(bytes: number): void {
    this.offered++;
    this.offeredBytes += bytes;
  }

  deliver(bytes: number): void {
    this.delivered++;
    this.deliveredBytes += bytes;
  }

  drop(reason: number, n = 1): void {
    if (reason < 0 || reason >= this.drops.length) throw new IovError("EINVAL", `unknown drop reason index ${reason}`);
    this.drops[reason]! += n;
  }

  get droppedTotal(): number {
    let n = 0;
    for (const d of this.drops) n += d;
    return n;
  }

  snapshot(): LedgerSnapshot {
    const dropped: Record<string, number> = {};
    this.reasons.forEach((r, i) => {
      if (this.drops[i]! > 0) dropped[r] = this.drops[i]!;
    });
    return {
      offered: this.offered,
      offeredBytes: this.offeredBytes,
      delivered: this.delivered,
      deliveredBytes: this.deliveredBytes,
      dropped,
      droppedTotal: this.droppedTotal,
    };
  }
}
