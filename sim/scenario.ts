/**
 * Scenario files (sim/scenarios/*.yaml): a sweep of runs described once. Read with the config
 * layer's YAML reader, so that every problem is reported as `file:line:col: path: expected …, found …`
 * (a ConfigError, EINVAL) and nothing runs.
 *
 *   name: "…"                         # title of the comparison
 *   description: "…"
 *   series:                           # the lines of the charts; default: one per backend listed
 *     - { name: "xen-pv (copy)", backend: xen-pv, xen: { grants: copy } }
 *   backends: [sriov, xen-pv]         # used when `series` is absent
 *   vms: [1, 8, 32, 60]               # sweep axis 1
 *   frameBytes: [64, 1518]            # sweep axis 2: frame size incl. FCS (UDP; TCP: MTU = frame − 18)
 *   traffic: { kind, direction, rateMbps, mtu, timestamps, window, ackEvery, rtoUs, sack, reqBytes, respBytes, pcap, pcapReader }
 *   host: { guestCores, hostCores, vhostCores, pcieGen, pcieWidth, itr, ringEntries, iotlbEntries, hostQueues, vcpuHalt, guestGro, guestGso, guestHz }
 *   sriov: { interrupts, iommuPage, mapping, deferredBatch, bufferStride, tso }
 *   xen: { grants, queues, netback, gso }
 *   virtio: { eventIdx, queueSize, tso, indirect, busyPollUs }
 *   e1000: { tso }
 *   costs: { <any key of sim/costs.ts>: number }
 *   run: { seed, warmupUs, measureUs, drainUs }
 *   x: vms | frameBytes               # the chart's x axis (default vms)
 *
 * A series may override host, sriov, xen, virtio, e1000, traffic and costs for itself.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isMap, parseDocument } from "yaml";
import { IovError } from "../src/errors.js";
import { ConfigError, makeIssue } from "../src/config/issues.js";
import { Fields, Reader, type Val } from "../src/config/schema.js";
import { applyCostOverrides, COST_KEYS } from "./costs.js";
import {
  BACKENDS,
  DEFAULT_HOST,
  DEFAULT_RUN,
  DEFAULT_SRIOV,
  DEFAULT_VIRTIO,
  DEFAULT_E1000,
  DEFAULT_XEN,
  NETBACK_MODELS,
  VIRTIO_BUSY_POLL_MAX_US,
  type BackendName,
  type HostParams,
  type RunParams,
  type SriovParams,
  type VirtioParams,
  type E1000Params,
  type XenParams,
} from "./params.js";
import { DEFAULT_TRAFFIC, DIRECTIONS, PCAP_READERS, TRAFFIC_KINDS, type TrafficSpec } from "./traffic.js";
import { MAPPING_POLICIES } from "./backends/sriov/iommu-policy.js";
import { PCIE_GENS, PCIE_WIDTHS } from "./wire.js";

export interface Series {
  readonly name: string;
  readonly backend: BackendName;
  /** The run parameters of this series, before the sweep sets vms and frame size. */
  readonly base: RunParams;
}

export interface Scenario {
  readonly file: string;
  readonly name: string;
  readonly description: string;
  readonly series: readonly Series[];
  readonly vms: readonly number[];
  readonly frameBytes: readonly number[];
  /** Whether the file gave `frameBytes` (then a TCP series' MTU follows the frame size: MTU = frame − 18). */
  readonly framesGiven: boolean;
  /** The file's top-level settings as the run parameters of a series of any backend (`compare --backends` adds such series). */
  readonly common: RunParams;
  readonly x: "vms" | "frameBytes";
}

type Mut<T> = { -readonly [K in keyof T]: T[K] };

const TOP_KEYS = ["name", "description", "series", "backends", "vms", "frameBytes", "traffic", "host", "sriov", "xen", "virtio", "e1000", "costs", "run", "x"] as const;
const SERIES_KEYS = ["name", "backend", "traffic", "host", "sriov", "xen", "virtio", "e1000", "costs"] as const;
const TRAFFIC_KEYS = ["kind", "direction", "rateMbps", "mtu", "timestamps", "window", "ackEvery", "rtoUs", "sack", "reqBytes", "respBytes", "pcap", "pcapReader", "frameBytes", "flows"] as const;
const HOST_KEYS = ["guestCores", "hostCores", "vhostCores", "pcieGen", "pcieWidth", "itr", "ringEntries", "iotlbEntries", "hostQueues", "vcpuHalt", "guestGro", "guestGso", "guestHz"] as const;
const SRIOV_KEYS = ["interrupts", "iommuPage", "mapping", "deferredBatch", "bufferStride", "tso"] as const;
const XEN_KEYS = ["grants", "queues", "netback", "gso"] as const;
const VIRTIO_KEYS = ["eventIdx", "queueSize", "tso", "indirect", "busyPollUs"] as const;
const E1000_KEYS = ["tso"] as const;
const RUN_KEYS = ["seed", "warmupUs", "measureUs", "drainUs"] as const;

/** A finite number (integer or not) within [min, max]. */
function num(r: Reader, v: Val, min: number, max: number): number | undefined {
  const x = Reader.scalarValue(v);
  if (typeof x !== "number" || !Number.isFinite(x) || x < min || x > max) {
    r.expected(v, `a number from ${min} to ${max}`);
    return undefined;
  }
  return x;
}

function intList(r: Reader, v: Val, min: number, max: number): number[] | undefined {
  const seen = new Set<number>();
  const out = r.list(v, `a list of integers from ${min} to ${max}`, (it) => {
    const n = r.int(it, min, max);
    if (n !== undefined && seen.has(n)) r.report(it.at, it.path, `${n} is listed twice (every point of the sweep runs once)`);
    if (n !== undefined) seen.add(n);
    return n;
  });
  if (out.length === 0 && Reader.itemCount(v) !== undefined) {
    r.expected(v, "a non-empty list");
    return undefined;
  }
  return out;
}

function readTraffic(r: Reader, v: Val, base: TrafficSpec, file: string): TrafficSpec {
  const f = r.mapping(v, "a traffic mapping", TRAFFIC_KEYS);
  if (f === undefined) return base;
  const t: Mut<TrafficSpec> = { ...base };
  t.kind = f.optWith("kind", (x) => r.oneOf(x, TRAFFIC_KINDS), t.kind);
  t.direction = f.optWith("direction", (x) => r.oneOf(x, DIRECTIONS), t.direction);
  t.rateMbps = f.optWith("rateMbps", (x) => num(r, x, 0, 1e6), t.rateMbps);
  t.mtu = f.optWith("mtu", (x) => r.int(x, 576, 9000), t.mtu);
  t.timestamps = f.optWith("timestamps", (x) => r.bool(x), t.timestamps);
  t.windowBytes = f.optWith("window", (x) => r.size(x, "a window size like 512KiB"), t.windowBytes);
  t.ackEvery = f.optWith("ackEvery", (x) => r.int(x, 1, 64), t.ackEvery);
  t.rtoUs = f.optWith("rtoUs", (x) => num(r, x, 10, 1e7), t.rtoUs);
  t.sack = f.optWith("sack", (x) => r.bool(x), t.sack);
  t.reqBytes = f.optWith("reqBytes", (x) => r.int(x, 8, 8972), t.reqBytes);
  t.respBytes = f.optWith("respBytes", (x) => r.int(x, 8, 8972), t.respBytes);
  t.frameBytes = f.optWith("frameBytes", (x) => r.int(x, 64, 9018), t.frameBytes);
  t.flows = f.optWith("flows", (x) => r.int(x, 1, 1024), t.flows);
  t.pcapReader = f.optWith("pcapReader", (x) => r.oneOf(x, PCAP_READERS), t.pcapReader);
  const pcap = f.opt("pcap");
  if (pcap !== undefined) {
    const s = r.str(pcap, "a path to a pcap or pcapng file");
    if (s !== undefined) t.pcapFile = resolve(dirname(file), s);
  }
  return t;
}

function readHost(r: Reader, v: Val, base: HostParams): HostParams {
  const f = r.mapping(v, "a host mapping", HOST_KEYS);
  if (f === undefined) return base;
  const h: Mut<HostParams> = { ...base };
  h.guestCores = f.optWith("guestCores", (x) => r.int(x, 1, 1024), h.guestCores);
  h.hostCores = f.optWith("hostCores", (x) => r.int(x, 1, 1024), h.hostCores);
  h.vhostCores = f.optWith("vhostCores", (x) => r.int(x, 1, 1024), h.vhostCores);
  h.pcieGen = f.optWith("pcieGen", (x) => r.oneOf(x, PCIE_GENS), h.pcieGen);
  h.pcieWidth = f.optWith("pcieWidth", (x) => r.oneOf(x, PCIE_WIDTHS), h.pcieWidth);
  h.itr = f.optWith("itr", (x) => r.int(x, 0, 500_000), h.itr);
  h.ringEntries = f.optWith("ringEntries", (x) => r.oneOf(x, [64, 128, 256, 512, 1024, 2048, 4096]), h.ringEntries);
  h.iotlbEntries = f.optWith("iotlbEntries", (x) => r.int(x, 0, 65536), h.iotlbEntries);
  h.hostQueues = f.optWith("hostQueues", (x) => r.int(x, 1, 8), h.hostQueues);
  h.vcpuHalt = f.optWith("vcpuHalt", (x) => r.bool(x), h.vcpuHalt);
  h.guestGro = f.optWith("guestGro", (x) => r.bool(x), h.guestGro);
  h.guestGso = f.optWith("guestGso", (x) => r.bool(x), h.guestGso);
  h.guestHz = f.optWith("guestHz", (x) => r.int(x, 0, 10_000), h.guestHz);
  return h;
}

function readSriov(r: Reader, v: Val, base: SriovParams): SriovParams {
  const f = r.mapping(v, "an sriov mapping", SRIOV_KEYS);
  if (f === undefined) return base;
  const s: Mut<SriovParams> = { ...base };
  s.interrupts = f.optWith("interrupts", (x) => r.oneOf(x, ["posted", "remapped"] as const), s.interrupts);
  s.iommuPage = f.optWith("iommuPage", (x) => r.oneOf(x, ["4k", "2m"] as const), s.iommuPage);
  s.mapping = f.optWith("mapping", (x) => r.oneOf(x, MAPPING_POLICIES), s.mapping);
  s.deferredBatch = f.optWith("deferredBatch", (x) => r.int(x, 1, 1 << 20), s.deferredBatch);
  s.bufferStride = f.optWith("bufferStride", (x) => r.oneOf(x, [2048, 4096, 8192, 16384, 32768, 65536]), s.bufferStride);
  s.tso = f.optWith("tso", (x) => r.bool(x), s.tso);
  return s;
}

function readXen(r: Reader, v: Val, base: XenParams): XenParams {
  const f = r.mapping(v, "a xen mapping", XEN_KEYS);
  if (f === undefined) return base;
  const x: Mut<XenParams> = { ...base };
  x.grants = f.optWith("grants", (y) => r.oneOf(y, ["copy", "persistent"] as const), x.grants);
  x.queues = f.optWith("queues", (y) => r.int(y, 1, 8), x.queues);
  x.netback = f.optWith("netback", (y) => r.oneOf(y, NETBACK_MODELS), x.netback);
  x.gso = f.optWith("gso", (y) => r.bool(y), x.gso);
  if (x.queues > 1 && x.netback !== "per-queue")
    r.report(v.at, v.path, `queues: ${x.queues} needs netback: per-queue (multi-queue VIFs came with xenvif's per-queue netback), not ${x.netback}`);
  return x;
}

function readVirtio(r: Reader, v: Val, base: VirtioParams): VirtioParams {
  const f = r.mapping(v, "a virtio mapping", VIRTIO_KEYS);
  if (f === undefined) return base;
  const x: Mut<VirtioParams> = { ...base };
  x.eventIdx = f.optWith("eventIdx", (y) => r.bool(y), x.eventIdx);
  x.queueSize = f.optWith("queueSize", (y) => r.oneOf(y, [64, 128, 256, 512, 1024]), x.queueSize);
  x.tso = f.optWith("tso", (y) => r.bool(y), x.tso);
  x.indirect = f.optWith("indirect", (y) => r.bool(y), x.indirect);
  x.busyPollUs = f.optWith("busyPollUs", (y) => r.int(y, 0, VIRTIO_BUSY_POLL_MAX_US), x.busyPollUs);
  return x;
}

function readE1000(r: Reader, v: Val, base: E1000Params): E1000Params {
  const f = r.mapping(v, "an e1000 mapping", E1000_KEYS);
  if (f === undefined) return base;
  const x: Mut<E1000Params> = { ...base };
  x.tso = f.optWith("tso", (y) => r.bool(y), x.tso);
  return x;
}

function readCosts(r: Reader, v: Val, base: Readonly<Record<string, number>>): Record<string, number> {
  const f = r.mapping(v, "a mapping of cost keys to numbers", COST_KEYS);
  const out: Record<string, number> = { ...base };
  if (f === undefined) return out;
  for (const k of COST_KEYS) {
    const x = f.opt(k);
    if (x === undefined) continue;
    const n = num(r, x, 0, Number.MAX_SAFE_INTEGER);
    if (n === undefined) continue;
    try {
      applyCostOverrides({ [k]: n });
      out[k] = n;
    } catch (e) {
      r.expected(x, `a valid value for ${k}`, e instanceof Error ? e.message.replace(/^[A-Z]+: /, "") : undefined);
    }
  }
  return out;
}

interface Common {
  traffic: TrafficSpec;
  host: HostParams;
  sriov: SriovParams;
  xen: XenParams;
  virtio: VirtioParams;
  e1000: E1000Params;
  costs: Record<string, number>;
}

function readCommon(r: Reader, f: Fields<string>, base: Common, file: string): Common {
  const get = (k: string): Val | undefined => f.opt(k);
  const t = get("traffic");
  const h = get("host");
  const s = get("sriov");
  const x = get("xen");
  const v = get("virtio");
  const e = get("e1000");
  const c = get("costs");
  return {
    traffic: t === undefined ? base.traffic : readTraffic(r, t, base.traffic, file),
    host: h === undefined ? base.host : readHost(r, h, base.host),
    sriov: s === undefined ? base.sriov : readSriov(r, s, base.sriov),
    xen: x === undefined ? base.xen : readXen(r, x, base.xen),
    virtio: v === undefined ? base.virtio : readVirtio(r, v, base.virtio),
    e1000: e === undefined ? base.e1000 : readE1000(r, e, base.e1000),
    costs: c === undefined ? base.costs : readCosts(r, c, base.costs),
  };
}

/** Parse a scenario from its text; `file` names it in messages and anchors relative paths. */
export function parseScenario(text: string, file: string): Scenario {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, version: "1.2", merge: false });
  const r = new Reader(file, text, doc);
  for (const e of doc.errors) r.report(r.posAt(e.pos[0]), "", `YAML syntax error: ${e.message.replace(/\s+/g, " ").trim()}`);
  if (r.issues.length > 0) throw new ConfigError(r.issues.slice(0, 10));
  const root = r.root();
  if (root === undefined || !isMap(root.node)) throw new ConfigError([makeIssue(file, { line: 1, col: 1 }, "", "expected a scenario mapping (name, backends, vms, traffic, …)")]);
  const f = r.mapping(root, "a scenario mapping", TOP_KEYS)!;
  const name = f.optWith("name", (v) => r.str(v, "a string"), "comparison");
  const description = f.optWith("description", (v) => r.str(v, "a string"), "");
  const vms = f.optWith("vms", (v) => intList(r, v, 1, 256), [1, 8, 32, 60]);
  const framesGiven = f.opt("frameBytes") !== undefined;
  const frames = f.optWith("frameBytes", (v) => intList(r, v, 64, 9018), [DEFAULT_TRAFFIC.frameBytes]);
  const x = f.optWith("x", (v) => r.oneOf(v, ["vms", "frameBytes"] as const), "vms");
  const common = readCommon(r, f as unknown as Fields<string>, { traffic: DEFAULT_TRAFFIC, host: DEFAULT_HOST, sriov: DEFAULT_SRIOV, xen: DEFAULT_XEN, virtio: DEFAULT_VIRTIO, e1000: DEFAULT_E1000, costs: {} }, file);
  let run: Mut<Pick<RunParams, "seed" | "warmupUs" | "measureUs" | "drainUs">> = { seed: DEFAULT_RUN.seed, warmupUs: DEFAULT_RUN.warmupUs, measureUs: DEFAULT_RUN.measureUs, drainUs: DEFAULT_RUN.drainUs };
  const rv = f.opt("run");
  if (rv !== undefined) {
    const rf = r.mapping(rv, "a run mapping", RUN_KEYS);
    if (rf !== undefined) {
      run = {
        seed: rf.optWith("seed", (v) => r.int(v, 0, Number.MAX_SAFE_INTEGER), run.seed),
        warmupUs: rf.optWith("warmupUs", (v) => num(r, v, 0, 1e7), run.warmupUs),
        measureUs: rf.optWith("measureUs", (v) => num(r, v, 1, 1e7), run.measureUs),
        drainUs: rf.optWith("drainUs", (v) => num(r, v, 0, 1e7), run.drainUs),
      };
    }
  }
  const toParams = (backend: BackendName, c: Common): RunParams => ({ ...DEFAULT_RUN, ...run, backend, traffic: c.traffic, host: c.host, sriov: c.sriov, xen: c.xen, virtio: c.virtio, e1000: c.e1000, costs: c.costs });
  const series: Series[] = [];
  const sv = f.opt("series");
  if (sv !== undefined) {
    r.list(sv, "a list of series", (item, i) => {
      const sf = r.mapping(item, "a series mapping (name, backend, overrides)", SERIES_KEYS);
      if (sf === undefined) return undefined;
      const backend = sf.reqWith("backend", `one of ${BACKENDS.join(", ")}`, (v) => r.oneOf(v, BACKENDS), "sriov" as BackendName);
      const nm = sf.optWith("name", (v) => r.str(v, "a string"), `${backend}#${i}`);
      const c = readCommon(r, sf as unknown as Fields<string>, common, file);
      if (series.some((s) => s.name === nm)) r.report(item.at, item.path, `two series are named ${JSON.stringify(nm)}`);
      series.push({ name: nm, backend, base: toParams(backend, c) });
      return undefined;
    });
  } else {
    const bv = f.opt("backends");
    if (bv === undefined) for (const b of ["sriov", "xen-pv"] as const) series.push({ name: b, backend: b, base: toParams(b, common) });
    else
      r.list(bv, `a list of backends (${BACKENDS.join(", ")})`, (it) => {
        const b = r.oneOf(it, BACKENDS);
        if (b !== undefined && series.some((s) => s.backend === b)) r.report(it.at, it.path, `${b} is listed twice (every point of the sweep runs once)`);
        if (b !== undefined) series.push({ name: b, backend: b, base: toParams(b, common) });
        return b;
      });
  }
  if (series.length === 0 && r.issues.length === 0) r.report(root.at, "", "expected at least one series or backend");
  if (r.issues.length > 0) throw new ConfigError(r.issues);
  return { file, name, description, series, vms, frameBytes: frames, framesGiven, common: toParams(series[0]!.backend, common), x };
}

export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new IovError("ENOENT", `cannot read scenario ${path}: ${(e as Error).message}`, { path, input: true });
  }
  return parseScenario(text, path);
}

/** Frame sizes (with FCS) a TCP series can take as its MTU + 18: MTU 576..9000. */
export const TCP_FRAME_MIN = 576 + 18;
export const TCP_FRAME_MAX = 9000 + 18;

/**
 * The run of `series` at one sweep point. With `frameSetsMtu` (frame sizes given by the file or the
 * command line), a TCP series sends segments of that frame size: MTU = frameBytes − 18 (Ethernet
 * header and FCS). Request/response and pcap traffic have no frame axis: their frames come from the
 * request/response sizes and the file.
 */
export function pointParams(s: Series, vms: number, frameBytes: number, seed?: number, frameSetsMtu = false): RunParams {
  const t = s.base.traffic;
  if (frameSetsMtu && t.kind === "tcp") {
    if (!Number.isInteger(frameBytes) || frameBytes < TCP_FRAME_MIN || frameBytes > TCP_FRAME_MAX)
      throw new IovError("EINVAL", `TCP frame size ${frameBytes} B outside ${TCP_FRAME_MIN}..${TCP_FRAME_MAX} (MTU 576..9000 + 18)`, { frameBytes, input: true });
    return { ...s.base, vms, traffic: { ...t, mtu: frameBytes - 18 }, seed: seed ?? s.base.seed };
  }
  if (frameSetsMtu && (t.kind === "rr" || t.kind === "pcap"))
    throw new IovError("EINVAL", `${t.kind === "rr" ? "request/response" : "pcap"} traffic has no frame size to sweep (${t.kind === "rr" ? "its frames follow reqBytes/respBytes" : "its frames are the file's"})`, { frameBytes, input: true });
  return { ...s.base, vms, traffic: { ...t, frameBytes }, seed: seed ?? s.base.seed };
}
