/**
 * lspci-style text (`lspci -v`, `-vv`, `-vvv`, with `-n`/`-nn` IDs) for configuration bytes, decoded
 * by the same rules pciutils 3.9 applies (lspci.c, ls-caps.c, ls-ecaps.c, ls-caps-vendor.c): the
 * header (Control/Status, latency, interrupt, regions, expansion ROM, bridge bus numbers and windows)
 * and the capabilities pciov models — PM, MSI, MSI-X, PCI Express, AER, ACS, ARI, ATS, PRI, PASID,
 * SR-IOV, DSN, virtio vendor capabilities. Other capabilities get lspci's title line only.
 *
 * Formats were checked line by line against lspci 3.9 run on the same bytes (tests/peer/lspci.test.ts).
 *
 * This module prints the header and walks the capability chains; the capabilities' own lines are
 * rendered by ./lspci-caps.ts and, for PCI Express, ./lspci-express.ts.
 */
import type { Bdf } from "./bdf.js";
import { formatBdf, parseBdf } from "./bdf.js";
import { PCI_EXT_CAP_ID_ACS } from "./caps/acs.js";
import { PCI_EXT_CAP_ID_ERR } from "./caps/aer.js";
import { PCI_EXT_CAP_ID_ARI } from "./caps/ari.js";
import { PCI_EXT_CAP_ID_ATS } from "./caps/ats.js";
import { PCI_EXT_CAP_ID_DSN } from "./caps/dsn.js";
import { PCI_CAP_ID_MSI } from "./caps/msi.js";
import { PCI_CAP_ID_MSIX } from "./caps/msix.js";
import { PCI_EXT_CAP_ID_PASID } from "./caps/pasid.js";
import { PCI_CAP_ID_EXP } from "./caps/pcie-regs.js";
import { PCI_CAP_ID_PM } from "./caps/pm.js";
import { PCI_EXT_CAP_ID_PRI } from "./caps/pri.js";
import { PCI_EXT_CAP_ID_SRIOV } from "./caps/sriov.js";
import type { CapLocation, ChainEvent } from "./decode.js";
import { ConfigBytes, barSlots, walkCapabilities } from "./decode.js";
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_BIST_CAPABLE,
  PCI_BIST_CODE_MASK,
  PCI_BIST_START,
  PCI_BRIDGE_CONTROL,
  PCI_CAP_FLAGS,
  PCI_CAP_ID_VNDR,
  PCI_COMMAND,
  PCI_COMMAND_FAST_BACK,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_INVALIDATE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_COMMAND_PARITY,
  PCI_COMMAND_SERR,
  PCI_COMMAND_SPECIAL,
  PCI_COMMAND_VGA_PALETTE,
  PCI_COMMAND_WAIT,
  PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_BRIDGE,
  PCI_HEADER_TYPE_CARDBUS,
  PCI_HEADER_TYPE_MASK,
  PCI_HEADER_TYPE_NORMAL,
  PCI_ROM_ADDRESS,
  PCI_ROM_ADDRESS1,
  PCI_ROM_ADDRESS_ENABLE,
  PCI_ROM_ADDRESS_MASK,
  PCI_SEC_STATUS,
  PCI_STATUS,
  PCI_STATUS_66MHZ,
  PCI_STATUS_CAP_LIST,
  PCI_STATUS_DETECTED_PARITY,
  PCI_STATUS_DEVSEL_MASK,
  PCI_STATUS_FAST_BACK,
  PCI_STATUS_INTERRUPT,
  PCI_STATUS_PARITY,
  PCI_STATUS_REC_MASTER_ABORT,
  PCI_STATUS_REC_TARGET_ABORT,
  PCI_STATUS_SIG_SYSTEM_ERROR,
  PCI_STATUS_SIG_TARGET_ABORT,
  PCI_STATUS_UDF,
} from "./header.js";
import type { Ctx } from "./lspci-caps.js";
import {
  Out,
  capAcs,
  capAer,
  capAri,
  capAts,
  capDsn,
  capMsi,
  capMsix,
  capPasid,
  capPm,
  capPri,
  capSriov,
  capVendor,
  extTitle,
  f,
  h,
  stdTitle,
} from "./lspci-caps.js";
import { capExpress } from "./lspci-express.js";
import type { IdStyle } from "./names.js";
import { classText, progIfName, subsystemText, vendorDeviceText } from "./names.js";

/**
 * pci_ids.h PCI_CLASS_BRIDGE_PCI: base class and subclass (the 16-bit word at 0x0a) of a PCI-PCI bridge.
 * Not the 24-bit class code that factories.ts exports under the same name.
 */
const PCI_CLASS_BRIDGE_PCI = 0x0604;

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

const hb = (n: bigint, w: number): string => n.toString(16).padStart(w, "0");

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
