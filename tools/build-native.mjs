// Builds the native data-plane addon with cmake-js. When the toolchain is missing or the build
// fails, the pure-TypeScript fallback is used: this script says so and exits 0, and
// `pciov --version --json` / src/native reports which engine is active.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const bin = "node_modules/.bin/cmake-js";
if (process.env.PCIOV_NO_NATIVE === "1") {
  process.stderr.write("pciov: PCIOV_NO_NATIVE=1, skipping the native addon (TypeScript data plane)\n");
  process.exit(0);
}
if (!existsSync(bin)) {
  process.stderr.write("pciov: cmake-js not installed; using the TypeScript data plane\n");
  process.exit(0);
}
const r = spawnSync(bin, ["build", "-l", "error"], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
if (r.status !== 0) {
  process.stderr.write(`pciov: native addon build failed; using the TypeScript data plane\n${(r.stderr ?? "").slice(-2000)}\n`);
  process.exit(0);
}
