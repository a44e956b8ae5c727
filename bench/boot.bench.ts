/**
 * `pciov boot` time: parse, build, enumerate, enable VFs, groups, guests, IOMMU domains, passthrough,
 * VF driver probes and the smoke test, in process (no CLI start-up). Medians of 5 runs.
 * Run: npx tsx bench/boot.bench.ts [--json] [HOSTFILE...]
 */
import { readFileSync } from "node:fs";
import { parseHostFile } from "../src/config/parse.js";
import { boot } from "../src/config/boot.js";

const files = process.argv.slice(2).filter((a) => !a.startsWith("--"));
if (files.length === 0) files.push("examples/e810-256.yaml", "examples/default.yaml");
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows = files.map((f) => {
  const text = readFileSync(f, "utf8");
  const times: number[] = [];
  let vfs = 0;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const st = boot(parseHostFile(text, f));
    times.push(performance.now() - t0);
    vfs = st.nics.length;
  }
  return { file: f, medianMs: median(times), minMs: Math.min(...times), assignedVfs: vfs };
});
if (process.argv.includes("--json")) process.stdout.write(JSON.stringify({ bench: "boot", rows }, null, 2) + "\n");
else {
  process.stdout.write("pciov boot (in process), 5 runs\nhost file                  median ms   min ms   VFs assigned\n");
  for (const r of rows) process.stdout.write(`${r.file.padEnd(26)} ${r.medianMs.toFixed(1).padStart(9)}  ${r.minMs.toFixed(1).padStart(7)}  ${String(r.assignedVfs).padStart(13)}\n`);
}
