/**
 * lspci text for the capabilities pciov decodes in detail, other than PCI Express (./lspci-express.ts):
 * PM, MSI, MSI-X, virtio vendor capabilities, AER, ACS, ARI, ATS, PRI, PASID, SR-IOV, DSN, and the title
 * lines of the capabilities it only names, by the rules of pciutils 3.9 (ls-caps.c, ls-ecaps.c,
 * ls-caps-vendor.c). Also the output buffer, the render context and the formatting helpers that every
 * lspci renderer shares. The chain walk that calls these is in ./lspci-text.ts.
 */
import type { Bdf } from "./bdf.js";
import {
  PCI_MSI_ADDRESS_LO,
  PCI_MSI_FLAGS_64BIT,
  PCI_MSI_FLAGS_ENABLE,
  PCI_MSI_FLAGS_MASKBIT,
  PCI_MSI_FLAGS_QMASK,
  PCI_MSI_FLAGS_QSIZE,
} from "./caps/msi.js";
import { PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL, PCI_MSIX_FLAGS_QSIZE, PCI_MSIX_PBA, PCI_MSIX_TABLE, PCI_MSIX_TABLE_BIR } from "./caps/msix.js";
import { PCI_EXP_TYPE_RC_EC, PCI_EXP_TYPE_ROOT_PORT } from "./caps/pcie-regs.js";
import { PCI_PM_CTRL, PCI_PM_PPB_EXTENSIONS, PCI_PM_SIZEOF } from "./caps/pm.js";
import {
  PCI_SRIOV_BAR,
  PCI_SRIOV_CAP,
  PCI_SRIOV_CTRL,
  PCI_SRIOV_FUNC_LINK,
  PCI_SRIOV_INITIAL_VF,
  PCI_SRIOV_NUM_BARS,
  PCI_SRIOV_NUM_VF,
  PCI_SRIOV_STATUS,
  PCI_SRIOV_SUP_PGSIZE,
  PCI_SRIOV_SYS_PGSIZE,
  PCI_SRIOV_TOTAL_VF,
  PCI_SRIOV_VF_DID,
  PCI_SRIOV_VF_OFFSET,
  PCI_SRIOV_VF_STRIDE,
  PCI_SRIOV_VFM,
} from "./caps/sriov.js";
import { PCI_EXT_CAP_ID_VNDR } from "./caps/vndr.js";
import type { ConfigBytes } from "./decode.js";
import { EXT_CAPS_UNDECODED, STD_CAPS_UNDECODED, capName } from "./decode.js";
import { PCI_BASE_ADDRESS_MEM_PREFETCH, PCI_EXT_CAP_ID_DVSEC, PCI_HEADER_TYPE, PCI_HEADER_TYPE_BRIDGE, PCI_HEADER_TYPE_MASK } from "./header.js";
import type { IdStyle } from "./names.js";
import { subsystemText } from "./names.js";

/* ------------------------------------------------- shared by the lspci renderers -- */

/** lspci's FLAG(): "+" when any bit of `mask` is set in `v`, else "-". */
export const f = (v: number, mask: number): string => ((v & mask) !== 0 ? "+" : "-");
/** `n` as unsigned hex, zero-padded to `w` digits (lspci's %0Nx). */
export const h = (n: number, w: number): string => (n >>> 0).toString(16).padStart(w, "0");
/** Bits lo..lo+width-1 of `v` as an unsigned number. */
export const bitsOf = (v: number, lo: number, width: number): number => Math.floor((v >>> 0) / 2 ** lo) % 2 ** width;

/** The lines one renderer prints (a capability's lines are collected, then prefixed with its title). */
export class Out {
  readonly lines: string[] = [];
  line(s: string): void {
    this.lines.push(s);
  }
}

/** What every renderer needs of the function being printed. */
export interface Ctx {
  readonly cfg: ConfigBytes;
  readonly verbose: number;
  readonly ids: IdStyle;
  readonly bdf: Bdf;
  /** BAR "positions" as lspci's libpci fills them (flags included; 64-bit joined; upper half 0). */
  readonly pos: readonly bigint[];
  readonly sizes: readonly (number | undefined)[];
  readonly resourceFlags: readonly number[] | undefined;
  readonly o: Out;
}

/* ------------------------------------------------------------ capabilities -- */

export function capPm(c: Ctx, where: number, cap: number): void {
  const { cfg, o } = c;
  o.line(`Power Management version ${cap & 7}`);
  if (c.verbose < 2) return;
  const aux = [0, 55, 100, 160, 220, 270, 320, 375][bitsOf(cap, 6, 3)] ?? 0;
  o.line(
    `\t\tFlags: PMEClk${f(cap, 0x8)} DSI${f(cap, 0x20)} D1${f(cap, 0x200)} D2${f(cap, 0x400)} AuxCurrent=${aux}mA` +
      ` PME(D0${f(cap, 0x800)},D1${f(cap, 0x1000)},D2${f(cap, 0x2000)},D3hot${f(cap, 0x4000)},D3cold${f(cap, 0x8000)})`,
  );
  if (!cfg.has(where + PCI_PM_CTRL, PCI_PM_SIZEOF - PCI_PM_CTRL)) return;
  const t = cfg.u16(where + PCI_PM_CTRL);
  o.line(`\t\tStatus: D${t & 3} NoSoftRst${f(t, 0x8)} PME-Enable${f(t, 0x100)} DSel=${bitsOf(t, 9, 4)} DScale=${bitsOf(t, 13, 2)} PME${f(t, 0x8000)}`);
  const b = cfg.u8(where + PCI_PM_PPB_EXTENSIONS);
  if (b !== 0) o.line(`\t\tBridge: PM${f(b, 0x80)} B3${f(~b, 0x40)}`);
}

export function capMsi(c: Ctx, where: number, cap: number): void {
  const { cfg, o } = c;
  o.line(
    `MSI: Enable${f(cap, PCI_MSI_FLAGS_ENABLE)} Count=${1 << bitsOf(cap & PCI_MSI_FLAGS_QSIZE, 4, 3)}/${1 << bitsOf(cap & PCI_MSI_FLAGS_QMASK, 1, 3)} Maskable${f(cap, PCI_MSI_FLAGS_MASKBIT)} 64bit${f(cap, PCI_MSI_FLAGS_64BIT)}`,
  );
  if (c.verbose < 2) return;
  const is64 = (cap & PCI_MSI_FLAGS_64BIT) !== 0;
  const dataOff = is64 ? 0x0c : 0x08;
  if (!cfg.has(where + PCI_MSI_ADDRESS_LO, dataOff + 2 - PCI_MSI_ADDRESS_LO)) return;
  const lo = cfg.u32(where + PCI_MSI_ADDRESS_LO);
  const data = cfg.u16(where + dataOff);
  o.line(`\t\tAddress: ${is64 ? h(cfg.u32(where + 0x08), 8) : ""}${h(lo, 8)}  Data: ${h(data, 4)}`);
  if ((cap & PCI_MSI_FLAGS_MASKBIT) !== 0) {
    const maskOff = is64 ? 0x10 : 0x0c;
    if (!cfg.has(where + maskOff, 8)) return;
    o.line(`\t\tMasking: ${h(cfg.u32(where + maskOff), 8)}  Pending: ${h(cfg.u32(where + maskOff + 4), 8)}`);
  }
}

export function capMsix(c: Ctx, where: number, cap: number): void {
  const { cfg, o } = c;
  o.line(`MSI-X: Enable${f(cap, PCI_MSIX_FLAGS_ENABLE)} Count=${(cap & PCI_MSIX_FLAGS_QSIZE) + 1} Masked${f(cap, PCI_MSIX_FLAGS_MASKALL)}`);
  if (c.verbose < 2 || !cfg.has(where + PCI_MSIX_TABLE, 8)) return;
  const t = cfg.u32(where + PCI_MSIX_TABLE);
  o.line(`\t\tVector table: BAR=${t & PCI_MSIX_TABLE_BIR} offset=${h(t & ~PCI_MSIX_TABLE_BIR, 8)}`);
  const p = cfg.u32(where + PCI_MSIX_PBA);
  o.line(`\t\tPBA: BAR=${p & PCI_MSIX_TABLE_BIR} offset=${h(p & ~PCI_MSIX_TABLE_BIR, 8)}`);
}

export function capVendor(c: Ctx, where: number, cap: number): void {
  const { cfg, o } = c;
  const vendor = cfg.u16(0);
  const device = cfg.u16(2);
  if (vendor === 0x1af4 && device >= 0x1000 && device <= 0x107f) {
    // virtio_pci_cap: cap_len, cfg_type, bar, offset, length (+ notify_off_multiplier)
    const type = cap >> 8;
    const names: Record<number, string> = { 1: "CommonCfg", 2: "Notify", 3: "ISR", 4: "DeviceCfg" };
    o.line(`Vendor Specific Information: VirtIO: ${names[type] ?? "<unknown>"}`);
    if (c.verbose < 2) return;
    const size = type === 2 ? 16 : 12;
    if (!cfg.has(where + 4, size)) return;
    let s = `\t\tBAR=${cfg.u8(where + 4)} offset=${h(cfg.u32(where + 8), 8)} size=${h(cfg.u32(where + 12), 8)}`;
    if (type === 2) s += ` multiplier=${h(cfg.u32(where + 16), 8)}`;
    o.line(s);
    return;
  }
  o.line(`Vendor Specific Information: Len=${h(cap & 0xff, 2)} <?>`);
}

export function capAer(c: Ctx, where: number, type: number): void {
  const { cfg, o } = c;
  o.line("Advanced Error Reporting");
  if (c.verbose < 2 || !cfg.has(where + 4, 40)) return;
  const ue = (l: number): string =>
    `DLP${f(l, 0x10)} SDES${f(l, 0x20)} TLP${f(l, 0x1000)} FCP${f(l, 0x2000)} CmpltTO${f(l, 0x4000)} CmpltAbrt${f(l, 0x8000)} UnxCmplt${f(l, 0x10000)} RxOF${f(l, 0x20000)} ` +
    `MalfTLP${f(l, 0x40000)} ECRC${f(l, 0x80000)} UnsupReq${f(l, 0x100000)} ACSViol${f(l, 0x200000)}`;
  const ce = (l: number): string => `RxErr${f(l, 0x1)} BadTLP${f(l, 0x40)} BadDLLP${f(l, 0x80)} Rollover${f(l, 0x100)} Timeout${f(l, 0x1000)} AdvNonFatalErr${f(l, 0x2000)}`;
  o.line(`\t\tUESta:\t${ue(cfg.u32(where + 0x04))}`);
  o.line(`\t\tUEMsk:\t${ue(cfg.u32(where + 0x08))}`);
  o.line(`\t\tUESvrt:\t${ue(cfg.u32(where + 0x0c))}`);
  o.line(`\t\tCESta:\t${ce(cfg.u32(where + 0x10))}`);
  o.line(`\t\tCEMsk:\t${ce(cfg.u32(where + 0x14))}`);
  const l = cfg.u32(where + 0x18);
  o.line(`\t\tAERCap:\tFirst Error Pointer: ${h(l & 0x1f, 2)}, ECRCGenCap${f(l, 0x20)} ECRCGenEn${f(l, 0x40)} ECRCChkCap${f(l, 0x80)} ECRCChkEn${f(l, 0x100)}`);
  o.line(`\t\t\tMultHdrRecCap${f(l, 0x200)} MultHdrRecEn${f(l, 0x400)} TLPPfxPres${f(l, 0x800)} HdrLogCap${f(l, 0x1000)}`);
  o.line(`\t\tHeaderLog: ${[0x1c, 0x20, 0x24, 0x28].map((x) => h(cfg.u32(where + x), 8)).join(" ")}`);
  if (type === PCI_EXP_TYPE_ROOT_PORT || type === PCI_EXP_TYPE_RC_EC) {
    if (!cfg.has(where + 0x2c, 12)) return;
    const cmd = cfg.u32(where + 0x2c);
    o.line(`\t\tRootCmd: CERptEn${f(cmd, 0x1)} NFERptEn${f(cmd, 0x2)} FERptEn${f(cmd, 0x4)}`);
    const st = cfg.u32(where + 0x30);
    o.line(`\t\tRootSta: CERcvd${f(st, 0x1)} MultCERcvd${f(st, 0x2)} UERcvd${f(st, 0x4)} MultUERcvd${f(st, 0x8)}`);
    o.line(`\t\t\t FirstFatal${f(st, 0x10)} NonFatalMsg${f(st, 0x20)} FatalMsg${f(st, 0x40)} IntMsg ${st >>> 27}`);
    o.line(`\t\tErrorSrc: ERR_COR: ${h(cfg.u16(where + 0x34), 4)} ERR_FATAL/NONFATAL: ${h(cfg.u16(where + 0x36), 4)}`);
  }
}

export function capAcs(c: Ctx, where: number): void {
  const { cfg, o } = c;
  o.line("Access Control Services");
  if (c.verbose < 2 || !cfg.has(where + 4, 4)) return;
  const bitsText = (w: number): string =>
    `SrcValid${f(w, 0x1)} TransBlk${f(w, 0x2)} ReqRedir${f(w, 0x4)} CmpltRedir${f(w, 0x8)} UpstreamFwd${f(w, 0x10)} EgressCtrl${f(w, 0x20)} DirectTrans${f(w, 0x40)}`;
  o.line(`\t\tACSCap:\t${bitsText(cfg.u16(where + 4))}`);
  o.line(`\t\tACSCtl:\t${bitsText(cfg.u16(where + 6))}`);
}

export function capAri(c: Ctx, where: number): void {
  const { cfg, o } = c;
  o.line("Alternative Routing-ID Interpretation (ARI)");
  if (c.verbose < 2 || !cfg.has(where + 4, 4)) return;
  const cap = cfg.u16(where + 4);
  o.line(`\t\tARICap:\tMFVC${f(cap, 0x1)} ACS${f(cap, 0x2)}, Next Function: ${cap >> 8}`);
  const ctl = cfg.u16(where + 6);
  o.line(`\t\tARICtl:\tMFVC${f(ctl, 0x1)} ACS${f(ctl, 0x2)}, Function Group: ${bitsOf(ctl, 4, 3)}`);
}

export function capAts(c: Ctx, where: number): void {
  const { cfg, o } = c;
  o.line("Address Translation Service (ATS)");
  if (c.verbose < 2 || !cfg.has(where + 4, 4)) return;
  o.line(`\t\tATSCap:\tInvalidate Queue Depth: ${h(cfg.u16(where + 4) & 0x1f, 2)}`);
  const w = cfg.u16(where + 6);
  o.line(`\t\tATSCtl:\tEnable${f(w, 0x8000)}, Smallest Translation Unit: ${h(w & 0x1f, 2)}`);
}

export function capPri(c: Ctx, where: number): void {
  const { cfg, o } = c;
  o.line("Page Request Interface (PRI)");
  if (c.verbose < 2 || !cfg.has(where + 4, 0xc)) return;
  const ctl = cfg.u16(where + 4);
  o.line(`\t\tPRICtl: Enable${f(ctl, 0x1)} Reset${f(ctl, 0x2)}`);
  const st = cfg.u16(where + 6);
  o.line(`\t\tPRISta: RF${f(st, 0x1)} UPRGI${f(st, 0x2)} Stopped${f(st, 0x100)}`);
  o.line(`\t\tPage Request Capacity: ${h(cfg.u32(where + 8), 8)}, Page Request Allocation: ${h(cfg.u32(where + 0xc), 8)}`);
}

export function capPasid(c: Ctx, where: number): void {
  const { cfg, o } = c;
  o.line("Process Address Space ID (PASID)");
  if (c.verbose < 2 || !cfg.has(where + 4, 4)) return;
  const cap = cfg.u16(where + 4);
  o.line(`\t\tPASIDCap: Exec${f(cap, 0x2)} Priv${f(cap, 0x4)}, Max PASID Width: ${h(bitsOf(cap, 8, 5), 2)}`);
  const ctl = cfg.u16(where + 6);
  o.line(`\t\tPASIDCtl: Enable${f(ctl, 0x1)} Exec${f(ctl, 0x2)} Priv${f(ctl, 0x4)}`);
}

export function capSriov(c: Ctx, where: number): void {
  const { cfg, o } = c;
  o.line("Single Root I/O Virtualization (SR-IOV)");
  if (c.verbose < 2 || !cfg.has(where + PCI_SRIOV_CAP, 0x3c)) return;
  const cap = cfg.u32(where + PCI_SRIOV_CAP);
  o.line(`\t\tIOVCap:\tMigration${f(cap, 0x1)} 10BitTagReq${f(cap, 0x4)} Interrupt Message Number: ${h(cap >>> 21, 3)}`);
  const ctl = cfg.u16(where + PCI_SRIOV_CTRL);
  o.line(`\t\tIOVCtl:\tEnable${f(ctl, 0x1)} Migration${f(ctl, 0x2)} Interrupt${f(ctl, 0x4)} MSE${f(ctl, 0x8)} ARIHierarchy${f(ctl, 0x10)} 10BitTagReq${f(ctl, 0x20)}`);
  o.line(`\t\tIOVSta:\tMigration${f(cfg.u16(where + PCI_SRIOV_STATUS), 0x1)}`);
  o.line(
    `\t\tInitial VFs: ${cfg.u16(where + PCI_SRIOV_INITIAL_VF)}, Total VFs: ${cfg.u16(where + PCI_SRIOV_TOTAL_VF)}, Number of VFs: ${cfg.u16(where + PCI_SRIOV_NUM_VF)}, ` +
      `Function Dependency Link: ${h(cfg.u8(where + PCI_SRIOV_FUNC_LINK), 2)}`,
  );
  o.line(`\t\tVF offset: ${cfg.u16(where + PCI_SRIOV_VF_OFFSET)}, stride: ${cfg.u16(where + PCI_SRIOV_VF_STRIDE)}, Device ID: ${h(cfg.u16(where + PCI_SRIOV_VF_DID), 4)}`);
  o.line(`\t\tSupported Page Size: ${h(cfg.u32(where + PCI_SRIOV_SUP_PGSIZE), 8)}, System Page Size: ${h(cfg.u32(where + PCI_SRIOV_SYS_PGSIZE), 8)}`);
  for (let i = 0; i < PCI_SRIOV_NUM_BARS; i++) {
    let l = cfg.u32(where + PCI_SRIOV_BAR + 4 * i);
    if (l === 0xffffffff) l = 0;
    if (l === 0) continue;
    const addr = (l & ~0xf) >>> 0;
    const type = l & 0x6;
    let s = `\t\tRegion ${i}: Memory at `;
    if (type === 0x4) {
      i++;
      s += h(cfg.u32(where + PCI_SRIOV_BAR + 4 * i), 8);
    }
    s += `${h(addr, 8)} (${type === 0 ? "32" : "64"}-bit, ${(l & PCI_BASE_ADDRESS_MEM_PREFETCH) !== 0 ? "" : "non-"}prefetchable)`;
    o.line(s);
  }
  const vfm = cfg.u32(where + PCI_SRIOV_VFM);
  o.line(`\t\tVF Migration: offset: ${h((vfm & ~7) >>> 0, 8)}, BIR: ${(vfm & 7).toString(16)}`);
}

export function capDsn(c: Ctx, where: number): boolean {
  const { cfg, o } = c;
  if (!cfg.has(where + 4, 8)) return false;
  const lo = cfg.u32(where + 4);
  const hi = cfg.u32(where + 8);
  const bytes = [hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff];
  o.line(`Device Serial Number ${bytes.map((b) => h(b, 2)).join("-")}`);
  return true;
}

/** Title of a standard capability lspci decodes but pciov renders no detail for. */
export function stdTitle(c: Ctx, id: number, where: number, cap: number): string {
  switch (id) {
    case 0x00:
      return "Null";
    case 0x02:
      return `AGP version ${(cap >> 4) & 0xf}.${cap & 0xf}`;
    case 0x03:
      return "Vital Product Data";
    case 0x04:
      return `Slot ID: ${cap & 0x1f} slots, First${f(cap, 0x20)}, chassis ${h(cap >> 8, 2)}`;
    case 0x07:
      return (c.cfg.u8(PCI_HEADER_TYPE) & PCI_HEADER_TYPE_MASK) === PCI_HEADER_TYPE_BRIDGE ? "PCI-X bridge device" : "PCI-X non-bridge device";
    case 0x0a:
      return `Debug port: BAR=${cap >> 13} offset=${h(cap & 0x1fff, 4)}`;
    case 0x0c:
      return "Hot-plug capable";
    case 0x0d:
      return `Subsystem: ${subsystemText(c.cfg.u16(0), c.cfg.u16(2), c.cfg.u16(where + 4), c.cfg.u16(where + 6), c.ids)}`;
    case 0x12:
      return `SATA HBA v${(cap >> 4) & 0xf}.${cap & 0xf}`;
    case 0x13:
      return "PCI Advanced Features";
    case 0x14:
      return `Enhanced Allocation (EA): NumEntries=${cap & 0x3f}`;
    default:
      if (STD_CAPS_UNDECODED.has(id)) return `${capName(id, false)} <?>`;
      if (id <= 0x14) return capName(id, false);
      return `Capability ID 0x${id.toString(16)} [${h(cap, 4)}]`;
  }
}

/** Title of an extended capability pciov renders no detail for. */
export function extTitle(c: Ctx, id: number, where: number): string {
  const { cfg } = c;
  if (id === PCI_EXT_CAP_ID_VNDR) {
    const hdr = cfg.u32(where + 4);
    return `Vendor Specific Information: ID=${h(hdr & 0xffff, 4)} Rev=${(hdr >>> 16) & 0xf} Len=${h(hdr >>> 20, 3)} <?>`;
  }
  if (id === PCI_EXT_CAP_ID_DVSEC) {
    const h1 = cfg.u32(where + 4);
    const h2 = cfg.u16(where + 8);
    const vendor = h1 & 0xffff;
    return `Designated Vendor-Specific: Vendor=${h(vendor, 4)} ID=${h(h2, 4)} Rev=${(h1 >>> 16) & 0xf} Len=${h1 >>> 20}${vendor === 0x1e98 ? ": CXL" : " <?>"}`;
  }
  const name = capName(id, true);
  return EXT_CAPS_UNDECODED.has(id) ? `${name} <?>` : name;
}
