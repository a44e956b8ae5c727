/**
 * A comparison: every series of a scenario run at every sweep point (VM count × frame size), and
 * its presentation as table rows and an SVG chart. The library returns data; the CLI prints.
 */
import type { BackendName, RunParams } from "./params.js";
import { IovError } from "../src/errors.js";
import { checkRunParams, runOnce, type RunOptions, type RunResult } from "./run.js";
import { pointParams, type Scenario } from "./scenario.js";

export interface ComparePoint {
  readonly series: string;
  readonly backend: BackendName;
  readonly vms: number;
  readonly frameBytes: number;
  /** The run's whole parameters: `runOnce(params)` gives `result` again. */
  readonly params: RunParams;
  readonly result: RunResult;
}

export interface CompareReport {
  readonly scenario: { readonly name: string; readonly file: string; readonly description: string; readonly x: "vms" | "frameBytes" };
  readonly seed: number;
  readonly points: readonly ComparePoint[];
}

export interface CompareOptions {
  readonly backends?: readonly BackendName[];
  readonly vms?: readonly number[];
  readonly frameBytes?: readonly number[];
  readonly seed?: number;
  /** The guests' offloads for every point (host.guestGro / guestGso; the devices' TSO: sriov.tso, virtio.tso, xen.gso, e1000.tso), over the scenario's. */
  readonly guestOffloads?: { readonly gro: boolean; readonly gso: boolean; readonly tso?: boolean };
  /** Called after each point (for a progress bar). */
  readonly onPoint?: (done: number, total: number, p: ComparePoint) => void;
  /** Options for each run (e.g. captures), by point. */
  readonly runOptions?: (series: string, vms: number, frameBytes: number, backend: BackendName) => RunOptions;
}

type Series = Scenario["series"][number];

/**
 * The series `--backends` asks for, in its order: each backend's series from the scenario, or, for a
 * backend the scenario has none of, a series named after it with the scenario's top-level settings.
 */
export function selectSeries(sc: Scenario, backends: readonly BackendName[] | undefined): Series[] {
  if (backends === undefined) return [...sc.series];
  const out: Series[] = [];
  const names = new Set(sc.series.map((s) => s.name));
  for (const b of new Set(backends)) {
    const own = sc.series.filter((s) => s.backend === b);
    if (own.length > 0) {
      out.push(...own);
      continue;
    }
    let name: string = b;
    for (let k = 2; names.has(name); k++) name = `${b}#${k}`;
    names.add(name);
    out.push({ name, backend: b, base: { ...sc.common, backend: b } });
  }
  return out;
}

export interface PlannedPoint {
  readonly series: Series;
  readonly vms: number;
  readonly frameBytes: number;
  /** The run's parameters (pointParams: with frame sizes given to the sweep, a TCP series' MTU follows them). */
  readonly params: RunParams;
}

/**
 * The sweep's points, in order: series, then frame size, then VM count. Every point is checked
 * before the first run: a bad one is an input error (EINVAL) naming it, and nothing runs.
 */
export function plan(sc: Scenario, o: CompareOptions = {}): PlannedPoint[] {
  const series = selectSeries(sc, o.backends);
  const vms = o.vms ?? sc.vms;
  const frames = o.frameBytes ?? sc.frameBytes;
  const frameSetsMtu = o.frameBytes !== undefined || sc.framesGiven;
  const out: PlannedPoint[] = [];
  for (const s of series)
    for (const f of frames)
      for (const n of vms) {
        try {
          let params = pointParams(s, n, f, o.seed, frameSetsMtu);
          const g = o.guestOffloads;
          if (g !== undefined) params = { ...params, host: { ...params.host, guestGro: g.gro, guestGso: g.gso }, sriov: { ...params.sriov, tso: g.tso ?? false }, xen: { ...params.xen, gso: g.tso ?? false }, virtio: { ...params.virtio, tso: g.tso ?? false }, e1000: { ...params.e1000, tso: g.tso ?? false } };
          checkRunParams(params);
          out.push({ series: s, vms: n, frameBytes: f, params });
        } catch (e) {
          if (!(e instanceof IovError)) throw e;
          throw new IovError("EINVAL", `series ${JSON.stringify(s.name)} at ${n} VM${n === 1 ? "" : "s"}, ${f} B: ${e.message.replace(/^E[A-Z]+: /, "")}`, { input: true, cause: e.code });
        }
      }
  return out;
}

export function runCompare(sc: Scenario, o: CompareOptions = {}): CompareReport {
  const todo = plan(sc, o);
  const points: ComparePoint[] = [];
  todo.forEach((t, i) => {
    const result = runOnce(t.params, o.runOptions?.(t.series.name, t.vms, t.frameBytes, t.series.backend) ?? {});
    const cp: ComparePoint = { series: t.series.name, backend: t.series.backend, vms: t.vms, frameBytes: t.frameBytes, params: t.params, result };
    points.push(cp);
    o.onPoint?.(i + 1, todo.length, cp);
  });
  return { scenario: { name: sc.name, file: sc.file, description: sc.description, x: sc.x }, seed: o.seed ?? sc.series[0]!.base.seed, points };
}

const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);
const f3 = (x: number): string => x.toFixed(3);
const kilo = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0));

export const TABLE_HEADERS = [
  "series",
  "VMs",
  "frame",
  "Gb/s",
  "goodput",
  "Mpps",
  "guest cores",
  "host cores",
  "vhost cores",
  "exits/s",
  "exits/pkt",
  "guest irq/s",
  "IOTLB hit",
  "p50 µs",
  "p99 µs",
  "dropped",
  "fairness",
] as const;

/** One row per point, in TABLE_HEADERS order. */
export function tableRows(rep: CompareReport): string[][] {
  return rep.points.map((p) => {
    const r = p.result;
    let exits = 0;
    for (const v of Object.values(r.exitsPerSec)) exits += v;
    const dropped = Object.values(r.conservation.dropped).reduce((a, b) => a + b, 0);
    return [
      p.series,
      String(p.vms),
      String(r.traffic.frameBytes),
      f2(r.gbps),
      f2(r.goodputGbps),
      f3(r.mpps),
      f2(r.cpu.guest.busyCores),
      f2(r.cpu.host.busyCores),
      f2(r.cpu.vhost.busyCores),
      kilo(exits),
      f2(r.exitsPerPacket),
      kilo(r.guestInterruptsPerSec),
      `${f1(100 * r.iotlb.hitRate)}%`,
      f1(r.latencyUs.p50),
      f1(r.latencyUs.p99),
      String(dropped),
      f2(r.perVm.jain),
    ];
  });
}

/** Markdown table of the report (for docs). */
export function markdownTable(rep: CompareReport): string {
  const rows = tableRows(rep);
  const head = `| ${TABLE_HEADERS.join(" | ")} |`;
  const sep = `|${TABLE_HEADERS.map((_, i) => (i < 1 ? "---" : "---:")).join("|")}|`;
  return [head, sep, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

/** Machine-readable form (--json): the scenario and every point's full result. */
export function reportJson(rep: CompareReport): unknown {
  return rep;
}
