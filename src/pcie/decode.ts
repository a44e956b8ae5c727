/**
 * Decode one function's raw configuration bytes into a JSON-able object: header fields, BARs as the
 * BAR registers show them, and every capability found by walking both chains the way lspci does
 * (pciutils ls-caps.c / ls-ecaps.c). Register and field names come from the capability tables in
 * ./caps (findCapDef); capabilities the model has no table for are still listed, named as lspci names
 * them, with empty registers. Nothing here assumes the device is one pciov modelled: real dumps of any
 * device decode by the same rules.
 */
import type { Bdf } from "./bdf.js";
import { formatBdf, parseBdf } from "./bdf.js";
import type { BarKind } from "./bars.js";
import { decodeBar } from "./bars.js";
import { PCI_EXT_CAP_ID_ACS } from "./caps/acs.js";
import { PCI_EXT_CAP_ID_ERR } from "./caps/aer.js";
import { PCI_EXT_CAP_ID_ARI } from "./caps/ari.js";
import { PCI_EXT_CAP_ID_ATS } from "./caps/ats.js";
import { PCI_EXT_CAP_ID_DSN } from "./caps/dsn.js";
import { capDefAt } from "./caps/index.js";
import { PCI_CAP_ID_MSI } from "./caps/msi.js";
import { PCI_CAP_ID_MSIX } from "./caps/msix.js";
import { PCI_EXT_CAP_ID_PASID } from "./caps/pasid.js";
import { PCI_CAP_ID_EXP } from "./caps/pcie-regs.js";
import { PCI_CAP_ID_PM } from "./caps/pm.js";
import { PCI_EXT_CAP_ID_PRI } from "./caps/pri.js";
import { PCI_EXT_CAP_ID_SRIOV } from "./caps/sriov.js";
import { PCI_EXT_CAP_ID_VNDR } from "./caps/vndr.js";
import {
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_1M,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_MEM_TYPE_MASK,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_CAP_ID_EA,
  PCI_CAP_ID_PCIX,
  PCI_CAP_ID_VNDR,
  PCI_CAP_LIST_ID,
  PCI_CAP_LIST_NEXT,
  PCI_CAPABILITY_LIST,
  PCI_CB_CAPABILITY_LIST,
  PCI_CFG_SPACE_EXP_SIZE,
  PCI_CFG_SPACE_SIZE,
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MEMORY,
  PCI_EXT_CAP_ID,
  PCI_EXT_CAP_ID_DVSEC,
  PCI_EXT_CAP_NEXT,
  PCI_EXT_CAP_VER,
  PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_BRIDGE,
  PCI_HEADER_TYPE_CARDBUS,
  PCI_HEADER_TYPE_MASK,
  PCI_HEADER_TYPE_MFD,
  PCI_HEADER_TYPE_NORMAL,
  PCI_IO_RANGE_TYPE_16,
  PCI_IO_RANGE_TYPE_32,
  PCI_IO_RANGE_TYPE_MASK,
  PCI_MEMORY_RANGE_TYPE_MASK,
  PCI_PREF_RANGE_TYPE_32,
  PCI_PREF_RANGE_TYPE_64,
  PCI_PREF_RANGE_TYPE_MASK,
  PCI_ROM_ADDRESS,
  PCI_ROM_ADDRESS1,
  PCI_ROM_ADDRESS_ENABLE,
  PCI_ROM_ADDRESS_MASK,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_STD_HEADER_SIZEOF,
} from "./header.js";
import type { RegSpec } from "./regs.js";
import { regJson } from "./regs.js";

/*
 * The uapi constants this module used to define, kept exported from here for its importers
 * (capwalk, fabric, lspci-text, ...); they are defined once, with their header or capability table.
 */
export {
  PCI_CAP_ID_EA,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_PCIX,
  PCI_CAP_ID_PM,
  PCI_CAP_ID_VNDR,
  PCI_CAP_LIST_ID,
  PCI_CAP_LIST_NEXT,
  PCI_CB_CAPABILITY_LIST,
  PCI_CFG_SPACE_EXP_SIZE,
  PCI_CFG_SPACE_SIZE,
  PCI_EXT_CAP_ID,
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
  PCI_EXT_CAP_NEXT,
  PCI_EXT_CAP_VER,
  PCI_HEADER_TYPE_CARDBUS,
  PCI_STD_HEADER_SIZEOF,
};

/** Names of standard capabilities, as lspci titles them (without the data it prints after). */
const STD_CAP_NAMES: ReadonlyMap<number, string> = new Map([
  [0x00, "Null"],
  [0x01, "Power Management"],
  [0x02, "AGP"],
  [0x03, "Vital Product Data"],
  [0x04, "Slot ID"],
  [0x05, "MSI"],
  [0x06, "CompactPCI hot-swap"],
  [0x07, "PCI-X"],
  [0x08, "HyperTransport"],
  [0x09, "Vendor Specific Information"],
  [0x0a, "Debug port"],
  [0x0b, "CompactPCI central resource control"],
  [0x0c, "Hot-plug capable"],
  [0x0d, "Subsystem"],
  [0x0e, "AGP3"],
  [0x0f, "Secure device"],
  [0x10, "Express"],
  [0x11, "MSI-X"],
  [0x12, "SATA HBA"],
  [0x13, "PCI Advanced Features"],
  [0x14, "Enhanced Allocation (EA)"],
]);

/** Names of extended capabilities, as lspci 3.9 titles them (`<?>`: lspci does not decode it). */
const EXT_CAP_NAMES: ReadonlyMap<number, string> = new Map([
  [0x00, "Null"],
  [0x01, "Advanced Error Reporting"],
  [0x02, "Virtual Channel"],
  [0x03, "Device Serial Number"],
  [0x04, "Power Budgeting"],
  [0x05, "Root Complex Link"],
  [0x06, "Root Complex Internal Link"],
  [0x07, "Root Complex Event Collector Endpoint Association"],
  [0x08, "Multi-Function Virtual Channel"],
  [0x09, "Virtual Channel"],
  [0x0a, "Root Complex Register Block"],
  [0x0b, "Vendor Specific Information"],
  [0x0d, "Access Control Services"],
  [0x0e, "Alternative Routing-ID Interpretation (ARI)"],
  [0x0f, "Address Translation Service (ATS)"],
  [0x10, "Single Root I/O Virtualization (SR-IOV)"],
  [0x11, "Multi-Root I/O Virtualization"],
  [0x12, "Multicast"],
  [0x13, "Page Request Interface (PRI)"],
  [0x15, "Physical Resizable BAR"],
  [0x16, "Dynamic Power Allocation"],
  [0x17, "Transaction Processing Hints"],
  [0x18, "Latency Tolerance Reporting"],
  [0x19, "Secondary PCI Express"],
  [0x1a, "Protocol Multiplexing"],
  [0x1b, "Process Address Space ID (PASID)"],
  [0x1c, "LN Requester"],
  [0x1d, "Downstream Port Containment"],
  [0x1e, "L1 PM Substates"],
  [0x1f, "Precision Time Measurement"],
  [0x20, "PCI Express over M_PHY"],
  [0x21, "FRS Queueing"],
  [0x22, "Readiness Time Reporting"],
  [0x23, "Designated Vendor-Specific"],
  [0x24, "Virtual Resizable BAR"],
  [0x25, "Data Link Feature"],
  [0x26, "Physical Layer 16.0 GT/s"],
  [0x27, "Lane Margining at the Receiver"],
  [0x28, "Hierarchy ID"],
  [0x29, "Native PCIe Enclosure Management"],
  [0x2e, "Data Object Exchange"],
]);

/** Extended capabilities lspci 3.9 names but does not decode (it prints ` <?>` after the name). */
export const EXT_CAPS_UNDECODED: ReadonlySet<number> = new Set([
  0x04, 0x06, 0x08, 0x0a, 0x11, 0x16, 0x1a, 0x1c, 0x20, 0x21, 0x22, 0x25, 0x26, 0x27, 0x28, 0x29,
]);
/** Standard capabilities lspci 3.9 names but does not decode. */
export const STD_CAPS_UNDECODED: ReadonlySet<number> = new Set([0x06, 0x0b, 0x0e, 0x0f]);

/** Name of a capability as lspci titles it; unknown IDs get lspci's fallback name. */
export function capName(id: number, extended: boolean): string {
  const n = (extended ? EXT_CAP_NAMES : STD_CAP_NAMES).get(id);
  if (n !== undefined) return n;
  return extended ? `Extended Capability ID 0x${id.toString(16)}` : `Capability ID 0x${id.toString(16)}`;
}

/** Little-endian reads that respect how many bytes were supplied (`undefined` past the end). */
export class ConfigBytes {
  constructor(
    readonly bytes: Uint8Array,
    readonly length: number = bytes.length,
  ) {}
  has(off: number, len: number): boolean {
    return off >= 0 && off + len <= this.length && off + len <= this.bytes.length;
  }
  u8(off: number): number {
    return this.bytes[off] ?? 0;
  }
  u16(off: number): number {
    return this.u8(off) | (this.u8(off + 1) << 8);
  }
  u32(off: number): number {
    return (this.u8(off) | (this.u8(off + 1) << 8) | (this.u8(off + 2) << 16) | (this.u8(off + 3) << 24)) >>> 0;
  }
  /** Read `size` bytes little-endian (size 1..4). */
  read(off: number, size: number): number {
    return size === 1 ? this.u8(off) : size === 2 ? this.u16(off) : this.u32(off);
  }
}

/** Where the header layout keeps the capability pointer; -1 for an unknown layout (no capabilities). */
export function capabilityPointerOffset(cfg: ConfigBytes): number {
  const layout = cfg.u8(PCI_HEADER_TYPE) & PCI_HEADER_TYPE_MASK;
  if (layout === PCI_HEADER_TYPE_NORMAL || layout === PCI_HEADER_TYPE_BRIDGE) return PCI_CAPABILITY_LIST;
  if (layout === PCI_HEADER_TYPE_CARDBUS) return PCI_CB_CAPABILITY_LIST;
  return -1;
}

/** One capability found on a chain. */
export interface CapLocation {
  readonly id: number;
  readonly extended: boolean;
  readonly offset: number;
  /** Extended: the header's version field; PCIe: Flags.Version; PM: PMC.Version; otherwise 0. */
  readonly version: number;
}

/** What stopped or bent a chain walk, as lspci reports it. */
export interface ChainEvent {
  readonly kind: "looped" | "broken" | "unavailable";
  readonly extended: boolean;
  readonly offset: number;
}

export type ChainItem = { readonly cap: CapLocation } | { readonly event: ChainEvent };

export interface CapChains {
  /** Capabilities and chain events in the order lspci prints them (standard chain, then extended). */
  readonly items: readonly ChainItem[];
  readonly caps: readonly CapLocation[];
  /** Problems for the JSON (`chainError`): loops, broken chains, pointers into the header or past the data. */
  readonly problems: readonly string[];
}

const hx = (n: number): string => `0x${n.toString(16)}`;

/**
 * Walk the standard (0x34) chain and, when the function has a PCI Express or PCI-X capability and
 * extended space was supplied, the extended (0x100) chain, with lspci's rules: a pointer's low two bits
 * are ignored, ID 0xff breaks the standard chain, a header of 0 or all-ones ends the extended chain, a
 * capability seen twice ends the walk as a loop. Pointers lspci follows even though the spec forbids
 * them (into the standard header, or an extended pointer below 0x100) are followed too, and reported.
 */
export function walkCapabilities(cfg: ConfigBytes, capPtr: number = capabilityPointerOffset(cfg)): CapChains {
  const items: ChainItem[] = [];
  const caps: CapLocation[] = [];
  const problems: string[] = [];
  let canExt = false;
  const push = (c: CapLocation): void => {
    items.push({ cap: c });
    caps.push(c);
  };

  if (capPtr >= 0 && cfg.has(PCI_STATUS, 2) && (cfg.u16(PCI_STATUS) & PCI_STATUS_CAP_LIST) !== 0 && cfg.has(capPtr, 1)) {
    const seen = new Set<number>();
    const first = cfg.u8(capPtr);
    if ((first & 3) !== 0) problems.push(`capability pointer ${hx(first)} is not dword aligned (low bits ignored)`);
    let where = first & ~3;
    while (where !== 0) {
      if (!cfg.has(where, 4)) {
        items.push({ event: { kind: "unavailable", extended: false, offset: where } });
        problems.push(`capability at ${hx(where)} lies beyond the ${cfg.length} bytes supplied`);
        break;
      }
      if (seen.has(where)) {
        items.push({ event: { kind: "looped", extended: false, offset: where } });
        problems.push(`standard capability chain loops back to ${hx(where)}`);
        break;
      }
      seen.add(where);
      const id = cfg.u8(where + PCI_CAP_LIST_ID);
      if (id === 0xff) {
        items.push({ event: { kind: "broken", extended: false, offset: where } });
        problems.push(`standard capability chain broken at ${hx(where)} (ID 0xff)`);
        break;
      }
      if (where < PCI_STD_HEADER_SIZEOF) problems.push(`capability pointer ${hx(where)} points into the standard header`);
      let version = 0;
      if (id === PCI_CAP_ID_EXP) version = cfg.u16(where + 2) & 0xf;
      if (id === PCI_CAP_ID_PM) version = cfg.u16(where + 2) & 0x7;
      push({ id, extended: false, offset: where, version });
      if (id === PCI_CAP_ID_EXP || id === PCI_CAP_ID_PCIX) canExt = true;
      const nextRaw = cfg.u8(where + PCI_CAP_LIST_NEXT);
      if ((nextRaw & 3) !== 0) problems.push(`next pointer ${hx(nextRaw)} at ${hx(where)} is not dword aligned (low bits ignored)`);
      where = nextRaw & ~3;
    }
  }

  if (canExt) {
    const seen = new Set<number>();
    let where = PCI_CFG_SPACE_SIZE;
    while (where !== 0) {
      if (!cfg.has(where, 4)) {
        if (where !== PCI_CFG_SPACE_SIZE || cfg.length > PCI_CFG_SPACE_SIZE)
          problems.push(`extended capability at ${hx(where)} lies beyond the ${cfg.length} bytes supplied`);
        break;
      }
      const header = cfg.u32(where);
      if (header === 0 || header === 0xffffffff) break;
      if (seen.has(where)) {
        items.push({ event: { kind: "looped", extended: true, offset: where } });
        problems.push(`extended capability chain loops back to ${hx(where)}`);
        break;
      }
      seen.add(where);
      if (where < PCI_CFG_SPACE_SIZE) problems.push(`extended capability pointer ${hx(where)} points below 0x100`);
      push({ id: PCI_EXT_CAP_ID(header), extended: true, offset: where, version: PCI_EXT_CAP_VER(header) });
      const nextRaw = (header >>> 20) & 0xfff;
      if ((nextRaw & 3) !== 0) problems.push(`extended next pointer ${hx(nextRaw)} at ${hx(where)} is not dword aligned (low bits ignored)`);
      where = PCI_EXT_CAP_NEXT(header);
    }
  }
  return { items, caps, problems };
}

/* ---------------------------------------------------------------- JSON -- */

export interface DecodedBar {
  readonly index: number;
  readonly kind: BarKind;
  readonly prefetchable: boolean;
  /** Address programmed in the BAR (flag bits removed). Exact as `addressHex`; a number is exact below 2^53. */
  readonly address: number;
  readonly addressHex: string;
  /** Size in bytes, when a sizing mask or a size was supplied. */
  readonly size?: number;
  /** Memory Space (or I/O Space) Enable in Command. */
  readonly enabled: boolean;
  /** lspci's remark on an odd BAR: "low-1M" or "type 3" memory type, "invalid-64bit-slot". */
  readonly note?: string;
}

export interface DecodedRom {
  readonly address: number;
  readonly enabled: boolean;
  readonly size?: number;
}

export interface DecodedWindow {
  readonly base: number;
  readonly limit: number;
  /** Limit ≥ base: the bridge forwards this range. */
  readonly open: boolean;
  readonly width: 16 | 32 | 64;
}

export interface DecodedBridge {
  readonly primaryBus: number;
  readonly secondaryBus: number;
  readonly subordinateBus: number;
  readonly secondaryLatency: number;
  readonly io?: DecodedWindow;
  readonly memory?: DecodedWindow;
  readonly prefetchable?: DecodedWindow;
  readonly bridgeControl: number;
}

export interface DecodedCap {
  readonly id: number;
  readonly extended: boolean;
  readonly offset: number;
  readonly version: number;
  readonly name: string;
  /** Register json name → raw value, field json name → value, from the capability's table (empty when none). */
  readonly registers: Record<string, number | boolean>;
  /** Some of the table's registers lie beyond the bytes supplied. */
  readonly truncated?: boolean;
}

export interface DecodedFunction {
  readonly bdf: string;
  readonly vendorId: number;
  readonly deviceId: number;
  readonly command: number;
  readonly status: number;
  readonly revision: number;
  readonly progIf: number;
  /** 24-bit class code: base class, subclass, programming interface. */
  readonly classCode: number;
  readonly headerType: number;
  readonly multiFunction: boolean;
  readonly subsystemVendorId?: number;
  readonly subsystemId?: number;
  readonly interruptLine: number;
  readonly interruptPin: number;
  readonly bars: readonly DecodedBar[];
  readonly rom?: DecodedRom;
  readonly bridge?: DecodedBridge;
  readonly capabilities: readonly DecodedCap[];
  /** How many config bytes were supplied (64, 256 or 4096 for lspci dumps). */
  readonly configLength: number;
  /** Problems met while walking the capability chains (loops, broken chains, bad pointers). */
  readonly chainError?: readonly string[];
}

export interface DecodeInput {
  readonly bdf: Bdf | string;
  readonly bytes: Uint8Array;
  /** Valid bytes (defaults to bytes.length). */
  readonly length?: number;
  /** BAR sizing masks: what each BAR register reads after writing all-ones (6 for type 0, 2 for type 1). */
  readonly sizeMasks?: readonly number[];
  /** BAR sizes in bytes when known otherwise (e.g. sysfs `resource`); index = BAR slot. */
  readonly sizes?: readonly (number | undefined)[];
  /** Expansion ROM size in bytes, when known. */
  readonly romSize?: number;
}

/** Number of BAR slots by header layout: 6 for type 0, 2 for type 1, 1 for CardBus. */
export function barSlots(headerLayout: number): number {
  return headerLayout === PCI_HEADER_TYPE_NORMAL ? 6 : headerLayout === PCI_HEADER_TYPE_BRIDGE ? 2 : headerLayout === PCI_HEADER_TYPE_CARDBUS ? 1 : 0;
}

const big = (hi: number, lo: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

/** BARs as lspci lists them: empty slots skipped, a 64-bit BAR taking its upper slot. */
export function decodeBars(cfg: ConfigBytes, slots: number, input: Pick<DecodeInput, "sizeMasks" | "sizes"> = {}): DecodedBar[] {
  const out: DecodedBar[] = [];
  const cmd = cfg.u16(PCI_COMMAND);
  for (let i = 0; i < slots; i++) {
    const off = PCI_BASE_ADDRESS_0 + 4 * i;
    if (!cfg.has(off, 4)) break;
    let flg = cfg.u32(off);
    if (flg === 0xffffffff) flg = 0;
    const m = input.sizeMasks;
    let size = input.sizes?.[i];
    const is64 = (flg & PCI_BASE_ADDRESS_SPACE_IO) === 0 && (flg & PCI_BASE_ADDRESS_MEM_TYPE_MASK) === PCI_BASE_ADDRESS_MEM_TYPE_64;
    if (size === undefined && m !== undefined && m[i] !== undefined) {
      const hiVal = is64 && i + 1 < slots ? cfg.u32(off + 4) : 0;
      const d = decodeBar(i, flg, hiVal, m[i] ?? 0, is64 ? (m[i + 1] ?? 0) : 0);
      size = d?.size;
    }
    if (flg === 0 && (size ?? 0) === 0) continue;
    if ((flg & PCI_BASE_ADDRESS_SPACE_IO) !== 0) {
      const a = (flg & 0xfffffffc) >>> 0;
      out.push({
        index: i,
        kind: "io",
        prefetchable: false,
        address: a,
        addressHex: a.toString(16),
        ...(size ? { size } : {}),
        enabled: (cmd & PCI_COMMAND_IO) !== 0,
      });
      continue;
    }
    const t = flg & PCI_BASE_ADDRESS_MEM_TYPE_MASK;
    const pf = (flg & PCI_BASE_ADDRESS_MEM_PREFETCH) !== 0;
    const enabled = (cmd & PCI_COMMAND_MEMORY) !== 0;
    const lo = (flg & 0xfffffff0) >>> 0;
    if (t === PCI_BASE_ADDRESS_MEM_TYPE_64) {
      if (i >= slots - 1) {
        out.push({ index: i, kind: "mem64", prefetchable: pf, address: lo, addressHex: lo.toString(16), enabled, note: "invalid-64bit-slot", ...(size ? { size } : {}) });
        continue;
      }
      const hi = cfg.u32(off + 4);
      const a = big(hi, lo);
      out.push({ index: i, kind: "mem64", prefetchable: pf, address: Number(a), addressHex: a.toString(16), ...(size ? { size } : {}), enabled });
      i++;
      continue;
    }
    const note = t === PCI_BASE_ADDRESS_MEM_TYPE_1M ? "low-1M" : t === 0x06 ? "type 3" : undefined;
    out.push({ index: i, kind: "mem32", prefetchable: pf, address: lo, addressHex: lo.toString(16), ...(size ? { size } : {}), enabled, ...(note ? { note } : {}) });
  }
  return out;
}

function decodeBridge(cfg: ConfigBytes): DecodedBridge {
  const ioBase = cfg.u8(0x1c);
  const ioLimit = cfg.u8(0x1d);
  const ioType = ioBase & PCI_IO_RANGE_TYPE_MASK;
  let io: DecodedWindow | undefined;
  if (ioType === (ioLimit & PCI_IO_RANGE_TYPE_MASK) && (ioType === PCI_IO_RANGE_TYPE_16 || ioType === PCI_IO_RANGE_TYPE_32)) {
    let b = (ioBase & 0xf0) << 8;
    let l = (ioLimit & 0xf0) << 8;
    if (ioType === PCI_IO_RANGE_TYPE_32) {
      b = (b | (cfg.u16(0x30) << 16)) >>> 0;
      l = (l | (cfg.u16(0x32) << 16)) >>> 0;
    }
    io = { base: b, limit: l + 0xfff, open: b <= l, width: ioType === PCI_IO_RANGE_TYPE_32 ? 32 : 16 };
  }
  const memBase = cfg.u16(0x20);
  const memLimit = cfg.u16(0x22);
  let memory: DecodedWindow | undefined;
  if ((memBase & PCI_MEMORY_RANGE_TYPE_MASK) === (memLimit & PCI_MEMORY_RANGE_TYPE_MASK) && (memBase & PCI_MEMORY_RANGE_TYPE_MASK) === 0) {
    const b = ((memBase & 0xfff0) << 16) >>> 0;
    const l = ((memLimit & 0xfff0) << 16) >>> 0;
    memory = { base: b, limit: l + 0xfffff, open: b <= l, width: 32 };
  }
  const pBase = cfg.u16(0x24);
  const pLimit = cfg.u16(0x26);
  const pType = pBase & PCI_PREF_RANGE_TYPE_MASK;
  let prefetchable: DecodedWindow | undefined;
  if (pType === (pLimit & PCI_PREF_RANGE_TYPE_MASK) && (pType === PCI_PREF_RANGE_TYPE_32 || pType === PCI_PREF_RANGE_TYPE_64)) {
    const b = ((pBase & 0xfff0) << 16) >>> 0;
    const l = ((pLimit & 0xfff0) << 16) >>> 0;
    if (pType === PCI_PREF_RANGE_TYPE_64) {
      const bb = big(cfg.u32(0x28), b);
      const ll = big(cfg.u32(0x2c), l);
      prefetchable = { base: Number(bb), limit: Number(ll + 0xfffffn), open: bb <= ll, width: 64 };
    } else prefetchable = { base: b, limit: l + 0xfffff, open: b <= l, width: 32 };
  }
  return {
    primaryBus: cfg.u8(0x18),
    secondaryBus: cfg.u8(0x19),
    subordinateBus: cfg.u8(0x1a),
    secondaryLatency: cfg.u8(0x1b),
    ...(io ? { io } : {}),
    ...(memory ? { memory } : {}),
    ...(prefetchable ? { prefetchable } : {}),
    bridgeControl: cfg.u16(0x3e),
  };
}

/**
 * Registers of capability `c` named by its table (the registry's `capDefAt`, which picks the layout
 * variant from the capability's own bytes, e.g. 32/64-bit MSI), read from the bytes supplied. A field
 * name used by two registers is kept under `register.field` the second time.
 */
export function capRegisters(cfg: ConfigBytes, c: CapLocation): { registers: Record<string, number | boolean>; truncated: boolean } {
  const def = capDefAt((off, size) => cfg.read(off, size), c.offset, c.id, c.extended);
  const registers: Record<string, number | boolean> = {};
  let truncated = false;
  if (def === undefined) return { registers, truncated };
  const specs = Object.values(def.regs) as RegSpec[];
  for (const spec of specs) {
    const abs = c.offset + spec.offset;
    if (!cfg.has(abs, spec.size)) {
      truncated = true;
      continue;
    }
    const j = regJson(spec, cfg.read(abs, spec.size));
    for (const [k, v] of Object.entries(j)) {
      const key = k in registers ? `${spec.json}.${k}` : k;
      registers[key] = v;
    }
  }
  return { registers, truncated };
}

/** Decode one function's config bytes. Never throws on odd contents: problems land in `chainError`. */
export function decodeFunction(input: DecodeInput): DecodedFunction {
  const bdf = typeof input.bdf === "string" ? parseBdf(input.bdf) : input.bdf;
  const cfg = new ConfigBytes(input.bytes, Math.min(input.length ?? input.bytes.length, input.bytes.length));
  const htype = cfg.u8(PCI_HEADER_TYPE);
  const layout = htype & PCI_HEADER_TYPE_MASK;
  const classRev = cfg.u32(0x08);
  const bars = decodeBars(cfg, barSlots(layout), input);
  let rom: DecodedRom | undefined;
  const romReg = layout === PCI_HEADER_TYPE_NORMAL ? PCI_ROM_ADDRESS : layout === PCI_HEADER_TYPE_BRIDGE ? PCI_ROM_ADDRESS1 : -1;
  if (romReg >= 0 && cfg.has(romReg, 4)) {
    const r = cfg.u32(romReg);
    const a = (r & PCI_ROM_ADDRESS_MASK) >>> 0;
    if (r !== 0 && r !== 0xffffffff) rom = { address: a, enabled: (r & PCI_ROM_ADDRESS_ENABLE) !== 0, ...(input.romSize ? { size: input.romSize } : {}) };
  }
  const chains = walkCapabilities(cfg);
  const capabilities: DecodedCap[] = chains.caps.map((c) => {
    const { registers, truncated } = capRegisters(cfg, c);
    return {
      id: c.id,
      extended: c.extended,
      offset: c.offset,
      version: c.version,
      name: capName(c.id, c.extended),
      registers,
      ...(truncated ? { truncated } : {}),
    };
  });
  return {
    bdf: formatBdf(bdf),
    vendorId: cfg.u16(0x00),
    deviceId: cfg.u16(0x02),
    command: cfg.u16(PCI_COMMAND),
    status: cfg.u16(PCI_STATUS),
    revision: classRev & 0xff,
    progIf: (classRev >>> 8) & 0xff,
    classCode: classRev >>> 8,
    headerType: layout,
    multiFunction: (htype & PCI_HEADER_TYPE_MFD) !== 0,
    ...(layout === PCI_HEADER_TYPE_NORMAL ? { subsystemVendorId: cfg.u16(0x2c), subsystemId: cfg.u16(0x2e) } : {}),
    interruptLine: cfg.u8(0x3c),
    interruptPin: cfg.u8(0x3d),
    bars,
    ...(rom ? { rom } : {}),
    ...(layout === PCI_HEADER_TYPE_BRIDGE ? { bridge: decodeBridge(cfg) } : {}),
    capabilities,
    configLength: cfg.length,
    ...(chains.problems.length > 0 ? { chainError: chains.problems } : {}),
  };
}
