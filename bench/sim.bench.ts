/**
 * Simulator speed on one core: simulated packets per wall-clock second for each backend, and the
 * wall time of the default `pciov compare` sweep. Medians of RUNS runs after one warm-up run.
 *
 *   npx tsx bench/sim.bench.ts [--json]
 *
 * Workloads (each 4 VMs, 100 ms of simulated time after 1 ms of warm-up):
 *  - "udp-tx-64": every guest sends 64 B UDP frames as fast as its vCPU and driver allow;
 *  - "udp-rx-1518": the peer sends 1518 B frames at line rate to the guests.
 * "delivered/s" counts frames that reached their sink (the peer or a guest application) per wall
 * second; "frames/s" also counts frames the model carried and dropped.
 */
import { DEFAULT_RUN, type BackendName, type RunParams } from "../sim/params.js";
import { runOnce } from "../sim/run.js";
import { runCompare } from "../sim/compare.js";
import { loadScenario } from "../sim/scenario.js";
import { DEFAULT_SCENARIO } from "../src/cli/commands/compare.js";

const RUNS = 3;
const BACKENDS: BackendName[] = ["sriov", "xen-pv", "virtio", "e1000"];
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Workload {
  readonly name: string;
  readonly traffic: Partial<RunParams["traffic"]>;
}
const WORKLOADS: Workload[] = [
  { name: "udp-tx-64", traffic: { kind: "udp", direction: "tx", frameBytes: 64 } },
  { name: "udp-rx-1518", traffic: { kind: "udp", direction: "rx", frameBytes: 1518 } },
];

function params(backend: BackendName, w: Workload): RunParams {
  return { ...DEFAULT_RUN, backend, vms: 4, warmupUs: 1000, measureUs: 100_000, traffic: { ...DEFAULT_RUN.traffic, ...w.traffic } };
}

interface Row {
  backend: BackendName;
  workload: string;
  simulatedMs: number;
  wallMsMedian: number;
  deliveredPerWallSec: number;
  framesPerWallSec: number;
  eventsPerWallSec: number;
  modelMpps: number;
}

function benchBackend(backend: BackendName, w: Workload): Row {
  const p = params(backend, w);
  runOnce({ ...p, measureUs: 2000 }); // warm the JIT
  const walls: number[] = [];
  let last = runOnce({ ...p, measureUs: 1000 });
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    last = runOnce(p);
    walls.push(performance.now() - t0);
  }
  const wall = median(walls);
  const c = last.conservation;
  const dropped = Object.values(c.dropped).reduce((a, b) => a + b, 0);
  return {
    backend,
    workload: w.name,
    simulatedMs: (p.warmupUs + p.measureUs) / 1000,
    wallMsMedian: +wall.toFixed(1),
    deliveredPerWallSec: Math.round((c.delivered * 1000) / wall),
    framesPerWallSec: Math.round(((c.delivered + dropped) * 1000) / wall),
    eventsPerWallSec: Math.round((last.events * 1000) / wall),
    modelMpps: +last.mpps.toFixed(3),
  };
}

function benchSweep(): { wallMsMedian: number; runs: number; points: number } {
  const sc = loadScenario(DEFAULT_SCENARIO);
  const walls: number[] = [];
  let points = 0;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    points = runCompare(sc).points.length;
    walls.push(performance.now() - t0);
  }
  return { wallMsMedian: +median(walls).toFixed(0), runs: RUNS, points };
}

const json = process.argv.includes("--json");
const rows: Row[] = [];
for (const w of WORKLOADS) for (const b of BACKENDS) rows.push(benchBackend(b, w));
const sweep = benchSweep();
if (json) {
  process.stdout.write(JSON.stringify({ runs: RUNS, backends: rows, defaultSweep: sweep }, null, 2) + "\n");
} else {
  const head = ["workload", "backend", "sim ms", "wall ms", "delivered/s", "frames/s", "events/s", "model Mpps"];
  const body = rows.map((r) => [r.workload, r.backend, r.simulatedMs, r.wallMsMedian, r.deliveredPerWallSec, r.framesPerWallSec, r.eventsPerWallSec, r.modelMpps].map(String));
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(w[i]!)).join("  ");
  process.stdout.write(`simulated packets per wall-clock second (median of ${RUNS}, one core)\n${line(head)}\n${body.map(line).join("\n")}\n`);
  process.stdout.write(`default sweep (${sweep.points} runs of sim/scenarios/default.yaml): ${sweep.wallMsMedian} ms wall (median of ${RUNS})\n`);
}
