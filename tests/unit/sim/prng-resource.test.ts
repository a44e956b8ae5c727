import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Prng, SplitMix64 } from "../../../sim/engine/prng.js";
import { Resource } from "../../../sim/engine/resource.js";

describe("Prng", () => {
  // Reference values from the authors' C code (xoshiro128starstar.c, splitmix64.c), compiled and run.
  it("matches the reference xoshiro128** and SplitMix64 outputs", () => {
    const p = Prng.fromState([1, 2, 3, 4]);
    expect(Array.from({ length: 6 }, () => p.nextU32())).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
    const sm = new SplitMix64(0n);
    expect([sm.next(), sm.next(), sm.next()]).toEqual([0xe220a8397b1dcdafn, 0x6e789e6aa1b965f4n, 0x06c45d188009454fn]);
    const q = new Prng(42);
    expect(Array.from({ length: 6 }, () => q.nextU32())).toEqual([1776835114, 4165204688, 17111135, 2317295270, 2792088233, 2554630222]);
  });

  it("the same seed gives the same sequence; state save/restore resumes it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: 50 }), (seed, skip) => {
        const a = new Prng(seed);
        const b = new Prng(seed);
        for (let i = 0; i < skip; i++) expect(a.nextU32()).toBe(b.nextU32());
        const saved = a.getState();
        const xs = Array.from({ length: 10 }, () => a.nextFloat());
        const c = Prng.fromState(saved);
        expect(Array.from({ length: 10 }, () => c.nextFloat())).toEqual(xs);
      }),
    );
  });

  it("nextInt/intBetween/nextFloat stay in range", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 1, max: 2 ** 32 }), fc.integer({ min: -1000, max: 1000 }), (seed, n, lo) => {
        const p = new Prng(seed);
        for (let i = 0; i < 20; i++) {
          const x = p.nextInt(n);
          expect(Number.isInteger(x) && x >= 0 && x < n).toBe(true);
          const y = p.intBetween(lo, lo + 5);
          expect(y >= lo && y <= lo + 5).toBe(true);
          const f = p.nextFloat();
          expect(f >= 0 && f < 1).toBe(true);
        }
      }),
    );
  });

  it("is roughly uniform and exponential() has the requested mean", () => {
    const p = new Prng(7);
    const buckets = new Array<number>(10).fill(0);
    const n = 100_000;
    for (let i = 0; i < n; i++) buckets[p.nextInt(10)]!++;
    for (const b of buckets) expect(Math.abs(b - n / 10)).toBeLessThan(600); // > 6 sigma
    let sum = 0;
    for (let i = 0; i < n; i++) sum += p.exponential(250);
    expect(sum / n).toBeGreaterThan(245);
    expect(sum / n).toBeLessThan(255);
  });

  it("rejects bad arguments", () => {
    const p = new Prng(1);
    expect(() => p.nextInt(0)).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => p.nextInt(2 ** 32 + 1)).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => p.exponential(0)).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => new Prng(1.5)).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => Prng.fromState([0, 0, 0, 0])).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });
});

describe("Resource", () => {
  it("serves FIFO: completion = max(arrival, busyUntil) + duration", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 500 })), { maxLength: 60 }), (raw) => {
        const r = new Resource("wire", "wire");
        let t = 0;
        let busyUntil = 0;
        for (const [gap, d] of raw) {
          t += gap;
          const expected = Math.max(t, busyUntil) + d;
          expect(r.charge(t, d)).toBe(expected);
          busyUntil = expected;
        }
        expect(r.busyUntil).toBe(busyUntil);
      }),
    );
  });

  it("utilisation counts only busy time inside the window and never exceeds 1", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 })), { minLength: 1, maxLength: 60 }), fc.integer({ min: 0, max: 2000 }), (raw, extra) => {
        const r = new Resource("cpu", "cpu");
        const intervals: Array<[number, number]> = [];
        let t = 0;
        for (const [gap, d] of raw) {
          t += gap;
          const end = r.charge(t, d);
          intervals.push([end - d, end]);
        }
        const at = t + extra;
        // Reference: measure the union of busy intervals clipped to [0, at].
        let busy = 0;
        for (const [s, e] of intervals) busy += Math.max(0, Math.min(e, at) - Math.max(s, 0));
        expect(r.busyNsAt(at)).toBeCloseTo(busy, 9);
        const u = r.utilisation(at);
        expect(u).toBeGreaterThanOrEqual(0);
        expect(u).toBeLessThanOrEqual(1 + 1e-12);
      }),
    );
  });

  it("resetWindow carries queued work into the new window", () => {
    const r = new Resource("pcie", "pcie");
    r.charge(0, 100);
    r.charge(0, 100); // busy until 200
    r.resetWindow(150);
    expect(r.busyNsAt(150)).toBe(0);
    expect(r.busyNsAt(250)).toBe(50);
    expect(r.utilisation(250)).toBe(0.5);
    expect(r.stats(250)).toMatchObject({ served: 0, backlogNs: 0, elapsedNs: 100 });
  });

  it("rejects negative durations, charges back in time and queries before the last charge", () => {
    const r = new Resource("x");
    r.charge(100, 10);
    expect(() => r.charge(50, 10)).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => r.charge(100, -1)).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => r.charge(100, Infinity)).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => r.busyNsAt(99)).toThrow(expect.objectContaining({ code: "ERANGE" }));
  });
});
