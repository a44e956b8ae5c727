import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  COST_KEYS,
  DEFAULT_COSTS,
  applyCostOverrides,
  costNs,
  cyclesToNs,
  nsToCycles,
  parseCostOverrides,
  perByteNs,
  resolveTimeCostsNs,
} from "../../../sim/costs.js";
import { isIovError } from "../../../src/errors.js";
import { catchErr } from "./helpers.js";


describe("cost table", () => {
  it("every entry has a finite value, a unit and a tagged source", () => {
    expect(COST_KEYS.length).toBeGreaterThan(40);
    for (const k of COST_KEYS) {
      const e = DEFAULT_COSTS[k];
      expect(Number.isFinite(e.value), k).toBe(true);
      expect(e.value, k).toBeGreaterThanOrEqual(0);
      expect(e.unit.length, k).toBeGreaterThan(0);
      expect(e.source, k).toMatch(/^\[(V|S|D|A)\] /);
      // Entries read in a source name it: costs.md, or the measurement's own address where costs.md has no figure.
      if (e.source.startsWith("[V]") || e.source.startsWith("[S]")) expect(e.source, k).toMatch(/costs\.md|https?:\/\//);
    }
  });

  it("carries the costs.md figures verbatim", () => {
    const c = DEFAULT_COSTS;
    expect([c.vmExitKernel.value, c.vmExitUser.value, c.virtualEoi.value, c.virtualIpi.value, c.virtioKick.value, c.cpuidExit.value]).toEqual([
      2565, 6732, 1556, 3102, 4984, 2600,
    ]);
    expect(c.nullHypercall.value).toBeGreaterThanOrEqual(1300);
    expect(c.nullHypercall.value).toBeLessThanOrEqual(1437);
    expect(c.vmEntryExitRoundTrip.value).toBeGreaterThanOrEqual(1344);
    expect(c.vmEntryExitRoundTrip.value).toBeLessThanOrEqual(1376);
    expect(c.kvmRunRoundTrip.value).toBeGreaterThanOrEqual(2528);
    expect(c.kvmRunRoundTrip.value).toBeLessThanOrEqual(2576);
    expect(c.dmaReadLatency).toMatchObject({ value: 600, unit: "ns" });
    expect(c.pcieTlpOverheadBytes.value).toBe(24);
    expect(c.pcieDllpBytes.value).toBe(8);
    expect([c.pcieGen3LaneRate.value, c.pcieGen4LaneRate.value]).toEqual([8, 16]);
    expect([c.pcieGen1EncodingLineBits.value, c.pcieGen2EncodingLineBits.value, c.pcieGen3EncodingLineBits.value]).toEqual([10, 10, 130]);
    expect(c.vhostSyscallsSavedPerPacket.value).toBe(4);
    expect(c.coreClockGHz.value).toBeGreaterThanOrEqual(2.2);
    expect(c.coreClockGHz.value).toBeLessThanOrEqual(3.0);
    // A full 4-level IOTLB miss lands in costs.md's 226–293 ns range.
    const miss = c.iommuWalkLevels.value * c.iotlbMissPerWalkRead.value;
    expect(miss).toBeGreaterThanOrEqual(226);
    expect(miss).toBeLessThanOrEqual(293);
    // Derived entries equal what they are derived from.
    expect(c.e1000RegisterTrap.value).toBe(c.vmExitUser.value);
    expect(c.xenEventChannelSend.value).toBe(c.nullHypercall.value);
    expect(c.xenGrantCopyHypercall.value).toBe(c.nullHypercall.value);
    expect(c.vhostCopyPerByte.value).toBe(c.memcpyPerByte.value);
  });

  it("is frozen", () => {
    expect(Object.isFrozen(DEFAULT_COSTS)).toBe(true);
    expect(Object.isFrozen(DEFAULT_COSTS.vmExitKernel)).toBe(true);
  });
});

describe("cycles and ns", () => {
  it("converts with the modelled clock", () => {
    expect(cyclesToNs(2565, 2.5)).toBe(1026);
    expect(costNs(DEFAULT_COSTS, "vmExitKernel")).toBe(2565 / DEFAULT_COSTS.coreClockGHz.value);
    expect(costNs(DEFAULT_COSTS, "dmaReadLatency")).toBe(600);
    const fast = applyCostOverrides({ coreClockGHz: 3 });
    expect(costNs(fast, "vmExitUser")).toBe(2244);
    expect(perByteNs(fast, "memcpyPerByte")).toBeCloseTo(0.25 / 3, 12);
    expect(() => cyclesToNs(1, 0)).toThrow(expect.objectContaining({ code: "ERANGE" }));
  });

  it("cycles → ns → cycles round-trips", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), fc.double({ min: 0.5, max: 6, noNaN: true }), (cyc, ghz) => {
        expect(nsToCycles(cyclesToNs(cyc, ghz), ghz)).toBeCloseTo(cyc, 3);
      }),
    );
  });

  it("resolves every cycle/ns entry to ns, and nothing else", () => {
    const r = resolveTimeCostsNs();
    const timeKeys = COST_KEYS.filter((k) => DEFAULT_COSTS[k].unit === "cycles" || DEFAULT_COSTS[k].unit === "ns");
    expect(Object.keys(r).sort()).toEqual([...timeKeys].sort());
    expect(r.virtioKick).toBe(4984 / 2.5);
    expect(r.iotlbMissPerWalkRead).toBe(65);
  });
});

describe("cost overrides", () => {
  it("applies known keys without touching the defaults", () => {
    const t = applyCostOverrides({ vmExitKernel: 3000, pcieMaxPayloadBytes: 512 });
    expect(t.vmExitKernel.value).toBe(3000);
    expect(t.vmExitKernel.unit).toBe("cycles");
    expect(t.vmExitKernel.source).toMatch(/^override \(default 2565 cycles: \[S\]/);
    expect(t.pcieMaxPayloadBytes.value).toBe(512);
    expect(t.vmExitUser).toBe(DEFAULT_COSTS.vmExitUser);
    expect(DEFAULT_COSTS.vmExitKernel.value).toBe(2565);
    // Overrides stack on a given base.
    expect(applyCostOverrides({ vmExitUser: 1 }, t).vmExitKernel.value).toBe(3000);
  });

  it("rejects an unknown key with EINVAL naming the key", () => {
    const e = catchErr(() => applyCostOverrides({ vmExitKernel: 3000, vmExitKernal: 1 }));
    expect(e.code).toBe("EINVAL");
    expect(e.message).toContain('"vmExitKernal"');
    expect(e.detail["keys"]).toEqual(["vmExitKernal"]);
  });

  it("any string that is not a key is refused, any valid key accepted", () => {
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...COST_KEYS), fc.string()), fc.integer({ min: 0, max: 100_000 }), (k: string, v) => {
        const known = (COST_KEYS as readonly string[]).includes(k);
        let err: unknown;
        try {
          applyCostOverrides({ [k]: v });
        } catch (e) {
          err = e;
        }
        if (known) {
          const unit = DEFAULT_COSTS[k as keyof typeof DEFAULT_COSTS].unit;
          const zeroRate = v === 0 && (unit === "GHz" || unit === "GT/s" || unit === "Gbps" || k.endsWith("IntervalBytes"));
          const badLineBits = k.endsWith("EncodingLineBits") && v <= 2;
          expect(err === undefined).toBe(!zeroRate && !badLineBits);
        } else {
          expect(isIovError(err, "EINVAL")).toBe(true);
          expect((err as Error).message).toContain(k);
        }
      }),
    );
  });

  it("validates values", () => {
    expect(catchErr(() => applyCostOverrides({ vmExitKernel: -1 })).code).toBe("ERANGE");
    expect(catchErr(() => applyCostOverrides({ vmExitKernel: Number.NaN })).code).toBe("EINVAL");
    expect(catchErr(() => applyCostOverrides({ vmExitKernel: "3000" as unknown as number })).code).toBe("EINVAL");
    expect(catchErr(() => applyCostOverrides({ pcieTlpOverheadBytes: 24.5 })).code).toBe("EINVAL");
    expect(catchErr(() => applyCostOverrides({ coreClockGHz: 0 })).code).toBe("ERANGE");
    expect(catchErr(() => applyCostOverrides({ pcieGen3EncodingLineBits: 2 })).code).toBe("ERANGE");
    const e = catchErr(() => applyCostOverrides({ virtioKick: -5 }));
    expect(e.message).toContain('"virtioKick"');
  });

  it("parses the CLI form key=value,key=value", () => {
    expect(parseCostOverrides("vmExitKernel=3000, coreClockGHz=2.2")).toEqual({ vmExitKernel: 3000, coreClockGHz: 2.2 });
    expect(parseCostOverrides("")).toEqual({});
    expect(catchErr(() => parseCostOverrides("vmExitKernel")).code).toBe("EINVAL");
    expect(catchErr(() => parseCostOverrides("vmExitKernel=fast")).message).toContain("vmExitKernel");
  });
});
