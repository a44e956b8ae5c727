import { Session } from "node:inspector/promises";
import { DEFAULT_RUN } from "./sim/params.js";
import { runOnce } from "./sim/run.js";
import * as fs from "node:fs";
import { findSourceMap } from "node:module";
const loc=(cf:any)=>{try{const sm=findSourceMap(cf.url);if(sm){const e:any=sm.findEntry(cf.lineNumber,cf.columnNumber);if(e&&e.originalLine!==undefined)return cf.url.split("/").slice(-2).join("/")+":"+(e.originalLine+1);}}catch{}return cf.url.split("/").slice(-2).join("/")+":?"+cf.columnNumber;};
const backend = (process.argv[2] ?? "sriov") as any;
const dir = (process.argv[3] ?? "tx") as any;
const fb = +(process.argv[4] ?? 64);
const p = { ...DEFAULT_RUN, backend, vms: 4, warmupUs: 1000, measureUs: 30_000, traffic: { ...DEFAULT_RUN.traffic, kind: "udp" as const, direction: dir, frameBytes: fb } };
runOnce({ ...p, measureUs: 2000 });
const s = new Session(); s.connect();
await s.post("HeapProfiler.startSampling", { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as any);
const r = runOnce(p);
const prof = (await s.post("HeapProfiler.stopSampling")) as any;
const agg = new Map<string, number>();
let total = 0;
function walk(n: any, st: string[]) {
  const cf = n.callFrame; const k = cf.functionName + " " + loc(cf);
  const st2 = st.concat(k);
  if (n.selfSize > 0) { const kk = st2.slice(-3).join(" < "); agg.set(kk, (agg.get(kk) ?? 0) + n.selfSize); total += n.selfSize; }
  for (const c of n.children ?? []) walk(c, st2);
}
walk(prof.profile.head, []);
console.log("delivered", r.conservation.delivered, "total MB", (total / 1e6).toFixed(1), "bytes/pkt", (total / r.conservation.delivered).toFixed(0));
for (const [k, v] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log((v / r.conservation.delivered).toFixed(1).padStart(8), "B/pkt", k);
