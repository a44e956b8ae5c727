import { IovError } from "../../src/errors.js";

/**
 * Seeded deterministic pseudo-random numbers: xoshiro128** (Blackman & Vigna, 2018) on four 32-bit
 * words, seeded through SplitMix64 as its authors recommend. The same seed gives the same sequence on
 * every platform: only 32-bit integer arithmetic (Math.imul, shifts) is used after seeding, and floats
 * are built from integers, never from Math.random.
 */

const MASK64 = (1n << 64n) - 1n;
const TWO_POW_32 = 0x1_0000_0000;
const TWO_POW_26 = 0x400_0000;
const TWO_POW_53 = 2 ** 53;

/** SplitMix64 (Steele, Lea & Flood; Vigna's reference constants), used once per seed. */
export class SplitMix64 {
  private x: bigint;
  constructor(seed: bigint) {
    this.x = BigInt.asUintN(64, seed);
  }
  next(): bigint {
    this.x = (this.x + 0x9e3779b97f4a7c15n) & MASK64;
    let z = this.x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    return z ^ (z >> 31n);
  }
}

export type PrngState = readonly [number, number, number, number];

export class Prng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** `seed`: any safe integer or bigint; equal seeds give equal sequences. */
  constructor(seed: number | bigint = 0) {
    if (typeof seed === "number" && !Number.isSafeInteger(seed))
      throw new IovError("EINVAL", `PRNG seed ${seed} is not a safe integer`, { seed });
    const sm = new SplitMix64(BigInt(seed));
    const a = sm.next();
    const b = sm.next();
    this.s0 = Number(a & 0xffffffffn);
    this.s1 = Number(a >> 32n);
    this.s2 = Number(b & 0xffffffffn);
    this.s3 = Number(b >> 32n);
  }

  /** A generator that resumes from a saved state (not all zero). */
  static fromState(state: PrngState): Prng {
    const p = new Prng(0);
    p.setState(state);
    return p;
  }

  getState(): PrngState {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  setState(state: PrngState): void {
    const [a, b, c, d] = state;
    for (const w of state)
      if (!Number.isInteger(w) || w < 0 || w >= TWO_POW_32)
        throw new IovError("EINVAL", `PRNG state word ${w} is not a u32`, { state });
    if ((a | b | c | d) === 0) throw new IovError("EINVAL", "PRNG state must not be all zero");
    this.s0 = a | 0;
    this.s1 = b | 0;
    this.s2 = c | 0;
    this.s3 = d | 0;
  }

  /** Next 32-bit unsigned integer (xoshiro128**). */
  nextU32(): number {
    const s1 = this.s1;
    const m = Math.imul(s1, 5);
    const r = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return r;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * TWO_POW_26 + lo) / TWO_POW_53;
  }

  /** Uniform integer in [0, n), 1 ≤ n ≤ 2^32, without modulo bias (rejection sampling). */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32)
      throw new IovError("ERANGE", `nextInt bound ${n} outside 1..2^32`, { n });
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let r = this.nextU32();
    while (r >= limit) r = this.nextU32();
    return r % n;
  }

  /** Uniform integer in [min, max] (inclusive; max − min < 2^32). */
  intBetween(min: number, max: number): number {
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max < min)
      throw new IovError("ERANGE", `intBetween(${min}, ${max}) is not a valid integer range`, { min, max });
    return min + this.nextInt(max - min + 1);
  }

  /** Exponentially distributed value with the given mean (Poisson inter-arrival times). */
  exponential(mean: number): number {
    if (!(mean > 0) || !Number.isFinite(mean))
      throw new IovError("ERANGE", `exponential mean ${mean} must be positive and finite`, { mean });
    return -mean * Math.log(1 - this.nextFloat());
  }

  /** true with probability p. */
  chance(p: number): boolean {
    return this.nextFloat() < p;
  }

  /** An independent stream derived from this one (for per-flow or per-device generators). */
  fork(): Prng {
    const hi = BigInt(this.nextU32());
    const lo = BigInt(this.nextU32());
    return new Prng((hi << 32n) | lo);
  }
}
