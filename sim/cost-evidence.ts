/**
 * Published measurements the cost table's defaults are checked against. Most per-packet costs in
 * sim/costs.ts have no figure in costs.md and are assumptions ([A]); this module sets each of them,
 * alone or summed along a path, against a figure someone measured and published, and says whether
 * the default agrees, is above or is below it. `pciov costs --evidence` prints the verdicts;
 * docs/comparison.md discusses them.
 *
 * Every figure is converted to nanoseconds on the model's 2.5 GHz core. A figure measured as a rate
 * or a time on a machine with another clock gives a bracket: its time as measured (`lo` when the
 * source clock is faster) and its cycles carried over to 2.5 GHz (`hi`); CPU-bound kernel code is
 * closer to the second, memory-bound work to the first. Where the source states no clock, the time
 * is taken as measured. A rate measured with the named thread at 100 % is a cost per packet only if
 * that thread did nothing else, so such a figure is an upper bound (`kind: "at-most"`) unless the
 * source says the thread did just that work.
 *
 * A default agrees when it lies within the bracket widened by 10 % on each side (the sources'
 * run-to-run noise and the conversions' rounding), or below `hi` × 1.1 for an upper bound, above
 * `lo` / 1.1 for a lower bound.
 */
import { costNs, perByteNs, type CostKey, type CostTable, type PerByteCostKey, type TimeCostKey, DEFAULT_COSTS } from "./costs.js";

/** One term of a path: a time cost, or a per-byte cost over `bytes`. */
export type EvidenceTerm = { readonly key: TimeCostKey } | { readonly key: PerByteCostKey; readonly bytes: number };

export interface Evidence {
  /** Short name of the check. */
  readonly id: string;
  /** The model's side: the defaults summed along the measured path. */
  readonly terms: readonly EvidenceTerm[];
  /** What the published figure covers, in the model's terms. */
  readonly covers: string;
  /** The figure as published and the arithmetic to ns at 2.5 GHz. */
  readonly figure: string;
  readonly tag: "V" | "S" | "D";
  /** Who measured it, where, and where it was read. */
  readonly source: string;
  readonly kind: "range" | "at-most" | "at-least";
  /** The published bracket in ns on a 2.5 GHz core (lo = hi for a single figure). */
  readonly loNs: number;
  readonly hiNs: number;
  /** The verdict the docs state for the defaults (the tests check it still holds). */
  readonly expected: Verdict;
}

export type Verdict = "agrees" | "above" | "below";

/** Slack around a bracket before a default counts as above or below it. */
export const EVIDENCE_SLACK = 1.1;

/** The model's default core clock (GHz), which the brackets below carry cycles to. */
const MODEL_GHZ = DEFAULT_COSTS.coreClockGHz.value;
/** A time measured on a machine at `ghz`: [as measured, its cycles at the model's clock] in ns. */
const atClock = (ns: number, ghz: number): [number, number] => {
  const carried = (ns * ghz) / MODEL_GHZ;
  return [Math.min(ns, carried), Math.max(ns, carried)];
};

const [syscallLo, syscallHi] = [632 / MODEL_GHZ, atClock(250, 3.6)[1]];
const pktgen = atClock(1e9 / 5_502_510, 2.3);
const netsend = atClock(1e9 / 1.05e6, 2.93);
const xdpDrop = atClock(1e9 / 12_006_685 + 23.8, 4.0);
const udpSend = atClock(11_205_777_429 / 4 / 624_666 / 2.8, 2.8);
const gsoExtra = atClock((((11_203_021_806 / 1765 - 6_457_754_262 / 3197) / 4 / 2 ** 20) * 1448) / 2.8, 2.8);
const netbackRx = atClock(1e9 / 2.78e6, 3.5);
const netbackRxCopy = atClock(1e9 / 1.33e6, 3.5);
const grantMapUnmap = atClock(1e9 / 518e3 - 1e9 / 1.48e6 - (1e9 / 1.24e6 - 1e9 / 1.82e6), 3.5);

export const COST_EVIDENCE: readonly Evidence[] = Object.freeze([
  {
    id: "system call",
    terms: [{ key: "hostSyscall" }],
    covers: "one system call's entry and exit (a getuid, a getpid or an unknown number; the mitigations in force are not stated)",
    figure: "632–728 unhalted core cycles on Skylake (uarch-bench, 2018); 250 ns per getpid on an i3-7100 at 3.6 GHz under Linux 6.6 (KUtrace, 2024), 900 cycles",
    tag: "V",
    source: "travisdowns/uarch-bench issue #34 (https://github.com/travisdowns/uarch-bench/issues/34); R. Sites, clearlinux/distribution issue #3168 (https://github.com/clearlinux/distribution/issues/3168)",
    kind: "range",
    loNs: syscallLo,
    hiNs: syscallHi,
    expected: "agrees",
  },
  {
    id: "IOTLB invalidation",
    terms: [{ key: "iotlbInvalidation" }],
    covers: "an IOTLB invalidation through VT-d's queued-invalidation interface, waited for with a wait descriptor (qi_submit_sync)",
    figure: "Linux's dmar_perf_latency histogram on a Sapphire Rapids Xeon: 286 of 409 IOTLB invalidations took 0.1–1 µs, 123 took 1–10 µs, none longer; bracket = the bucket holding the median",
    tag: "V",
    source: "QEMU docs/devel/migration/qpl-compression.rst (https://github.com/qemu/qemu/blob/master/docs/devel/migration/qpl-compression.rst); the wait descriptor per submission: Linux drivers/iommu/intel/dmar.c",
    kind: "range",
    loNs: 100,
    hiNs: 1000,
    expected: "agrees",
  },
  {
    id: "IOMMU map, page table",
    terms: [{ key: "iommuMapPerBuffer" }],
    covers: "the page-table write of mapping one 4 KiB page in VT-d's second-level format, without IOVA allocation or the DMA API",
    figure: "iommu_map of a 4 KiB page: 55 ns (new iommupt code) to 65 ns (old VT-d code) on an i7-12700; a lower bound for a whole dma_map",
    tag: "V",
    source: "J. Gunthorpe, \"Consolidate iommu page table implementations\" v6 cover letter, linux-iommu, Oct 2025 (https://lore.kernel.org/all/0-v6-0fb54a1d9850+36b-iommu_pt_jgg@nvidia.com/)",
    kind: "at-least",
    loNs: 55,
    hiNs: 55,
    expected: "agrees",
  },
  {
    id: "IOMMU unmap, page table",
    terms: [{ key: "iommuUnmapPerBuffer" }],
    covers: "the page-table clear of unmapping one 4 KiB page, without IOVA free or the invalidation",
    figure: "iommu_unmap of a 4 KiB page: 69 ns (new) to 87 ns (old) on an i7-12700; a lower bound for a whole dma_unmap",
    tag: "V",
    source: "J. Gunthorpe, iommupt v6 cover letter (as above)",
    kind: "at-least",
    loNs: 69,
    hiNs: 69,
    expected: "agrees",
  },
  {
    id: "NIC driver transmit",
    terms: [{ key: "nicDriverTxPerPacket" }, { key: "nicDriverTxCleanPerPacket" }, { key: "doorbellMmioWrite" }],
    covers: "a driver's transmit of one packet with its own tail write, and reclaiming it (pktgen's loop included, no stack, the skb reused)",
    figure: "pktgen on one core of an E5-2630 (2.3 GHz) through ixgbe: 5,502,510 pps with a tail write per packet = 182 ns (167 ns in cycles at 2.5 GHz)",
    tag: "V",
    source: "J. D. Brouer, Linux commit \"pktgen: document tuning for max NIC performance\" (Documentation/networking/pktgen.txt, 2014)",
    kind: "at-most",
    loNs: pktgen[0],
    hiNs: pktgen[1],
    expected: "above",
  },
  {
    id: "NIC driver receive",
    terms: [{ key: "nicDriverRxPerPacket" }],
    covers: "a driver's receive of one packet up to an sk_buff: descriptor, first touch of the data, buffer refill, build_skb",
    figure: "mlx5 on an i7-6700K at 4.0 GHz: XDP_DROP reading the packet 12,006,685 pps = 83.3 ns, plus build_skb 23.8 ns = 107 ns (171 ns in cycles at 2.5 GHz)",
    tag: "V",
    source: "J. D. Brouer, \"Evaluating generic netstack XDP patches\" (netoptimizer/prototype-kernel, kernel/Documentation/blogposts/xdp25_eval_generic_xdp_tx.rst, 2017)",
    kind: "range",
    loNs: xdpDrop[0],
    hiNs: xdpDrop[1],
    expected: "above",
  },
  {
    id: "small UDP send, whole path",
    terms: [{ key: "guestStackTxPerPacket" }, { key: "nicDriverTxPerPacket" }, { key: "nicDriverTxCleanPerPacket" }, { key: "doorbellMmioWrite" }, { key: "memcpyPerByte", bytes: 18 }],
    covers: "a user-space sender's 64 B frames through the socket, the stack and the driver on one core (18 B of UDP payload copied)",
    figure: "FreeBSD netsend on an i7-870 at 2.93 GHz with an 82599: 1.05 Mpps = 952 ns (1,116 ns in cycles at 2.5 GHz)",
    tag: "S",
    source: "L. Rizzo, \"netmap: a novel framework for fast packet I/O\", USENIX ATC 2012, Figure 5, as reproduced in speakerdeck.com/yasukata/asiabsdcon-2026-keynote1",
    kind: "range",
    loNs: netsend[0],
    hiNs: netsend[1],
    expected: "agrees",
  },
  {
    id: "1472 B UDP send, whole path",
    terms: [{ key: "guestStackTxPerPacket" }, { key: "nicDriverTxPerPacket" }, { key: "nicDriverTxCleanPerPacket" }, { key: "doorbellMmioWrite" }, { key: "memcpyPerByte", bytes: 1472 }],
    covers: "one sendto of a 1,472-byte datagram: system call, copy, UDP/IP, qdisc, driver, completion, on one core",
    figure: "udpgso_bench_tx, 2018 kernel: 624,666 calls/s on 11,205,777,429 cycles in 4 s (≈ 2.8 GHz) = 4,485 cycles a call = 1,602 ns (1,794 ns in cycles at 2.5 GHz)",
    tag: "V",
    source: "W. de Bruijn, Linux commit bec1f6f69736 \"udp: generate gso with UDP_SEGMENT\" (2018)",
    kind: "range",
    loNs: udpSend[0],
    hiNs: udpSend[1],
    expected: "below",
  },
  {
    id: "software GSO per segment",
    terms: [{ key: "gsoPerSegment" }, { key: "nicDriverTxPerPacket" }, { key: "nicDriverTxCleanPerPacket" }],
    covers: "what a 1,448-byte TCP segment cut in software costs beyond TSO: skb_segment and the segment's own trip through the driver",
    figure: "same commit: TCP with TSO 3,197 MB/s on 6.46e9 cycles, with GSO 1,765 MB/s on 11.2e9 cycles in 4 s: 1.03 cycles/byte more = 1,490 cycles a segment = 532 ns (596 ns in cycles at 2.5 GHz)",
    tag: "D",
    source: "W. de Bruijn, Linux commit bec1f6f69736 (as above); MB = 2^20 bytes as udpgso_bench_tx prints them. gsoPerSegment is derived from this figure, so the check agrees by construction",
    kind: "range",
    loNs: gsoExtra[0],
    hiNs: gsoExtra[1],
    expected: "agrees",
  },
  {
    id: "vhost-net receive, 64 B",
    terms: [{ key: "vhostPerPacket" }, { key: "tapPerPacket" }, { key: "vhostCopyPerByte", bytes: 64 }],
    covers: "the vhost thread's work per frame into a guest: tun_recvmsg from the tap's queue, descriptors, the copy, the used ring",
    figure: "pktgen → tap → vhost_net → testpmd (rxonly) with VHOST_NET_BATCH 64, the vhost thread at 100 %: 1,769,261 pps = 565 ns (clock not stated: the time as measured)",
    tag: "V",
    source: "E. Pérez, \"Re: [PATCH RFC v8 02/11] vhost: use batched get_vq_desc version\", kvm list, July 2020",
    kind: "range",
    loNs: 1e9 / 1_769_261,
    hiNs: 1e9 / 1_769_261,
    expected: "agrees",
  },
  {
    id: "netback receive, persistent grants",
    terms: [{ key: "xenNetbackPerPacket" }, { key: "xenGrantCopyPerByte", bytes: 64 }],
    covers: "netback's work per 64 B frame into a guest when the guest's pages stay mapped (a memcpy, no grant operation)",
    figure: "1 queue, Dom0 pktgen → DomU, E5-1650 v2 at 3.5 GHz, Xen 4.5: 2.78 Mpps = 360 ns (504 ns in cycles at 2.5 GHz), pktgen's and the notifications' share included",
    tag: "V",
    source: "J. Martins, \"[RFC PATCH 00/13] Persistent grant maps for xen net drivers\", xen-devel, May 2015 (lists.xenproject.org/archives/html/xen-devel/2015-05/msg01498.html)",
    kind: "at-most",
    loNs: netbackRx[0],
    hiNs: netbackRx[1],
    expected: "agrees",
  },
  {
    id: "netback receive, grant copy",
    terms: [{ key: "xenNetbackPerPacket" }, { key: "xenGrantCopyPerOp" }, { key: "xenGrantCopyPerByte", bytes: 64 }],
    covers: "netback's work per 64 B frame into a guest with one grant copy (the batch's hypercall not counted)",
    figure: "same letter, upstream netback: 1.33 Mpps = 752 ns (1,053 ns in cycles at 2.5 GHz)",
    tag: "V",
    source: "J. Martins, RFC cover letter (as above)",
    kind: "at-most",
    loNs: netbackRxCopy[0],
    hiNs: netbackRxCopy[1],
    expected: "agrees",
  },
  {
    id: "grant map + unmap",
    terms: [{ key: "xenGrantMap" }, { key: "xenGrantUnmap" }],
    covers: "mapping and later unmapping one granted page (batched hypercalls and TLB flushes included)",
    figure: "same letter, DomU → Dom0 1,496 B: 518 kpps → 1.48 Mpps with persistent grants, less the 64 B case's grant-copy saving (1.24 → 1.82 Mpps): 998 ns a packet (1,397 ns in cycles at 2.5 GHz)",
    tag: "D",
    source: "J. Martins, RFC cover letter (as above)",
    kind: "range",
    loNs: grantMapUnmap[0],
    hiNs: grantMapUnmap[1],
    expected: "above",
  },
  {
    id: "host forwarding, whole path",
    terms: [{ key: "nicDriverRxPerPacket" }, { key: "bridgeForwardPerPacket" }, { key: "nicDriverTxPerPacket" }, { key: "nicDriverTxCleanPerPacket" }, { key: "doorbellMmioWrite" }],
    covers: "a frame received, forwarded by the host's kernel and sent on, on one core (the model's PF receive, bridge and PF transmit)",
    figure: "Linux IP forwarding of 2014: 1–2 Mpps on one core = 500–1,000 ns (routing, not bridging; the CPU not stated)",
    tag: "S",
    source: "notes of J. D. Brouer's Linux Plumbers 2014 talk on packet-processing performance (github.com/janLo/plumbers2014, day_2/Linux_packet_processing_performance_improvements.md)",
    kind: "range",
    loNs: 500,
    hiNs: 1000,
    expected: "above",
  },
  {
    id: "DMA write to memory",
    terms: [{ key: "dmaWriteLatency" }],
    covers: "a device's posted 64 B write until it is visible in host memory",
    figure: "pcie-bench data, NFP6000 in a Xeon E5-2630 v4 host without IOMMU: write-then-read 773 ns median less read 546 ns = 227 ns",
    tag: "D",
    source: "pcie-bench/data, nfp6000-1.2GHz_bdw-Xeon-E5-2630v4-dell-t430-s0-s0-s0/lat_dma_sizes.txt (Neugebauer et al., SIGCOMM 2018)",
    kind: "range",
    loNs: 773 - 546,
    hiNs: 773 - 546,
    expected: "above",
  },
] satisfies Evidence[]);

/** The model's side of a check: its terms' defaults summed, in ns. */
export function evidenceModelNs(e: Evidence, table: CostTable = DEFAULT_COSTS): number {
  let ns = 0;
  for (const t of e.terms) {
    if ("bytes" in t) ns += t.bytes * perByteNs(table, t.key);
    else ns += costNs(table, t.key);
  }
  return ns;
}

/** Whether the model's sum agrees with the published bracket (within EVIDENCE_SLACK), or is above or below it. */
export function evidenceVerdict(e: Evidence, table: CostTable = DEFAULT_COSTS): Verdict {
  const ns = evidenceModelNs(e, table);
  const lo = e.loNs / EVIDENCE_SLACK;
  const hi = e.hiNs * EVIDENCE_SLACK;
  if (e.kind !== "at-least" && ns > hi) return "above";
  if (e.kind !== "at-most" && ns < lo) return "below";
  return "agrees";
}

/** The keys a check involves. */
export function evidenceKeys(e: Evidence): CostKey[] {
  return e.terms.map((t) => t.key);
}
