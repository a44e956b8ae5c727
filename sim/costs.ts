import { IovError } from "../src/errors.js";

/**
 * The one cost table of the timing model. Every default names its source; the tags follow
 * ../shared/reference/costs.md ("costs.md" below):
 *   [V] read in the cited source      [S] quoted by a secondary source
 *   [D] derived: the formula is given  [A] assumption: no figure in costs.md, the reasoning is given
 * Where costs.md has no figure, a [V] entry cites the measurement it was read in (its address). Many
 * [A] entries are "checked": sim/cost-evidence.ts sets them, alone or summed along a path, against
 * published measurements and says whether they agree (`pciov costs --evidence`).
 * Cycle costs become time through the modelled core clock (`coreClockGHz`, a parameter).
 * These are micro-costs per step; throughput and utilisation must emerge from the simulation.
 */

export type CostUnit =
  | "cycles"
  | "ns"
  | "cycles/byte"
  | "bytes"
  | "bits"
  | "count"
  | "GHz"
  | "GT/s"
  | "Gbps";

export interface CostEntry {
  readonly value: number;
  readonly unit: CostUnit;
  readonly source: string;
}

const entry = <U extends CostUnit>(value: number, unit: U, source: string): { readonly value: number; readonly unit: U; readonly source: string } =>
  Object.freeze({ value, unit, source });

const COSTS_MD = "costs.md";

export const DEFAULT_COSTS = Object.freeze({
  // ── clock ────────────────────────────────────────────────────────────────────────────────────────
  coreClockGHz: entry(2.5, "GHz", `[A] ${COSTS_MD} CPU section: "make it a parameter; 2.2–3.0 GHz is typical of the papers' machines"; 2.5 GHz lies inside that range`),

  // ── CPU-side virtualization (x86) ──────────────────────────────────────────────────────────────
  vmExitKernel: entry(2565, "cycles", `[S] ${COSTS_MD}: VM exit handled in the host kernel ≈ 2,565 cycles (Dall et al. ATC'17)`),
  vmExitUser: entry(6732, "cycles", `[S] ${COSTS_MD}: VM exit handled in host user space (QEMU device model) ≈ 6,732 cycles (Dall et al. ATC'17)`),
  vmEntryExitRoundTrip: entry(1360, "cycles", `[V] ${COSTS_MD}: VM entry/exit round trip (AMD VMRUN) 1,344–1,376 cycles (LKML, Dec 2020); midpoint (1,344 + 1,376) / 2`),
  kvmRunRoundTrip: entry(2552, "cycles", `[V] ${COSTS_MD}: whole KVM_RUN ioctl round trip 2,528–2,576 cycles (LKML, Dec 2020); midpoint (2,528 + 2,576) / 2`),
  nullHypercall: entry(1368, "cycles", `[S] ${COSTS_MD}: null hypercall 1,300–1,437 cycles (Dall et al. ISCA'16 Table II; ATC'17 Table 2); [D] midpoint 1,368.5 rounded down`),
  virtualEoi: entry(1556, "cycles", `[S] ${COSTS_MD}: virtual interrupt completion (EOI) under KVM ≈ 1,556 cycles (Dall et al.)`),
  virtualIpi: entry(3102, "cycles", `[S] ${COSTS_MD}: virtual IPI ≈ 3,102 cycles (Dall et al.)`),
  virtioKick: entry(4984, "cycles", `[S] ${COSTS_MD}: virtio notify (kick) from a VM ≈ 4,984 cycles (Lim & Nieh, ASPLOS'20 Table 3)`),
  cpuidExit: entry(2600, "cycles", `[S] ${COSTS_MD}: cpuid exit in a VM ≈ 2,600 cycles (Turtles, OSDI'10)`),
  hostSyscall: entry(700, "cycles", "[V] one host system call entry/exit (neither measurement states its speculative-execution mitigations): 632–728 core cycles measured on Skylake (https://github.com/travisdowns/uarch-bench/issues/34) and 250 ns = 900 cycles per getpid on an i3-7100 at 3.6 GHz under Linux 6.6 (https://github.com/clearlinux/distribution/issues/3168); 700 lies inside (costs.md has no figure; checks in sim/cost-evidence.ts)"),
  vhostSyscallsSavedPerPacket: entry(4, "count", `[V] ${COSTS_MD}: vhost-net removes up to four system calls per packet compared with a user-space virtio backend (linux-kvm.org)`),

  // ── IOMMU ──────────────────────────────────────────────────────────────────────────────────────
  iommuWalkLevels: entry(4, "count", `[V] ${COSTS_MD} IOMMU: a 4-level second-level page walk reads up to 4 entries (fewer with large pages)`),
  iotlbMissPerWalkRead: entry(65, "ns", `[D] ${COSTS_MD} IOMMU: a 4 KiB IOTLB miss adds 226–293 ns to a 64 B DMA read (pcie-bench); per read = round(((226 + 293) / 2) / 4 reads) = 65 ns, so a full 4-read miss costs 260 ns, inside the range`),
  iotlbInvalidation: entry(1000, "ns", `[V] ${COSTS_MD} gives the mechanism (an invalidation descriptor plus a wait descriptor on the queued-invalidation interface), no time; Linux's measured qi_submit_sync IOTLB invalidations on a Sapphire Rapids Xeon: 70 % took 0.1–1 µs, 30 % 1–10 µs (https://github.com/qemu/qemu/blob/master/docs/devel/migration/qpl-compression.rst); 1 µs = the top of the median's bucket`),

  // ── DMA and PCIe ───────────────────────────────────────────────────────────────────────────────
  dmaReadLatency: entry(600, "ns", `[V] ${COSTS_MD}: DMA read latency (device → host memory → device), 64 B, no IOMMU: median ≈ 600 ns (pcie-bench)`),
  pcieTlpOverheadBytes: entry(24, "bytes", `[D] ${COSTS_MD}: a 64-bit memory write TLP carries about 24 B of framing + header = 8 B framing/sequence/LCRC + 4 B TLP header + 12 B address DWs (pcie-bench model)`),
  pcieCplOverheadBytes: entry(20, "bytes", "[D] same 8 B framing/sequence/LCRC as pcieTlpOverheadBytes + 12 B completion header (3 DW) (pcie-bench model; not in costs.md)"),
  pcieDllpBytes: entry(8, "bytes", `[V] ${COSTS_MD}: ACK/flow-control DLLPs cost 8 B each`),
  pcieDllpIntervalBytes: entry(203, "bytes", `[D] calibrated to ${COSTS_MD}'s model figures (Gen3 x8 writes ≈ 52.9 Gb/s at 256 B, ≈ 42 Gb/s at 64 B): one ACK and one FC-update DLLP per 203 B of TLP traffic (the Gen3 x8 MPS 256 ACK/FC interval the pcie-bench model uses)`),
  pcieSkipBytes: entry(4, "bytes", "[D] SKIP ordered set, 4 B per lane per interval (pcie-bench model, used with pcieDllpIntervalBytes to reproduce costs.md's 52.9 Gb/s)"),
  pcieSkipIntervalBytes: entry(1538, "bytes", "[D] SKIP ordered set interval 1,538 symbols (pcie-bench model, used with pcieDllpIntervalBytes to reproduce costs.md's 52.9 Gb/s)"),
  pcieMaxPayloadBytes: entry(256, "bytes", `[D] ${COSTS_MD}: the quoted Gen3 x8 write bandwidth (≈ 52.9 Gb/s) is for 256 B payloads, i.e. MPS 256`),
  pcieGen1LaneRate: entry(2.5, "GT/s", "[A] PCIe base specification rate for Gen1; costs.md gives only the encoding (8b/10b for Gen1/2)"),
  pcieGen2LaneRate: entry(5, "GT/s", "[A] PCIe base specification rate for Gen2; costs.md gives only the encoding (8b/10b for Gen1/2)"),
  pcieGen3LaneRate: entry(8, "GT/s", `[V] ${COSTS_MD}: 8 GT/s per lane at Gen3`),
  pcieGen4LaneRate: entry(16, "GT/s", `[V] ${COSTS_MD}: 16 GT/s per lane at Gen4`),
  pcieGen5LaneRate: entry(32, "GT/s", "[A] PCIe base specification rate for Gen5; costs.md gives 128b/130b for Gen3+ but no Gen5 rate"),
  pcieGen1EncodingLineBits: entry(10, "bits", `[V] ${COSTS_MD}: 8b/10b encoding for Gen1/2 (10 line bits carry 8 data bits)`),
  pcieGen2EncodingLineBits: entry(10, "bits", `[V] ${COSTS_MD}: 8b/10b encoding for Gen1/2 (10 line bits carry 8 data bits)`),
  pcieGen3EncodingLineBits: entry(130, "bits", `[V] ${COSTS_MD}: 128b/130b encoding for Gen3+ (130 line bits carry 128 data bits)`),
  pcieGen4EncodingLineBits: entry(130, "bits", `[V] ${COSTS_MD}: 128b/130b encoding for Gen3+ (130 line bits carry 128 data bits)`),
  pcieGen5EncodingLineBits: entry(130, "bits", `[V] ${COSTS_MD}: 128b/130b encoding for Gen3+ (130 line bits carry 128 data bits)`),

  // ── Ethernet ───────────────────────────────────────────────────────────────────────────────────
  ethRateGbps: entry(10, "Gbps", `[A] default wire rate; ${COSTS_MD}'s worked examples (14,880,952 pps, 9.493 Gb/s TCP goodput) are for 10 GbE`),

  // ── per-packet driver work (no figures in costs.md) ────────────────────────────────────────────
  nicDriverTxPerPacket: entry(400, "cycles", "[A] no figure in costs.md: NIC driver transmit work per packet (map buffer, write descriptor, ring bookkeeping), excluding the network stack; assumed 400 cycles; checked (sim/cost-evidence.ts): with the clean and a doorbell, above pktgen on ixgbe (182 ns a packet, 2014)"),
  nicDriverRxPerPacket: entry(500, "cycles", "[A] no figure in costs.md: NIC driver receive work per packet (read descriptor, hand the buffer up, refill one buffer), excluding the network stack; assumed 500 cycles; checked (sim/cost-evidence.ts): above mlx5 XDP_DROP + build_skb (107–171 ns, 2017)"),
  nicDriverTxCleanPerPacket: entry(100, "cycles", "[A] no figure in costs.md: reclaiming one completed transmit descriptor and its buffer; assumed 100 cycles; checked with nicDriverTxPerPacket (sim/cost-evidence.ts)"),
  irqHandlerEntry: entry(1000, "cycles", "[A] no figure in costs.md: hardware interrupt entry, handler and softirq (NAPI) scheduling in a guest or host kernel; assumed 1,000 cycles"),
  doorbellMmioWrite: entry(100, "ns", "[A] no figure in costs.md: a posted uncached MMIO write to a doorbell as seen by the CPU (store buffer drain); assumed 100 ns; checked with nicDriverTxPerPacket (sim/cost-evidence.ts)"),
  memcpyPerByte: entry(0.25, "cycles/byte", "[A] no figure in costs.md: an out-of-cache copy at ≈ 4 B/cycle (≈ 10 GB/s at 2.5 GHz); assumed 0.25 cycles/byte; checked in the 1472 B UDP send path (sim/cost-evidence.ts)"),

  // ── Xen netfront/netback ───────────────────────────────────────────────────────────────────────
  xenGrantCopyHypercall: entry(1368, "cycles", `[D] ${COSTS_MD}: the backend copies through the grant-copy hypercall; one hypercall per batch = nullHypercall (1,368 cycles)`),
  xenGrantCopyPerOp: entry(1100, "cycles", "[D] no figure in costs.md; from J. Martins' xen-netback measurements (Linux commits \"xen-netback: use gref mappings for Rx/Tx requests\", Xeon E5-2699 v3 at 2.3 GHz, 64 B pktgen): Dom0→DomU 2.04 Mpps with mapped grants vs about half with grant copy, so copy costs 2.3e9/1.02e6 − 2.3e9/2.04e6 ≈ 1,127 cycles more per packet, less the batch's share of the hypercall (1,368/64 ≈ 21) ≈ 1,100 per operation (DomU→Dom0: 3.6 vs 1.24 Mpps gives ≈ 1,216, consistent)"),
  xenGrantCopyPerByte: entry(0.25, "cycles/byte", "[D] = memcpyPerByte default (the hypervisor copies the payload once)"),
  xenGrantMap: entry(2500, "cycles", "[A] no figure in costs.md: mapping one grant = nullHypercall (1,368) + page-table update and grant bookkeeping, assumed ≈ 1,100 cycles more; checked (sim/cost-evidence.ts): map + unmap above the ≈ 1.0–1.4 µs a packet derived from Martins' persistent-grant figures (batched; used here only at a page's first mapping)"),
  xenGrantUnmap: entry(4000, "cycles", "[A] no figure in costs.md: unmapping one grant = hypercall + page-table update + TLB flush; assumed 4,000 cycles (persistent grants avoid it, costs.md); checked with xenGrantMap (sim/cost-evidence.ts)"),
  xenEventChannelSend: entry(1368, "cycles", `[D] ${COSTS_MD}: event channel notification is a hypercall to send; = nullHypercall (1,368 cycles)`),
  xenEventChannelUpcall: entry(3102, "cycles", `[A] ${COSTS_MD}: an upcall to receive; no figure given, assumed to cost what a virtual IPI costs (3,102 cycles, Dall et al.)`),

  // ── host software switching and virtio/vhost ───────────────────────────────────────────────────
  bridgeForwardPerPacket: entry(2000, "cycles", "[A] no figure in costs.md: Linux software bridge forwarding (FDB lookup, netif receive, queue to the egress device) per packet; assumed 2,000 cycles (≈ 1.25 Mpps per 2.5 GHz core); checked (sim/cost-evidence.ts): the forward path it is part of is above Linux IP forwarding of 2014 (1–2 Mpps a core)"),
  vhostPerPacket: entry(600, "cycles", "[A] no figure in costs.md: vhost-net worker per packet (fetch descriptors, translate GPAs, build/hand over the skb), excluding the copy; assumed 600 cycles; checked (sim/cost-evidence.ts): with tapPerPacket and the copy, 566 ns a 64 B frame against a measured 565 ns (vhost_net at 100 %, 2020)"),
  vhostCopyPerByte: entry(0.25, "cycles/byte", `[D] = memcpyPerByte default: vhost copies between guest buffers and the tap/bridge (${COSTS_MD})`),

  // ── emulated e1000 ─────────────────────────────────────────────────────────────────────────────
  e1000RegisterTrap: entry(6732, "cycles", `[D] ${COSTS_MD}: every e1000 register access is a trapped MMIO exit handled in user space = vmExitUser (6,732 cycles)`),
  e1000DescriptorEmulation: entry(500, "cycles", "[A] no figure in costs.md: device-model work per descriptor (read descriptor from guest RAM, update status, write back); assumed 500 cycles"),
  e1000CopyPerByte: entry(0.25, "cycles/byte", `[D] = memcpyPerByte default: the device model copies each buffer (${COSTS_MD}: "plus descriptor and buffer copies by the device model")`),

  // ── guest and host network stacks, NAPI, DMA mapping (added for sim/backends; no figures in costs.md) ──
  guestStackTxPerPacket: entry(2000, "cycles", "[A] no figure in costs.md: socket send + UDP/TCP + IP + qdisc per packet in a Linux kernel, excluding the NIC driver and the payload copy; assumed 2,000 cycles so that stack + driver (400) ≈ 2,400 cycles ≈ 1 Mpps per 2.5 GHz core for small UDP sends, the order of a single-core socket sender; checked (sim/cost-evidence.ts): the whole 64 B send path agrees with FreeBSD netsend (1.05 Mpps at 2.93 GHz, 2012); the 1472 B one is below a 2018 Linux sendto (4,485 cycles)"),
  guestStackRxPerPacket: entry(2000, "cycles", "[A] no figure in costs.md: netif_receive_skb + IP + UDP/TCP + socket wake-up per packet, excluding the driver and the copy to user space; assumed equal to guestStackTxPerPacket (2,000 cycles)"),
  tcpPureAckPerPacket: entry(1000, "cycles", "[A] no figure in costs.md: a pure TCP ACK (no payload, no copy, no socket wake-up) sent by a receiver or processed by a sender; assumed half of guestStackRxPerPacket"),
  groPerSegment: entry(300, "cycles", "[A] no figure in costs.md: napi_gro_receive of a TCP segment that joins the held aggregate (flow match, header checks, page appended as a fragment), per segment; the aggregate then crosses the stack once (guestStackRxPerPacket); assumed 300 cycles"),
  gsoPerSegment: entry(994, "cycles", "[D] skb_segment cutting one MSS segment from a GSO super-segment (a new sk_buff, the headers copied, IP length/ID and TCP sequence and checksum fixed up), per segment; the super-segment crosses the stack once (guestStackTxPerPacket). W. de Bruijn's figures in Linux commit bec1f6f69736 (2018, one ≈ 2.8 GHz core, udpgso_bench_tx): TCP with TSO 3,197 MB/s on 6,457,754,262 cycles, with software GSO 1,765 MB/s on 11,203,021,806 cycles in 4 s, so GSO costs (11,203,021,806 / 1,765 − 6,457,754,262 / 3,197) / (4 × 2^20) = 1.032 cycles a byte more = 1,494 cycles a 1,448-byte segment; that covers the cut and the segment's own trip through the driver, which the model charges as nicDriverTxPerPacket + nicDriverTxCleanPerPacket (500): 1,494 − 500 = 994 (costs.md has no figure; the check in sim/cost-evidence.ts agrees by construction)"),
  guestTimerTick: entry(2000, "cycles", "[A] no figure in costs.md: a guest kernel's periodic timer interrupt besides its entry (tick_sched_timer: jiffies and wall time, scheduler_tick, expired timers, RCU), per tick; assumed 2,000 cycles"),
  napiPollEntry: entry(300, "cycles", "[A] no figure in costs.md: one NAPI poll invocation (softirq entry, poll-list handling, napi_complete), per poll not per packet; assumed 300 cycles"),
  dmaWriteLatency: entry(300, "ns", `[A] ${COSTS_MD} gives the DMA read round trip (≈ 600 ns, pcie-bench) but not a write: a posted write needs no completion, assumed to reach memory in half the read round trip, 600 / 2 = 300 ns; checked (sim/cost-evidence.ts): above the 227 ns derived from pcie-bench's write-then-read latency`),
  iommuMapPerBuffer: entry(1000, "cycles", "[A] no figure in costs.md: intra-OS protection map of one DMA buffer (IOVA allocation + page-table entry write); assumed 1,000 cycles. Malka et al. (FAST'15) show the Linux IOVA allocator, not the hardware, can dominate this cost; checked (sim/cost-evidence.ts): the page-table write alone measures 55–65 ns"),
  iommuUnmapPerBuffer: entry(1000, "cycles", "[A] no figure in costs.md: unmap of one DMA buffer (page-table entry clear + IOVA free), excluding the IOTLB invalidation (iotlbInvalidation); assumed 1,000 cycles; checked (sim/cost-evidence.ts): the page-table clear alone measures 69–87 ns"),
  xenNetfrontPerPacket: entry(600, "cycles", "[A] no figure in costs.md: netfront per packet (ring request/response, grant reference bookkeeping, skb handling) excluding grant operations and notifications; assumed 600 cycles (between nicDriverTxPerPacket and nicDriverRxPerPacket + 100)"),
  xenNetbackPerPacket: entry(1000, "cycles", "[A] no figure in costs.md: netback per packet (request parsing, skb allocation, response) excluding grant operations and notifications; assumed 1,000 cycles; checked (sim/cost-evidence.ts): within Martins' 64 B receive rates with persistent grants and with grant copy (2015)"),
  tapPerPacket: entry(800, "cycles", "[A] no figure in costs.md: the host tap device per packet (tun_get_user / tun_put_user without the copy); assumed 800 cycles; checked with vhostPerPacket (sim/cost-evidence.ts)"),
} as const satisfies Record<string, CostEntry>);

type Defaults = typeof DEFAULT_COSTS;
export type CostKey = keyof Defaults;
export type CostTable = { readonly [K in CostKey]: { readonly value: number; readonly unit: Defaults[K]["unit"]; readonly source: string } };
/** Keys whose unit is a time (cycles or ns): the costs the engine charges to resources. */
export type TimeCostKey = { [K in CostKey]: Defaults[K]["unit"] extends "cycles" | "ns" ? K : never }[CostKey];
export type CostOverrides = Readonly<Partial<Record<string, number>>>;

export const COST_KEYS: readonly CostKey[] = Object.freeze(Object.keys(DEFAULT_COSTS) as CostKey[]);

/** Units whose values must be whole numbers. */
const INTEGER_UNITS: ReadonlySet<CostUnit> = new Set<CostUnit>(["bytes", "bits", "count"]);

/** The tag a default's source starts with (V, S, D or A: the legend above); undefined for any other text, e.g. an override's. */
export function sourceTag(source: string): "V" | "S" | "D" | "A" | undefined {
  return /^\[([VSDA])\]/.exec(source)?.[1] as "V" | "S" | "D" | "A" | undefined;
}

export function isCostKey(key: string): key is CostKey {
  return Object.prototype.hasOwnProperty.call(DEFAULT_COSTS, key);
}

/** Converts cycles to nanoseconds at `clockGHz` (cycles / GHz = ns). */
export function cyclesToNs(cycles: number, clockGHz: number): number {
  if (!(clockGHz > 0) || !Number.isFinite(clockGHz))
    throw new IovError("ERANGE", `core clock ${clockGHz} GHz must be positive and finite`, { clockGHz });
  return cycles / clockGHz;
}

export function nsToCycles(ns: number, clockGHz: number): number {
  if (!(clockGHz > 0) || !Number.isFinite(clockGHz))
    throw new IovError("ERANGE", `core clock ${clockGHz} GHz must be positive and finite`, { clockGHz });
  return ns * clockGHz;
}

function checkValue(key: CostKey, unit: CostUnit, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value))
    throw new IovError("EINVAL", `cost "${key}" must be a finite number, got ${String(value)}`, { key, value });
  if (value < 0) throw new IovError("ERANGE", `cost "${key}" must be ≥ 0, got ${value}`, { key, value });
  if (INTEGER_UNITS.has(unit) && !Number.isInteger(value))
    throw new IovError("EINVAL", `cost "${key}" is in ${unit} and must be a whole number, got ${value}`, { key, value });
  if ((unit === "GHz" || unit === "GT/s" || unit === "Gbps") && value === 0)
    throw new IovError("ERANGE", `cost "${key}" is a rate and must be > 0`, { key, value });
  if (key.endsWith("EncodingLineBits") && value <= 2)
    throw new IovError("ERANGE", `cost "${key}" must exceed the 2 overhead bits of the line code, got ${value}`, { key, value });
  if (key.endsWith("IntervalBytes") && value === 0)
    throw new IovError("ERANGE", `cost "${key}" is an interval and must be > 0`, { key, value });
  return value;
}

/**
 * Returns a new table with `overrides` applied, e.g. `{ vmExitKernel: 3000, coreClockGHz: 3 }`.
 * Throws IovError EINVAL naming the key for an unknown key, a non-number or a fractional count, and
 * ERANGE for a negative value or a zero rate. The base table is not modified; an overridden entry keeps
 * its unit and records the default it replaced in its source.
 */
export function applyCostOverrides(overrides: CostOverrides, base: CostTable = DEFAULT_COSTS): CostTable {
  if (typeof overrides !== "object" || overrides === null || Array.isArray(overrides))
    throw new IovError("EINVAL", "cost overrides must be an object of { key: number }", { overrides });
  const unknown = Object.keys(overrides).filter((k) => !isCostKey(k));
  if (unknown.length > 0)
    throw new IovError("EINVAL", `unknown cost key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")}`, {
      keys: unknown,
      known: COST_KEYS,
    });
  const out: Record<string, CostEntry> = { ...base };
  for (const [k, v] of Object.entries(overrides)) {
    const key = k as CostKey;
    const old = base[key];
    const value = checkValue(key, old.unit, v);
    out[key] = Object.freeze({ value, unit: old.unit, source: `override (default ${old.value} ${old.unit}: ${old.source})` });
  }
  return Object.freeze(out) as CostTable;
}

/** A cost in ns: cycle costs are converted with the table's `coreClockGHz`. */
export function costNs(table: CostTable, key: TimeCostKey): number {
  const e = table[key] as CostEntry;
  switch (e.unit) {
    case "ns":
      return e.value;
    case "cycles":
      return cyclesToNs(e.value, table.coreClockGHz.value);
    default:
      throw new IovError("EINVAL", `cost "${key}" is in ${e.unit}, not a time`, { key, unit: e.unit });
  }
}

/** Every time cost resolved to ns once, for plain property reads on the hot path. */
export type TimeCostsNs = { readonly [K in TimeCostKey]: number };

export function resolveTimeCostsNs(table: CostTable = DEFAULT_COSTS): TimeCostsNs {
  const out: Partial<Record<TimeCostKey, number>> = {};
  for (const k of COST_KEYS) {
    const u = table[k].unit;
    if (u === "cycles" || u === "ns") {
      const key = k as TimeCostKey;
      out[key] = costNs(table, key);
    }
  }
  return Object.freeze(out) as TimeCostsNs;
}

/** The costs charged per byte (cycles/byte). */
export type PerByteCostKey = "memcpyPerByte" | "xenGrantCopyPerByte" | "vhostCopyPerByte" | "e1000CopyPerByte";

/** Per-byte cycle costs converted to ns per byte. */
export function perByteNs(table: CostTable, key: PerByteCostKey): number {
  return cyclesToNs(table[key].value, table.coreClockGHz.value);
}

/** Parses `"key=value,key=value"` (CLI form) into overrides; values must be numbers. */
export function parseCostOverrides(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(",")) {
    const item = part.trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    if (eq <= 0) throw new IovError("EINVAL", `cost override "${item}" is not key=value`, { item });
    const key = item.slice(0, eq).trim();
    const raw = item.slice(eq + 1).trim();
    const value = Number(raw);
    if (raw === "" || !Number.isFinite(value))
      throw new IovError("EINVAL", `cost override "${key}" has a non-numeric value "${raw}"`, { key, raw });
    out[key] = value;
  }
  return out;
}
