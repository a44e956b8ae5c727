import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { COST_KEYS, DEFAULT_COSTS } from "../../../sim/costs.js";
import { parseScenario } from "../../../sim/scenario.js";
import { runOnce } from "../../../sim/run.js";
import { plan } from "../../../sim/compare.js";
import {
  ASSUMED_COST_KEYS,
  TIME_COST_KEYS,
  byImpact,
  costTag,
  largest,
  runSensitivity,
  selectCosts,
  summarise,
  type CostSensitivity,
  type PointSensitivity,
} from "../../../sim/sensitivity.js";
import { IovError } from "../../../src/errors.js";

/** Two VMs sending UDP as fast as they can through VFs: the guests' vCPUs are the limit. */
const SCENARIO = [
  "name: sens",
  "backends: [sriov]",
  "vms: [1, 2]",
  "traffic: { kind: udp, direction: tx, frameBytes: 256 }",
  "host: { guestCores: 4, hostCores: 2 }",
  "costs: { nicDriverTxPerPacket: 600 }",
  "run: { warmupUs: 100, measureUs: 300 }",
].join("\n");

const inputError = (f: () => unknown): IovError => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(IovError);
    expect((e as IovError).code).toBe("EINVAL");
    expect(((e as IovError).detail as { input?: boolean }).input).toBe(true);
    return e as IovError;
  }
  throw new Error("no error thrown");
};

describe("sensitivity: the costs chosen", () => {
  it("assumed is every time cost tagged [A]; time is every cost in cycles, ns or cycles/byte", () => {
    const units = new Set(["cycles", "ns", "cycles/byte"]);
    expect(TIME_COST_KEYS).toEqual(COST_KEYS.filter((k) => units.has(DEFAULT_COSTS[k].unit)));
    expect(ASSUMED_COST_KEYS).toEqual(TIME_COST_KEYS.filter((k) => DEFAULT_COSTS[k].source.startsWith("[A]")));
    expect(ASSUMED_COST_KEYS.length).toBeGreaterThan(10);
    expect(ASSUMED_COST_KEYS.every((k) => costTag(k) === "A")).toBe(true);
    expect(selectCosts("assumed")).toEqual([...ASSUMED_COST_KEYS]);
    expect(selectCosts("time")).toEqual([...TIME_COST_KEYS]);
    expect(selectCosts(["memcpyPerByte", "vmExitKernel"])).toEqual(["memcpyPerByte", "vmExitKernel"]);
  });

  it("an unknown key, a cost that is not a time, a key named twice and an empty list are input errors", () => {
    expect(inputError(() => selectCosts(["nope"])).message).toContain('unknown cost key "nope"');
    expect(inputError(() => selectCosts(["pcieMaxPayloadBytes"])).message).toContain("is in bytes, not a time");
    expect(inputError(() => selectCosts(["memcpyPerByte", "memcpyPerByte"])).message).toContain("named twice");
    inputError(() => selectCosts([]));
  });

  it("a factor of 1 or less, above 100 or not a number is an input error, before any run", () => {
    const sc = parseScenario(SCENARIO, "s.yaml");
    for (const f of [1, 0.5, 0, -2, 101, Number.NaN, Infinity]) expect(inputError(() => runSensitivity(sc, { factor: f, costs: ["memcpyPerByte"] })).message).toContain("factor");
  });
});

describe("sensitivity: the runs", () => {
  it("each point at ÷f and ×f is the run with that cost overridden; a cost off the scenario's path moves nothing", () => {
    const sc = parseScenario(SCENARIO, "s.yaml");
    let calls = 0;
    const rep = runSensitivity(sc, { costs: ["guestStackTxPerPacket", "nicDriverTxPerPacket", "xenNetbackPerPacket"], factor: 3, onRun: () => calls++ });
    expect(rep.runs).toBe(2 * (1 + 2 * 3));
    expect(calls).toBe(rep.runs);
    expect(rep.factor).toBe(3);
    expect(rep.unmoved).toEqual(["xenNetbackPerPacket"]);
    expect(rep.costs.map((c) => c.key).sort()).toEqual(["guestStackTxPerPacket", "nicDriverTxPerPacket"]);
    const todo = plan(sc);
    const driver = rep.costs.find((c) => c.key === "nicDriverTxPerPacket")!;
    expect([driver.value, driver.defaultValue]).toEqual([600, DEFAULT_COSTS.nicDriverTxPerPacket.value]);
    for (const c of rep.costs) {
      expect(c.points).toHaveLength(2);
      c.points.forEach((p, i) => {
        const params = todo[i]!.params;
        // the scenario's own value is the base, not the default
        const value = c.key === "nicDriverTxPerPacket" ? 600 : DEFAULT_COSTS[c.key].value;
        expect(p.value).toBe(value);
        const at = (v: number) => runOnce({ ...params, costs: { ...params.costs, [c.key]: v } });
        const base = runOnce(params);
        expect(p.goodputGbps).toEqual({ base: base.goodputGbps, low: at(value / 3).goodputGbps, high: at(value * 3).goodputGbps });
        const busy = (r: ReturnType<typeof runOnce>) => Math.round((r.cpu.guest.busyCores + r.cpu.host.busyCores + r.cpu.vhost.busyCores) * 1e6) / 1e6;
        expect(p.cores.high).toBe(busy(at(value * 3)));
        expect(p.cores.base).toBe(busy(base));
      });
    }
    // the senders' vCPUs are the limit: their stack's cost moves the rate both ways
    const stack = rep.costs.find((c) => c.key === "guestStackTxPerPacket")!;
    expect(stack.goodputHigh.change).toBeLessThan(-0.3);
    expect(stack.goodputLow.change).toBeGreaterThan(0.05);
    expect(stack.goodputHigh.at).toMatch(/^sriov@[12]$/);
    // the report is in order of impact
    expect([...rep.costs].sort(byImpact)).toEqual(rep.costs);
  });
});

const point = fc.record({
  g: fc.tuple(fc.double({ min: 0, max: 10, noNaN: true }), fc.double({ min: 0, max: 10, noNaN: true }), fc.double({ min: 0, max: 10, noNaN: true })),
  c: fc.tuple(fc.double({ min: 0, max: 64, noNaN: true }), fc.double({ min: 0, max: 64, noNaN: true }), fc.double({ min: 0, max: 64, noNaN: true })),
});

const mkPoints = (xs: Array<{ g: [number, number, number]; c: [number, number, number] }>): PointSensitivity[] =>
  xs.map((x, i) => ({
    series: "s",
    backend: "sriov",
    vms: i + 1,
    frameBytes: 1518,
    value: 1,
    goodputGbps: { base: x.g[0], low: x.g[1], high: x.g[2] },
    cores: { base: x.c[0], low: x.c[1], high: x.c[2] },
  }));

describe("sensitivity: the summary (property)", () => {
  it("each extreme is a point's own change and none is larger; 'against' counts exactly the points that moved the wrong way", () => {
    fc.assert(
      fc.property(fc.array(point, { minLength: 1, maxLength: 12 }), (xs) => {
        const pts = mkPoints(xs);
        const s = summarise(pts, (p) => String(p.vms));
        const rel = (x: number, b: number) => (x === b ? 0 : b === 0 ? Math.sign(x) : (x - b) / b);
        const gl = pts.map((p) => rel(p.goodputGbps.low, p.goodputGbps.base));
        const gh = pts.map((p) => rel(p.goodputGbps.high, p.goodputGbps.base));
        const cl = pts.map((p) => p.cores.low - p.cores.base);
        const ch = pts.map((p) => p.cores.high - p.cores.base);
        const check = (e: { change: number; at: string }, all: number[]) => {
          for (const v of all) expect(Math.abs(e.change)).toBeGreaterThanOrEqual(Math.abs(v));
          if (all.some((v) => v !== 0)) expect(all[Number(e.at) - 1]).toBe(e.change);
          else expect(e).toEqual({ change: 0, at: "" });
        };
        check(s.goodputLow, gl);
        check(s.goodputHigh, gh);
        check(s.coresLow, cl);
        check(s.coresHigh, ch);
        const wrong = pts.filter((_, i) => gh[i]! > 0 || gl[i]! < 0).length;
        expect(s.nonMonotone).toBe(wrong);
        if (wrong === 0) expect(s.against).toEqual({ change: 0, at: "" });
        else {
          const i = Number(s.against.at) - 1;
          expect((s.against.change === gh[i] && gh[i]! > 0) || (s.against.change === gl[i] && gl[i]! < 0)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("largest keeps the first of equal magnitudes and gives {0, ''} for no change", () => {
    expect(largest([])).toEqual({ change: 0, at: "" });
    expect(largest([{ change: 0, at: "a" }])).toEqual({ change: 0, at: "" });
    expect(largest([{ change: -0.5, at: "a" }, { change: 0.5, at: "b" }, { change: 0.2, at: "c" }])).toEqual({ change: -0.5, at: "a" });
  });

  it("byImpact puts the larger goodput change first, and among equal ones the larger CPU change", () => {
    const c = (g: number, k: number): CostSensitivity =>
      ({ goodputLow: { change: g, at: "" }, goodputHigh: { change: -g / 2, at: "" }, coresLow: { change: 0, at: "" }, coresHigh: { change: k, at: "" } }) as unknown as CostSensitivity;
    const xs = [c(0.1, 0), c(0.3, 0), c(0.1, 0.5), c(-0.2, 0)];
    expect(xs.sort(byImpact).map((x) => [x.goodputLow.change, x.coresHigh.change])).toEqual([
      [0.3, 0],
      [-0.2, 0],
      [0.1, 0.5],
      [0.1, 0],
    ]);
  });
});
