/**
 * PCIe model: configuration reads per second through the generic access path (ConfigSpace.read
 * directly; routed by ID through the fabric, both the `{status, value}` form and the allocation-free
 * form), memory reads routed by address, and enumeration time of a fabric with 256 buses and more
 * than 8,192 functions. Medians of 5 runs, one core.   npx tsx bench/pcie.bench.ts [--json]
 */
import { bigFabric } from "../src/pcie/gen.js";
import { enumerate } from "../src/pcie/enumerate.js";
import type { Fabric } from "../src/pcie/fabric.js";

const RUNS = 5;
const READS = 5_000_000;
/** Results folded in here so that the measured loops cannot be optimised away. */
let sink = 0;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Requester targets: every function's (bus, devfn), and config offsets across the header and capabilities. */
function targets(f: Fabric): { bus: Int32Array; devfn: Int32Array } {
  const fns = f.functions();
  return { bus: Int32Array.from(fns, (x) => x.bus), devfn: Int32Array.from(fns, (x) => x.devfn) };
}
const OFFSETS = Int32Array.from([0x00, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x2c, 0x34, 0x40, 0x44, 0x48, 0x4c, 0x100, 0x104, 0x50, 0x3c]);

function perSecond(n: number, ms: number): number {
  return (n / ms) * 1000;
}

function benchDirect(f: Fabric): number[] {
  const fns = f.functions().map((x) => x.cfg);
  const runs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let acc = 0;
    const t0 = performance.now();
    for (let i = 0; i < READS; i++) acc ^= fns[i % fns.length]!.read(OFFSETS[i & 15]!, 4);
    const ms = performance.now() - t0;
    sink ^= acc;
    runs.push(perSecond(READS, ms));
  }
  return runs;
}

function benchRouted(f: Fabric, alloc: boolean): number[] {
  const t = targets(f);
  const n = t.bus.length;
  const runs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let acc = 0;
    const t0 = performance.now();
    if (alloc) {
      for (let i = 0; i < READS; i++) {
        const k = i % n;
        acc ^= f.configRead(t.bus[k]!, t.devfn[k]!, OFFSETS[i & 15]!, 4).value;
      }
    } else {
      for (let i = 0; i < READS; i++) {
        const k = i % n;
        acc ^= f.cfgRead(t.bus[k]!, t.devfn[k]!, OFFSETS[i & 15]!, 4);
      }
    }
    const ms = performance.now() - t0;
    sink ^= acc;
    runs.push(perSecond(READS, ms));
  }
  return runs;
}

function benchMmio(f: Fabric): number[] {
  const addrs = Float64Array.from(f.decodeMap().map((t) => t.start + 8));
  const runs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let acc = 0;
    const t0 = performance.now();
    for (let i = 0; i < READS; i++) acc ^= f.memRead32(addrs[i % addrs.length]!, 4);
    const ms = performance.now() - t0;
    sink ^= acc;
    runs.push(perSecond(READS, ms));
  }
  return runs;
}

function benchEnumerate(): { runs: number[]; functions: number; buses: number } {
  const runs: number[] = [];
  let functions = 0;
  let buses = 0;
  for (let r = 0; r < RUNS + 1; r++) {
    const f = bigFabric();
    const t0 = performance.now();
    const res = enumerate(f);
    const ms = performance.now() - t0;
    functions = res.functions.length;
    buses = res.lastBus + 1;
    if (r > 0) runs.push(ms); // the first run warms the JIT
  }
  return { runs, functions, buses };
}

function main(): void {
  const json = process.argv.includes("--json");
  const en = benchEnumerate();
  const f = bigFabric();
  enumerate(f);
  const direct = benchDirect(f);
  const routed = benchRouted(f, true);
  const routedFast = benchRouted(f, false);
  const mmio = benchMmio(f);
  const result = {
    configSpaceReadPerSec: { median: median(direct), runs: direct },
    fabricConfigReadPerSec: { median: median(routed), runs: routed },
    fabricCfgReadNoAllocPerSec: { median: median(routedFast), runs: routedFast },
    fabricMemRead32PerSec: { median: median(mmio), runs: mmio },
    enumerateMs: { median: median(en.runs), runs: en.runs, functions: en.functions, buses: en.buses },
  };
  if (sink === -1) process.stdout.write("");
  if (json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const m = (x: number): string => `${(x / 1e6).toFixed(1)} M/s`;
  const lines = [
    `PCIe model, median of ${RUNS} runs (${READS.toLocaleString("en")} reads each, ${en.functions.toLocaleString("en")} functions on ${en.buses} buses)`,
    `  ConfigSpace.read (direct)          ${m(result.configSpaceReadPerSec.median)}   runs ${direct.map(m).join(", ")}`,
    `  fabric.configRead (routed, object) ${m(result.fabricConfigReadPerSec.median)}   runs ${routed.map(m).join(", ")}`,
    `  fabric.cfgRead (routed, no alloc)  ${m(result.fabricCfgReadNoAllocPerSec.median)}   runs ${routedFast.map(m).join(", ")}`,
    `  fabric.memRead32 (routed by addr)  ${m(result.fabricMemRead32PerSec.median)}   runs ${mmio.map(m).join(", ")}`,
    `  enumerate(bigFabric)               ${result.enumerateMs.median.toFixed(1)} ms   runs ${en.runs.map((x) => x.toFixed(1)).join(", ")}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

main();
