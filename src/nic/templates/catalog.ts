/**
 * NIC templates: real IDs and SR-IOV geometry of the cards pciov models, with where each value
 * comes from. Tags: [F] read from a real dump in shared/fixtures/real-sriov-dumps (pciutils tests);
 * [C] shared/reference/costs.md "NIC facts"; [Q] QEMU hw/net/igb* (anchors.md §2.3);
 * [L] Linux driver constants (ixgbe/i40e/ice/mlx5, as cited); [A] assumption, stated.
 */
import type { BarSpec } from "../../pcie/bars.js";
import type { OffsetStride } from "../../sriov/geometry.js";
import { ariDependentOffset, fixedOffsetStride } from "../../sriov/geometry.js";

export type LinkSpeed = "2.5GT/s" | "5GT/s" | "8GT/s" | "16GT/s" | "32GT/s";

export interface NicTemplate {
  readonly name: string;
  readonly description: string;
  readonly vendorId: number;
  readonly deviceId: number;
  readonly vfDeviceId: number;
  readonly subsystemVendorId: number;
  readonly subsystemId: number;
  readonly revision: number;
  readonly classCode: number;
  /** PFs (ports) per card; each PF is one function of a multifunction device. */
  readonly ports: number;
  readonly totalVfs: number;
  readonly initialVfs: number;
  readonly supportedPageSizes: number;
  readonly offsetStride: (numVfs: number, ari: boolean) => OffsetStride;
  readonly offsetStrideRule: string;
  readonly pfBars: readonly BarSpec[];
  readonly vfBars: readonly BarSpec[];
  /** MSI-X table BAR and vectors. */
  readonly msixBar: number;
  readonly pfMsixVectors: number;
  readonly vfMsixVectors: number;
  readonly queuePairsPerVf: number;
  readonly maxQueuePairsPerVf: number;
  readonly linkSpeed: LinkSpeed;
  readonly linkWidth: number;
  /** Ethernet port speed, bits/s. */
  readonly ethRateBps: number;
  readonly sources: Readonly<Record<string, string>>;
}

const KiB = 1024;
const MiB = 1024 * 1024;
const SUP_PGSIZE_MINREQ = 0x553; // 4K 8K 64K 256K 1M 4M (SR-IOV spec minimum; QEMU's SRIOV_SUP_PGSIZE_MINREQ)

const intel82576: NicTemplate = {
  name: "intel-82576",
  description: "Intel 82576 Gigabit Network Connection (igb), dual port, 8 VFs per port",
  vendorId: 0x8086,
  deviceId: 0x10c9,
  vfDeviceId: 0x10ca,
  subsystemVendorId: 0x8086,
  subsystemId: 0xa03c,
  revision: 0x01,
  classCode: 0x020000,
  ports: 2,
  totalVfs: 8,
  initialVfs: 8,
  supportedPageSizes: SUP_PGSIZE_MINREQ,
  offsetStride: ariDependentOffset(128, 384, 2),
  offsetStrideRule: "First VF Offset 128 with ARI Capable Hierarchy, 384 without; VF Stride 2",
  pfBars: [
    { index: 0, kind: "mem32", prefetchable: false, size: 128 * KiB },
    { index: 1, kind: "mem32", prefetchable: false, size: 4 * MiB },
    { index: 2, kind: "io", prefetchable: false, size: 32 },
    { index: 3, kind: "mem32", prefetchable: false, size: 16 * KiB },
  ],
  vfBars: [
    { index: 0, kind: "mem64", prefetchable: false, size: 16 * KiB },
    { index: 3, kind: "mem64", prefetchable: false, size: 16 * KiB },
  ],
  msixBar: 3,
  pfMsixVectors: 10,
  vfMsixVectors: 3,
  queuePairsPerVf: 1,
  maxQueuePairsPerVf: 2,
  linkSpeed: "2.5GT/s",
  linkWidth: 4,
  ethRateBps: 1e9,
  sources: {
    ids: "[F] cap-pcie-2: 8086:10c9 rev 01, subsystem 8086:a03c, VF Device ID 10ca",
    geometry: "[F] cap-pcie-2 (ARI off: offset 384) and cap-pcie-2@1d03d34 (ARI on: offset 128); stride 2; Total/Initial VFs 8; supported page sizes 0x553",
    pfBars: "[F] cap-pcie-2 regions 0,1,3 memory, 2 I/O; sizes [A] from the igb datasheet convention (128 KiB CSR, 4 MiB flash, 16 KiB MSI-X)",
    vfBars: "[F] VF BAR0/BAR3 64-bit non-prefetchable 0x20000 apart for 8 VFs → 16 KiB each; [Q] igbvf 16 KiB BARs",
    msix: "[F] MSI-X Count=10 on the PF, table in BAR3; [Q] igbvf 3 vectors",
    link: "[F] LnkCap 2.5GT/s x4",
    vfs: "[C] 8 VFs per PF in hardware; Linux igb caps at 7",
  },
};

const intel82599: NicTemplate = {
  name: "intel-82599",
  description: "Intel 82599ES 10-Gigabit SFI/SFP+ (ixgbe), dual port, 64 pools per port",
  vendorId: 0x8086,
  deviceId: 0x10fb,
  vfDeviceId: 0x10ed,
  subsystemVendorId: 0x8086,
  subsystemId: 0x000c,
  revision: 0x01,
  classCode: 0x020000,
  ports: 2,
  totalVfs: 64,
  initialVfs: 64,
  supportedPageSizes: SUP_PGSIZE_MINREQ,
  offsetStride: fixedOffsetStride(0x180, 2),
  offsetStrideRule: "First VF Offset 0x180 (384), VF Stride 2",
  pfBars: [
    { index: 0, kind: "mem64", prefetchable: false, size: 512 * KiB },
    { index: 2, kind: "io", prefetchable: false, size: 32 },
    { index: 4, kind: "mem64", prefetchable: false, size: 16 * KiB },
  ],
  vfBars: [
    { index: 0, kind: "mem64", prefetchable: true, size: 16 * KiB },
    { index: 3, kind: "mem64", prefetchable: true, size: 16 * KiB },
  ],
  msixBar: 4,
  pfMsixVectors: 64,
  vfMsixVectors: 3,
  queuePairsPerVf: 2,
  maxQueuePairsPerVf: 8,
  linkSpeed: "5GT/s",
  linkWidth: 8,
  ethRateBps: 10e9,
  sources: {
    ids: "[L] ixgbe_type.h IXGBE_DEV_ID_82599_SFP 0x10FB, IXGBE_DEV_ID_82599_VF 0x10ED",
    geometry: "[A] 82599 datasheet SR-IOV capability defaults: First VF Offset 0x180, Stride 2; [C] 64 pools per port (63 VFs usable)",
    bars: "[A] ixgbe: 512 KiB CSR BAR0, MSI-X in BAR4; VF BARs 16 KiB (ixgbevf maps BAR0)",
    link: "[A] PCIe 2.0 x8",
  },
};

const intelX710: NicTemplate = {
  name: "intel-x710",
  description: "Intel Ethernet Controller X710 for 10GbE SFP+ (i40e), 4 ports, 128 VFs per device",
  vendorId: 0x8086,
  deviceId: 0x1572,
  vfDeviceId: 0x154c,
  subsystemVendorId: 0x8086,
  subsystemId: 0x0001,
  revision: 0x01,
  classCode: 0x020000,
  ports: 2,
  totalVfs: 64,
  initialVfs: 64,
  supportedPageSizes: SUP_PGSIZE_MINREQ,
  offsetStride: fixedOffsetStride(0x10, 1),
  offsetStrideRule: "First VF Offset 16, VF Stride 1 (ARI required past one bus)",
  pfBars: [
    { index: 0, kind: "mem64", prefetchable: true, size: 8 * MiB },
    { index: 3, kind: "mem64", prefetchable: true, size: 32 * KiB },
  ],
  vfBars: [
    { index: 0, kind: "mem64", prefetchable: true, size: 64 * KiB },
    { index: 3, kind: "mem64", prefetchable: true, size: 16 * KiB },
  ],
  msixBar: 3,
  pfMsixVectors: 129,
  vfMsixVectors: 5,
  queuePairsPerVf: 4,
  maxQueuePairsPerVf: 16,
  linkSpeed: "8GT/s",
  linkWidth: 8,
  ethRateBps: 10e9,
  sources: {
    ids: "[L] i40e_devids.h I40E_DEV_ID_SFP_XL710 0x1572, I40E_DEV_ID_VF 0x154C",
    vfs: "[C] 128 VFs per device (64 per PF on a 2-PF part here); 4 queue pairs per VF by default, 16 max",
    geometry: "[A] offset 16 / stride 1",
    bars: "[A] i40e 8 MiB BAR0, VF 64 KiB BAR0",
  },
};

const intelE810: NicTemplate = {
  name: "intel-e810",
  description: "Intel Ethernet Controller E810-C for QSFP (ice), 256 VFs",
  vendorId: 0x8086,
  deviceId: 0x1592,
  vfDeviceId: 0x1889,
  subsystemVendorId: 0x8086,
  subsystemId: 0x0002,
  revision: 0x02,
  classCode: 0x020000,
  ports: 1,
  totalVfs: 256,
  initialVfs: 256,
  supportedPageSizes: SUP_PGSIZE_MINREQ,
  offsetStride: fixedOffsetStride(0x100, 1),
  offsetStrideRule: "First VF Offset 256, VF Stride 1 (VFs on the buses after the PF's)",
  pfBars: [
    { index: 0, kind: "mem64", prefetchable: true, size: 32 * MiB },
    { index: 3, kind: "mem64", prefetchable: true, size: 64 * KiB },
  ],
  vfBars: [
    { index: 0, kind: "mem64", prefetchable: true, size: 128 * KiB },
    { index: 3, kind: "mem64", prefetchable: true, size: 16 * KiB },
  ],
  msixBar: 3,
  pfMsixVectors: 1024,
  vfMsixVectors: 17,
  queuePairsPerVf: 4,
  maxQueuePairsPerVf: 16,
  linkSpeed: "16GT/s",
  linkWidth: 16,
  ethRateBps: 100e9,
  sources: {
    ids: "[L] ice_devids.h ICE_DEV_ID_E810C_QSFP 0x1592, ICE_DEV_ID_E810_VF 0x1889",
    vfs: "[C] 256 VFs",
    geometry: "[A] offset 256 / stride 1: a 256-VF part must spill past the PF's bus",
    queues: "[L] ice: 16 queue pairs max per VF (ICE_MAX_RSS_QS_PER_VF); 4 by default [A]",
    bars: "[A] 32 MiB BAR0; VF BAR0 128 KiB",
  },
};

const mlxCx5: NicTemplate = {
  name: "mlx-cx5",
  description: "Mellanox/NVIDIA ConnectX-5 (mlx5_core), dual port, 127 VFs per port",
  vendorId: 0x15b3,
  deviceId: 0x1017,
  vfDeviceId: 0x1018,
  subsystemVendorId: 0x15b3,
  subsystemId: 0x0007,
  revision: 0x00,
  classCode: 0x020000,
  ports: 2,
  totalVfs: 127,
  initialVfs: 127,
  supportedPageSizes: SUP_PGSIZE_MINREQ,
  offsetStride: fixedOffsetStride(2, 1),
  offsetStrideRule: "First VF Offset 2 (after both PFs), VF Stride 1; PF1's offset is relative to PF1",
  pfBars: [{ index: 0, kind: "mem64", prefetchable: true, size: 32 * MiB }],
  vfBars: [{ index: 0, kind: "mem64", prefetchable: true, size: 1 * MiB }],
  msixBar: 0,
  pfMsixVectors: 64,
  vfMsixVectors: 11,
  queuePairsPerVf: 4,
  maxQueuePairsPerVf: 8,
  linkSpeed: "8GT/s",
  linkWidth: 16,
  ethRateBps: 100e9,
  sources: {
    ids: "[L] mlx5 pci ids: 15b3:1017 ConnectX-5, VF 15b3:1018",
    vfs: "[C] 127 per port",
    geometry: "[A] offset 2 / stride 1",
    bars: "[A] 32 MiB BAR0, VF 1 MiB BAR0, MSI-X table in BAR0",
  },
};

export const NIC_TEMPLATES: readonly NicTemplate[] = [intel82576, intel82599, intelX710, intelE810, mlxCx5];
export const TEMPLATE_NAMES = NIC_TEMPLATES.map((t) => t.name);

export function findTemplate(name: string): NicTemplate | undefined {
  return NIC_TEMPLATES.find((t) => t.name === name);
}
