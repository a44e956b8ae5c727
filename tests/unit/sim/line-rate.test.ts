/** Ethernet line-rate arithmetic (exact), and the simulated wire running at exactly that rate. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ETH_WIRE_OVERHEAD_BYTES, frameTimeNsExact, gbpsToBps, ppsAtLineRate, ppsAtLineRateExact, tcpGoodputBps, tcpMss, wireBytes } from "../../../sim/wire.js";
import { runOnce } from "../../../sim/run.js";
import { small } from "./helpers.js";

describe("line-rate arithmetic", () => {
  it("published figures: 10 GbE and 100 GbE packet rates, TCP goodput", () => {
    const g10 = gbpsToBps(10);
    expect(ppsAtLineRate(g10, 64)).toBe(14_880_952);
    expect(ppsAtLineRate(g10, 1518)).toBe(812_744);
    expect(ppsAtLineRate(gbpsToBps(100), 64)).toBe(148_809_524);
    expect(ETH_WIRE_OVERHEAD_BYTES).toBe(7 + 1 + 12);
    expect(wireBytes(64, { vlan: true })).toBe(64 + 4 + 20);
    expect(ppsAtLineRate(g10, 64, { vlan: true })).toBe(Math.round(1e10 / (88 * 8)));
    expect(tcpMss()).toBe(1460);
    expect(tcpMss({ timestamps: true })).toBe(1448);
    expect(tcpGoodputBps(g10) / 1e9).toBeCloseTo(9.4928, 4);
  });

  it("pps × (frame + 20 B) × 8 = rate exactly, for any frame size and rate", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 64, max: 9018 }), fc.boolean(), (g, len, vlan) => {
        const rate = g * 1e9;
        const r = ppsAtLineRateExact(rate, len, { vlan });
        // num/den × bits per frame = rate, in integers
        expect(r.num * wireBytes(len, { vlan }) * 8).toBe(rate * r.den);
        const t = frameTimeNsExact(rate, len, { vlan });
        expect(t.num * rate).toBe(wireBytes(len, { vlan }) * 8 * 1e9 * t.den);
      }),
    );
  });

  it("the simulated wire carries frames back to back at exactly the line rate", () => {
    for (const frameBytes of [64, 1518]) {
      // the peer floods the wire; delivered + dropped frames are what arrived on it
      const r = runOnce(small({ backend: "sriov", direction: "rx", vms: 2, frameBytes, measureUs: 1000 }));
      expect(r.wire.inUtilisation).toBeGreaterThan(0.999);
      const perSec = ppsAtLineRate(gbpsToBps(10), frameBytes);
      const offeredInRun = r.conservation.offered;
      const runNs = (100 + 1000) * 1000;
      expect(Math.abs(offeredInRun - (perSec * runNs) / 1e9)).toBeLessThanOrEqual(2);
    }
  });
});
