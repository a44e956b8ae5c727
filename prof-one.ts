import { DEFAULT_RUN, type BackendName } from "./sim/params.js";
import { runOnce } from "./sim/run.js";
const backend = (process.argv[2] ?? "sriov") as BackendName;
const vms = +(process.argv[3] ?? 4);
const p = { ...DEFAULT_RUN, backend, vms, warmupUs: 1000, measureUs: 100_000, traffic: { ...DEFAULT_RUN.traffic, kind: "udp" as const, direction: "tx" as const, frameBytes: 64 } };
runOnce({ ...p, measureUs: 2000 });
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  const r = runOnce(p);
  const w = performance.now() - t0;
  console.log(`${backend} vms=${vms} wall ${w.toFixed(0)} ms delivered ${r.conservation.delivered} -> ${(r.conservation.delivered / w / 1000).toFixed(3)} M/s events ${r.events}`);
}
