/**
 * lspci-style text (`lspci -v`, `-vv`, `-vvv`, with `-n`/`-nn` IDs) for configuration bytes, decoded
 * by the same rules pciutils 3.9 applies (lspci.c, ls-caps.c, ls-ecaps.c, ls-caps-vendor.c): the
 * header (Control/Status, latency, interrupt, regions, expansion ROM, bridge bus numbers and windows)
 * and the capabilities pciov models — PM, MSI, MSI-X, PCI Express, AER, ACS, ARI, ATS, PRI, PASID,
 * SR-IOV, DSN, virtio vendor capabilities. Other capabilities get lspci's title line only.
 *
 * Formats were checked line by line against lspci 3.9 run on the same bytes (tests/peer/lspci.test.ts).
 */
import type { Bdf } from "./bdf.js";
import { formatBdf, parseBdf } from "./bdf.js";
import type { CapLocation, ChainEvent } from "./decode.js";
import {
  ConfigBytes,
  EXT_CAPS_UNDECODED,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_PM,
  PCI_CAP_ID_VNDR,
  PCI_EXT_CAP_ID_ACS,
  PCI_EXT_CAP_ID_ARI,
  PCI_EXT_CAP_ID_ATS,
  PCI_EXT_CAP_ID_DSN,
  PCI_EXT_CAP_ID_DVSEC,
  PCI_EXT_CAP_ID_ERR,
  PCI_EXT_CAP_ID_PASID,
  PCI_EXT_CAP_ID_PRI,
  PCI_EXT_CAP_ID_SRIOV,
  PCI_EXT_CAP_ID_VNDR,
  PCI_HEADER_TYPE_CARDBUS,
  STD_CAPS_UNDECODED,
  barSlots,
  capName,
  walkCapabilities,
} from "./decode.js";
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_BRIDGE,
  PCI_HEADER_TYPE_MASK,
  PCI_HEADER_TYPE_NORMAL,
  PCI_ROM_ADDRESS,
  PCI_ROM_ADDRESS1,
  PCI_ROM_ADDRESS_ENABLE,
  PCI_ROM_ADDRESS_MASK,
  PCI_STATUS,
} from "./header.js";
import type { IdStyle } from "./names.js";
import { classText, progIfName, subsystemText, vendorDeviceText } from "./names.js";

/* ------------------------------------------------ uapi names (pci_regs.h) -- */
const PCI_COMMAND_SPECIAL = 0x8;
const PCI_COMMAND_INVALIDATE = 0x10;
const PCI_COMMAND_VGA_PALETTE = 0x20;
const PCI_COMMAND_PARITY = 0x40;
const PCI_COMMAND_WAIT = 0x80;
const PCI_COMMAND_SERR = 0x100;
const PCI_COMMAND_FAST_BACK = 0x200;
const PCI_COMMAND_INTX_DISABLE = 0x400;
const PCI_STATUS_INTERRUPT = 0x8;
const PCI_STATUS_CAP_LIST = 0x10;
const PCI_STATUS_66MHZ = 0x20;
const PCI_STATUS_UDF = 0x40;
const PCI_STATUS_FAST_BACK = 0x80;
const PCI_STATUS_PARITY = 0x100;
const PCI_STATUS_DEVSEL_MASK = 0x600;
const PCI_STATUS_SIG_TARGET_ABORT = 0x800;
const PCI_STATUS_REC_TARGET_ABORT = 0x1000;
const PCI_STATUS_REC_MASTER_ABORT = 0x2000;
const PCI_STATUS_SIG_SYSTEM_ERROR = 0x4000;
const PCI_STATUS_DETECTED_PARITY = 0x8000;
const PCI_CLASS_BRIDGE_PCI = 0x0604;
const PCI_BIST_CAPABLE = 0x80;
const PCI_BIST_START = 0x40;
const PCI_BIST_CODE_MASK = 0x0f;
const PCI_SEC_STATUS = 0x1e;
const PCI_BRIDGE_CONTROL = 0x3e;

/* PCI Express capability (offsets from the capability) */
/** Capability-specific flags word after ID and next pointer (PCI_CAP_FLAGS). */
const PCI_CAP_FLAGS = 0x02;
const PCI_EXP_FLAGS_VERS = 0x000f;
const PCI_EXP_FLAGS_TYPE = 0x00f0;
const PCI_EXP_FLAGS_SLOT = 0x0100;
const PCI_EXP_FLAGS_IRQ = 0x3e00;
const PCI_EXP_TYPE_ENDPOINT = 0x0;
const PCI_EXP_TYPE_LEG_END = 0x1;
const PCI_EXP_TYPE_ROOT_PORT = 0x4;
const PCI_EXP_TYPE_UPSTREAM = 0x5;
const PCI_EXP_TYPE_DOWNSTREAM = 0x6;
const PCI_EXP_TYPE_PCI_BRIDGE = 0x7;
const PCI_EXP_TYPE_PCIE_BRIDGE = 0x8;
const PCI_EXP_TYPE_RC_END = 0x9;
const PCI_EXP_TYPE_RC_EC = 0xa;
const PCI_EXP_DEVCAP = 0x04;
const PCI_EXP_DEVCTL = 0x08;
const PCI_EXP_DEVSTA = 0x0a;
const PCI_EXP_LNKCAP = 0x0c;
const PCI_EXP_LNKCTL = 0x10;
const PCI_EXP_LNKSTA = 0x12;
const PCI_EXP_SLTCAP = 0x14;
const PCI_EXP_SLTCTL = 0x18;
const PCI_EXP_SLTSTA = 0x1a;
const PCI_EXP_RTCTL = 0x1c;
const PCI_EXP_RTCAP = 0x1e;
const PCI_EXP_RTSTA = 0x20;
const PCI_EXP_DEVCAP2 = 0x24;
const PCI_EXP_DEVCTL2 = 0x28;
const PCI_EXP_LNKCAP2 = 0x2c;
const PCI_EXP_LNKCTL2 = 0x30;
const PCI_EXP_LNKSTA2 = 0x32;
const PCI_EXP_DEVCAP2_ARI = 0x20;
const PCI_EXP_DEVCTL2_ARI = 0x20;
const PCI_EXP_LNKCAP2_DRS = 0x80000000;

/* MSI / MSI-X / PM */
const PCI_MSI_FLAGS_ENABLE = 0x1;
const PCI_MSI_FLAGS_QMASK = 0xe;
const PCI_MSI_FLAGS_QSIZE = 0x70;
const PCI_MSI_FLAGS_64BIT = 0x80;
const PCI_MSI_FLAGS_MASKBIT = 0x100;
const PCI_MSI_ADDRESS_LO = 0x4;
const PCI_MSIX_FLAGS_QSIZE = 0x7ff;
const PCI_MSIX_FLAGS_MASKALL = 0x4000;
const PCI_MSIX_FLAGS_ENABLE = 0x8000;
const PCI_MSIX_TABLE = 0x4;
const PCI_MSIX_PBA = 0x8;
const PCI_MSIX_TABLE_BIR = 0x7;
const PCI_PM_CTRL = 0x4;
const PCI_PM_PPB_EXTENSIONS = 0x6;
const PCI_PM_SIZEOF = 0x8;

/* SR-IOV (offsets from the capability) */
const PCI_SRIOV_CAP = 0x04;
const PCI_SRIOV_CTRL = 0x08;
const PCI_SRIOV_STATUS = 0x0a;
const PCI_SRIOV_INITIAL_VF = 0x0c;
const PCI_SRIOV_TOTAL_VF = 0x0e;
const PCI_SRIOV_NUM_VF = 0x10;
const PCI_SRIOV_FUNC_LINK = 0x12;
const PCI_SRIOV_VF_OFFSET = 0x14;
const PCI_SRIOV_VF_STRIDE = 0x16;
const PCI_SRIOV_VF_DID = 0x1a;
const PCI_SRIOV_SUP_PGSIZE = 0x1c;
const PCI_SRIOV_SYS_PGSIZE = 0x20;
const PCI_SRIOV_BAR = 0x24;
const PCI_SRIOV_VFM = 0x3c;
const PCI_SRIOV_NUM_BARS = 6;

/* ---------------------------------------------------------- helpers -- */
export interface LspciOptions {
  /** 0: one line per function; 1: -v; 2: -vv; 3: -vvv. */
  readonly verbose?: 0 | 1 | 2 | 3;
  /** IDs as names (default), numbers (-n) or both (-nn). */
  readonly ids?: IdStyle;
  /** Print the domain on every slot: true always (-D); default when any function has a non-zero domain. */
  readonly domains?: boolean;
}

export interface LspciFunction {
  readonly bdf: Bdf | string;
  readonly bytes: Uint8Array;
  readonly length?: number;
  /** BAR sizes (from the OS, e.g. sysfs `resource`): shown as [size=…]. Dumps have none. */
  readonly sizes?: readonly (number | undefined)[];
  readonly romSize?: number;
  /** The OS's resource flags per BAR (sysfs `resource`); with them lspci knows a 64-bit BAR's upper slot. */
  readonly resourceFlags?: readonly number[];
  /** IRQ the OS routed; default the Interrupt Line register, as lspci -F does. */
  readonly irq?: number;
  /** Kernel driver bound ("Kernel driver in use:"). */
  readonly driver?: string;
}

const f = (v: number, mask: number): string => ((v & mask) !== 0 ? "+" : "-");
const h = (n: number, w: number): string => (n >>> 0).toString(16).padStart(w, "0");
const hb = (n: bigint, w: number): string => n.toString(16).padStart(w, "0");
const bitsOf = (v: number, lo: number, width: number): number => Math.floor((v >>> 0) / 2 ** lo) % 2 ** width;

/** lspci's show_size: divide by 1024 while it divides evenly (at most to T). */
function sizeText(x: bigint | number): string {
  let v = BigInt(x);
  if (v === 0n) return "";
  const suffix = ["", "K", "M", "G", "T"];
  let i = 0;
  while (i < suffix.length - 1 && v % 1024n === 0n) {
    v /= 1024n;
    i++;
  }
  // lspci prints the quotient as a C unsigned int
  return ` [size=${(v % 2n ** 32n).toString()}${suffix[i] ?? ""}]`;
}

/** C's "%g" for the small decimal values lspci prints (power limits). */
function fmtG(x: number): string {
  if (x === 0) return "0";
  const s = x.toPrecision(6);
  if (s.includes("e")) return String(Number(s));
  return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
}

class Out {
  readonly lines: string[] = [];
  line(s: string): void {
    this.lines.push(s);
  }
}

interface Ctx {
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

/** Linux IORESOURCE_MEM_64: the resource is a 64-bit BAR (it also owns the next slot). */
const IORESOURCE_MEM_64 = 0x00100000;

/** Base addresses the way libpci's generic fill_info reports them for a dump. */
function barPositions(cfg: ConfigBytes, slots: number): bigint[] {
  const pos: bigint[] = Array.from({ length: 6 }, () => 0n);
  for (let i = 0; i < slots; i++) {
    const off = PCI_BASE_ADDRESS_0 + 4 * i;
    if (!cfg.has(off, 4)) break;
    let x = cfg.u32(off);
    if (x === 0xffffffff) x = 0;
    if ((x & PCI_BASE_ADDRESS_SPACE_IO) === 0 && (x & 0x6) === 0x4) {
      if (i >= slots - 1) {
        pos[i] = 0n; // libpci: "64-bit device address ignored"
        continue;
      }
      const y = cfg.u32(off + 4);
      pos[i] = (BigInt(y) << 32n) | BigInt(x);
      i++;
      continue;
    }
    pos[i] = BigInt(x);
  }
  return pos;
}

/* ------------------------------------------------------------ header -- */

function slotText(b: Bdf, withDomain: boolean): string {
  const s = `${h(b.bus, 2)}:${h(b.dev, 2)}.${b.fn}`;
  return withDomain ? `${h(b.domain, 4)}:${s}` : s;
}

function showTerse(c: Ctx, withDomain: boolean): void {
  const { cfg } = c;
  const cls = cfg.u16(0x0a);
  const rev = cfg.u8(0x08);
  let s = `${slotText(c.bdf, withDomain)} ${classText(cls, c.ids)}: ${vendorDeviceText(cfg.u16(0), cfg.u16(2), c.ids)}`;
  if (rev !== 0) s += ` (rev ${h(rev, 2)})`;
  if (c.verbose > 0) {
    const pi = cfg.u8(0x09);
    const name = progIfName(cls, pi);
    if (pi !== 0 || name !== undefined) s += ` (prog-if ${h(pi, 2)}${name !== undefined ? ` [${name}]` : ""})`;
  }
  c.o.line(s);
  if (c.verbose > 0) {
    const layout = cfg.u8(PCI_HEADER_TYPE) & PCI_HEADER_TYPE_MASK;
    const ssOff = layout === PCI_HEADER_TYPE_NORMAL ? 0x2c : layout === PCI_HEADER_TYPE_CARDBUS && cfg.has(0x40, 64) ? 0x40 : -1;
    if (ssOff >= 0) {
      const sv = cfg.u16(ssOff);
      const sd = cfg.u16(ssOff + 2);
      if (sv !== 0 && sv !== 0xffff) c.o.line(`\tSubsystem: ${subsystemText(cfg.u16(0), cfg.u16(2), sv, sd, c.ids)}`);
    }
  }
}

function devselText(st: number): string {
  switch (st & PCI_STATUS_DEVSEL_MASK) {
    case 0x000:
      return "fast";
    case 0x200:
      return "medium";
    case 0x400:
      return "slow";
    default:
      return "??";
  }
}

function showBases(c: Ctx, cnt: number): void {
  const { cfg, o } = c;
  const cmd = cfg.u16(PCI_COMMAND);
  for (let i = 0; i < cnt; i++) {
    const off = PCI_BASE_ADDRESS_0 + 4 * i;
    if (!cfg.has(off, 4)) break;
    const pos = c.pos[i] ?? 0n;
    const len = c.sizes[i] ?? 0;
    let flg = cfg.u32(off);
    if (flg === 0xffffffff) flg = 0;
    if (pos === 0n && flg === 0 && len === 0) continue;
    // Without OS resource flags (a dump) lspci cannot tell a 64-bit BAR's upper slot from a BAR and
    // lists it; with them (sysfs) it does not.
    if (i > 0 && pos === 0n && len === 0 && ((c.resourceFlags?.[i - 1] ?? 0) & IORESOURCE_MEM_64) !== 0) continue;
    let s = c.verbose > 1 ? `\tRegion ${i}: ` : "\t";
    if ((flg & PCI_BASE_ADDRESS_SPACE_IO) !== 0) {
      const a = pos & ~3n;
      s += "I/O ports at ";
      // A dump gives libpci no OS view, so a zero address is "<unassigned>" (never "<ignored>").
      s += a !== 0n || (cmd & PCI_COMMAND_IO) !== 0 ? hb(a, 4) : "<unassigned>";
      if ((cmd & PCI_COMMAND_IO) === 0) s += " [disabled]";
    } else {
      const t = flg & 0x6;
      const a = pos & ~0xfn;
      s += `Memory at ${a !== 0n ? hb(a, 8) : "<unassigned>"}`;
      const type = t === 0 ? "32-bit" : t === 4 ? "64-bit" : t === 2 ? "low-1M" : "type 3";
      s += ` (${type}, ${(flg & PCI_BASE_ADDRESS_MEM_PREFETCH) !== 0 ? "" : "non-"}prefetchable)`;
      if ((cmd & PCI_COMMAND_MEMORY) === 0) s += " [disabled]";
    }
    o.line(s + sizeText(len));
  }
}

function showRom(c: Ctx, reg: number, size: number | undefined): void {
  const { cfg } = c;
  if (!cfg.has(reg, 4)) return;
  const flg = cfg.u32(reg);
  const rom = flg === 0xffffffff ? 0 : flg;
  const len = size ?? 0;
  if (rom === 0 && flg === 0 && len === 0) return;
  const cmd = cfg.u16(PCI_COMMAND);
  let s = "\tExpansion ROM at ";
  if ((rom & PCI_ROM_ADDRESS_MASK) !== 0) s += h(rom & PCI_ROM_ADDRESS_MASK, 8);
  else s += (flg & PCI_ROM_ADDRESS_MASK) !== 0 ? "<ignored>" : "<unassigned>";
  if ((flg & PCI_ROM_ADDRESS_ENABLE) === 0) s += " [disabled]";
  else if ((cmd & PCI_COMMAND_MEMORY) === 0) s += " [disabled by cmd]";
  c.o.line(s + sizeText(len));
}

function showRange(c: Ctx, prefix: string, base: bigint, limit: bigint, bits: 16 | 32 | 64): void {
  const w = bits === 16 ? 4 : bits === 32 ? 8 : 16;
  let s = `\t${prefix}:`;
  if (base <= limit || c.verbose > 2) s += ` ${hb(base, w)}-${hb(limit, w)}`;
  s += base <= limit ? sizeText(limit - base + 1n) : " [disabled]";
  c.o.line(`${s} [${bits}-bit]`);
}

function showHtype1(c: Ctx, romSize: number | undefined): void {
  const { cfg, o } = c;
  showBases(c, 2);
  o.line(`\tBus: primary=${h(cfg.u8(0x18), 2)}, secondary=${h(cfg.u8(0x19), 2)}, subordinate=${h(cfg.u8(0x1a), 2)}, sec-latency=${cfg.u8(0x1b)}`);
  const ioBase = cfg.u8(0x1c);
  const ioLimit = cfg.u8(0x1d);
  const ioType = ioBase & 0xf;
  if (ioType !== (ioLimit & 0xf) || (ioType !== 0 && ioType !== 1)) o.line(`\t!!! Unknown I/O range types ${ioBase.toString(16)}/${ioLimit.toString(16)}`);
  else {
    let b = BigInt((ioBase & 0xf0) << 8);
    let l = BigInt((ioLimit & 0xf0) << 8);
    if (ioType === 1) {
      b |= BigInt(cfg.u16(0x30)) << 16n;
      l |= BigInt(cfg.u16(0x32)) << 16n;
    }
    showRange(c, "I/O behind bridge", b, l + 0xfffn, ioType === 1 ? 32 : 16);
  }
  const memBase = cfg.u16(0x20);
  const memLimit = cfg.u16(0x22);
  if ((memBase & 0xf) !== (memLimit & 0xf) || (memBase & 0xf) !== 0)
    o.line(`\t!!! Unknown memory range types ${memBase.toString(16)}/${memLimit.toString(16)}`);
  else showRange(c, "Memory behind bridge", BigInt((memBase & 0xfff0) << 16 >>> 0), BigInt(((memLimit & 0xfff0) << 16) >>> 0) + 0xfffffn, 32);
  const pBase = cfg.u16(0x24);
  const pLimit = cfg.u16(0x26);
  const pType = pBase & 0xf;
  if (pType !== (pLimit & 0xf) || (pType !== 0 && pType !== 1))
    o.line(`\t!!! Unknown prefetchable memory range types ${pBase.toString(16)}/${pLimit.toString(16)}`);
  else {
    let b = BigInt(((pBase & 0xfff0) << 16) >>> 0);
    let l = BigInt(((pLimit & 0xfff0) << 16) >>> 0);
    if (pType === 1) {
      b |= BigInt(cfg.u32(0x28)) << 32n;
      l |= BigInt(cfg.u32(0x2c)) << 32n;
    }
    showRange(c, "Prefetchable memory behind bridge", b, l + 0xfffffn, pType === 1 ? 64 : 32);
  }
  if (c.verbose > 1) {
    const ss = cfg.u16(PCI_SEC_STATUS);
    o.line(
      `\tSecondary status: 66MHz${f(ss, PCI_STATUS_66MHZ)} FastB2B${f(ss, PCI_STATUS_FAST_BACK)} ParErr${f(ss, PCI_STATUS_PARITY)} DEVSEL=${devselText(ss)}` +
        ` >TAbort${f(ss, PCI_STATUS_SIG_TARGET_ABORT)} <TAbort${f(ss, PCI_STATUS_REC_TARGET_ABORT)} <MAbort${f(ss, PCI_STATUS_REC_MASTER_ABORT)}` +
        ` <SERR${f(ss, PCI_STATUS_SIG_SYSTEM_ERROR)} <PERR${f(ss, PCI_STATUS_DETECTED_PARITY)}`,
    );
  }
  showRom(c, PCI_ROM_ADDRESS1, romSize);
  if (c.verbose > 1) {
    const b = cfg.u16(PCI_BRIDGE_CONTROL);
    o.line(`\tBridgeCtl: Parity${f(b, 0x1)} SERR${f(b, 0x2)} NoISA${f(b, 0x4)} VGA${f(b, 0x8)} VGA16${f(b, 0x10)} MAbort${f(b, 0x20)} >Reset${f(b, 0x40)} FastB2B${f(b, 0x80)}`);
    o.line(`\t\tPriDiscTmr${f(b, 0x100)} SecDiscTmr${f(b, 0x200)} DiscTmrStat${f(b, 0x400)} DiscTmrSERREn${f(b, 0x800)}`);
  }
}

/* ------------------------------------------------------ capabilities -- */

function capPm(c: Ctx, where: number, cap: number): void {
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

function capMsi(c: Ctx, where: number, cap: number): void {
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

function capMsix(c: Ctx, where: number, cap: number): void {
  const { cfg, o } = c;
  o.line(`MSI-X: Enable${f(cap, PCI_MSIX_FLAGS_ENABLE)} Count=${(cap & PCI_MSIX_FLAGS_QSIZE) + 1} Masked${f(cap, PCI_MSIX_FLAGS_MASKALL)}`);
  if (c.verbose < 2 || !cfg.has(where + PCI_MSIX_TABLE, 8)) return;
  const t = cfg.u32(where + PCI_MSIX_TABLE);
  o.line(`\t\tVector table: BAR=${t & PCI_MSIX_TABLE_BIR} offset=${h(t & ~PCI_MSIX_TABLE_BIR, 8)}`);
  const p = cfg.u32(where + PCI_MSIX_PBA);
  o.line(`\t\tPBA: BAR=${p & PCI_MSIX_TABLE_BIR} offset=${h(p & ~PCI_MSIX_TABLE_BIR, 8)}`);
}

function capVendor(c: Ctx, where: number, cap: number): void {
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

const LATENCY_L0S = ["<64ns", "<128ns", "<256ns", "<512ns", "<1us", "<2us", "<4us", "unlimited"];
const LATENCY_L1 = ["<1us", "<2us", "<4us", "<8us", "<16us", "<32us", "<64us", "unlimited"];

function powerLimit(value: number, scale: number): string {
  if (scale === 0 && value === 0xff) return ">600W";
  let v = value;
  if (scale === 0 && v >= 0xf0 && v <= 0xfe) v = 250 + 25 * (v - 0xf0);
  return `${fmtG(v * ([1, 0.1, 0.01, 0.001][scale] ?? 1))}W`;
}

function linkSpeed(s: number): string {
  return ["unknown", "2.5GT/s", "5GT/s", "8GT/s", "16GT/s", "32GT/s", "64GT/s"][s] ?? "unknown";
}

function linkCompare(type: number, sta: number, cap: number): string {
  if (sta > cap) return " (overdriven)";
  if (sta === cap) return "";
  if (type === PCI_EXP_TYPE_ROOT_PORT || type === PCI_EXP_TYPE_DOWNSTREAM || type === PCI_EXP_TYPE_PCIE_BRIDGE) return "";
  return " (downgraded)";
}

function expDev(c: Ctx, where: number, type: number): void {
  const { cfg, o } = c;
  const t = cfg.u32(where + PCI_EXP_DEVCAP);
  const ep = type === PCI_EXP_TYPE_ENDPOINT || type === PCI_EXP_TYPE_LEG_END;
  let s = `\t\tDevCap:\tMaxPayload ${128 << (t & 7)} bytes, PhantFunc ${(1 << bitsOf(t, 3, 2)) - 1}`;
  if (ep) s += `, Latency L0s ${LATENCY_L0S[bitsOf(t, 6, 3)] ?? ""}, L1 ${LATENCY_L1[bitsOf(t, 9, 3)] ?? ""}`;
  o.line(s);
  s = `\t\t\tExtTag${f(t, 0x20)}`;
  if (ep || type === PCI_EXP_TYPE_UPSTREAM || type === PCI_EXP_TYPE_PCI_BRIDGE)
    s += ` AttnBtn${f(t, 0x1000)} AttnInd${f(t, 0x2000)} PwrInd${f(t, 0x4000)}`;
  s += ` RBE${f(t, 0x8000)}`;
  const flrType = ep || type === PCI_EXP_TYPE_RC_END;
  if (flrType) s += ` FLReset${f(t, 0x10000000)}`;
  if (type === PCI_EXP_TYPE_ENDPOINT || type === PCI_EXP_TYPE_UPSTREAM || type === PCI_EXP_TYPE_PCI_BRIDGE)
    s += ` SlotPowerLimit ${powerLimit(bitsOf(t, 18, 8), bitsOf(t, 26, 2))}`;
  o.line(s);
  const w = cfg.u16(where + PCI_EXP_DEVCTL);
  o.line(`\t\tDevCtl:\tCorrErr${f(w, 0x1)} NonFatalErr${f(w, 0x2)} FatalErr${f(w, 0x4)} UnsupReq${f(w, 0x8)}`);
  s = `\t\t\tRlxdOrd${f(w, 0x10)} ExtTag${f(w, 0x100)} PhantFunc${f(w, 0x200)} AuxPwr${f(w, 0x400)} NoSnoop${f(w, 0x800)}`;
  if (type === PCI_EXP_TYPE_PCI_BRIDGE) s += ` BrConfRtry${f(w, 0x8000)}`;
  if (flrType && (t & 0x10000000) !== 0) s += ` FLReset${f(w, 0x8000)}`;
  o.line(s);
  o.line(`\t\t\tMaxPayload ${128 << bitsOf(w, 5, 3)} bytes, MaxReadReq ${128 << bitsOf(w, 12, 3)} bytes`);
  const st = cfg.u16(where + PCI_EXP_DEVSTA);
  o.line(`\t\tDevSta:\tCorrErr${f(st, 0x1)} NonFatalErr${f(st, 0x2)} FatalErr${f(st, 0x4)} UnsupReq${f(st, 0x8)} AuxPwr${f(st, 0x10)} TransPend${f(st, 0x20)}`);
}

function expLink(c: Ctx, where: number, type: number): void {
  const { cfg, o } = c;
  const t = cfg.u32(where + PCI_EXP_LNKCAP);
  const aspm = bitsOf(t, 10, 2);
  const capSpeed = t & 0xf;
  const capWidth = bitsOf(t, 4, 6);
  let s = `\t\tLnkCap:\tPort #${t >>> 24}, Speed ${linkSpeed(capSpeed)}, Width x${capWidth}, ASPM ${["not supported", "L0s", "L1", "L0s L1"][aspm] ?? ""}`;
  if (aspm !== 0) {
    s += ", Exit Latency ";
    if ((aspm & 1) !== 0) s += `L0s ${LATENCY_L0S[bitsOf(t, 12, 3)] ?? ""}`;
    if ((aspm & 2) !== 0) s += `${(aspm & 1) !== 0 ? ", " : ""}L1 ${LATENCY_L1[bitsOf(t, 15, 3)] ?? ""}`;
  }
  o.line(s);
  o.line(`\t\t\tClockPM${f(t, 0x40000)} Surprise${f(t, 0x80000)} LLActRep${f(t, 0x100000)} BwNot${f(t, 0x200000)} ASPMOptComp${f(t, 0x400000)}`);
  const w = cfg.u16(where + PCI_EXP_LNKCTL);
  s = `\t\tLnkCtl:\tASPM ${["Disabled", "L0s Enabled", "L1 Enabled", "L0s L1 Enabled"][w & 3] ?? ""};`;
  if (type === PCI_EXP_TYPE_ROOT_PORT || type === PCI_EXP_TYPE_ENDPOINT || type === PCI_EXP_TYPE_LEG_END || type === PCI_EXP_TYPE_PCI_BRIDGE)
    s += ` RCB ${(w & 0x8) !== 0 ? 128 : 64} bytes,`;
  o.line(`${s} Disabled${f(w, 0x10)} CommClk${f(w, 0x40)}`);
  o.line(`\t\t\tExtSynch${f(w, 0x80)} ClockPM${f(w, 0x100)} AutWidDis${f(w, 0x200)} BWInt${f(w, 0x400)} AutBWInt${f(w, 0x800)}`);
  const st = cfg.u16(where + PCI_EXP_LNKSTA);
  const staSpeed = st & 0xf;
  const staWidth = bitsOf(st, 4, 6);
  o.line(`\t\tLnkSta:\tSpeed ${linkSpeed(staSpeed)}${linkCompare(type, staSpeed, capSpeed)}, Width x${staWidth}${linkCompare(type, staWidth, capWidth)}`);
  o.line(`\t\t\tTrErr${f(st, 0x400)} Train${f(st, 0x800)} SlotClk${f(st, 0x1000)} DLActive${f(st, 0x2000)} BWMgmt${f(st, 0x4000)} ABWMgmt${f(st, 0x8000)}`);
}

const INDICATOR = ["Unknown", "On", "Blink", "Off"];

function expSlot(c: Ctx, where: number): void {
  const { cfg, o } = c;
  const t = cfg.u32(where + PCI_EXP_SLTCAP);
  o.line(`\t\tSltCap:\tAttnBtn${f(t, 0x1)} PwrCtrl${f(t, 0x2)} MRL${f(t, 0x4)} AttnInd${f(t, 0x8)} PwrInd${f(t, 0x10)} HotPlug${f(t, 0x40)} Surprise${f(t, 0x20)}`);
  o.line(`\t\t\tSlot #${t >>> 19}, PowerLimit ${powerLimit(bitsOf(t, 7, 8), bitsOf(t, 15, 2))}; Interlock${f(t, 0x20000)} NoCompl${f(t, 0x40000)}`);
  const w = cfg.u16(where + PCI_EXP_SLTCTL);
  o.line(`\t\tSltCtl:\tEnable: AttnBtn${f(w, 0x1)} PwrFlt${f(w, 0x2)} MRL${f(w, 0x4)} PresDet${f(w, 0x8)} CmdCplt${f(w, 0x10)} HPIrq${f(w, 0x20)} LinkChg${f(w, 0x1000)}`);
  o.line(`\t\t\tControl: AttnInd ${INDICATOR[bitsOf(w, 6, 2)] ?? ""}, PwrInd ${INDICATOR[bitsOf(w, 8, 2)] ?? ""}, Power${f(w, 0x400)} Interlock${f(w, 0x800)}`);
  const s = cfg.u16(where + PCI_EXP_SLTSTA);
  o.line(`\t\tSltSta:\tStatus: AttnBtn${f(s, 0x1)} PowerFlt${f(s, 0x2)} MRL${f(s, 0x20)} CmdCplt${f(s, 0x10)} PresDet${f(s, 0x40)} Interlock${f(s, 0x80)}`);
  o.line(`\t\t\tChanged: MRL${f(s, 0x4)} PresDet${f(s, 0x8)} LinkState${f(s, 0x100)}`);
}

function expRoot(c: Ctx, where: number): void {
  const { cfg, o } = c;
  const cap = cfg.u16(where + PCI_EXP_RTCAP);
  o.line(`\t\tRootCap: CRSVisible${f(cap, 0x1)}`);
  const w = cfg.u16(where + PCI_EXP_RTCTL);
  o.line(`\t\tRootCtl: ErrCorrectable${f(w, 0x1)} ErrNon-Fatal${f(w, 0x2)} ErrFatal${f(w, 0x4)} PMEIntEna${f(w, 0x8)} CRSVisible${f(w, 0x10)}`);
  const s = cfg.u32(where + PCI_EXP_RTSTA);
  o.line(`\t\tRootSta: PME ReqID ${h(s & 0xffff, 4)}, PMEStatus${f(s, 0x10000)} PMEPending${f(s, 0x20000)}`);
}

function timeoutRange(v: number): string {
  return ({ 0: "Not Supported", 1: "Range A", 2: "Range B", 3: "Range AB", 6: "Range BC", 7: "Range ABC", 14: "Range BCD", 15: "Range ABCD" } as Record<number, string>)[v] ?? "Unknown";
}
function timeoutValue(v: number): string {
  return (
    (
      {
        0: "50us to 50ms",
        1: "50us to 100us",
        2: "1ms to 10ms",
        5: "16ms to 55ms",
        6: "65ms to 210ms",
        9: "260ms to 900ms",
        10: "1s to 3.5s",
        13: "4s to 13s",
        14: "17s to 64s",
      } as Record<number, string>
    )[v] ?? "Unknown"
  );
}

/** libpci's view: any memory BAR with an address or a size. */
function hasMemBar(c: Ctx): boolean {
  for (let i = 0; i < 6; i++) {
    const p = c.pos[i] ?? 0n;
    if ((p !== 0n || (c.sizes[i] ?? 0) !== 0) && (p & BigInt(PCI_BASE_ADDRESS_SPACE_IO)) === 0n) return true;
  }
  return false;
}

function expDev2(c: Ctx, where: number, type: number): void {
  const { cfg, o } = c;
  const l = cfg.u32(where + PCI_EXP_DEVCAP2);
  const root = type === PCI_EXP_TYPE_ROOT_PORT;
  const down = type === PCI_EXP_TYPE_DOWNSTREAM;
  const up = type === PCI_EXP_TYPE_UPSTREAM;
  o.line(`\t\tDevCap2: Completion Timeout: ${timeoutRange(l & 0xf)}, TimeoutDis${f(l, 0x10)} NROPrPrP${f(l, 0x400)} LTR${f(l, 0x800)}`);
  let s = `\t\t\t 10BitTagComp${f(l, 0x10000)} 10BitTagReq${f(l, 0x20000)} OBFF ${["Not Supported", "Via message", "Via WAKE#", "Via message/WAKE#"][bitsOf(l, 18, 2)] ?? ""}, ExtFmt${f(l, 0x100000)} EETLPPrefix${f(l, 0x200000)}`;
  if ((l & 0x200000) !== 0) s += `, MaxEETLPPrefixes ${bitsOf(l, 22, 2) || 4}`;
  o.line(s);
  o.line(`\t\t\t EmergencyPowerReduction ${["Not Supported", "Dev Specific", "Form Factor Dev Specific", "Reserved"][bitsOf(l, 24, 2)] ?? ""}, EmergencyPowerReductionInit${f(l, 0x4000000)}`);
  s = `\t\t\t FRS${f(l, 0x80000000)}`;
  if (root) s += ` LN System CLS ${["Not Supported", "64byte cachelines", "128byte cachelines", "Reserved"][bitsOf(l, 14, 2)] ?? ""},`;
  if (root || type === PCI_EXP_TYPE_ENDPOINT) s += ` ${["TPHComp- ExtTPHComp-", "TPHComp+ ExtTPHComp-", "", "TPHComp+ ExtTPHComp+"][bitsOf(l, 12, 2)] ?? ""}`;
  if (root || down) s += ` ARIFwd${f(l, PCI_EXP_DEVCAP2_ARI)}`;
  o.line(s);
  const memBar = hasMemBar(c);
  if (root || up || down || memBar) {
    s = "\t\t\t AtomicOpsCap:";
    if (root || up || down) s += ` Routing${f(l, 0x40)}`;
    if (root || memBar) s += ` 32bit${f(l, 0x80)} 64bit${f(l, 0x100)} 128bitCAS${f(l, 0x200)}`;
    o.line(s);
  }
  const w = cfg.u16(where + PCI_EXP_DEVCTL2);
  s = `\t\tDevCtl2: Completion Timeout: ${timeoutValue(w & 0xf)}, TimeoutDis${f(w, 0x10)} LTR${f(w, 0x400)} 10BitTagReq${f(w, 0x1000)} OBFF ${["Disabled", "Via message A", "Via message B", "Via WAKE#"][bitsOf(w, 13, 2)] ?? ""},`;
  if (root || down) s += ` ARIFwd${f(w, PCI_EXP_DEVCTL2_ARI)}`;
  o.line(s);
  const req = root || type === PCI_EXP_TYPE_ENDPOINT || type === PCI_EXP_TYPE_RC_END || type === PCI_EXP_TYPE_LEG_END;
  if (req || up || down) {
    s = "\t\t\t AtomicOpsCtl:";
    if (req) s += ` ReqEn${f(w, 0x40)}`;
    if (root || up || down) s += ` EgressBlck${f(w, 0x80)}`;
    o.line(s);
  }
}

function speedCap(v: number): string {
  if ((v & 0x60) !== 0) return "RsvdP";
  if ((v & 0x10) !== 0) return "2.5-32GT/s";
  if ((v & 0x08) !== 0) return "2.5-16GT/s";
  if ((v & 0x04) !== 0) return "2.5-8GT/s";
  if ((v & 0x02) !== 0) return "2.5-5GT/s";
  if ((v & 0x01) !== 0) return "2.5GT/s";
  return "Unknown";
}

const COMPLIANCE_PRESET = [
  "-6dB de-emphasis, 0dB preshoot",
  "-3.5dB de-emphasis, 0dB preshoot",
  "-4.4dB de-emphasis, 0dB preshoot",
  "-2.5dB de-emphasis, 0dB preshoot",
  "0dB de-emphasis, 0dB preshoot",
  "0dB de-emphasis, 1.9dB preshoot",
  "0dB de-emphasis, 2.5dB preshoot",
  "-6.0dB de-emphasis, 3.5dB preshoot",
  "-3.5dB de-emphasis, 3.5dB preshoot",
  "0dB de-emphasis, 3.5dB preshoot",
];

function expLink2(c: Ctx, where: number, type: number): void {
  const { cfg, o } = c;
  let l = 0;
  const deemph = (v: number): string => (v === 0 ? "-6dB" : "-3.5dB");
  if (!((type === PCI_EXP_TYPE_ENDPOINT || type === PCI_EXP_TYPE_LEG_END) && (c.bdf.dev !== 0 || c.bdf.fn !== 0))) {
    l = cfg.u32(where + PCI_EXP_LNKCAP2);
    if (l !== 0)
      o.line(`\t\tLnkCap2: Supported Link Speeds: ${speedCap(bitsOf(l, 1, 7))}, Crosslink${f(l, 0x100)} Retimer${f(l, 0x800000)} 2Retimers${f(l, 0x1000000)} DRS${f(l, PCI_EXP_LNKCAP2_DRS)}`);
    const w = cfg.u16(where + PCI_EXP_LNKCTL2);
    const tgt = w & 0xf;
    let s = `\t\tLnkCtl2: Target Link Speed: ${tgt === 0 ? "2.5GT/s" : linkSpeed(tgt) === "unknown" ? "Unknown" : linkSpeed(tgt)}, EnterCompliance${f(w, 0x10)} SpeedDis${f(w, 0x20)}`;
    if (type === PCI_EXP_TYPE_DOWNSTREAM) s += `, Selectable De-emphasis: ${deemph(w & 0x40)}`;
    o.line(s);
    const margin = bitsOf(w, 7, 3);
    const marginText =
      margin === 0 ? "Normal Operating Range" : margin === 1 ? "800-1200mV(full-swing)/400-700mV(half-swing)" : margin <= 5 ? "200-400mV(full-swing)/100-200mV(half-swing)" : "Unknown";
    o.line(`\t\t\t Transmit Margin: ${marginText}, EnterModifiedCompliance${f(w, 0x400)} ComplianceSOS${f(w, 0x800)}`);
    o.line(`\t\t\t Compliance Preset/De-emphasis: ${COMPLIANCE_PRESET[bitsOf(w, 12, 4)] ?? "Unknown"}`);
  }
  const w = cfg.u16(where + PCI_EXP_LNKSTA2);
  o.line(`\t\tLnkSta2: Current De-emphasis Level: ${deemph(w & 0x1)}, EqualizationComplete${f(w, 0x2)} EqualizationPhase1${f(w, 0x4)}`);
  o.line(`\t\t\t EqualizationPhase2${f(w, 0x8)} EqualizationPhase3${f(w, 0x10)} LinkEqualizationRequest${f(w, 0x20)}`);
  let s = `\t\t\t Retimer${f(w, 0x40)} 2Retimers${f(w, 0x80)} CrosslinkRes: ${["unsupported", "Upstream Port", "Downstream Port", "incomplete"][bitsOf(w, 8, 2)] ?? ""}`;
  const dsp = type === PCI_EXP_TYPE_ROOT_PORT || type === PCI_EXP_TYPE_DOWNSTREAM || type === PCI_EXP_TYPE_PCIE_BRIDGE;
  if (dsp && (l & PCI_EXP_LNKCAP2_DRS) !== 0) {
    o.line(`${s}, DRS${f(w, 0x8000)}`);
    const comp = bitsOf(w, 12, 3);
    const compText =
      ({ 0: "Link Down - Not Determined", 1: "Link Down - Not Present", 2: "Link Down - Present", 4: "Link Up - Present", 5: "Link Up - Present and DRS Received" } as Record<number, string>)[comp] ?? "Reserved";
    s = `\t\t\t DownstreamComp: ${compText}`;
  }
  o.line(s);
}

function capExpress(c: Ctx, where: number, cap: number): number {
  const { cfg, o } = c;
  const type = bitsOf(cap & PCI_EXP_FLAGS_TYPE, 4, 4);
  let slot = false;
  let link = true;
  let name: string;
  switch (type) {
    case PCI_EXP_TYPE_ENDPOINT:
      name = "Endpoint";
      break;
    case PCI_EXP_TYPE_LEG_END:
      name = "Legacy Endpoint";
      break;
    case PCI_EXP_TYPE_ROOT_PORT:
      slot = (cap & PCI_EXP_FLAGS_SLOT) !== 0;
      name = `Root Port (Slot${f(cap, PCI_EXP_FLAGS_SLOT)})`;
      break;
    case PCI_EXP_TYPE_UPSTREAM:
      name = "Upstream Port";
      break;
    case PCI_EXP_TYPE_DOWNSTREAM:
      slot = (cap & PCI_EXP_FLAGS_SLOT) !== 0;
      name = `Downstream Port (Slot${f(cap, PCI_EXP_FLAGS_SLOT)})`;
      break;
    case PCI_EXP_TYPE_PCI_BRIDGE:
      name = "PCI-Express to PCI/PCI-X Bridge";
      break;
    case PCI_EXP_TYPE_PCIE_BRIDGE:
      slot = (cap & PCI_EXP_FLAGS_SLOT) !== 0;
      name = `PCI/PCI-X to PCI-Express Bridge (Slot${f(cap, PCI_EXP_FLAGS_SLOT)})`;
      break;
    case PCI_EXP_TYPE_RC_END:
      link = false;
      name = "Root Complex Integrated Endpoint";
      break;
    case PCI_EXP_TYPE_RC_EC:
      link = false;
      name = "Root Complex Event Collector";
      break;
    default:
      name = `Unknown type ${type}`;
  }
  o.line(`Express ${c.verbose >= 2 ? `(v${cap & PCI_EXP_FLAGS_VERS}) ` : ""}${name}, MSI ${h(bitsOf(cap & PCI_EXP_FLAGS_IRQ, 9, 5), 2)}`);
  if (c.verbose < 2) return type;
  let size = slot ? 24 : 16;
  if (type === PCI_EXP_TYPE_ROOT_PORT || type === PCI_EXP_TYPE_RC_EC) size = 32;
  if (!cfg.has(where + PCI_EXP_DEVCAP, size)) return type;
  expDev(c, where, type);
  if (link) expLink(c, where, type);
  if (slot) expSlot(c, where);
  if (type === PCI_EXP_TYPE_ROOT_PORT || type === PCI_EXP_TYPE_RC_EC) expRoot(c, where);
  if ((cap & PCI_EXP_FLAGS_VERS) < 2) return type;
  if (!cfg.has(where + PCI_EXP_DEVCAP2, slot ? 24 : 16)) return type;
  expDev2(c, where, type);
  if (link) expLink2(c, where, type);
  return type;
}

function capAer(c: Ctx, where: number, type: number): void {
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

function capAcs(c: Ctx, where: number): void {
  const { cfg, o } = c;
  o.line("Access Control Services");
  if (c.verbose < 2 || !cfg.has(where + 4, 4)) return;
  const bitsText = (w: number): string =>
    `SrcValid${f(w, 0x1)} TransBlk${f(w, 0x2)} ReqRedir${f(w, 0x4)} CmpltRedir${f(w, 0x8)} UpstreamFwd${f(w, 0x10)} EgressCtrl${f(w, 0x20)} DirectTrans${f(w, 0x40)}`;
  o.line(`\t\tACSCap:\t${bitsText(cfg.u16(where + 4))}`);
  o.line(`\t\tACSCtl:\t${bitsText(cfg.u16(where + 6))}`);
}

function capAri(c: Ctx, where: number): void {
  const { cfg, o } = c;
  o.line("Alternative Routing-ID Interpretation (ARI)");
  if (c.verbose < 2 || !cfg.has(where + 4, 4)) return;
  const cap = cfg.u16(where + 4);
  o.line(`\t\tARICap:\tMFVC${f(cap, 0x1)} ACS${f(cap, 0x2)}, Next Function: ${cap >> 8}`);
  const ctl = cfg.u16(where + 6);
  o.line(`\t\tARICtl:\tMFVC${f(ctl, 0x1)} ACS${f(ctl, 0x2)}, Function Group: ${bitsOf(ctl, 4, 3)}`);
}

function capAts(c: Ctx, where: number): void {
  const { cfg, o } = c;
  o.line("Address Translation Service (ATS)");
  if (c.verbose < 2 || !cfg.has(where + 4, 4)) return;
  o.line(`\t\tATSCap:\tInvalidate Queue Depth: ${h(cfg.u16(where + 4) & 0x1f, 2)}`);
  const w = cfg.u16(where + 6);
  o.line(`\t\tATSCtl:\tEnable${f(w, 0x8000)}, Smallest Translation Unit: ${h(w & 0x1f, 2)}`);
}

function capPri(c: Ctx, where: number): void {
  const { cfg, o } = c;
  o.line("Page Request Interface (PRI)");
  if (c.verbose < 2 || !cfg.has(where + 4, 0xc)) return;
  const ctl = cfg.u16(where + 4);
  o.line(`\t\tPRICtl: Enable${f(ctl, 0x1)} Reset${f(ctl, 0x2)}`);
  const st = cfg.u16(where + 6);
  o.line(`\t\tPRISta: RF${f(st, 0x1)} UPRGI${f(st, 0x2)} Stopped${f(st, 0x100)}`);
  o.line(`\t\tPage Request Capacity: ${h(cfg.u32(where + 8), 8)}, Page Request Allocation: ${h(cfg.u32(where + 0xc), 8)}`);
}

function capPasid(c: Ctx, where: number): void {
  const { cfg, o } = c;
  o.line("Process Address Space ID (PASID)");
  if (c.verbose < 2 || !cfg.has(where + 4, 4)) return;
  const cap = cfg.u16(where + 4);
  o.line(`\t\tPASIDCap: Exec${f(cap, 0x2)} Priv${f(cap, 0x4)}, Max PASID Width: ${h(bitsOf(cap, 8, 5), 2)}`);
  const ctl = cfg.u16(where + 6);
  o.line(`\t\tPASIDCtl: Enable${f(ctl, 0x1)} Exec${f(ctl, 0x2)} Priv${f(ctl, 0x4)}`);
}

function capSriov(c: Ctx, where: number): void {
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

function capDsn(c: Ctx, where: number): boolean {
  const { cfg, o } = c;
  if (!cfg.has(where + 4, 8)) return false;
  const lo = cfg.u32(where + 4);
  const hi = cfg.u32(where + 8);
  const bytes = [hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff];
  o.line(`Device Serial Number ${bytes.map((b) => h(b, 2)).join("-")}`);
  return true;
}

/** Title of a standard capability lspci decodes but pciov renders no detail for. */
function stdTitle(c: Ctx, id: number, where: number, cap: number): string {
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
function extTitle(c: Ctx, id: number, where: number): string {
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

function eventText(e: ChainEvent): string {
  return e.kind === "looped" ? "<chain looped>" : e.kind === "broken" ? "<chain broken>" : "<access denied>";
}

function showCaps(c: Ctx): void {
  const { cfg, o } = c;
  const chains = walkCapabilities(cfg);
  let type = -1;
  for (const item of chains.items) {
    if ("event" in item) {
      const e = item.event;
      if (e.kind === "unavailable") o.line("\tCapabilities: <access denied>");
      else if (e.extended) o.line(`\tCapabilities: [${h(e.offset, 3)}${c.verbose > 1 ? ` v${(cfg.u32(e.offset) >>> 16) & 0xf}` : ""}] ${eventText(e)}`);
      else o.line(`\tCapabilities: [${h(e.offset, 2)}] ${eventText(e)}`);
      continue;
    }
    const cap: CapLocation = item.cap;
    const where = cap.offset;
    const sub = new Out();
    const sc: Ctx = { ...c, o: sub };
    if (!cap.extended) {
      const w = cfg.u16(where + PCI_CAP_FLAGS);
      switch (cap.id) {
        case PCI_CAP_ID_PM:
          capPm(sc, where, w);
          break;
        case PCI_CAP_ID_MSI:
          capMsi(sc, where, w);
          break;
        case PCI_CAP_ID_EXP:
          type = capExpress(sc, where, w);
          break;
        case PCI_CAP_ID_MSIX:
          capMsix(sc, where, w);
          break;
        case PCI_CAP_ID_VNDR:
          capVendor(sc, where, w);
          break;
        default:
          sub.line(stdTitle(sc, cap.id, where, w));
      }
      const [first, ...rest] = sub.lines;
      o.line(`\tCapabilities: [${h(where, 2)}] ${first ?? ""}`);
      for (const l of rest) o.line(l);
      continue;
    }
    switch (cap.id) {
      case PCI_EXT_CAP_ID_ERR:
        capAer(sc, where, type);
        break;
      case PCI_EXT_CAP_ID_DSN:
        if (!capDsn(sc, where)) sub.line("");
        break;
      case PCI_EXT_CAP_ID_ACS:
        capAcs(sc, where);
        break;
      case PCI_EXT_CAP_ID_ARI:
        capAri(sc, where);
        break;
      case PCI_EXT_CAP_ID_ATS:
        capAts(sc, where);
        break;
      case PCI_EXT_CAP_ID_SRIOV:
        capSriov(sc, where);
        break;
      case PCI_EXT_CAP_ID_PRI:
        capPri(sc, where);
        break;
      case PCI_EXT_CAP_ID_PASID:
        capPasid(sc, where);
        break;
      default:
        sub.line(extTitle(sc, cap.id, where));
    }
    const [first, ...rest] = sub.lines;
    o.line(`\tCapabilities: [${h(where, 3)}${c.verbose > 1 ? ` v${cap.version}` : ""}] ${first ?? ""}`);
    for (const l of rest) o.line(l);
  }
}

/* ------------------------------------------------------------- device -- */

function showVerbose(c: Ctx, fn: LspciFunction, withDomain: boolean): void {
  const { cfg, o } = c;
  showTerse(c, withDomain);
  const status = cfg.u16(PCI_STATUS);
  const cmd = cfg.u16(PCI_COMMAND);
  const cls = cfg.u16(0x0a);
  const bist = cfg.u8(0x0f);
  const layout = cfg.u8(PCI_HEADER_TYPE) & PCI_HEADER_TYPE_MASK;
  const latency = cfg.u8(0x0d);
  const cacheLine = cfg.u8(0x0c);
  const intPin = cfg.u8(0x3d);
  const irq = fn.irq ?? cfg.u8(0x3c);
  let maxLat = 0;
  let minGnt = 0;
  switch (layout) {
    case PCI_HEADER_TYPE_NORMAL:
      if (cls === PCI_CLASS_BRIDGE_PCI) o.line(`\t!!! Invalid class ${h(cls, 4)} for header type ${h(layout, 2)}`);
      maxLat = cfg.u8(0x3f);
      minGnt = cfg.u8(0x3e);
      break;
    case PCI_HEADER_TYPE_BRIDGE:
    case 2:
      if (cls >> 8 !== 0x06) o.line(`\t!!! Invalid class ${h(cls, 4)} for header type ${h(layout, 2)}`);
      break;
    default:
      // lspci 3.9 stops here; at -vv it still reports a routed IRQ, with the pin unread.
      o.line(`\t!!! Unknown header type ${h(layout, 2)}`);
      if (c.verbose > 1 && irq !== 0) o.line(`\tInterrupt: pin ? routed to IRQ ${irq}`);
      return;
  }
  if (c.verbose > 1) {
    o.line(
      `\tControl: I/O${f(cmd, PCI_COMMAND_IO)} Mem${f(cmd, PCI_COMMAND_MEMORY)} BusMaster${f(cmd, PCI_COMMAND_MASTER)} SpecCycle${f(cmd, PCI_COMMAND_SPECIAL)}` +
        ` MemWINV${f(cmd, PCI_COMMAND_INVALIDATE)} VGASnoop${f(cmd, PCI_COMMAND_VGA_PALETTE)} ParErr${f(cmd, PCI_COMMAND_PARITY)} Stepping${f(cmd, PCI_COMMAND_WAIT)}` +
        ` SERR${f(cmd, PCI_COMMAND_SERR)} FastB2B${f(cmd, PCI_COMMAND_FAST_BACK)} DisINTx${f(cmd, PCI_COMMAND_INTX_DISABLE)}`,
    );
    o.line(
      `\tStatus: Cap${f(status, PCI_STATUS_CAP_LIST)} 66MHz${f(status, PCI_STATUS_66MHZ)} UDF${f(status, PCI_STATUS_UDF)} FastB2B${f(status, PCI_STATUS_FAST_BACK)}` +
        ` ParErr${f(status, PCI_STATUS_PARITY)} DEVSEL=${devselText(status)} >TAbort${f(status, PCI_STATUS_SIG_TARGET_ABORT)} <TAbort${f(status, PCI_STATUS_REC_TARGET_ABORT)}` +
        ` <MAbort${f(status, PCI_STATUS_REC_MASTER_ABORT)} >SERR${f(status, PCI_STATUS_SIG_SYSTEM_ERROR)} <PERR${f(status, PCI_STATUS_DETECTED_PARITY)} INTx${f(status, PCI_STATUS_INTERRUPT)}`,
    );
    if ((cmd & PCI_COMMAND_MASTER) !== 0) {
      let s = `\tLatency: ${latency}`;
      if (minGnt !== 0 || maxLat !== 0) {
        const parts: string[] = [];
        if (minGnt !== 0) parts.push(`${minGnt * 250}ns min`);
        if (maxLat !== 0) parts.push(`${maxLat * 250}ns max`);
        s += ` (${parts.join(", ")})`;
      }
      if (cacheLine !== 0) s += `, Cache Line Size: ${cacheLine * 4} bytes`;
      o.line(s);
    }
    if (intPin !== 0 || irq !== 0) o.line(`\tInterrupt: pin ${intPin !== 0 ? String.fromCharCode((0x40 + intPin) & 0xff) : "?"} routed to IRQ ${irq}`);
  } else {
    let s = "\tFlags: ";
    if ((cmd & PCI_COMMAND_MASTER) !== 0) s += "bus master, ";
    if ((cmd & PCI_COMMAND_VGA_PALETTE) !== 0) s += "VGA palette snoop, ";
    if ((cmd & PCI_COMMAND_WAIT) !== 0) s += "stepping, ";
    if ((cmd & PCI_COMMAND_FAST_BACK) !== 0) s += "fast Back2Back, ";
    if ((status & PCI_STATUS_66MHZ) !== 0) s += "66MHz, ";
    if ((status & PCI_STATUS_UDF) !== 0) s += "user-definable features, ";
    s += `${devselText(status)} devsel`;
    if ((cmd & PCI_COMMAND_MASTER) !== 0) s += `, latency ${latency}`;
    if (irq !== 0) s += `, IRQ ${irq}`;
    o.line(s);
  }
  if ((bist & PCI_BIST_CAPABLE) !== 0) {
    if ((bist & PCI_BIST_START) !== 0) o.line("\tBIST is running");
    else o.line(`\tBIST result: ${h(bist & PCI_BIST_CODE_MASK, 2)}`);
  }
  if (layout === PCI_HEADER_TYPE_NORMAL) {
    showBases(c, 6);
    showRom(c, PCI_ROM_ADDRESS, fn.romSize);
    showCaps(c);
  } else if (layout === PCI_HEADER_TYPE_BRIDGE) {
    showHtype1(c, fn.romSize);
    showCaps(c);
  } else {
    showHtype2(c);
  }
}

/** CardBus bridge header (PCI_HEADER_TYPE_CARDBUS). */
function showHtype2(c: Ctx): void {
  const { cfg, o } = c;
  const cmd = cfg.u16(PCI_COMMAND);
  const brc = cfg.u16(PCI_BRIDGE_CONTROL);
  showBases(c, 1);
  o.line(`\tBus: primary=${h(cfg.u8(0x18), 2)}, secondary=${h(cfg.u8(0x19), 2)}, subordinate=${h(cfg.u8(0x1a), 2)}, sec-latency=${cfg.u8(0x1b)}`);
  for (let i = 0; i < 2; i++) {
    const base = cfg.u32(0x1c + 8 * i);
    const limit = (cfg.u32(0x20 + 8 * i) + 0xfff) >>> 0;
    if (base <= limit || c.verbose > 2)
      o.line(`\tMemory window ${i}: ${h(base, 8)}-${h(limit, 8)}${(cmd & PCI_COMMAND_MEMORY) !== 0 ? "" : " [disabled]"}${(brc & (0x100 << i)) !== 0 ? " (prefetchable)" : ""}`);
  }
  for (let i = 0; i < 2; i++) {
    let base = cfg.u32(0x2c + 8 * i);
    let limit = cfg.u32(0x30 + 8 * i);
    if ((base & 1) === 0) {
      base &= 0xffff;
      limit &= 0xffff;
    }
    base = (base & ~3) >>> 0;
    limit = ((limit & ~3) + 3) >>> 0;
    if (base <= limit || c.verbose > 2) o.line(`\tI/O window ${i}: ${h(base, 8)}-${h(limit, 8)}${(cmd & PCI_COMMAND_IO) !== 0 ? "" : " [disabled]"}`);
  }
  if ((cfg.u16(0x16) & PCI_STATUS_SIG_SYSTEM_ERROR) !== 0) o.line("\tSecondary status: SERR");
  if (c.verbose > 1)
    o.line(
      `\tBridgeCtl: Parity${f(brc, 0x1)} SERR${f(brc, 0x2)} ISA${f(brc, 0x4)} VGA${f(brc, 0x8)} MAbort${f(brc, 0x20)} >Reset${f(brc, 0x40)} 16bInt${f(brc, 0x80)} PostWrite${f(brc, 0x400)}`,
    );
  if (!cfg.has(0x40, 64)) {
    o.line("\t<access denied to the rest>");
    return;
  }
  const exca = cfg.u16(0x44);
  if (exca !== 0) o.line(`\t16-bit legacy interface ports at ${h(exca, 4)}`);
  showCaps(c);
}

const bdfOf = (b: Bdf | string): Bdf => (typeof b === "string" ? parseBdf(b) : b);

/** Text of one function as lspci prints it (ends with a blank line at -v and above). */
export function renderFunctionText(fn: LspciFunction, opts: LspciOptions = {}, withDomain?: boolean): string {
  const bdf = bdfOf(fn.bdf);
  const cfg = new ConfigBytes(fn.bytes, Math.min(fn.length ?? fn.bytes.length, fn.bytes.length));
  const layout = cfg.u8(PCI_HEADER_TYPE) & PCI_HEADER_TYPE_MASK;
  const o = new Out();
  const c: Ctx = {
    cfg,
    verbose: opts.verbose ?? 0,
    ids: opts.ids ?? "names",
    bdf,
    pos: barPositions(cfg, barSlots(layout)),
    sizes: fn.sizes ?? [],
    resourceFlags: fn.resourceFlags,
    o,
  };
  const dom = withDomain ?? opts.domains ?? bdf.domain !== 0;
  if (c.verbose > 0) {
    showVerbose(c, fn, dom);
    if (fn.driver !== undefined) o.line(`\tKernel driver in use: ${fn.driver}`);
    o.line("");
  } else showTerse(c, dom);
  return o.lines.map((l) => `${l}\n`).join("");
}

/** `lspci [-v|-vv|-vvv] [-n|-nn]` for a set of functions: sorted by address, as lspci sorts them. */
export function renderLspci(fns: readonly LspciFunction[], opts: LspciOptions = {}): string {
  const sorted = [...fns].map((x) => ({ fn: x, bdf: bdfOf(x.bdf) }));
  sorted.sort((a, b) => a.bdf.domain - b.bdf.domain || a.bdf.bus - b.bdf.bus || a.bdf.dev - b.bdf.dev || a.bdf.fn - b.bdf.fn);
  const withDomain = opts.domains ?? sorted.some((x) => x.bdf.domain !== 0);
  return sorted.map((x) => renderFunctionText({ ...x.fn, bdf: x.bdf }, opts, withDomain)).join("");
}

/** Format a BDF the way lspci prints slots (for callers that key text by device). */
export function lspciSlot(b: Bdf, withDomain = b.domain !== 0): string {
  return withDomain ? formatBdf(b) : slotText(b, false);
}
