/**
 * SR-IOV scale: wall time and memory to enable 256, 4,096 and 65,535 VFs on one PF through the PF
 * driver's sriov_numvfs path (NumVFs, offset/stride re-read, bus-range check, VF Enable, VF objects on
 * the fabric). 65,535 VFs need every routing ID: the PF sits at 00:00.0 as a root-complex integrated
 * endpoint with First VF Offset 1 and Stride 1, so VFs fill buses 0..255.
 * Run: npx tsx bench/sriov.bench.ts [--json]   (add --expose-gc via NODE_OPTIONS for exact heap figures)
 */
import { Fabric } from "../src/pcie/fabric.js";
import { makeEndpoint } from "../src/pcie/factories.js";
import { enumerate } from "../src/pcie/enumerate.js";
import { SriovPf } from "../src/sriov/pf.js";
import { fixedOffsetStride } from "../src/sriov/geometry.js";
import { PfSriovDriver } from "../src/pf-driver/sriov.js";
import { LayoutBuilder } from "../src/pcie/layout.js";
import { TYPE0_HEADER } from "../src/pcie/header.js";
import { pcieCap } from "../src/pcie/caps/pcie.js";
import type { BarSpec } from "../src/pcie/bars.js";

const VF_BARS: BarSpec[] = [{ index: 0, kind: "mem64", prefetchable: true, size: 16384 }];
const vfPcie = pcieCap("rciep", { speed: 8, width: 8 });
const vfLayout = new LayoutBuilder(4096)
  .header(TYPE0_HEADER, { VENDOR_ID: 0xffff, DEVICE_ID: 0xffff, CLASS_REVISION: 0x02000000, COMMAND: { rw: 0x4 } })
  .cap(vfPcie.def, 0x40, vfPcie.overrides)
  .build();

interface Row {
  vfs: number;
  enableMs: number;
  disableMs: number;
  heapMiB: number;
  rssMiB: number;
  bytesPerVf: number;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function once(n: number): Row {
  const pf = makeEndpoint({
    vendorId: 0x8086,
    deviceId: 0x1592,
    kind: "rciep",
    bars: [{ index: 0, kind: "mem64", prefetchable: true, size: 1 << 20 }],
    sriov: { totalVFs: 0xffff, initialVFs: 0xffff, vfDeviceId: 0x1889, vfBars: VF_BARS, offset: 1, stride: 1 },
  });
  const fabric = new Fabric({ hostBridge: pf });
  new SriovPf({
    pf,
    capOffset: findSriov(pf),
    geometry: { initialVfs: 0xffff, totalVfs: 0xffff, vfDeviceId: 0x1889, supportedPageSizes: 0x553, functionDependencyLink: 0, offsetStride: fixedOffsetStride(1, 1), rule: "1/1" },
    vfLayout,
    vfBars: VF_BARS,
    host: fabric,
  });
  const en = enumerate(fabric, { mmio64: { base: 2 ** 40, limit: 2 ** 44 - 1 } });
  const iov = en.functions.find((f) => f.bus === 0 && f.devfn === 0)!.resources.find((r) => r.type === "iov")!;
  const driver = new PfSriovDriver({
    cfg: { read: (o, s) => fabric.cfgRead(0, 0, o, s), write: (o, s, v) => void fabric.cfgWrite(0, 0, o, s, v) },
    bdf: "0000:00:00.0",
    bus: 0,
    devfn: 0,
    maxBus: 255,
    ariForwarding: true,
    lowestPf: true,
    iovResource: (i) => (i === 0 ? { start: iov.base, size: iov.size } : undefined),
    hostPageSize: 4096,
    sleepNs: (ns) => fabric.advanceNs(ns),
  });
  driver.probe();
  gc();
  const h0 = process.memoryUsage();
  const t0 = performance.now();
  driver.writeNumVfs(String(n));
  const t1 = performance.now();
  gc();
  const h1 = process.memoryUsage();
  const row: Row = {
    vfs: n,
    enableMs: t1 - t0,
    disableMs: 0,
    heapMiB: (h1.heapUsed - h0.heapUsed) / 2 ** 20,
    rssMiB: h1.rss / 2 ** 20,
    bytesPerVf: (h1.heapUsed - h0.heapUsed) / n,
  };
  // every VF answers at its RID after the settle
  const last = (n - 1 + 1) & 0xffff;
  if (fabric.configRead(last >> 8, last & 0xff, 0, 2).status !== "SC") throw new Error(`VF ${n - 1} at RID ${last} does not answer`);
  const t2 = performance.now();
  driver.writeNumVfs("0");
  row.disableMs = performance.now() - t2;
  return row;
}

function findSriov(pf: ReturnType<typeof makeEndpoint>): number {
  let pos = 0x100;
  for (let i = 0; i < 64 && pos >= 0x100; i++) {
    const h = pf.cfg.read(pos, 4);
    if ((h & 0xffff) === 0x10) return pos;
    pos = (h >>> 20) & 0xffc;
  }
  throw new Error("no SR-IOV capability");
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: Row[] = [];
for (const n of [256, 4096, 65535]) {
  const runs = Array.from({ length: n > 10000 ? 3 : 5 }, () => once(n));
  rows.push({
    vfs: n,
    enableMs: median(runs.map((r) => r.enableMs)),
    disableMs: median(runs.map((r) => r.disableMs)),
    heapMiB: median(runs.map((r) => r.heapMiB)),
    rssMiB: Math.max(...runs.map((r) => r.rssMiB)),
    bytesPerVf: median(runs.map((r) => r.bytesPerVf)),
  });
}
if (process.argv.includes("--json")) process.stdout.write(JSON.stringify({ bench: "sriov-enable", rows }, null, 2) + "\n");
else {
  process.stdout.write("SR-IOV enable (sriov_numvfs write → VFs answering), medians\n");
  process.stdout.write("VFs      enable ms  disable ms  heap MiB  bytes/VF  process RSS MiB\n");
  for (const r of rows)
    process.stdout.write(
      `${String(r.vfs).padEnd(8)} ${r.enableMs.toFixed(1).padStart(9)}  ${r.disableMs.toFixed(1).padStart(10)}  ${r.heapMiB.toFixed(1).padStart(8)}  ${r.bytesPerVf.toFixed(0).padStart(8)}  ${r.rssMiB.toFixed(0).padStart(15)}\n`,
    );
}
