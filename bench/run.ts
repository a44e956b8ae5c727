/**
 * `npm run bench`: every benchmark in turn, each in its own process (so one's heap does not skew the
 * next). Pass --json to get one JSON document per benchmark.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const benches = ["pcie", "sriov", "nic", "iommu", "boot", "sim"].map((b) => `bench/${b}.bench.ts`).filter((f) => existsSync(f));
const json = process.argv.includes("--json");
let failed = 0;
for (const b of benches) {
  if (!json) process.stdout.write(`\n== ${b}\n`);
  const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", b, ...(json ? ["--json"] : [])], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
process.exitCode = failed === 0 ? 0 : 1;
