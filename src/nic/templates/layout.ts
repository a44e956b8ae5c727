/**
 * Config-space layouts of a template's PF and VF functions, built from the capability tables.
 * PF: PM, MSI, MSI-X, PCI Express endpoint, AER, DSN, ARI, SR-IOV (the 82576's real placement:
 * PM 0x40, MSI 0x50, MSI-X 0x70, PCIe 0xa0, AER 0x100, DSN 0x140, ARI 0x150, SR-IOV 0x160 — fixture
 * cap-pcie-2). VF: MSI-X, PCI Express endpoint, AER, ARI; Vendor/Device ID read 0xFFFF, BARs read 0,
 * Memory Space Enable hardwired 0, no INTx pin (SR-IOV 1.1 §3.4, Table 3-1).
 */
import { barOverrides } from "../../pcie/bars.js";
import { aerCap } from "../../pcie/caps/aer.js";
import { ariCap } from "../../pcie/caps/ari.js";
import { placeCap } from "../../pcie/caps/common.js";
import { dsnCap } from "../../pcie/caps/dsn.js";
import { msiCap } from "../../pcie/caps/msi.js";
import { msixCap } from "../../pcie/caps/msix.js";
import type { PcieSpeed, PcieWidth } from "../../pcie/caps/pcie.js";
import { pcieCap } from "../../pcie/caps/pcie.js";
import { pmCap } from "../../pcie/caps/pm.js";
import { sriovCap } from "../../pcie/caps/sriov.js";
import { PCI_COMMAND_MASTER, PCI_COMMAND_PARITY, PCI_COMMAND_SERR, TYPE0_HEADER } from "../../pcie/header.js";
import type { ConfigLayout, Overrides } from "../../pcie/layout.js";
import { LayoutBuilder } from "../../pcie/layout.js";
import type { NicTemplate } from "./catalog.js";
import { hwTemplateOf, resolveTemplate } from "../template.js";

export const PF_CAP_OFFSETS = { pm: 0x40, msi: 0x50, msix: 0x70, pcie: 0xa0, aer: 0x100, dsn: 0x140, ari: 0x150, sriov: 0x160 } as const;
export const VF_CAP_OFFSETS = { msix: 0x70, pcie: 0xa0, aer: 0x100, ari: 0x150 } as const;

const speedOf = (s: NicTemplate["linkSpeed"]): PcieSpeed => Number.parseFloat(s) as PcieSpeed;
/** MSI-X table at 0 and PBA at 0x2000 of the MSI-X BAR (the 82576's placement). */
const MSIX_PBA_OFFSET = 0x2000;

/** Layout of PF `fn` (0-based port) of template `t`. */
export function pfLayout(t: NicTemplate, fn: number, serial: bigint): ConfigLayout {
  const hdr = {
    VENDOR_ID: t.vendorId,
    DEVICE_ID: t.deviceId,
    CLASS_REVISION: ((t.classCode << 8) | t.revision) >>> 0,
    SUBSYSTEM_VENDOR_ID: t.subsystemVendorId,
    SUBSYSTEM_ID: t.subsystemId,
    HEADER_TYPE: t.ports > 1 ? 0x80 : 0,
    INTERRUPT_PIN: 1,
    ...barOverrides(t.pfBars, (i) => `BAR${i}`),
  } as Overrides<typeof TYPE0_HEADER.regs>;
  const b = new LayoutBuilder(4096).header(TYPE0_HEADER, hdr);
  placeCap(b, pmCap({ pme: ["d0", "d3hot", "d3cold"], dsi: true }), PF_CAP_OFFSETS.pm);
  b.cap(msiCap({ addr64: true, perVectorMask: true, multipleMessageCapable: 0 }), PF_CAP_OFFSETS.msi);
  // the PF's MSI-X placement is the one the NIC hardware decodes (see nic/template.ts hwTemplateOf)
  const pm = resolveTemplate(hwTemplateOf(t)).pfMsix;
  placeCap(b, msixCap({ vectors: pm.vectors, tableBir: pm.bar, tableOffset: pm.tableOffset, pbaBir: pm.bar, pbaOffset: pm.pbaOffset }), PF_CAP_OFFSETS.msix);
  placeCap(b, pcieCap("endpoint", { speed: speedOf(t.linkSpeed), width: t.linkWidth as PcieWidth, flr: true }), PF_CAP_OFFSETS.pcie);
  placeCap(b, aerCap("endpoint"), PF_CAP_OFFSETS.aer);
  placeCap(b, dsnCap(serial), PF_CAP_OFFSETS.dsn);
  placeCap(b, ariCap({ nextFunction: fn + 1 < t.ports ? fn + 1 : 0 }), PF_CAP_OFFSETS.ari);
  placeCap(
    b,
    sriovCap({
      totalVFs: t.totalVfs,
      initialVFs: t.initialVfs,
      vfDeviceId: t.vfDeviceId,
      supportedPageSizes: t.supportedPageSizes,
      vfBars: t.vfBars,
      functionDependencyLink: fn,
    }),
    PF_CAP_OFFSETS.sriov,
  );
  return b.build();
}

/** Layout shared by every VF of template `t` (one copy for thousands of VFs). */
export function vfLayout(t: NicTemplate): ConfigLayout {
  const hdr = {
    VENDOR_ID: 0xffff,
    DEVICE_ID: 0xffff,
    CLASS_REVISION: ((t.classCode << 8) | t.revision) >>> 0,
    SUBSYSTEM_VENDOR_ID: t.subsystemVendorId,
    SUBSYSTEM_ID: t.subsystemId,
    HEADER_TYPE: 0,
    INTERRUPT_PIN: 0,
    // SR-IOV Table 3-1: I/O and Memory Space Enable are RO 0 in a VF (VF MSE lives in the PF); no INTx.
    COMMAND: { rw: PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | PCI_COMMAND_SERR },
    INTERRUPT_LINE: { rw: 0 },
  } as Overrides<typeof TYPE0_HEADER.regs>;
  const b = new LayoutBuilder(4096).header(TYPE0_HEADER, hdr);
  const m = vfMsixPlacement(t);
  placeCap(b, msixCap({ vectors: t.vfMsixVectors, tableBir: m.bar, tableOffset: m.table, pbaBir: m.bar, pbaOffset: m.pba }), VF_CAP_OFFSETS.msix);
  placeCap(b, pcieCap("endpoint", { speed: speedOf(t.linkSpeed), width: t.linkWidth as PcieWidth, flr: true }), VF_CAP_OFFSETS.pcie);
  placeCap(b, aerCap("endpoint"), VF_CAP_OFFSETS.aer);
  placeCap(b, ariCap({ nextFunction: 0 }), VF_CAP_OFFSETS.ari);
  return b.build();
}

/** Where a VF's MSI-X table and PBA live: VF BAR3 at 0/0x2000 when the VF has a BAR3 (Intel), else
 *  the upper half of VF BAR0 ([A] for single-BAR VFs such as ConnectX-5's). */
export function vfMsixPlacement(t: NicTemplate): { bar: number; table: number; pba: number } {
  if (t.vfBars.some((b) => b.index === 3)) return { bar: 3, table: 0, pba: MSIX_PBA_OFFSET };
  const bar0 = t.vfBars.find((b) => b.index === 0)?.size ?? 0x10000;
  return { bar: 0, table: bar0 / 2, pba: bar0 / 2 + MSIX_PBA_OFFSET };
}
