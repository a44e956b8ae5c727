import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { nativeEngine, nativeStatus, tsEngine } from "../../../src/native/index.js";

describe("native data-plane addon", () => {
  it("is built and loaded (CI builds it; the fallback is for machines without a toolchain)", () => {
    // npm test runs `pretest` (build:native); on this project's machines the addon must load.
    expect(nativeStatus().engine, nativeStatus().reason).toBe("native");
  });

  it("checksum of a known IPv4 header is the RFC 1071 value", () => {
    // 45 00 00 73 00 00 40 00 40 11 [00 00] c0 a8 00 01 c0 a8 00 c7 → checksum 0xb861
    const h = Uint8Array.from([0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7]);
    expect(~tsEngine.csumPartial(h, 0, h.length, 0) & 0xffff).toBe(0xb861);
    const n = nativeEngine();
    if (n !== undefined) expect(~n.csumPartial(h, 0, h.length, 0) & 0xffff).toBe(0xb861);
  });

  it("native and TypeScript checksums are identical on random bytes (differential)", () => {
    const n = nativeEngine();
    expect(n).toBeDefined();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.nat(), fc.nat({ max: 0xffff }), (buf, offSeed, init) => {
        const off = buf.length === 0 ? 0 : offSeed % buf.length;
        const len = buf.length - off;
        expect(n!.csumPartial(buf, off, len, init)).toBe(tsEngine.csumPartial(buf, off, len, init));
      }),
      { numRuns: 500 },
    );
  });

  it("native and TypeScript RX write-back produce identical rings (differential)", () => {
    const n = nativeEngine();
    expect(n).toBeDefined();
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.nat(),
        fc.nat({ max: 80 }),
        fc.nat({ max: 0xffff }),
        fc.nat({ max: 0xffff }),
        fc.uint8Array({ minLength: 1024, maxLength: 1024 }),
        (ringLen, firstSeed, count, len, vlan, init) => {
          const a = new Uint8Array(ringLen * 16);
          a.set(init.subarray(0, a.length));
          const b = a.slice();
          const first = firstSeed % ringLen;
          tsEngine.rxWriteback(a, first, count, ringLen, len, vlan);
          n!.rxWriteback(b, first, count, ringLen, len, vlan);
          expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
