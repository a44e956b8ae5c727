/**
 * NIC data-plane throughput: 64-byte frames, TX descriptor → VEB → RX descriptor (VF→VF) and
 * TX descriptor → VEB → uplink (VF→wire), identity DMA translation, on one core. Both ends are the
 * igb ring driver (src/vf-driver/rings.ts) on host memory, so a packet's cost includes the driver's
 * work as well as the NIC's: copy into a TX buffer and its descriptor, one doorbell per batch, TX
 * reclaim, RX poll with one RDT write per batch. The NIC's own share is timed apart: the doorbell
 * (TDT write) is where the NIC fetches, switches and delivers the whole batch, so "NIC alone" is
 * packets per second of time spent inside that write.
 * Packets per wall second, median of 5 runs; then an allocation check (heap growth and GC count
 * over a long run).   npx tsx bench/nic.bench.ts [--json]
 */
import { PerformanceObserver } from "node:perf_hooks";
import { PhysMem } from "../src/memory/physmem.js";
import { IDENTITY_TRANSLATOR } from "../src/pcie/dma.js";
import type { MmioHandler } from "../src/pcie/function.js";
import { Nic } from "../src/nic/nic.js";
import { defaultVfPortConfig } from "../src/nic/port-config.js";
import { planDma } from "../src/vf-driver/dma-layout.js";
import { IgbRings, hostMemory } from "../src/vf-driver/rings.js";

const RING = 1024;
const BATCH = 256;
const FRAME = 64;
const BUF = 2048;
const RUNS = 5;
const PACKETS = 2_000_000;

const MAC_A = 0x0200_0000_0100;
const MAC_B = 0x0200_0000_0101;
const MAC_REMOTE = 0x0299_0000_0001;

function ringUp(mmio: MmioHandler, mem: PhysMem, base: number): IgbRings {
  const rings = new IgbRings(hostMemory(mem), { read32: (o) => mmio.mmioRead(0, o, 4), write32: (o, v) => mmio.mmioWrite(0, o, 4, v) }, { txCount: RING, rxCount: RING, bufSize: BUF });
  const err = rings.setup(planDma(base, 1, RING, RING, BUF), 1);
  if (err !== null) throw new Error(err);
  return rings;
}

function frameTo(dst: number, src: number): Uint8Array {
  const f = new Uint8Array(FRAME);
  for (let i = 0; i < 6; i++) {
    f[i] = Math.floor(dst / 2 ** (8 * (5 - i))) & 0xff;
    f[6 + i] = Math.floor(src / 2 ** (8 * (5 - i))) & 0xff;
  }
  f[12] = 0x08;
  return f;
}

interface Rig {
  nic: Nic;
  /** Send `packets`; returns the nanoseconds spent inside the doorbell writes (the NIC's processing), 0 untimed. */
  run(packets: number, timed?: boolean): number;
}

function rig(toWire: boolean): Rig {
  const mem = new PhysMem();
  let wireFrames = 0;
  const nic = new Nic({
    mem,
    translator: IDENTITY_TRANSLATOR,
    msiSink: { msiWrite: () => undefined },
    template: { maxVfs: 2, queuesPerVf: 1 },
    uplink: () => {
      wireFrames++;
    },
  });
  nic.setNumVfs(2);
  nic.setVfConfig(0, { ...defaultVfPortConfig(), mac: MAC_A });
  nic.setVfConfig(1, { ...defaultVfPortConfig(), mac: MAC_B });
  const a = ringUp(nic.vfMmio(0), mem, 0x100_0000);
  const b = ringUp(nic.vfMmio(1), mem, 0x200_0000);
  const f = frameTo(toWire ? MAC_REMOTE : MAC_B, MAC_A);
  const drop = (): void => undefined;
  return {
    nic,
    run(packets: number, timed = true): number {
      let nicNs = 0;
      for (let sent = 0; sent < packets; sent += BATCH) {
        for (let k = 0; k < BATCH; k++) a.xmit(f, FRAME, 0);
        if (timed) {
          const t0 = performance.now();
          a.kickQueue(0);
          nicNs += (performance.now() - t0) * 1e6;
        } else a.kickQueue(0);
        a.reclaimQueue(0);
        if (!toWire) b.poll(1, BATCH, drop);
      }
      void wireFrames;
      return nicNs;
    },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

function measure(toWire: boolean): { median: number; runs: number[]; nicAloneMedian: number; nicAloneRuns: number[]; delivered: number } {
  const r = rig(toWire);
  r.run(200_000); // warm-up (JIT)
  const runs: number[] = [];
  const nicAlone: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const nicNs = r.run(PACKETS);
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    runs.push(Math.round(PACKETS / dt));
    nicAlone.push(Math.round(PACKETS / (nicNs / 1e9)));
  }
  const st = toWire ? r.nic.wireStats().txPackets : r.nic.stats(1).rxPackets;
  return { median: median(runs), runs, nicAloneMedian: median(nicAlone), nicAloneRuns: nicAlone, delivered: st };
}

async function allocationCheck(): Promise<{ packets: number; heapDeltaBytes: number; bytesPerPacket: number; gcEvents: number }> {
  const r = rig(false);
  r.run(400_000, false);
  let gcEvents = 0;
  const obs = new PerformanceObserver((list) => {
    gcEvents += list.getEntries().length;
  });
  await new Promise((res) => setTimeout(res, 10));
  obs.observe({ entryTypes: ["gc"] });
  const packets = 4_000_000;
  const h0 = process.memoryUsage().heapUsed;
  r.run(packets, false);
  const h1 = process.memoryUsage().heapUsed;
  await new Promise((res) => setTimeout(res, 50));
  obs.disconnect();
  return { packets, heapDeltaBytes: h1 - h0, bytesPerPacket: (h1 - h0) / packets, gcEvents };
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const vfToVf = measure(false);
  const vfToWire = measure(true);
  const alloc = await allocationCheck();
  const result = { frameBytes: FRAME, batch: BATCH, ring: RING, packetsPerRun: PACKETS, vfToVf, vfToWire, alloc };
  if (json) {
    process.stdout.write(JSON.stringify(result, null, 2) + "\n");
    return;
  }
  const fmt = (n: number): string => `${(n / 1e6).toFixed(2)} M pkt/s`;
  process.stdout.write(
    [
      `NIC data plane with the igb ring driver at both ends, ${FRAME}-byte frames, batches of ${BATCH}, ring ${RING}, median of ${RUNS} runs of ${PACKETS}`,
      `  VF→VF  (TX desc → VEB → RX desc): ${fmt(vfToVf.median)} with the drivers, ${fmt(vfToVf.nicAloneMedian)} NIC alone   runs ${vfToVf.runs.map(fmt).join(", ")}`,
      `  VF→wire (TX desc → VEB → uplink): ${fmt(vfToWire.median)} with the drivers, ${fmt(vfToWire.nicAloneMedian)} NIC alone   runs ${vfToWire.runs.map(fmt).join(", ")}`,
      `  allocation over ${alloc.packets} VF→VF packets: heap ${alloc.heapDeltaBytes >= 0 ? "+" : ""}${alloc.heapDeltaBytes} B (${alloc.bytesPerPacket.toFixed(4)} B/pkt), GC events ${alloc.gcEvents}`,
    ].join("\n") + "\n",
  );
}

void main();
