import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { applyCostOverrides } from "../../../sim/costs.js";
import {
  PCIE_GENS,
  PCIE_WIDTHS,
  floorDiv,
  frameTimeNs,
  frameTimeNsExact,
  framesPerSecondFloor,
  gbpsToBps,
  pcieEncoding,
  pcieLinkBandwidthBps,
  pcieTlpBytes,
  pcieTlpCount,
  pcieTransferNs,
  pcieWriteBandwidthBps,
  ppsAtLineRate,
  ppsAtLineRateExact,
  roundDiv,
  tcpGoodputBps,
  tcpGoodputExact,
  tcpMss,
  wireBytes,
} from "../../../sim/wire.js";

const G10 = 10_000_000_000;
const G100 = 100_000_000_000;
const frame = fc.integer({ min: 1, max: 9018 });
const rate = fc.constantFrom(1e9, 2.5e9, 10e9, 25e9, 40e9, 100e9, 400e9);

describe("Ethernet line rate (costs.md exact figures)", () => {
  it("reproduces the published packet rates exactly", () => {
    expect(ppsAtLineRate(G10, 64)).toBe(14_880_952);
    expect(ppsAtLineRate(G10, 1518)).toBe(812_744);
    expect(ppsAtLineRate(G100, 64)).toBe(148_809_524);
    // Exact rationals behind them and the floor (whole frames per second).
    expect(ppsAtLineRateExact(G10, 64)).toEqual({ num: 312_500_000, den: 21 });
    expect(framesPerSecondFloor(G10, 64)).toBe(14_880_952);
    expect(framesPerSecondFloor(G10, 1518)).toBe(812_743);
    expect(framesPerSecondFloor(G100, 64)).toBe(148_809_523);
  });

  it("wire bytes: frame + 20, minimum 64, VLAN +4", () => {
    expect(wireBytes(64)).toBe(84);
    expect(wireBytes(1518)).toBe(1538);
    expect(wireBytes(60)).toBe(84);
    expect(wireBytes(1518, { vlan: true })).toBe(1542);
    expect(frameTimeNs(G10, 64)).toBe(67.2);
    expect(frameTimeNsExact(G10, 64)).toEqual({ num: 336, den: 5 });
    expect(frameTimeNs(G100, 1518)).toBeCloseTo(123.04, 10);
  });

  it("TCP goodput at MTU 1500: MSS 1460 → 9.493 Gb/s; 1448 with timestamps", () => {
    expect(tcpMss()).toBe(1460);
    expect(tcpMss({ timestamps: true })).toBe(1448);
    expect(tcpGoodputBps(G10) / 1e9).toBeCloseTo(9.493, 3);
    const exact = tcpGoodputExact(G10);
    expect(exact.num / exact.den).toBe((G10 * 1460) / 1538);
    expect(tcpGoodputBps(G10, { timestamps: true })).toBeCloseTo((G10 * 1448) / 1538, 3);
    expect(tcpGoodputBps(G10, { mtu: 9000 })).toBeCloseTo((G10 * 8960) / 9038, 3);
  });

  it("VLAN adds exactly 4 B on the wire for every frame size", () => {
    fc.assert(fc.property(frame, (n) => wireBytes(n, { vlan: true }) - wireBytes(n) === 4));
  });

  it("wire time is monotone in frame size and pps antitone", () => {
    fc.assert(
      fc.property(frame, frame, rate, fc.boolean(), (a, b, r, vlan) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(frameTimeNs(r, lo, { vlan })).toBeLessThanOrEqual(frameTimeNs(r, hi, { vlan }));
        expect(wireBytes(lo, { vlan })).toBeLessThanOrEqual(wireBytes(hi, { vlan }));
        expect(ppsAtLineRate(r, lo, { vlan })).toBeGreaterThanOrEqual(ppsAtLineRate(r, hi, { vlan }));
      }),
    );
  });

  it("pps × wire bits never exceeds the rate (floor) and is within one frame of it", () => {
    fc.assert(
      fc.property(frame, rate, (n, r) => {
        const bits = wireBytes(n) * 8;
        const f = framesPerSecondFloor(r, n);
        expect(f * bits).toBeLessThanOrEqual(r);
        expect((f + 1) * bits).toBeGreaterThan(r);
        expect(Math.abs(ppsAtLineRate(r, n) - r / bits)).toBeLessThanOrEqual(0.5);
      }),
    );
  });

  it("floorDiv/roundDiv are exact where floating division is not", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 1, max: 1e9 }), (a, b) => {
        const q = floorDiv(a, b);
        const exact = BigInt(a) / BigInt(b);
        expect(BigInt(q)).toBe(exact);
        const r = roundDiv(a, b);
        const twice = 2n * (BigInt(a) - exact * BigInt(b));
        expect(BigInt(r)).toBe(twice >= BigInt(b) ? exact + 1n : exact);
      }),
    );
  });

  it("rejects bad inputs", () => {
    expect(() => wireBytes(0)).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => wireBytes(64.5)).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => ppsAtLineRate(0, 64)).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => ppsAtLineRate(1.5, 64)).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => tcpMss({ mtu: 40 })).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(gbpsToBps(2.5)).toBe(2_500_000_000);
  });
});

describe("PCIe link arithmetic", () => {
  it("encodings and raw bandwidths per generation", () => {
    expect(pcieEncoding(1)).toEqual({ num: 8, den: 10 });
    expect(pcieEncoding(3)).toEqual({ num: 128, den: 130 });
    expect(pcieLinkBandwidthBps(1, 1)).toBe(2e9);
    expect(pcieLinkBandwidthBps(2, 4)).toBe(16e9);
    expect(pcieLinkBandwidthBps(3, 8) / 1e9).toBeCloseTo(63.0154, 4);
    expect(pcieLinkBandwidthBps(4, 16) / 1e9).toBeCloseTo(252.0615, 4);
  });

  it("reproduces costs.md's Gen3 x8 write model: ≈ 52.9 Gb/s at 256 B, ≈ 42 Gb/s at 64 B", () => {
    expect(pcieWriteBandwidthBps(256, 3, 8) / 1e9).toBeCloseTo(52.9, 1);
    expect(pcieWriteBandwidthBps(64, 3, 8) / 1e9).toBeCloseTo(42.1, 1);
  });

  it("TLP bytes: payload split at MPS, 24 B per TLP", () => {
    expect(pcieTlpBytes(64, 256)).toBe(88);
    expect(pcieTlpBytes(256, 256)).toBe(280);
    expect(pcieTlpBytes(1500, 256)).toBe(1500 + 6 * 24);
    expect(pcieTlpBytes(0, 128)).toBe(24);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65536 }), fc.constantFrom(128, 256, 512, 1024, 2048, 4096), (n, mps) => {
        const k = pcieTlpCount(n, mps);
        expect((k - 1) * mps).toBeLessThan(n);
        expect(k * mps).toBeGreaterThanOrEqual(n);
        expect(pcieTlpBytes(n, mps)).toBe(n + 24 * k);
        // A larger MPS never needs more link bytes.
        if (mps < 4096) expect(pcieTlpBytes(n, mps * 2)).toBeLessThanOrEqual(pcieTlpBytes(n, mps));
      }),
    );
  });

  it("transfer time scales with the link: faster gens and wider links are never slower", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 20 }), fc.constantFrom(...PCIE_GENS), fc.constantFrom(...PCIE_WIDTHS), (n, gen, width) => {
        const t = pcieTransferNs(n, gen, width);
        expect(t).toBeGreaterThan(0);
        if (gen < 5) expect(pcieTransferNs(n, (gen + 1) as typeof gen, width)).toBeLessThanOrEqual(t);
        if (width < 32) expect(pcieTransferNs(n, gen, 32)).toBeLessThanOrEqual(t);
        expect(pcieTransferNs(n + 1, gen, width)).toBeGreaterThan(t);
      }),
    );
  });

  it("uses overridden lane rates and rejects bad parameters", () => {
    const c = applyCostOverrides({ pcieGen3LaneRate: 16 });
    expect(pcieLinkBandwidthBps(3, 8, c)).toBeCloseTo(2 * pcieLinkBandwidthBps(3, 8), 3);
    expect(() => pcieTransferNs(64, 6 as 5, 8)).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => pcieTransferNs(64, 3, 3 as 4)).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => pcieTlpBytes(64, 100)).toThrow(expect.objectContaining({ code: "ERANGE" }));
  });
});
