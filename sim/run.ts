/**
 * One simulated run: build the platform, the backend and the traffic, warm up, measure, stop the
 * sources, drain, and report. Everything reported comes from the model: rates from frames that
 * reached their sinks inside the window, CPU from the time charged to cores, exits from the guests'
 * exit counters, interrupts from the guests' kernels, IOTLB behaviour from the remapping unit's
 * counters. Deterministic for a seed: nothing reads the wall clock or Math.random.
 */
import { IovError } from "../src/errors.js";
import { EXIT_REASONS, newExitCounters, type ExitCounters, type ExitReason } from "../src/hypervisor-glue/exits.js";
import { DROP_REASONS } from "../src/nic/counters.js";
import { Engine } from "./engine/engine.js";
import { applyCostOverrides, perByteNs, resolveTimeCostsNs } from "./costs.js";
import { CORE_CLASSES, Workers, type Core, type CoreClass, type Worker } from "./model/cpu.js";
import type { CaptureSet } from "./model/capture.js";
import { Ledger } from "./model/ledger.js";
import { Platform } from "./model/platform.js";
import { WindowStats } from "./model/window.js";
import type { BackendContext, BackendInstance, CoreSet } from "./backends/types.js";
import { buildSriov, vfTsoMaxFrame } from "./backends/sriov/backend.js";
import { buildXenPv, xenGsoMaxFrame } from "./backends/xen/backend.js";
import { buildVirtio, virtioTsoMaxFrame } from "./backends/virtio/backend.js";
import { buildE1000, e1000TsoMaxFrame } from "./backends/e1000/backend.js";
import { BornTable, vmMac } from "./traffic/packets.js";
import { buildTraffic, checkTraffic, maxFrameOf, PcapFrames } from "./traffic.js";
import { NETBACK_MODELS, VIRTIO_BUSY_POLL_MAX_US, type BackendName, type RunParams } from "./params.js";

export interface ClassCpu {
  readonly cores: number;
  /** Core-seconds per second spent busy (sum of utilisation over the class's cores). */
  readonly busyCores: number;
  /** busyCores / cores. */
  readonly utilisation: number;
}

export interface RunResult {
  readonly backend: BackendName;
  readonly vms: number;
  readonly seed: number;
  readonly traffic: { readonly kind: string; readonly direction: string; readonly frameBytes: number };
  readonly windowUs: number;
  /** Data frames delivered in the window: L2 rate counting the 4-byte FCS (no preamble/IFG), and packets. */
  readonly gbps: number;
  readonly mpps: number;
  /** Transport payload rate. */
  readonly goodputGbps: number;
  /**
   * How the data rate is shared: each VM's Gb/s (as `gbps`, the frames at the VM's guest end: those
   * it received, and those it sent that reached the peer) and Jain's fairness index over the VMs
   * (1: all equal; 1/vms: one VM got everything).
   */
  readonly perVm: { readonly gbps: readonly number[]; readonly jain: number };
  readonly latencyUs: { readonly p50: number; readonly p99: number; readonly mean: number; readonly samples: number };
  readonly cpu: Readonly<Record<CoreClass, ClassCpu>>;
  /** VM exits per second by reason, summed over the VMs (Dom0's hypercalls apart). */
  readonly exitsPerSec: Readonly<Record<string, number>>;
  readonly exitsPerPacket: number;
  /** Interrupts (and Xen upcalls) taken by the VMs' kernels per second. */
  readonly guestInterruptsPerSec: number;
  /** MSI messages from the NIC per second. */
  readonly msisPerSec: number;
  readonly dom0HypercallsPerSec: number;
  readonly iotlb: { readonly hits: number; readonly misses: number; readonly hitRate: number };
  readonly pcie: { readonly upUtilisation: number; readonly downUtilisation: number };
  readonly wire: { readonly outUtilisation: number; readonly inUtilisation: number };
  readonly conservation: {
    readonly offered: number;
    readonly delivered: number;
    readonly dropped: Readonly<Record<string, number>>;
    readonly inFlight: number;
  };
  /** The backend's counters over the whole run (window, drain and warm-up), and with TCP traffic the streams' loss recovery (tcpRetransmits, tcpFastRetransmits, tcpTimeouts, tcpSpuriousTimeouts, tcpOutOfOrder, tcpDuplicates; with host.guestGro the guests' GRO aggregates and the segments in them, groAggregates and groSegments; with host.guestGso the guests' GSO super-segments and the segments cut from them, gsoSuperSegments and gsoSegments; with a device's TSO (sriov.tso, virtio.tso, xen.gso) the super-frames the guests handed over and their segments, tsoFrames and tsoSegments, the GSO packets they received and theirs, rxGsoPackets and rxGsoSegments, and where the host takes part hostTsoPackets (handed to the PF's TSO), hostGsoSegments (cut in software for a port) and hostGroAggregates / hostGroSegments (the host's GRO); with virtio.busyPollUs the vhost workers' poll slices and the polls that found work before the timeout, vhostBusyPolls and vhostBusyPollHits). */
  readonly counters: Readonly<Record<string, number>>;
  /**
   * Events inside the window: the backend's counters, and the guests' NAPI polls (`guestPolls`)
   * and interrupts/upcalls (`guestInterrupts`), the NIC's MSI messages (`msis`), the VMs' exits
   * (`exits`), Dom0's hypercalls (`dom0Hypercalls`) and the pure TCP ACKs that reached their sink
   * (`tcpAcks`).
   */
  readonly countersInWindow: Readonly<Record<string, number>>;
  /** Simulated events dispatched (for the benchmark: simulated work per wall second). */
  readonly events: number;
}

/** Further drains (each drainUs, at least 1 ms) while frames are still on their way after the first. */
const EXTRA_DRAINS = 50;

export interface RunOptions {
  readonly capture?: CaptureSet;
  /** Called once the run has ended with its workers (name, core, priority, steps, CPU time): for tests and tools. */
  readonly workers?: (list: readonly Worker[]) => void;
}

function makeCores(engine: Engine, cls: CoreClass, n: number): Core[] {
  return Array.from({ length: n }, (_, index) => ({ res: engine.addResource(`${cls}.core${index}`, "cpu"), cls, index }));
}

function sumExits(guests: readonly { exits: ExitCounters }[]): ExitCounters {
  const c = newExitCounters();
  for (const g of guests) for (const r of EXIT_REASONS) c[r] += g.exits[r];
  return c;
}

interface Snap {
  exits: ExitCounters;
  polls: number;
  counters: Record<string, number>;
  dom0Hypercalls: number;
  interrupts: number;
  msis: number;
  iotlbHits: number;
  iotlbMisses: number;
}

/**
 * The data frames' size as reported (with FCS): TCP segments of the MTU, requests for
 * request/response, a replayed capture's mean frame (rounded).
 */
function frameBytesOf(t: RunParams["traffic"], pcap: PcapFrames | undefined): number {
  switch (t.kind) {
    case "tcp":
      return t.mtu + 18;
    case "rr":
      return Math.max(64, t.reqBytes + 46);
    case "pcap":
      return pcap !== undefined ? Math.round(pcap.meanLen) + 4 : 0; // + FCS
    case "udp":
      return t.frameBytes;
  }
}



function buildBackend(ctx: BackendContext): BackendInstance {
  switch (ctx.p.backend) {
    case "sriov":
      return buildSriov(ctx);
    case "xen-pv":
      return buildXenPv(ctx);
    case "virtio":
      return buildVirtio(ctx);
    case "e1000":
      return buildE1000(ctx);
  }
}

export function checkRunParams(p: RunParams): void {
  const h = p.host;
  const ints: Array<[string, number, number, number]> = [
    ["vms", p.vms, 1, 256],
    ["host.guestCores", h.guestCores, 1, 1024],
    ["host.hostCores", h.hostCores, 1, 1024],
    ["host.vhostCores", h.vhostCores, 1, 1024],
    ["host.ringEntries", h.ringEntries, 64, 4096],
    ["host.iotlbEntries", h.iotlbEntries, 0, 1 << 16],
    ["host.hostQueues", h.hostQueues, 1, 8],
    ["host.guestHz", h.guestHz, 0, 10_000],
    ["xen.queues", p.xen.queues, 1, 8],
    ["virtio.queueSize", p.virtio.queueSize, 16, 4096],
    ["virtio.busyPollUs", p.virtio.busyPollUs, 0, VIRTIO_BUSY_POLL_MAX_US],
    ["sriov.deferredBatch", p.sriov.deferredBatch, 1, 1 << 20],
  ];
  for (const [name, v, lo, hi] of ints)
    if (!Number.isInteger(v) || v < lo || v > hi) throw new IovError("ERANGE", `${name} = ${v} outside ${lo}..${hi}`, { [name]: v });
  if (h.ringEntries % 8 !== 0) throw new IovError("EINVAL", `host.ringEntries ${h.ringEntries} must be a multiple of 8`);
  if (!NETBACK_MODELS.includes(p.xen.netback)) throw new IovError("EINVAL", `xen.netback ${JSON.stringify(p.xen.netback)} is not one of ${NETBACK_MODELS.join(", ")}`);
  if (p.xen.queues > 1 && p.xen.netback !== "per-queue")
    throw new IovError("EINVAL", `xen.queues ${p.xen.queues} needs xen.netback per-queue (multi-queue VIFs came with xenvif's per-queue netback), not ${p.xen.netback}`);
  if ((p.virtio.queueSize & (p.virtio.queueSize - 1)) !== 0) throw new IovError("EINVAL", `virtio.queueSize ${p.virtio.queueSize} must be a power of two`);
  if (!(h.itr >= 0 && h.itr <= 500_000)) throw new IovError("ERANGE", `host.itr ${h.itr} outside 0..500000 interrupts/s`);
  if (!Number.isInteger(p.sriov.bufferStride) || p.sriov.bufferStride < 2048 || p.sriov.bufferStride % 2048 !== 0)
    throw new IovError("EINVAL", `sriov.bufferStride ${p.sriov.bufferStride} must be a multiple of 2048`);
  for (const [k, v] of [["warmupUs", p.warmupUs], ["measureUs", p.measureUs], ["drainUs", p.drainUs]] as const)
    if (!(v >= 0 && Number.isFinite(v)) || (k === "measureUs" && v <= 0)) throw new IovError("ERANGE", `${k} ${v} must be ≥ 0 (measureUs > 0)`);
  if (!Number.isSafeInteger(p.seed)) throw new IovError("EINVAL", `seed ${p.seed} must be an integer`);
  checkTraffic(p.traffic, p.vms);
}

export function runOnce(p: RunParams, opts: RunOptions = {}): RunResult {
  checkRunParams(p);
  const costs = applyCostOverrides(p.costs);
  const t = resolveTimeCostsNs(costs);
  const engine = new Engine({ seed: p.seed, initialEvents: 4096 });
  const pcap = p.traffic.kind === "pcap" && p.traffic.pcapFile !== undefined ? new PcapFrames(p.traffic.pcapFile, p.traffic.pcapReader) : undefined;
  const maxFrame = pcap !== undefined ? Math.max(60, pcap.maxLen) : maxFrameOf(p.traffic);
  const backend = p.backend;
  const vfs = backend === "sriov" ? p.vms : 0;
  const ledger = new Ledger();
  const platform = new Platform({
    engine,
    ledger,
    costs,
    t,
    vfs,
    vfQueues: 1,
    pfQueues: Math.max(1, p.host.hostQueues),
    hostMemoryBytes: Math.max(1, p.vms) * 64 * 2 ** 20 + 512 * 2 ** 20,
    iotlbEntries: p.host.iotlbEntries,
    pcieGen: p.host.pcieGen,
    pcieWidth: p.host.pcieWidth,
    itr: p.host.itr,
    slotBytes: Math.max(2048, maxFrame),
    ...(opts.capture !== undefined ? { capture: opts.capture } : {}),
  });
  const workers = new Workers(engine);
  const cores: CoreSet = {
    guest: makeCores(engine, "guest", p.host.guestCores),
    host: makeCores(engine, "host", p.host.hostCores),
    vhost: makeCores(engine, "vhost", p.host.vhostCores),
  };
  const window = new WindowStats();
  window.setVms(p.vms);
  const warm = p.warmupUs * 1000;
  const stopAt = warm + p.measureUs * 1000;
  window.start = warm;
  window.end = stopAt;
  const copyNsPerByte = perByteNs(costs, "memcpyPerByte");
  let kickVm: (vm: number) => void = () => undefined;
  const traffic = buildTraffic(p.traffic, {
    engine,
    ledger,
    window,
    born: new BornTable(),
    vms: p.vms,
    stopAt,
    stackTxNs: t.guestStackTxPerPacket,
    stackRxNs: t.guestStackRxPerPacket,
    pureAckNs: t.tcpPureAckPerPacket,
    copyNsPerByte,
    gro: p.host.guestGro,
    groNs: t.groPerSegment,
    gso: p.host.guestGso,
    gsoNs: t.gsoPerSegment,
    tsoMaxFrame: p.backend === "virtio" && p.virtio.tso ? virtioTsoMaxFrame(p.virtio.queueSize, maxFrame) : p.backend === "sriov" && p.sriov.tso ? vfTsoMaxFrame(p.host.ringEntries, maxFrame) : p.backend === "xen-pv" && p.xen.gso ? xenGsoMaxFrame() : p.backend === "e1000" && p.e1000.tso ? e1000TsoMaxFrame() : 0,
    wireDstMac: vmMac,
    toHost: (slot) => platform.toHost(slot),
    wireInFreeAt: () => platform.wireInFreeAt,
    pool: platform.pool,
    kickVm: (vm) => kickVm(vm),
  }, pcap);
  const inst = buildBackend({ p, platform, workers, cores, costs, t, copyNsPerByte, ledger, capture: opts.capture, apps: traffic.apps, maxFrame });
  kickVm = (vm) => inst.kernels[vm]!.kick();
  const hPace = engine.handler((vm) => inst.kernels[vm]!.kick(), "app.pace");
  traffic.apps.forEach((a, i) => {
    a.armPacer = (at) => {
      engine.scheduleAt(Math.max(at, engine.now), hPace, i);
    };
  });
  platform.peer = traffic.peer;

  // timers: TCP retransmission timeouts and delayed ACKs, ticking until the drain ends
  const drainEnd = stopAt + p.drainUs * 1000;
  if (p.traffic.kind === "tcp") {
    const period = traffic.tickNs;
    const hRto = engine.handler(() => {
      traffic.tcpTimers();
      if (engine.now + period < drainEnd) engine.scheduleIn(period, hRto);
    }, "tcp.rto");
    engine.scheduleIn(period, hRto);
  }

  // the guests' timer ticks (host.guestHz), staggered over the period, until the sources stop
  if (p.host.guestHz > 0) {
    const period = 1e9 / p.host.guestHz;
    const hTick = engine.handler((vm) => {
      inst.kernels[vm]!.onTick();
      if (engine.now + period < stopAt) engine.scheduleIn(period, hTick, vm);
    }, "guest.tick");
    for (let vm = 0; vm < p.vms; vm++) engine.scheduleAt(((vm + 0.5) * period) / p.vms, hTick, vm);
  }

  // start
  for (const k of inst.kernels) k.kick();
  traffic.peer.start();

  const snap = (): Snap => {
    const v = platform.vtd.stats();
    let interrupts = 0;
    let polls = 0;
    for (const k of inst.kernels) {
      interrupts += k.interrupts;
      polls += k.polls;
    }
    return {
      exits: sumExits(inst.guests),
      polls,
      counters: { ...inst.counters(), ...traffic.tcpCounters() },
      dom0Hypercalls: inst.host === undefined ? 0 : inst.host.exits.hypercall,
      interrupts,
      msis: platform.msis,
      iotlbHits: v.iotlbHits,
      iotlbMisses: v.iotlbMisses,
    };
  };

  engine.run(warm);
  engine.resetAccounting();
  const s0 = snap();
  engine.run(stopAt);
  const s1 = snap();
  const stats = new Map(engine.resourceStats().map((r) => [r.name, r]));
  const cpu = {} as Record<CoreClass, ClassCpu>;
  for (const cls of CORE_CLASSES) {
    const list = cores[cls];
    let busy = 0;
    for (const c of list) busy += stats.get(c.res.name)!.utilisation;
    cpu[cls] = { cores: list.length, busyCores: busy, utilisation: list.length > 0 ? busy / list.length : 0 };
  }
  const util = (name: string): number => stats.get(name)?.utilisation ?? 0;

  // drops inside the NIC (its counters), added to the ledger's software drops after the drain
  const nic = platform.nic;
  const fnStats = () => [nic.stats("pf"), ...Array.from({ length: vfs }, (_, k) => nic.stats(k))];
  const nicDrops = (): number => {
    let n = 0;
    for (const st of fnStats()) for (const r of DROP_REASONS) n += st.drops[r];
    const w = nic.wireStats();
    return n + w.rxUnmatched + w.linkDownDrops + w.rxMalformed;
  };

  // drain: sources are stopped; let everything in flight reach its sink or be dropped. A backlog
  // deeper than drainUs (a narrow PCIe link, an IOMMU walking on every access, saturating senders)
  // is drained further, drainUs at a time, while frames are on their way and events pending.
  engine.run(drainEnd);
  const more = Math.max(p.drainUs, 1000) * 1000;
  for (let k = 0; k < EXTRA_DRAINS && engine.pending > 0 && ledger.offered - ledger.delivered - ledger.droppedTotal - nicDrops() > 0; k++) engine.run(engine.now + more);

  const dropReason = DROP_REASONS.map((r) => ledger.reason(`nic:${r}`));
  for (const st of fnStats()) DROP_REASONS.forEach((r, i) => ledger.drop(dropReason[i]!, st.drops[r]));
  const w = nic.wireStats();
  ledger.drop(ledger.reason("nic:wire-unmatched"), w.rxUnmatched);
  ledger.drop(ledger.reason("nic:wire-link-down"), w.linkDownDrops);
  ledger.drop(ledger.reason("nic:wire-malformed"), w.rxMalformed);

  const dur = window.durationNs;
  const perSec = (n: number): number => (n * 1e9) / dur;
  const exitsPerSec: Record<string, number> = {};
  let exitsInWindow = 0;
  for (const r of EXIT_REASONS) {
    const d = s1.exits[r as ExitReason] - s0.exits[r as ExitReason];
    exitsInWindow += d;
    if (d > 0) exitsPerSec[r] = perSec(d);
  }
  const lat = window.latency;
  const led = ledger.snapshot();
  const countersInWindow: Record<string, number> = {};
  for (const [k, v] of Object.entries(s1.counters)) countersInWindow[k] = v - (s0.counters[k] ?? 0);
  countersInWindow.guestPolls = s1.polls - s0.polls;
  countersInWindow.guestInterrupts = s1.interrupts - s0.interrupts;
  countersInWindow.msis = s1.msis - s0.msis;
  countersInWindow.exits = exitsInWindow;
  countersInWindow.dom0Hypercalls = s1.dom0Hypercalls - s0.dom0Hypercalls;
  countersInWindow.tcpAcks = window.acks;
  const hits = s1.iotlbHits - s0.iotlbHits;
  const misses = s1.iotlbMisses - s0.iotlbMisses;
  opts.workers?.(workers.all);
  return {
    backend,
    vms: p.vms,
    seed: p.seed,
    traffic: { kind: p.traffic.kind, direction: p.traffic.direction, frameBytes: frameBytesOf(p.traffic, pcap) },
    windowUs: dur / 1000,
    gbps: ((window.bytes + 4 * window.frames) * 8) / dur,
    mpps: (window.frames * 1e3) / dur,
    goodputGbps: (window.payloadBytes * 8) / dur,
    perVm: { gbps: Array.from(window.perVmBytes, (b) => (b * 8) / dur), jain: window.jain },
    latencyUs: { p50: lat.quantile(0.5) / 1000, p99: lat.quantile(0.99) / 1000, mean: lat.mean / 1000, samples: lat.total },
    cpu,
    exitsPerSec,
    exitsPerPacket: window.frames > 0 ? exitsInWindow / window.frames : 0,
    guestInterruptsPerSec: perSec(s1.interrupts - s0.interrupts),
    msisPerSec: perSec(s1.msis - s0.msis),
    dom0HypercallsPerSec: perSec(s1.dom0Hypercalls - s0.dom0Hypercalls),
    iotlb: { hits, misses, hitRate: hits + misses > 0 ? hits / (hits + misses) : 1 },
    pcie: { upUtilisation: util("pcie.up"), downUtilisation: util("pcie.down") },
    wire: { outUtilisation: util("wire.out"), inUtilisation: util("wire.in") },
    conservation: { offered: led.offered, delivered: led.delivered, dropped: led.dropped, inFlight: led.offered - led.delivered - led.droppedTotal },
    counters: { ...inst.counters(), ...traffic.tcpCounters() },
    countersInWindow,
    events: engine.processed,
  };
}
