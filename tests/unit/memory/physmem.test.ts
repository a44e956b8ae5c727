import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PhysMem, PAGE_SIZE } from "../../../src/memory/index.js";
import { isIovError } from "../../../src/errors.js";

const addr52 = fc.integer({ min: 0, max: 2 ** 52 - 16 });

describe("PhysMem", () => {
  it("untouched memory reads zero and allocates nothing", () => {
    const m = new PhysMem();
    expect(m.read32(0x1234_5678_9000)).toBe(0);
    expect(m.read64(2 ** 52 - 8)).toBe(0n);
    expect(m.residentPages).toBe(0);
  });

  it("little-endian accessors round-trip at any address, including page-crossing ones", () => {
    fc.assert(
      fc.property(addr52, fc.nat({ max: 0xffffffff }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (a, v32, v64) => {
        const m = new PhysMem();
        m.write32(a, v32);
        expect(m.read32(a)).toBe(v32 >>> 0);
        expect(m.read8(a)).toBe(v32 & 0xff);
        expect(m.read16(a + 2)).toBe((v32 >>> 16) & 0xffff);
        m.write64(a, v64);
        expect(m.read64(a)).toBe(v64);
      }),
    );
  });

  it("page-crossing accesses split at the boundary", () => {
    const m = new PhysMem();
    m.write32(PAGE_SIZE - 2, 0xaabbccdd);
    expect(m.read16(PAGE_SIZE - 2)).toBe(0xccdd);
    expect(m.read16(PAGE_SIZE)).toBe(0xaabb);
    expect(m.residentPages).toBe(2);
  });

  it("bulk copy in/out and memory-to-memory copy preserve bytes across pages", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 10000 }), fc.nat({ max: 3 * PAGE_SIZE }), fc.nat({ max: 3 * PAGE_SIZE }), (data, a, b) => {
        const m = new PhysMem();
        m.writeFrom(a, data);
        expect(Buffer.from(m.read(a, data.length)).equals(Buffer.from(data))).toBe(true);
        const dst = 0x100000 + b;
        m.copy(dst, a, data.length);
        expect(Buffer.from(m.read(dst, data.length)).equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("zero-copy views alias memory and refuse to cross a page", () => {
    const m = new PhysMem();
    const v = m.view(0x2000 + 100, 64);
    v[0] = 0x5a;
    expect(m.read8(0x2000 + 100)).toBe(0x5a);
    m.write8(0x2000 + 101, 0x77);
    expect(v[1]).toBe(0x77);
    let err: unknown;
    try {
      m.view(0x2000 + PAGE_SIZE - 10, 64);
    } catch (e) {
      err = e;
    }
    expect(isIovError(err, "EINVAL")).toBe(true);
  });

  it("addresses beyond 52 bits (or the configured size) are refused with EFAULT", () => {
    const m = new PhysMem(1 << 20);
    expect(() => m.write8(1 << 20, 1)).toThrow(/EFAULT/);
    expect(() => m.writeFrom((1 << 20) - 2, new Uint8Array(4))).toThrow(/EFAULT/);
  });

  it("RSS counts touched pages only; discard releases them", () => {
    const m = new PhysMem();
    for (let i = 0; i < 100; i++) m.write8(i * 1_000_000_007, 1);
    expect(m.residentPages).toBe(100);
    expect(m.residentBytes).toBe(100 * PAGE_SIZE);
    m.discard(0, PAGE_SIZE);
    expect(m.residentPages).toBe(99);
    expect(m.read8(0)).toBe(0);
  });
});
