/**
 * SR-IOV discovery during enumeration, as Linux drivers/pci/iov.c sriov_init and
 * compute_max_vf_buses do it through configuration cycles: VF Enable cleared, ARI Capable Hierarchy
 * on the first PF of a bus with ARI forwarding, the smallest supported System Page Size not below the
 * host page, VF BARs sized with the BAR sizing protocol (each a multiple of the page), and the highest
 * bus any VF can land on found by trying every NumVFs from TotalVFs down to 1 (offset and stride may
 * change with NumVFs, SR-IOV 1.1 §3.3.10–3.3.11), NumVFs then restored.
 */
import { IovError } from "../errors.js";
import { findExtCapability } from "./capwalk.js";
import {
  PCI_EXT_CAP_ID_SRIOV,
  PCI_SRIOV_BAR,
  PCI_SRIOV_CTRL,
  PCI_SRIOV_CTRL_ARI,
  PCI_SRIOV_CTRL_VFE,
  PCI_SRIOV_NUM_BARS,
  PCI_SRIOV_NUM_VF,
  PCI_SRIOV_SUP_PGSIZE,
  PCI_SRIOV_SYS_PGSIZE,
  PCI_SRIOV_TOTAL_VF,
  PCI_SRIOV_VF_OFFSET,
  PCI_SRIOV_VF_STRIDE,
} from "./caps/sriov.js";
import type { CfgAccess, EnumBus, EnumDev } from "./enum-access.js";
import { fmtSize } from "./resources.js";

/**
 * sriov_init: what the PCI core does when it finds an SR-IOV capability on an endpoint. Fills the
 * PF's IOV resources and the highest VF bus, or reports (EIO) why SR-IOV cannot be used.
 */
export function sriovInit(acc: CfgAccess, bus: EnumBus, dev: EnumDev, hostPageSize: number, problems: IovError[]): void {
  const { bus: b, devfn } = dev;
  const pos = findExtCapability(acc.reader(b, devfn), PCI_EXT_CAP_ID_SRIOV);
  if (pos === 0) return;
  const ctrl = acc.rd(b, devfn, pos + PCI_SRIOV_CTRL, 2);
  if (ctrl & PCI_SRIOV_CTRL_VFE) acc.wr(b, devfn, pos + PCI_SRIOV_CTRL, 2, ctrl & ~PCI_SRIOV_CTRL_VFE);
  // ARI Capable Hierarchy: set on the first PF of the bus when ARI forwarding is on above it.
  const firstPf = !bus.devs.some((d) => d !== dev && d.sriovCap !== 0);
  const ari = firstPf && bus.bridge !== undefined && acc.ariForwarding(bus.bridge);
  acc.wr(b, devfn, pos + PCI_SRIOV_CTRL, 2, ari ? PCI_SRIOV_CTRL_ARI : 0);
  const total = acc.rd(b, devfn, pos + PCI_SRIOV_TOTAL_VF, 2);
  if (total === 0) return;
  const giveUp = (why: string): void => {
    problems.push(new IovError("EIO", `${dev.bdf}: SR-IOV not usable: ${why}`, { bdf: dev.bdf }));
  };
  const sup = acc.rd(b, devfn, pos + PCI_SRIOV_SUP_PGSIZE, 4);
  const usable = (sup & ~(hostPageSize / 4096 - 1)) >>> 0;
  if (usable === 0) return giveUp(`no supported page size ≥ ${fmtSize(hostPageSize)} (mask 0x${sup.toString(16)})`);
  const pg = (usable & -usable) >>> 0;
  acc.wr(b, devfn, pos + PCI_SRIOV_SYS_PGSIZE, 4, pg);
  const page = pg * 4096;
  const vfBars = acc.sizeBars(b, devfn, pos + PCI_SRIOV_BAR, PCI_SRIOV_NUM_BARS);
  for (const v of vfBars) {
    if (v.kind === "io") return giveUp(`VF BAR${v.index} is an I/O BAR`);
    if (v.size % hostPageSize !== 0) return giveUp(`VF BAR${v.index} size ${fmtSize(v.size)} is not a multiple of the page size`);
  }
  // compute_max_vf_buses: offset and stride may change with NumVFs (SR-IOV 1.1 §3.3.10-11).
  const orig = acc.rd(b, devfn, pos + PCI_SRIOV_NUM_VF, 2);
  let maxBus = b;
  let bad = "";
  for (let n = total; n >= 1; n--) {
    acc.wr(b, devfn, pos + PCI_SRIOV_NUM_VF, 2, n);
    const offset = acc.rd(b, devfn, pos + PCI_SRIOV_VF_OFFSET, 2);
    const stride = acc.rd(b, devfn, pos + PCI_SRIOV_VF_STRIDE, 2);
    if (offset === 0 || (n > 1 && stride === 0)) {
      bad = `First VF Offset ${offset}, VF Stride ${stride} with NumVFs ${n}`;
      break;
    }
    maxBus = Math.max(maxBus, b + ((devfn + offset + stride * (n - 1)) >> 8));
  }
  acc.wr(b, devfn, pos + PCI_SRIOV_NUM_VF, 2, orig);
  if (bad !== "") return giveUp(bad);
  dev.sriovCap = pos;
  dev.totalVfs = total;
  dev.maxVfBus = maxBus;
  dev.sysPage = page;
  dev.iov = vfBars.map((v) => ({ index: v.index, kind: v.kind, prefetchable: v.prefetchable, perVf: v.size, vfs: total }));
}
