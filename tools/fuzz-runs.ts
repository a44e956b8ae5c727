/**
 * Random whole runs of the simulator, checked against the invariants every run must keep:
 *
 *   npx tsx tools/fuzz-runs.ts [--runs 500] [--seed 1] [--measure-us 1000] [--max-vms 6] [--json]
 *
 * Each run draws a backend, traffic (UDP, TCP, request/response, or a pcap replay of a capture the
 * tool makes first), a direction, 1..max-vms VMs, a frame size of 64..9018 B, a rate, the host's
 * cores, interrupt moderation, ring and IOTLB sizes, PCIe width, halting vCPUs, the passthrough
 * IOMMU policy, Xen's grant mode, queues and netback model, the virtqueue size, TCP options, a
 * seed, and up to a few cost-table entries scaled ×0.25..×10. It then checks:
 *  - conservation: every frame offered is delivered or dropped with a reason, none left in flight,
 *    and no guest driver refused a frame after reporting room for it (guest:tx-refused);
 *  - determinism: the same parameters run again give the same result, to the byte;
 *  - a passthrough VF with posted interrupts, a static mapping and spinning vCPUs takes no VM exit;
 *  - UDP and pcap replays: every data frame delivered in the window has its latency (UDP frames carry
 *    a tag, a replayed capture's frames their sequence number in the IPv4 ID);
 *  - every data frame delivered in the window is put to a VM: the VMs' rates add up to the run's;
 *  - no error but refused parameters (EINVAL/ERANGE: e.g. a fractional bit count); a livelock is
 *    an ELOOP error, so it is found rather than hung.
 * The first failure is shrunk by fast-check and printed with its parameters (exit 1); `--json` prints
 * a summary object. Found this way: a multi-queue netfront losing frames, drains too short for deep
 * backlogs, a doorbell release re-arming itself forever.
 */
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CaptureSet } from "../sim/model/capture.js";
import { FileSink } from "../sim/pcap/sink.js";
import { COST_KEYS, DEFAULT_COSTS } from "../sim/costs.js";
import { BACKENDS, DEFAULT_RUN, NETBACK_MODELS, type RunParams } from "../sim/params.js";
import { runOnce } from "../sim/run.js";
import { small } from "../sim/small.js";

interface Args {
  runs: number;
  seed: number;
  measureUs: number;
  maxVms: number;
  json: boolean;
}

function usage(msg: string): never {
  process.stderr.write(`fuzz-runs: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const a: Args = { runs: 500, seed: 1, measureUs: 1000, maxVms: 6, json: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    if (k === "--json") {
      a.json = true;
      continue;
    }
    const s = argv[++i];
    const n = Number(s);
    if (s === undefined || !Number.isSafeInteger(n) || n < 1) usage(`${k}: expected a positive integer, found ${s === undefined ? "nothing" : `"${s}"`}`);
    if (k === "--runs") a.runs = n;
    else if (k === "--seed") a.seed = n;
    else if (k === "--measure-us") a.measureUs = n;
    else if (k === "--max-vms") a.maxVms = n;
    else usage(`unknown option ${k}`);
  }
  return a;
}

const a = parseArgs(process.argv.slice(2));
const dir = mkdtempSync(join(tmpdir(), "pciov-fuzz-"));

/** Two captures to replay: 1518 B frames of a UDP stream and 9014 B TCP segments with their ACKs. */
function capture(name: string, p: RunParams): string {
  const file = join(dir, name);
  const cap = new CaptureSet();
  cap.add("wire", new FileSink(file));
  runOnce(p, { capture: cap });
  cap.close();
  return file;
}
const captures = [
  capture("udp.pcap", small({ backend: "sriov", direction: "tx", vms: 2, frameBytes: 1518, measureUs: 200 })),
  capture("jumbo-tcp.pcap", small({ backend: "virtio", kind: "tcp", direction: "tx", vms: 1, frameBytes: 9018, measureUs: 200, traffic: { mtu: 9000 } })),
];

const scalable = COST_KEYS.filter((k) => {
  const u = DEFAULT_COSTS[k].unit;
  return u === "cycles" || u === "ns" || u === "cycles/byte";
});

const draw = fc.record({
  backend: fc.constantFrom(...BACKENDS),
  kind: fc.constantFrom("udp" as const, "tcp" as const, "rr" as const, "pcap" as const),
  direction: fc.constantFrom("tx" as const, "rx" as const, "g2g" as const),
  vms: fc.integer({ min: 1, max: a.maxVms }),
  frameBytes: fc.integer({ min: 64, max: 9018 }),
  rateMbps: fc.constantFrom(0, 50, 500, 3000, 9000),
  flows: fc.integer({ min: 1, max: 6 }),
  windowKiB: fc.constantFrom(8, 64, 512),
  ackEvery: fc.integer({ min: 1, max: 4 }),
  sack: fc.boolean(),
  timestamps: fc.boolean(),
  rtoUs: fc.constantFrom(200, 1000, 10000),
  reqBytes: fc.integer({ min: 8, max: 8972 }),
  respBytes: fc.integer({ min: 8, max: 8972 }),
  capture: fc.integer({ min: 0, max: captures.length - 1 }),
  guestCores: fc.integer({ min: 1, max: 6 }),
  hostCores: fc.integer({ min: 1, max: 4 }),
  vhostCores: fc.integer({ min: 1, max: 3 }),
  itr: fc.constantFrom(0, 2000, 8000, 100000),
  ringEntries: fc.constantFrom(64, 128, 512),
  iotlbEntries: fc.constantFrom(0, 8, 512),
  hostQueues: fc.integer({ min: 1, max: 4 }),
  vcpuHalt: fc.boolean(),
  guestGro: fc.boolean(),
  guestGso: fc.boolean(),
  tso: fc.boolean(),
  guestHz: fc.constantFrom(0, 250, 1000),
  pcieWidth: fc.constantFrom(1 as const, 4 as const, 8 as const, 16 as const),
  interrupts: fc.constantFrom("posted" as const, "remapped" as const),
  iommuPage: fc.constantFrom("4k" as const, "2m" as const),
  mapping: fc.constantFrom("static" as const, "strict" as const, "deferred" as const),
  deferredBatch: fc.constantFrom(1, 16, 250),
  bufferStride: fc.constantFrom(2048, 4096, 8192),
  grants: fc.constantFrom("copy" as const, "persistent" as const),
  queues: fc.integer({ min: 1, max: 4 }),
  netback: fc.constantFrom(...NETBACK_MODELS),
  eventIdx: fc.boolean(),
  indirect: fc.boolean(),
  busyPollUs: fc.constantFrom(0, 0, 5, 50),
  queueSize: fc.constantFrom(16, 256, 1024),
  seed: fc.integer({ min: 1, max: 1000 }),
  costs: fc.dictionary(fc.constantFrom(...scalable), fc.constantFrom(0.25, 0.5, 2, 3, 10), { maxKeys: 4 }),
});
type Draw = typeof draw extends fc.Arbitrary<infer T> ? T : never;

function paramsOf(d: Draw): RunParams {
  // guest-to-guest needs two VMs; a capture replays from the wire or from the guests
  const direction = d.kind === "pcap" && d.direction === "g2g" ? "rx" : d.direction;
  const vms = direction === "g2g" ? Math.max(2, d.vms) : d.vms;
  const base = small({ backend: d.backend, vms, seed: d.seed, measureUs: a.measureUs });
  return {
    ...base,
    costs: Object.fromEntries(Object.entries(d.costs).map(([k, m]) => [k, DEFAULT_COSTS[k as (typeof scalable)[number]].value * m])),
    host: { ...base.host, guestCores: d.guestCores, hostCores: d.hostCores, vhostCores: d.vhostCores, itr: d.itr, ringEntries: d.ringEntries, iotlbEntries: d.iotlbEntries, hostQueues: d.hostQueues, vcpuHalt: d.vcpuHalt, guestGro: d.guestGro, guestGso: d.guestGso, guestHz: d.guestHz, pcieWidth: d.pcieWidth },
    sriov: { interrupts: d.interrupts, iommuPage: d.iommuPage, mapping: d.mapping, deferredBatch: d.deferredBatch, bufferStride: d.bufferStride, tso: d.tso },
    xen: { grants: d.grants, queues: d.netback === "per-queue" ? d.queues : 1, netback: d.netback, gso: d.tso },
    virtio: { eventIdx: d.eventIdx, queueSize: d.queueSize, tso: d.tso, indirect: d.indirect, busyPollUs: d.busyPollUs },
    e1000: { tso: d.tso },
    traffic: {
      ...DEFAULT_RUN.traffic,
      kind: d.kind,
      direction,
      frameBytes: d.frameBytes,
      rateMbps: d.rateMbps,
      mtu: Math.max(576, d.frameBytes - 18),
      flows: d.flows,
      windowBytes: d.windowKiB * 1024,
      ackEvery: d.ackEvery,
      sack: d.sack,
      timestamps: d.timestamps,
      rtoUs: d.rtoUs,
      reqBytes: d.reqBytes,
      respBytes: d.respBytes,
      pcapFile: captures[d.capture],
      pcapReader: "pciov",
    },
  };
}

let ran = 0;
let refused = 0;
const started = performance.now();
let failure: string | undefined;
try {
  fc.assert(
    fc.property(draw, (d) => {
      const p = paramsOf(d);
      let r;
      try {
        r = runOnce(p);
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === "EINVAL" || code === "ERANGE") {
          refused++;
          return;
        }
        throw e;
      }
      ran++;
      const c = r.conservation;
      const dropped = Object.values(c.dropped).reduce((x, y) => x + y, 0);
      if (c.inFlight !== 0 || c.offered !== c.delivered + dropped) throw new Error(`conservation: ${JSON.stringify(c)}`);
      if (c.dropped["guest:tx-refused"] !== undefined) throw new Error(`a guest driver refused frames it had reported room for: ${JSON.stringify(c)}`);
      if (JSON.stringify(runOnce(p)) !== JSON.stringify(r)) throw new Error("the same parameters gave a different result");
      if (d.backend === "sriov" && d.interrupts === "posted" && d.mapping === "static" && !d.vcpuHalt && d.guestHz === 0 && Object.keys(r.exitsPerSec).length > 0)
        throw new Error(`a posted-interrupt VF took exits: ${JSON.stringify(r.exitsPerSec)}`);
      const frames = Math.round(r.mpps * r.windowUs);
      if ((d.kind === "udp" || d.kind === "pcap") && r.latencyUs.samples !== frames)
        throw new Error(`${r.latencyUs.samples} of the ${frames} data frames delivered in the window were timed`);
      const perVm = r.perVm.gbps.reduce((x, y) => x + y, 0);
      if (Math.abs(perVm - r.gbps) > 1e-9 * r.gbps) throw new Error(`the VMs' rates add up to ${perVm} Gb/s, the run's is ${r.gbps}`);
    }),
    { numRuns: a.runs, seed: a.seed },
  );
} catch (e) {
  // fast-check's message has the shrunk parameters; what failed is its cause
  const cause = (e as { cause?: unknown }).cause;
  failure = `${(e as Error).message}${cause instanceof Error ? `\nfailed: ${cause.message}` : ""}`;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const seconds = +((performance.now() - started) / 1000).toFixed(1);
if (a.json) process.stdout.write(JSON.stringify({ runs: a.runs, seed: a.seed, ran, refused, seconds, failure: failure ?? null }, null, 2) + "\n");
else if (failure === undefined) process.stdout.write(`fuzz-runs: ${ran} runs kept every invariant (${refused} parameter sets refused as invalid), seed ${a.seed}, ${seconds} s\n`);
if (failure !== undefined) {
  if (!a.json) process.stderr.write(`fuzz-runs: ${failure}\n`);
  process.exit(1);
}
