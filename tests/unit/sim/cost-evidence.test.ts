import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { COST_KEYS, DEFAULT_COSTS, applyCostOverrides, isCostKey, type CostKey } from "../../../sim/costs.js";
import { COST_EVIDENCE, EVIDENCE_SLACK, evidenceKeys, evidenceModelNs, evidenceVerdict, type Verdict } from "../../../sim/cost-evidence.js";

const RANK: Record<Verdict, number> = { below: 0, agrees: 1, above: 2 };

describe("cost defaults against published measurements", () => {
  it("every check names real costs, a bracket, its figure and its source", () => {
    const ids = new Set<string>();
    for (const e of COST_EVIDENCE) {
      expect(ids.has(e.id), e.id).toBe(false);
      ids.add(e.id);
      expect(e.terms.length, e.id).toBeGreaterThan(0);
      for (const k of evidenceKeys(e)) expect(isCostKey(k), `${e.id}: ${k}`).toBe(true);
      expect(e.loNs, e.id).toBeGreaterThan(0);
      expect(e.hiNs, e.id).toBeGreaterThanOrEqual(e.loNs);
      expect(Number.isFinite(e.hiNs), e.id).toBe(true);
      expect(e.figure.length, e.id).toBeGreaterThan(20);
      expect(e.source.length, e.id).toBeGreaterThan(10);
    }
  });

  it("the defaults get the verdicts the docs state (a changed default that moves one fails here)", () => {
    const got = Object.fromEntries(COST_EVIDENCE.map((e) => [e.id, evidenceVerdict(e)]));
    const want = Object.fromEntries(COST_EVIDENCE.map((e) => [e.id, e.expected]));
    expect(got).toEqual(want);
  });

  it("every cost whose source says it was checked takes part in a check", () => {
    const inChecks = new Set<CostKey>(COST_EVIDENCE.flatMap(evidenceKeys));
    const claimed = COST_KEYS.filter((k) => DEFAULT_COSTS[k].source.includes("sim/cost-evidence.ts"));
    expect(claimed.length).toBeGreaterThan(10);
    for (const k of claimed) expect(inChecks.has(k), k).toBe(true);
  });

  it("the model's side is the sum of its terms' defaults (time costs at 2.5 GHz, per-byte costs over the path's bytes)", () => {
    const e = COST_EVIDENCE.find((x) => x.id === "small UDP send, whole path")!;
    const c = DEFAULT_COSTS;
    const cycles = c.guestStackTxPerPacket.value + c.nicDriverTxPerPacket.value + c.nicDriverTxCleanPerPacket.value + 18 * c.memcpyPerByte.value;
    expect(evidenceModelNs(e)).toBeCloseTo(cycles / c.coreClockGHz.value + c.doorbellMmioWrite.value, 9);
  });

  it("raising a cost never moves a verdict down, lowering it never moves it up; outside the slack the verdict says which side", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: COST_EVIDENCE.length - 1 }), fc.nat(), fc.double({ min: 0, max: 8, noNaN: true }), (i, j, f) => {
        const e = COST_EVIDENCE[i]!;
        const keys = evidenceKeys(e);
        const k = keys[j % keys.length]!;
        const base = evidenceVerdict(e);
        const t = applyCostOverrides({ [k]: DEFAULT_COSTS[k].value * f });
        const v = evidenceVerdict(e, t);
        if (f >= 1) expect(RANK[v]).toBeGreaterThanOrEqual(RANK[base]);
        else expect(RANK[v]).toBeLessThanOrEqual(RANK[base]);
        const ns = evidenceModelNs(e, t);
        if (e.kind !== "at-least" && ns > e.hiNs * EVIDENCE_SLACK) expect(v).toBe("above");
        else if (e.kind !== "at-most" && ns < e.loNs / EVIDENCE_SLACK) expect(v).toBe("below");
        else expect(v).toBe("agrees");
      }),
      { numRuns: 300 },
    );
  });
});
