/**
 * Parameters of one simulated run: the host, the backend's options, the traffic and the durations.
 * Scenario files (sim/scenario.ts) fill these; every field has a default documented here.
 */
import type { PcieGen, PcieWidth } from "./wire.js";
import type { MappingPolicy } from "./backends/sriov/iommu-policy.js";
import { DEFAULT_TRAFFIC, type TrafficSpec } from "./traffic.js";

export type BackendName = "sriov" | "xen-pv" | "virtio" | "e1000";
export const BACKENDS: readonly BackendName[] = ["sriov", "xen-pv", "virtio", "e1000"];

export interface HostParams {
  /** Physical cores running guest vCPUs; VM i's vCPU runs on core i mod guestCores. */
  readonly guestCores: number;
  /** Dom0 (Xen) or host-kernel (KVM) cores: NIC softirq, bridge, netback, QEMU. */
  readonly hostCores: number;
  /** Cores for vhost-net worker threads (virtio); device i's worker runs on core i mod vhostCores. */
  readonly vhostCores: number;
  readonly pcieGen: PcieGen;
  readonly pcieWidth: PcieWidth;
  /** Interrupt moderation: at most this many interrupts per second per vector (EITR / e1000 ITR); 0 = off. */
  readonly itr: number;
  /** Descriptors per NIC ring (VF and PF queues). */
  readonly ringEntries: number;
  /** IOTLB entries of the remapping unit. */
  readonly iotlbEntries: number;
  /** PF queue pairs used by the host/Dom0 driver (RSS on receive, one TX queue per host core). */
  readonly hostQueues: number;
  /**
   * An idle vCPU halts (HLT: a VM exit; Xen PV: the SCHEDOP_block hypercall) and its next interrupt
   * or timer resumes it through the host. Off by default: vCPUs spin idle at no cost, as before.
   */
  readonly vcpuHalt: boolean;
  /**
   * The guests' kernels run GRO on receive (ethtool -K gro on): a NAPI poll merges a TCP stream's
   * consecutive segments into aggregates of up to 64 KiB that cross the stack once and are ACKed
   * once. Off by default (every segment crosses the stack, an ACK for every second one), as in the
   * guests of the 2008–2010 SR-IOV and Xen measurements.
   */
  readonly guestGro: boolean;
  /**
   * The guests' kernels run GSO without TSO (ethtool -K tso off gso on): a TCP sender's stack builds
   * super-segments of up to 64 KiB once, cut into MSS frames just before the driver, which posts
   * them with one doorbell (xmit_more). Off by default: every segment crosses the stack, a doorbell
   * each. The devices' own segmentation is sriov.tso, virtio.tso and xen.gso.
   */
  readonly guestGso: boolean;
  /**
   * The guests' periodic timer interrupt, ticks per second (CONFIG_HZ of a kernel without tickless
   * operation: 1000 in the 2.6.18 guests of 2010; 0, the default, for none). Each tick costs the
   * vCPU its exits (KVM: the LAPIC timer's exit and, without a virtual APIC, the EOI's; Xen PV: the
   * one-shot timer's re-arm hypercall), the interrupt entry and the tick's own work (guestTimerTick).
   */
  readonly guestHz: number;
}

export interface SriovParams {
  /** posted: VT-d posted interrupts, no exit on delivery or EOI; remapped: host interrupt → exit + injection, EOI exit. */
  readonly interrupts: "posted" | "remapped";
  /** IOMMU page size of the static guest-RAM mapping. */
  readonly iommuPage: "4k" | "2m";
  readonly mapping: MappingPolicy;
  /** Unmaps per IOTLB flush under the deferred policy (Linux's high-water mark: 250). */
  readonly deferredBatch: number;
  /** Bytes between consecutive packet buffers of a ring (≥ 2048): sets the DMA working set. */
  readonly bufferStride: number;
  /**
   * The VF's TSO (ethtool -K tso on, igbvf's NETIF_F_TSO): the guest's TCP stack hands the driver
   * super-frames of up to 64 KiB, queued as an advanced context descriptor and data descriptors with
   * TSE; the NIC cuts them into MSS segments (src/nic/tso.ts). Transmit only: the 82576 has no
   * receive coalescing (use host.guestGro). Off by default.
   */
  readonly tso: boolean;
}

export interface XenParams {
  /** copy: netback copies through GNTTABOP_copy; persistent: grants mapped once and reused (memcpy in Dom0). */
  readonly grants: "copy" | "persistent";
  /** netfront/netback queue pairs per VIF (multi-queue), each with its own rings, event channels and netback poll and thread. */
  readonly queues: number;
  /**
   * Who runs netback's work, by the era of Dom0's kernel:
   * - per-queue: per VIF queue a NAPI poll (softirq) for the guest's TX and a kernel thread for its
   *   RX, on the queue's core, queues spread over Dom0's cores (xenvif's 1:1 model, Linux 3.12 on);
   * - per-cpu: one kernel thread per Dom0 vCPU, bound to it, each serving the VIFs assigned to it
   *   (the group with the fewest; Linux 3.0–3.11, and the 2010 pvops netback of "Netback multiple
   *   threads support");
   * - tasklet: one TX and one RX tasklet (softirq context) serving every VIF (the 2.6.18 Dom0 netback
   *   and pvops before that patch: each runs on one CPU at a time).
   * Multi-queue VIFs (queues > 1) need per-queue.
   */
  readonly netback: NetbackModel;
  /**
   * GSO between netfront and netback both ways (feature-gso-tcpv4). Transmit: the guest's TCP stack
   * hands netfront super-frames of up to 64 KiB, sent as one packet (its pages' requests and a GSO
   * extra-info slot); netback copies it once and hands it to Dom0's switch whole, the PF's TSO
   * cutting it. Receive: Dom0's GRO on the PF merges a guest's segments into packets of up to 64 KiB
   * that cross the bridge and netback once and reach netfront with a GSO extra-info response. Off by
   * default.
   */
  readonly gso: boolean;
}

export type NetbackModel = "per-queue" | "per-cpu" | "tasklet";
export const NETBACK_MODELS: readonly NetbackModel[] = ["per-queue", "per-cpu", "tasklet"];

export interface VirtioParams {
  /** VIRTIO_RING_F_EVENT_IDX negotiated (notification suppression by event index). */
  readonly eventIdx: boolean;
  /** Virtqueue size. */
  readonly queueSize: number;
  /**
   * TSO both ways, as QEMU offers and Linux negotiates by default. Transmit (HOST_TSO4 with F_CSUM):
   * the guest's TCP stack hands the device super-frames of up to 64 KiB (virtio_net_hdr GSO_TCPV4,
   * NEEDS_CSUM), posted as one descriptor chain and kick, copied once by vhost, forwarded once by
   * the host's tap and bridge and queued once on the PF for the NIC's TSO (a guest port that takes
   * no GSO packets gets segments the host cut, gsoPerSegment each). Receive
   * (GUEST_TSO4 with MRG_RXBUF): the host's GRO on the PF merges a guest's segments into packets of
   * up to 64 KiB that cross the bridge, the tap and vhost once, fill as many mergeable buffers as
   * they need, and cross the guest's stack once. Off by default.
   */
  readonly tso: boolean;
  /**
   * VIRTIO_RING_F_INDIRECT_DESC on the TX queue, as QEMU offers and Linux negotiates by default: a
   * packet of more than one buffer (a TSO super-frame) takes one ring descriptor pointing at a table
   * of its buffers instead of a chain of ring descriptors. The packets' pages come from a pool of
   * queueSize pages (about 1 MiB in flight, TCP Small Queues' order). Only TSO makes such packets.
   */
  readonly indirect: boolean;
  /**
   * vhost-net's busy polling (the kernel's busyloop_timeout, set by QEMU's tap option `poll-us`):
   * when the worker finds nothing to do it keeps polling its rings and tap for up to this many µs,
   * with the guest's notifications still off, before it re-enables them and sleeps. A guest that
   * publishes meanwhile needs no kick; the polling is vhost CPU time. 0 (QEMU's default): none.
   */
  readonly busyPollUs: number;
}

export interface E1000Params {
  /**
   * The e1000 driver's TSO (Linux's e1000 enables it on an 82540EM): a TCP super-frame of up to
   * 64 KiB queued as a TCP/IP context descriptor and data descriptors with TSE; QEMU emulates each
   * descriptor, copies the packet once and writes each segment it cuts to the tap. Off by default.
   */
  readonly tso: boolean;
}

export interface RunParams {
  readonly backend: BackendName;
  readonly vms: number;
  readonly traffic: TrafficSpec;
  readonly host: HostParams;
  readonly sriov: SriovParams;
  readonly xen: XenParams;
  readonly virtio: VirtioParams;
  readonly e1000: E1000Params;
  /** Cost-table overrides (any key of sim/costs.ts). */
  readonly costs: Readonly<Record<string, number>>;
  readonly seed: number;
  /** Simulated warm-up before the measurement window, µs. */
  readonly warmupUs: number;
  /** Measurement window, µs. */
  readonly measureUs: number;
  /**
   * Drain after the window (sources stopped), µs; while frames are still on their way at its end it
   * goes on, drainUs (at least 1 ms) at a time, up to 50 times more, before in-flight frames are reported.
   */
  readonly drainUs: number;
}

export const DEFAULT_HOST: HostParams = {
  guestCores: 12,
  hostCores: 4,
  vhostCores: 4,
  pcieGen: 2,
  pcieWidth: 8,
  itr: 8000,
  ringEntries: 512,
  iotlbEntries: 512,
  hostQueues: 4,
  vcpuHalt: false,
  guestGro: false,
  guestGso: false,
  guestHz: 0,
};

export const DEFAULT_SRIOV: SriovParams = { interrupts: "remapped", iommuPage: "4k", mapping: "static", deferredBatch: 250, bufferStride: 2048, tso: false };
export const DEFAULT_XEN: XenParams = { grants: "copy", queues: 1, netback: "per-queue", gso: false };
export const DEFAULT_E1000: E1000Params = { tso: false };
/** The longest vhost busy poll a scenario may ask for (µs). */
export const VIRTIO_BUSY_POLL_MAX_US = 10_000;

export const DEFAULT_VIRTIO: VirtioParams = { eventIdx: true, queueSize: 256, tso: false, indirect: true, busyPollUs: 0 };

export const DEFAULT_RUN: RunParams = {
  backend: "sriov",
  vms: 1,
  traffic: DEFAULT_TRAFFIC,
  host: DEFAULT_HOST,
  sriov: DEFAULT_SRIOV,
  xen: DEFAULT_XEN,
  virtio: DEFAULT_VIRTIO,
  e1000: DEFAULT_E1000,
  costs: {},
  seed: 1,
  warmupUs: 2000,
  measureUs: 10000,
  drainUs: 20000,
};
