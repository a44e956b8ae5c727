/**
 * How much a scenario's results rest on each cost: every cost chosen is set in turn to its value ÷ f
 * and × f (f = the factor, 2 unless asked), every point of the sweep is run again, and each run's
 * goodput and CPU are set against the base run of the same point. Runs are deterministic, so any
 * change is the model's own, not noise.
 *
 * It answers the question the [A] entries of sim/costs.ts leave open — which assumptions a
 * comparison's conclusions depend on, and by how much — and it counts the points where a raised cost
 * delivered more (or a lowered one less): the non-monotone cases of docs/comparison.md, as this
 * scenario meets them.
 */
import { IovError } from "../src/errors.js";
import { plan, type CompareOptions } from "./compare.js";
import { COST_KEYS, DEFAULT_COSTS, isCostKey, sourceTag, type CostKey } from "./costs.js";
import type { BackendName } from "./params.js";
import { runOnce, type RunResult } from "./run.js";
import type { Scenario } from "./scenario.js";

/** Units of the costs that can be scaled: times and per-byte times. */
const SCALABLE_UNITS: ReadonlySet<string> = new Set(["cycles", "ns", "cycles/byte"]);

/** Every cost that takes CPU or wall time (cycles, ns, cycles/byte). */
export const TIME_COST_KEYS: readonly CostKey[] = Object.freeze(COST_KEYS.filter((k) => SCALABLE_UNITS.has(DEFAULT_COSTS[k].unit)));

/** The time costs whose default is an assumption ([A]): no published figure behind them. */
export const ASSUMED_COST_KEYS: readonly CostKey[] = Object.freeze(TIME_COST_KEYS.filter((k) => costTag(k) === "A"));

/** The tag of a default's source: V, S, D or A. */
export function costTag(k: CostKey): string {
  return sourceTag(DEFAULT_COSTS[k].source) ?? "?";
}

/** `assumed` (the [A] time costs), `time` (every time cost) or a list of cost keys. */
export type CostSelection = "assumed" | "time" | readonly string[];

/** The keys a selection names, checked: EINVAL (an input error) for an unknown key or one that is not a time. */
export function selectCosts(sel: CostSelection): CostKey[] {
  if (sel === "assumed") return [...ASSUMED_COST_KEYS];
  if (sel === "time") return [...TIME_COST_KEYS];
  if (sel.length === 0) throw new IovError("EINVAL", "no cost named", { input: true });
  const out: CostKey[] = [];
  for (const k of sel) {
    if (!isCostKey(k)) throw new IovError("EINVAL", `unknown cost key ${JSON.stringify(k)} (\`pciov costs\` lists them)`, { key: k, input: true });
    if (!SCALABLE_UNITS.has(DEFAULT_COSTS[k].unit))
      throw new IovError("EINVAL", `cost ${k} is in ${DEFAULT_COSTS[k].unit}, not a time: only cycles, ns and cycles/byte are scaled`, { key: k, input: true });
    if (out.includes(k)) throw new IovError("EINVAL", `cost ${k} is named twice`, { key: k, input: true });
    out.push(k);
  }
  return out;
}

/** Scaling factors a sensitivity run takes: above 1, at most 100. */
export const FACTOR_MIN_EXCLUSIVE = 1;
export const FACTOR_MAX = 100;

export interface SensitivityOptions extends Omit<CompareOptions, "onPoint" | "runOptions"> {
  readonly costs?: CostSelection;
  /** Each cost runs at value ÷ factor and value × factor (default 2). */
  readonly factor?: number;
  /** Called after each run (for a progress bar). */
  readonly onRun?: (done: number, total: number) => void;
}

/** One point's goodput (Gb/s) and CPU (busy cores, every class) at the base and at ÷f, ×f. */
export interface PointSensitivity {
  readonly series: string;
  readonly backend: BackendName;
  readonly vms: number;
  readonly frameBytes: number;
  /** The cost's value at this point before scaling (the scenario may override the default; a value of 0 stays 0). */
  readonly value: number;
  readonly goodputGbps: { readonly base: number; readonly low: number; readonly high: number };
  readonly cores: { readonly base: number; readonly low: number; readonly high: number };
}

/** A change and the point it was found at ("series@VMs", with the frame size when the sweep has several). */
export interface Extreme {
  readonly change: number;
  readonly at: string;
}

export interface CostSensitivity {
  readonly key: CostKey;
  readonly tag: string;
  readonly unit: string;
  /** The value the scenario runs at (its own where it sets one for every point, else the default: see `points[].value`), and the default. */
  readonly value: number;
  readonly defaultValue: number;
  /** Relative goodput change (e.g. −0.25: a quarter less) of largest magnitude over the points, at ÷f and ×f. */
  readonly goodputLow: Extreme;
  readonly goodputHigh: Extreme;
  /** CPU change in busy cores of largest magnitude over the points, at ÷f and ×f. */
  readonly coresLow: Extreme;
  readonly coresHigh: Extreme;
  /** Points where ×f delivered more goodput, or ÷f less: raising a cost raised throughput. */
  readonly nonMonotone: number;
  /** Of those, the relative goodput change of largest magnitude (×f: a gain; ÷f: a loss). */
  readonly against: Extreme;
  readonly points: readonly PointSensitivity[];
}

export interface SensitivityReport {
  readonly scenario: { readonly name: string; readonly file: string };
  readonly seed: number;
  readonly factor: number;
  readonly runs: number;
  /** By the largest goodput change, then the largest CPU change; costs that moved nothing are in `unmoved`. */
  readonly costs: readonly CostSensitivity[];
  /** Costs that changed no point's goodput or CPU (they take no part in this scenario's paths). */
  readonly unmoved: readonly CostKey[];
}

/** Busy cores of every class, to 10⁻⁶ of a core: below that a difference is the order of a float sum, not the model. */
const busyCores = (r: RunResult): number => Math.round((r.cpu.guest.busyCores + r.cpu.host.busyCores + r.cpu.vhost.busyCores) * 1e6) / 1e6;
/** Relative change; from a base of 0 (nothing delivered), the sign alone: ±1. */
const rel = (x: number, base: number): number => (x === base ? 0 : base === 0 ? Math.sign(x) : (x - base) / base);

/** Of (change, at) pairs, the one of largest magnitude (the first of equals); {0, ""} for none. */
export function largest(changes: readonly Extreme[]): Extreme {
  let best: Extreme = { change: 0, at: "" };
  for (const c of changes) if (Math.abs(c.change) > Math.abs(best.change)) best = c;
  return best;
}

/**
 * The summary of one cost's points: the extreme changes and the count of non-monotone points. Pure
 * (no runs), so that its arithmetic is tested on its own.
 */
export function summarise(points: readonly PointSensitivity[], label: (p: PointSensitivity) => string): Pick<CostSensitivity, "goodputLow" | "goodputHigh" | "coresLow" | "coresHigh" | "nonMonotone" | "against"> {
  const gl: Extreme[] = [];
  const gh: Extreme[] = [];
  const cl: Extreme[] = [];
  const ch: Extreme[] = [];
  const wrong: Extreme[] = [];
  let nonMonotone = 0;
  for (const p of points) {
    const at = label(p);
    const lo = { change: rel(p.goodputGbps.low, p.goodputGbps.base), at };
    const hi = { change: rel(p.goodputGbps.high, p.goodputGbps.base), at };
    gl.push(lo);
    gh.push(hi);
    cl.push({ change: p.cores.low - p.cores.base, at });
    ch.push({ change: p.cores.high - p.cores.base, at });
    if (hi.change > 0) wrong.push(hi);
    if (lo.change < 0) wrong.push(lo);
    if (hi.change > 0 || lo.change < 0) nonMonotone++;
  }
  return { goodputLow: largest(gl), goodputHigh: largest(gh), coresLow: largest(cl), coresHigh: largest(ch), nonMonotone, against: largest(wrong) };
}

/** Whether a cost moved anything at any point. */
export function moved(c: Pick<CostSensitivity, "points">): boolean {
  return c.points.some((p) => p.goodputGbps.low !== p.goodputGbps.base || p.goodputGbps.high !== p.goodputGbps.base || p.cores.low !== p.cores.base || p.cores.high !== p.cores.base);
}

/** Order: the largest goodput change first, then the largest CPU change. */
export function byImpact(a: CostSensitivity, b: CostSensitivity): number {
  const g = (c: CostSensitivity): number => Math.max(Math.abs(c.goodputLow.change), Math.abs(c.goodputHigh.change));
  const k = (c: CostSensitivity): number => Math.max(Math.abs(c.coresLow.change), Math.abs(c.coresHigh.change));
  return g(b) - g(a) || k(b) - k(a);
}

/**
 * Runs the scenario's sweep once as it is and twice more for each cost chosen (÷f, ×f). Every point is
 * checked before the first run (compare's plan); a bad selection or factor is an input error (EINVAL).
 */
export function runSensitivity(sc: Scenario, o: SensitivityOptions = {}): SensitivityReport {
  const factor = o.factor ?? 2;
  if (!(Number.isFinite(factor) && factor > FACTOR_MIN_EXCLUSIVE && factor <= FACTOR_MAX))
    throw new IovError("EINVAL", `factor must be above ${FACTOR_MIN_EXCLUSIVE} and at most ${FACTOR_MAX}, got ${factor}`, { factor, input: true });
  const keys = selectCosts(o.costs ?? "assumed");
  const todo = plan(sc, o);
  const total = todo.length * (1 + 2 * keys.length);
  let done = 0;
  const tick = (): void => o.onRun?.(++done, total);
  const base = todo.map((t) => {
    const r = runOnce(t.params);
    tick();
    return r;
  });
  const severalFrames = new Set(todo.map((t) => t.frameBytes)).size > 1;
  const label = (p: PointSensitivity): string => `${p.series}@${p.vms}${severalFrames ? `/${p.frameBytes}B` : ""}`;
  const all: CostSensitivity[] = keys.map((key) => {
    const points: PointSensitivity[] = todo.map((t, i) => {
      const value = t.params.costs[key] ?? DEFAULT_COSTS[key].value;
      const at = (v: number): RunResult => {
        const r = runOnce({ ...t.params, costs: { ...t.params.costs, [key]: v } });
        tick();
        return r;
      };
      const lo = at(value / factor);
      const hi = at(value * factor);
      const b = base[i]!;
      return {
        series: t.series.name,
        backend: t.series.backend,
        vms: t.vms,
        frameBytes: t.frameBytes,
        value,
        goodputGbps: { base: b.goodputGbps, low: lo.goodputGbps, high: hi.goodputGbps },
        cores: { base: busyCores(b), low: busyCores(lo), high: busyCores(hi) },
      };
    });
    const values = new Set(points.map((p) => p.value));
    const def = DEFAULT_COSTS[key].value;
    return { key, tag: costTag(key), unit: DEFAULT_COSTS[key].unit, value: values.size === 1 ? points[0]!.value : def, defaultValue: def, ...summarise(points, label), points };
  });
  return {
    scenario: { name: sc.name, file: sc.file },
    seed: o.seed ?? sc.series[0]!.base.seed,
    factor,
    runs: total,
    costs: all.filter(moved).sort(byImpact),
    unmoved: all.filter((c) => !moved(c)).map((c) => c.key),
  };
}
