/**
 * The monotonicity sweep of docs/comparison.md ("Where the model is not monotone"), reproducible:
 *
 *   npx tsx tools/monotonicity-sweep.ts [--t-us 1000] [--vms 1,2,4,8] [--backends sriov,xen-pv,virtio,e1000] [--json]
 *
 * For every backend × TX/RX × UDP (64, 256, 1518 B) and TCP × VM count, on the base of the
 * simulator's tests (sim/small.ts: 4 guest cores, 2 host cores, 128-entry rings, a 64 KiB TCP
 * window), it compares D(T) — data frames delivered to their sinks from an empty system by T — of
 * the base against:
 *  - every time and per-byte cost (units cycles, ns, cycles/byte) raised ×1.5, ×2 and ×3 (a cost of
 *    0 is set to 100): a violation is the raised run delivering more;
 *  - the wire 2.5 → 10 and 10 → 40 Gb/s, the PCIe link ×2 → ×8 and ×8 → ×32: a violation is the
 *    faster run delivering less.
 * Each violation's lead is how much later the faster (or cheaper) run reaches the slower run's count:
 * the least L, in 0.5 µs steps up to 400 µs, with D_fast(T + L) ≥ D_slow(T) (D is non-decreasing in
 * T: a run to T is the prefix of a longer one). Prints a table per class, or JSON with every
 * violation. A progress bar goes to stderr on a TTY.
 */
import cliProgress from "cli-progress";
import { COST_KEYS, DEFAULT_COSTS, type CostKey } from "../sim/costs.js";
import { BACKENDS, type BackendName, type RunParams } from "../sim/params.js";
import { runOnce } from "../sim/run.js";
import { small } from "../sim/small.js";

const STEP_US = 0.5;
const MAX_LEAD_US = 400;

interface Args {
  tUs: number;
  vms: number[];
  backends: BackendName[];
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { tUs: 1000, vms: [1, 2, 4, 8], backends: [...BACKENDS], json: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) usage(`${k} needs a value`);
      return x;
    };
    if (k === "--json") a.json = true;
    else if (k === "--t-us") a.tUs = num(v(), k);
    else if (k === "--vms") a.vms = v().split(",").map((x) => num(x, k));
    else if (k === "--backends") {
      a.backends = v().split(",") as BackendName[];
      for (const b of a.backends) if (!BACKENDS.includes(b)) usage(`unknown backend ${b} (one of ${BACKENDS.join(", ")})`);
    } else usage(`unknown option ${k}`);
  }
  return a;
}

function num(s: string, what: string): number {
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) usage(`${what}: expected a positive number, found "${s}"`);
  return n;
}

function usage(msg: string): never {
  process.stderr.write(`monotonicity-sweep: ${msg}\n`);
  process.exit(2);
}

const TIME_KEYS = COST_KEYS.filter((k) => {
  const u = DEFAULT_COSTS[k].unit;
  return u === "cycles" || u === "ns" || u === "cycles/byte";
});
const FACTORS = [1.5, 2, 3];

/** D(T): data frames delivered from an empty system by `us`. */
function delivered(p: RunParams, us: number): number {
  const r = runOnce({ ...p, warmupUs: 0, measureUs: us });
  return Math.round(r.mpps * r.windowUs);
}

/** Least L (0.5 µs steps, ≤ 400 µs) with D_fast(T + L) ≥ target; -1 if none. */
function leadUs(fast: RunParams, tUs: number, target: number): number {
  let lo = 0;
  let hi = Math.round(MAX_LEAD_US / STEP_US);
  if (delivered(fast, tUs + hi * STEP_US) < target) return -1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (delivered(fast, tUs + mid * STEP_US) >= target) hi = mid;
    else lo = mid + 1;
  }
  return lo * STEP_US;
}

interface Base {
  backend: BackendName;
  direction: "tx" | "rx";
  kind: "udp" | "tcp";
  vms: number;
  frameBytes: number;
}

interface Violation extends Base {
  change: string;
  /** Frames by T: the run that should not be ahead (raised cost, less capacity), and the other. */
  slow: number;
  fast: number;
  leadUs: number;
}

/** The comparisons of one base: [what changed, the run that should deliver no more, the one that should deliver no less]. */
function comparisons(b: Base): Array<[string, RunParams, RunParams]> {
  const base = small({ backend: b.backend, direction: b.direction, kind: b.kind, vms: b.vms, frameBytes: b.frameBytes });
  const out: Array<[string, RunParams, RunParams]> = [];
  for (const k of TIME_KEYS as CostKey[]) {
    const v = DEFAULT_COSTS[k].value;
    for (const f of FACTORS) out.push([`${k} ×${f}`, { ...base, costs: { [k]: v === 0 ? 100 : v * f } }, base]);
  }
  out.push(["wire 2.5 → 10 Gb/s", { ...base, costs: { ethRateGbps: 2.5 } }, base]);
  out.push(["wire 10 → 40 Gb/s", base, { ...base, costs: { ethRateGbps: 40 } }]);
  out.push(["PCIe ×2 → ×8", { ...base, host: { ...base.host, pcieWidth: 2 } }, { ...base, host: { ...base.host, pcieWidth: 8 } }]);
  out.push(["PCIe ×8 → ×32", { ...base, host: { ...base.host, pcieWidth: 8 } }, { ...base, host: { ...base.host, pcieWidth: 32 } }]);
  return out;
}

/** The classes of the docs' table. */
function classOf(v: Base): string {
  const senders = v.direction === "tx";
  if (senders && (v.backend === "sriov" || v.backend === "e1000")) return "VF, e1000 senders";
  const name = { sriov: "VF", "xen-pv": "Xen PV", virtio: "virtio", e1000: "e1000" }[v.backend];
  return `${name} ${senders ? "senders" : "receivers"}`;
}

function main(): void {
  const a = parseArgs(process.argv.slice(2));
  const bases: Base[] = [];
  for (const backend of a.backends)
    for (const direction of ["tx", "rx"] as const)
      for (const vms of a.vms) {
        for (const frameBytes of [64, 256, 1518]) bases.push({ backend, direction, kind: "udp", vms, frameBytes });
        bases.push({ backend, direction, kind: "tcp", vms, frameBytes: 1518 });
      }
  const total = bases.reduce((n, b) => n + comparisons(b).length, 0);
  const bar = process.stderr.isTTY && !a.json ? new cliProgress.SingleBar({ stream: process.stderr, format: "{bar} {value}/{total} points", hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic) : undefined;
  bar?.start(total, 0);
  const t0 = performance.now();
  const violations: Violation[] = [];
  const points = new Map<string, number>();
  let done = 0;
  // D(T) of a run is needed by several comparisons (the base is in all of them): computed once
  const memo = new Map<string, number>();
  const d = (p: RunParams): number => {
    const key = JSON.stringify(p);
    let n = memo.get(key);
    if (n === undefined) {
      n = delivered(p, a.tUs);
      memo.set(key, n);
    }
    return n;
  };
  for (const b of bases) {
    memo.clear();
    const cls = classOf(b);
    for (const [change, slowP, fastP] of comparisons(b)) {
      points.set(cls, (points.get(cls) ?? 0) + 1);
      const slow = d(slowP);
      const fast = d(fastP);
      if (slow > fast) violations.push({ ...b, change, slow, fast, leadUs: leadUs(fastP, a.tUs, slow) });
      bar?.update(++done);
    }
  }
  bar?.stop();
  const wallS = (performance.now() - t0) / 1000;
  if (a.json) {
    process.stdout.write(`${JSON.stringify({ tUs: a.tUs, points: total, wallS: +wallS.toFixed(1), violations }, null, 2)}\n`);
    return;
  }
  const gain = (v: Violation): number => (v.slow - v.fast) / Math.max(1, v.fast);
  console.log(`D(${a.tUs} µs), ${total} points, ${violations.length} violations, ${wallS.toFixed(0)} s`);
  console.log("class                 violations       largest gain                                             largest lead");
  for (const [cls, n] of points) {
    const vs = violations.filter((v) => classOf(v) === cls);
    const worst = vs.reduce<Violation | undefined>((w, v) => (w === undefined || gain(v) > gain(w) ? v : w), undefined);
    const lead = vs.reduce((m, v) => Math.max(m, v.leadUs), 0);
    const w = worst === undefined ? "-" : `${worst.kind.toUpperCase()} ${worst.vms} VM ${worst.kind === "udp" ? `${worst.frameBytes} B ` : ""}${worst.change}: ${worst.fast} → ${worst.slow} (+${(100 * gain(worst)).toFixed(1)} %)`;
    console.log(`${cls.padEnd(22)}${`${vs.length} of ${n}`.padEnd(17)}${w.padEnd(57)}${vs.length > 0 ? `${lead} µs` : "-"}`);
  }
}

main();
