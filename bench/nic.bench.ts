/**
 * NIC data-plane throughput: 64-byte frames, TX descriptor → VEB → RX descriptor (VF→VF) and
 * TX descriptor → VEB → uplink (VF→wire), identity DMA translation, on one core.
 * Packets per wall second, median of 5 runs; then an allocation check (heap growth and GC count
 * over a long run).   npx tsx bench/nic.bench.ts [--json]
 */
import { PerformanceObserver } from "node:perf_hooks";
import { PhysMem } from "../src/memory/physmem.js";
import { IDENTITY_TRANSLATOR } from "../src/pcie/dma.js";
import type { MmioHandler } from "../src/pcie/function.js";
import { DESC_SIZE, E1000_TXD_CMD_EOP, E1000_TXD_CMD_RS, writeRxDesc, writeTxDesc } from "../src/nic/descriptors.js";
import { Nic } from "../src/nic/nic.js";
import { defaultVfPortConfig } from "../src/nic/port-config.js";
import {
  E1000_RDBAH,
  E1000_RDBAL,
  E1000_RDH,
  E1000_RDLEN,
  E1000_RDT,
  E1000_RXDCTL,
  E1000_RXDCTL_QUEUE_ENABLE,
  E1000_SRRCTL,
  E1000_TDBAH,
  E1000_TDBAL,
  E1000_TDLEN,
  E1000_TDT,
  E1000_TXDCTL,
  E1000_TXDCTL_QUEUE_ENABLE,
} from "../src/nic/regs.js";

const RING = 1024;
const BATCH = 256;
const FRAME = 64;
const RUNS = 5;
const PACKETS = 2_000_000;

const MAC_A = 0x0200_0000_0100;
const MAC_B = 0x0200_0000_0101;
const MAC_REMOTE = 0x0299_0000_0001;

function ringUp(mmio: MmioHandler, mem: PhysMem, base: number, dst: number, src: number): void {
  const w = (o: number, v: number): void => mmio.mmioWrite(0, o, 4, v);
  const tx = base;
  const rx = base + RING * DESC_SIZE;
  const bufs = base + 2 * RING * DESC_SIZE;
  const f = new Uint8Array(FRAME);
  for (let i = 0; i < 6; i++) {
    f[i] = Math.floor(dst / 2 ** (8 * (5 - i))) & 0xff;
    f[6 + i] = Math.floor(src / 2 ** (8 * (5 - i))) & 0xff;
  }
  f[12] = 0x08;
  for (let i = 0; i < RING; i++) {
    const tb = bufs + i * 2048;
    mem.writeFrom(tb, f);
    writeTxDesc(mem, tx + i * DESC_SIZE, { addr: tb, len: FRAME, cmd: E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS });
    writeRxDesc(mem, rx + i * DESC_SIZE, bufs + (RING + i) * 2048);
  }
  w(E1000_TDBAL(0), tx);
  w(E1000_TDBAH(0), 0);
  w(E1000_TDLEN(0), RING * DESC_SIZE);
  w(E1000_TXDCTL(0), E1000_TXDCTL_QUEUE_ENABLE);
  w(E1000_RDBAL(0), rx);
  w(E1000_RDBAH(0), 0);
  w(E1000_RDLEN(0), RING * DESC_SIZE);
  w(E1000_SRRCTL(0), 2);
  w(E1000_RXDCTL(0), E1000_RXDCTL_QUEUE_ENABLE);
  w(E1000_RDT(0), RING - 1);
}

interface Rig {
  nic: Nic;
  run(packets: number): void;
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
  const a = nic.vfMmio(0);
  const b = nic.vfMmio(1);
  ringUp(a, mem, 0x100_0000, toWire ? MAC_REMOTE : MAC_B, MAC_A);
  ringUp(b, mem, 0x200_0000, MAC_A, MAC_B);
  let tail = 0;
  return {
    nic,
    run(packets: number): void {
      for (let sent = 0; sent < packets; sent += BATCH) {
        tail = (tail + BATCH) % RING;
        a.mmioWrite(0, E1000_TDT(0), 4, tail);
        if (!toWire) {
          // the receiving driver hands every consumed buffer back
          const h = b.mmioRead(0, E1000_RDH(0), 4);
          b.mmioWrite(0, E1000_RDT(0), 4, (h + RING - 1) % RING);
        }
      }
      void wireFrames;
    },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

function measure(toWire: boolean): { median: number; runs: number[]; delivered: number } {
  const r = rig(toWire);
  r.run(200_000); // warm-up (JIT)
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    r.run(PACKETS);
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    runs.push(Math.round(PACKETS / dt));
  }
  const st = toWire ? r.nic.wireStats().txPackets : r.nic.stats(1).rxPackets;
  return { median: median(runs), runs, delivered: st };
}

async function allocationCheck(): Promise<{ packets: number; heapDeltaBytes: number; bytesPerPacket: number; gcEvents: number }> {
  const r = rig(false);
  r.run(400_000);
  let gcEvents = 0;
  const obs = new PerformanceObserver((list) => {
    gcEvents += list.getEntries().length;
  });
  await new Promise((res) => setTimeout(res, 10));
  obs.observe({ entryTypes: ["gc"] });
  const packets = 4_000_000;
  const h0 = process.memoryUsage().heapUsed;
  r.run(packets);
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
      `NIC data plane, ${FRAME}-byte frames, batches of ${BATCH}, ring ${RING}, median of ${RUNS} runs of ${PACKETS}`,
      `  VF→VF  (TX desc → VEB → RX desc): ${fmt(vfToVf.median)}   runs ${vfToVf.runs.map(fmt).join(", ")}`,
      `  VF→wire (TX desc → VEB → uplink): ${fmt(vfToWire.median)}   runs ${vfToWire.runs.map(fmt).join(", ")}`,
      `  allocation over ${alloc.packets} VF→VF packets: heap ${alloc.heapDeltaBytes >= 0 ? "+" : ""}${alloc.heapDeltaBytes} B (${alloc.bytesPerPacket.toFixed(4)} B/pkt), GC events ${alloc.gcEvents}`,
    ].join("\n") + "\n",
  );
}

void main();
