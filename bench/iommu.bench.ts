/**
 * VT-d model throughput: translations per second on the data path.
 *   npx tsx bench/iommu.bench.ts            table of medians over 5 runs
 *   npx tsx bench/iommu.bench.ts --json     the same as JSON
 * Scenarios: IOTLB hits (4 KiB), 4-level walks with the IOTLB disabled, IOTLB misses with a working
 * set 32× the IOTLB (walk + insert + CLOCK eviction), 2 MiB pages (hits and 3-entry walks), and
 * posted-interrupt MSI writes.
 */
import { PhysMem } from "../src/memory/physmem.js";
import { RangeAllocator } from "../src/memory/alloc.js";
import { DMA_FAULT } from "../src/pcie/dma.js";
import { VtdIommu } from "../src/hypervisor-glue/iommu/vtd.js";
import { IommuHost } from "../src/hypervisor-glue/iommu/host.js";
import { PAGE_2M, PAGE_4K, type PageSize } from "../src/hypervisor-glue/iommu/defs.js";

const RUNS = 5;
const RID = 0x0310;
const RAM = 0x1_0000_0000;

interface Scenario {
  name: string;
  /** What the target in the brief is, if any (M translations/s). */
  targetM?: number;
  ops: number;
  setup(): (n: number) => number;
}

function domain(opts: { iotlbEntries: number; pages: number; pageSize: PageSize }): { hw: VtdIommu; host: IommuHost } {
  const hw = new VtdIommu(new PhysMem(), { iotlbEntries: opts.iotlbEntries });
  const host = new IommuHost(hw, { tables: new RangeAllocator(0x100_0000, 0x4000_0000) });
  host.init();
  host.createDomain(1, 4);
  host.map(1, 0, RAM, opts.pages * opts.pageSize, "rw", opts.pageSize);
  host.attach(1, RID);
  return { hw, host };
}

/** A loop translating `pages` pages of `pageSize` in a scrambled order; returns faults seen (must be 0). */
function translator(hw: VtdIommu, pages: number, pageSize: number): (n: number) => number {
  const mask = pages - 1;
  return (n: number): number => {
    let faults = 0;
    for (let i = 0; i < n; i++) {
      const p = Math.imul(i, 0x9e3779b1) & mask; // odd multiplier: a permutation of the pages
      const r = hw.translate(RID, p * pageSize + ((i * 64) & 0xfff), 64, (i & 1) === 0);
      if (r === DMA_FAULT) faults++;
    }
    return faults;
  };
}

const scenarios: Scenario[] = [
  {
    name: "iotlb-hit-4K",
    targetM: 10,
    ops: 4_000_000,
    setup() {
      const { hw } = domain({ iotlbEntries: 512, pages: 256, pageSize: PAGE_4K });
      return translator(hw, 256, PAGE_4K);
    },
  },
  {
    name: "walk-4level-4K (IOTLB off)",
    targetM: 3,
    ops: 1_000_000,
    setup() {
      const { hw } = domain({ iotlbEntries: 0, pages: 4096, pageSize: PAGE_4K });
      return translator(hw, 4096, PAGE_4K);
    },
  },
  {
    name: "iotlb-miss-4K (16K pages, 512 entries)",
    ops: 1_000_000,
    setup() {
      const { hw } = domain({ iotlbEntries: 512, pages: 16384, pageSize: PAGE_4K });
      return translator(hw, 16384, PAGE_4K);
    },
  },
  {
    name: "iotlb-hit-2M",
    ops: 4_000_000,
    setup() {
      const { hw } = domain({ iotlbEntries: 512, pages: 64, pageSize: PAGE_2M });
      return translator(hw, 64, PAGE_2M);
    },
  },
  {
    name: "walk-4level-2M (IOTLB off)",
    ops: 1_000_000,
    setup() {
      const { hw } = domain({ iotlbEntries: 0, pages: 64, pageSize: PAGE_2M });
      return translator(hw, 64, PAGE_2M);
    },
  },
  {
    name: "msi-posted (remap + PIR)",
    ops: 1_000_000,
    setup() {
      const { hw, host } = domain({ iotlbEntries: 512, pages: 1, pageSize: PAGE_4K });
      host.interrupts.enable({ entries: 256 });
      const pda = host.interrupts.allocPostedDescriptor(0xf2, 1);
      for (let i = 0; i < 32; i++) host.interrupts.setIrte(i, { mode: "posted", vector: 0x40 + i, pda });
      const msgs = Array.from({ length: 32 }, (_, i) => host.interrupts.msiMessage(i).address);
      return (n: number): number => {
        for (let i = 0; i < n; i++) hw.ir.msiWrite(RID, msgs[i & 31]!, 0);
        return 0;
      };
    },
  },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

interface Result {
  scenario: string;
  medianMops: number;
  minMops: number;
  maxMops: number;
  nsPerOp: number;
  runs: number[];
  targetMops?: number;
  meetsTarget?: boolean;
}

const results: Result[] = [];
for (const sc of scenarios) {
  const run = sc.setup();
  run(Math.min(sc.ops, 200_000)); // warm up (JIT, caches)
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    const faults = run(sc.ops);
    const ms = performance.now() - t0;
    if (faults !== 0) throw new Error(`${sc.name}: ${faults} unexpected faults`);
    rates.push(sc.ops / ms / 1000);
  }
  const med = median(rates);
  results.push({
    scenario: sc.name,
    medianMops: Number(med.toFixed(2)),
    minMops: Number(Math.min(...rates).toFixed(2)),
    maxMops: Number(Math.max(...rates).toFixed(2)),
    nsPerOp: Number((1000 / med).toFixed(1)),
    runs: rates.map((x) => Number(x.toFixed(2))),
    ...(sc.targetM === undefined ? {} : { targetMops: sc.targetM, meetsTarget: med >= sc.targetM }),
  });
}

if (process.argv.includes("--json")) {
  process.stdout.write(`${JSON.stringify({ bench: "iommu", runs: RUNS, node: process.version, results }, null, 2)}\n`);
} else {
  const rows = results.map((r) => [r.scenario, r.medianMops.toFixed(2), `${r.minMops.toFixed(2)}..${r.maxMops.toFixed(2)}`, r.nsPerOp.toFixed(1), r.targetMops === undefined ? "" : `${r.targetMops} ${r.meetsTarget === true ? "ok" : "MISSED"}`]);
  const head = ["scenario", "median M/s", "range", "ns/op", "target"];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ");
  process.stdout.write(`${line(head)}\n${w.map((x) => "-".repeat(x)).join("  ")}\n${rows.map(line).join("\n")}\n(median of ${RUNS} runs, node ${process.version})\n`);
}
