/**
 * Enumeration as firmware and Linux do it, through configuration requests only:
 *
 * 1. Scan (drivers/pci/probe.c): on each bus, every device number (only device 0 below a PCIe root or
 *    downstream port), function 0 first, then functions 1..7 of a multi-function device or, with ARI
 *    forwarding on the bus, the ARI Next Function Number chain. A function that answers CRS is waited
 *    for (the simulated clock advances, 1 ms doubling, up to `crsTimeoutNs`).
 * 2. Per function: ARI forwarding enabled on the bridge above when function 0 has ARI and the bridge
 *    supports it (pci_configure_ari); ACS controls SV|RR|CR|UF enabled where present (pci_std_enable_acs);
 *    BARs sized with decode off (write all-ones, read back, restore); SR-IOV set up as sriov_init does
 *    (VF Enable cleared, ARI Capable Hierarchy on the first PF of an ARI bus, the smallest supported
 *    System Page Size ≥ the host page, VF BARs sized, the highest VF bus found by trying every NumVFs
 *    from TotalVFs down to 1 as compute_max_vf_buses does, NumVFs restored).
 * 3. Bus numbers depth first (pci_scan_child_bus_extend): after the devices of a bus, the extra buses
 *    its PFs' VFs need are reserved, then each bridge gets the next number, subordinate = the last bus while its
 *    subtree is scanned, then the highest number used below it.
 * 4. Addresses (resources.ts), then BARs, VF BARs, bridge windows and Command written by config cycles
 *    (enum-program.ts).
 * Config access with CRS retry is enum-access.ts; the SR-IOV part of step 2 is enum-sriov.ts.
 */
import { IovError } from "../errors.js";
import { findCapability, findExtCapability } from "./capwalk.js";
import { PCI_ACS_CAP, PCI_ACS_CR, PCI_ACS_CTRL, PCI_ACS_RR, PCI_ACS_SV, PCI_ACS_UF, PCI_EXT_CAP_ID_ACS } from "./caps/acs.js";
import { PCI_ARI_CAP, PCI_ARI_CAP_NFN, PCI_EXT_CAP_ID_ARI } from "./caps/ari.js";
import {
  PCI_CAP_ID_EXP,
  PCI_EXP_DEVCAP2,
  PCI_EXP_DEVCAP2_ARI,
  PCI_EXP_DEVCTL2,
  PCI_EXP_DEVCTL2_ARI,
  PCI_EXP_FLAGS,
  PCI_EXP_FLAGS_SLOT,
  PCI_EXP_FLAGS_TYPE,
  PCI_EXP_SLTCAP,
  PCI_EXP_SLTCAP_HPC,
  PCI_EXP_TYPE_DOWNSTREAM,
  PCI_EXP_TYPE_ENDPOINT,
  PCI_EXP_TYPE_LEG_END,
  PCI_EXP_TYPE_PCI_BRIDGE,
  PCI_EXP_TYPE_RC_EC,
  PCI_EXP_TYPE_RC_END,
  PCI_EXP_TYPE_ROOT_PORT,
  PCI_EXP_TYPE_UPSTREAM,
} from "./caps/pcie-regs.js";
import { CfgAccess } from "./enum-access.js";
import type { EnumBus, EnumDev } from "./enum-access.js";
import { programResources } from "./enum-program.js";
import type { EnumeratedResource } from "./enum-program.js";
import { sriovInit } from "./enum-sriov.js";
import type { Fabric } from "./fabric.js";
import type { FunctionKind } from "./function.js";
import {
  PCI_BASE_ADDRESS_0,
  PCI_CLASS_REVISION,
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MEMORY,
  PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_BRIDGE,
  PCI_HEADER_TYPE_MASK,
  PCI_HEADER_TYPE_MFD,
  PCI_IO_BASE,
  PCI_PREF_MEMORY_BASE,
  PCI_PRIMARY_BUS,
  PCI_SUBORDINATE_BUS,
  PCI_VENDOR_ID,
} from "./header.js";
import type { AddrRange, WindowKind } from "./resources.js";
import { allocate } from "./resources.js";

export type { EnumeratedResource } from "./enum-program.js";
export type { AddrRange } from "./resources.js";

export interface EnumerateOptions {
  /** Non-prefetchable memory below 4 GiB. Default 0x8000_0000..0xfebf_ffff. */
  readonly mmio32?: AddrRange;
  /** 64-bit prefetchable memory; `null` puts prefetchable memory in the 32-bit range. Default 256..512 GiB. */
  readonly mmio64?: AddrRange | null;
  /** I/O ports. Default 0x1000..0xffff. */
  readonly io?: AddrRange;
  /** Highest bus number the domain may use. Default 255. */
  readonly lastBus?: number;
  /**
   * Size bridge windows for SR-IOV resources as well (Linux `pci=realloc`; firmware that knows SR-IOV).
   * False: windows hold the BARs only and IOV resources take what is left. Default true.
   */
  readonly realloc?: boolean;
  /** An IOV resource that does not fit: throw ENOSPC ("error", default) or leave it unassigned and report it ("skip"). */
  readonly iovShortage?: "error" | "skip";
  /** Host page size for the SR-IOV System Page Size. Default 4096. */
  readonly hostPageSize?: number;
  /** Set Bus Master Enable on every function. Default true. */
  readonly busMaster?: boolean;
  /** Enable ACS SV|RR|CR|UF where implemented (as Linux when an IOMMU requested ACS). Default true. */
  readonly enableAcs?: boolean;
  /** How long to wait for a function answering CRS before treating it as absent. Default 1 s. */
  readonly crsTimeoutNs?: number;
  /**
   * Minimum window sizes of bridges with a hot-plug capable slot, reserved even when empty
   * (Linux pci=hpiosize/hpmmiosize/hpmmioprefsize). Default none.
   */
  readonly hotplugReserve?: Partial<Readonly<Record<WindowKind, number>>>;
}

export interface EnumeratedFunction {
  readonly bdf: string;
  readonly bus: number;
  readonly devfn: number;
  readonly kind: FunctionKind;
  readonly vendorId: number;
  readonly deviceId: number;
  readonly classCode: number;
  /** Bridges: the bus numbers programmed. */
  readonly secondary?: number;
  readonly subordinate?: number;
  readonly resources: readonly EnumeratedResource[];
  /** PFs: what sriov_init found. */
  readonly sriov?: { readonly totalVfs: number; readonly maxVfBus: number; readonly systemPageSize: number };
}

export interface EnumerateResult {
  readonly functions: readonly EnumeratedFunction[];
  /** Highest bus number in use (VF buses included). */
  readonly lastBus: number;
  /** IOV resources left unassigned (`iovShortage: "skip"`) and SR-IOV capabilities given up (EIO). */
  readonly problems: readonly IovError[];
}

export const DEFAULT_MMIO32: AddrRange = { base: 0x8000_0000, limit: 0xfebf_ffff };
export const DEFAULT_MMIO64: AddrRange = { base: 2 ** 38, limit: 2 ** 39 - 1 };
export const DEFAULT_IO: AddrRange = { base: 0x1000, limit: 0xffff };

const NO_RESERVE: Readonly<Record<WindowKind, number>> = { io: 0, mem: 0, pref: 0 };

const KIND_OF_TYPE: ReadonlyMap<number, FunctionKind> = new Map([
  [PCI_EXP_TYPE_ENDPOINT, "endpoint"],
  [PCI_EXP_TYPE_LEG_END, "legacy-endpoint"],
  [PCI_EXP_TYPE_ROOT_PORT, "root-port"],
  [PCI_EXP_TYPE_UPSTREAM, "upstream-port"],
  [PCI_EXP_TYPE_DOWNSTREAM, "downstream-port"],
  [PCI_EXP_TYPE_PCI_BRIDGE, "pci-bridge"],
  [PCI_EXP_TYPE_RC_END, "rciep"],
  [PCI_EXP_TYPE_RC_EC, "rc-event-collector"],
]);
/** Class 06 00 xx: host bridge. */
const PCI_CLASS_BRIDGE_HOST_16 = 0x0600;

class Enumerator {
  private readonly f: Fabric;
  private readonly acc: CfgAccess;
  private readonly o: Required<Omit<EnumerateOptions, "mmio64" | "hotplugReserve">> & { mmio64: AddrRange | null; hotplugReserve: Record<WindowKind, number> };
  readonly problems: IovError[] = [];
  readonly all: EnumDev[] = [];

  constructor(f: Fabric, o: EnumerateOptions) {
    this.f = f;
    this.o = {
      mmio32: o.mmio32 ?? DEFAULT_MMIO32,
      mmio64: o.mmio64 === undefined ? DEFAULT_MMIO64 : o.mmio64,
      io: o.io ?? DEFAULT_IO,
      lastBus: o.lastBus ?? 255,
      realloc: o.realloc ?? true,
      iovShortage: o.iovShortage ?? "error",
      hostPageSize: o.hostPageSize ?? 4096,
      busMaster: o.busMaster ?? true,
      enableAcs: o.enableAcs ?? true,
      crsTimeoutNs: o.crsTimeoutNs ?? 1_000_000_000,
      hotplugReserve: { io: o.hotplugReserve?.io ?? 0, mem: o.hotplugReserve?.mem ?? 0, pref: o.hotplugReserve?.pref ?? 0 },
    };
    this.acc = new CfgAccess(f, this.o.crsTimeoutNs);
    if (!Number.isInteger(this.o.lastBus) || this.o.lastBus < 0 || this.o.lastBus > 255) throw new IovError("ERANGE", `last bus ${this.o.lastBus} outside 0..255`);
  }

  // ---- scan ----
  scanBus(bus: EnumBus): number {
    const n = bus.number;
    const link = bus.bridge !== undefined && (bus.bridge.kind === "root-port" || bus.bridge.kind === "downstream-port");
    const slots = link ? 1 : 32;
    for (let slot = 0; slot < slots; slot++) this.scanSlot(bus, slot);
    // Buses for VFs beyond this bus (pci_iov_bus_range), before any bridge gets a number.
    let max = n;
    for (const d of bus.devs) if (d.totalVfs > 0) max = Math.max(max, d.maxVfBus);
    if (max > this.o.lastBus) {
      this.iovProblem(new IovError("ENOSPC", `bus ${n.toString(16).padStart(2, "0")}: SR-IOV needs buses up to ${max.toString(16).padStart(2, "0")}, the domain ends at ${this.o.lastBus.toString(16).padStart(2, "0")}`, { bus: n, needed: max, lastBus: this.o.lastBus }));
      max = this.o.lastBus;
    }
    for (const d of bus.devs) {
      if (!d.isBridge) continue;
      const sec = max + 1;
      if (sec > this.o.lastBus)
        throw new IovError("ENOSPC", `${d.bdf}: no bus number left for its secondary bus (last is ${this.o.lastBus.toString(16).padStart(2, "0")})`, { bdf: d.bdf, lastBus: this.o.lastBus });
      // Primary, secondary, subordinate (open while the subtree is scanned), keeping the latency timer byte.
      const keep = this.acc.rd(d.bus, d.devfn, PCI_PRIMARY_BUS, 4) & 0xff000000;
      this.acc.wr(d.bus, d.devfn, PCI_PRIMARY_BUS, 4, (keep | n | (sec << 8) | (this.o.lastBus << 16)) >>> 0);
      const child: EnumBus = { number: sec, bridge: d, devs: [] };
      d.below = child;
      d.secondary = sec;
      max = this.scanBus(child);
      d.subordinate = max;
      this.acc.wr(d.bus, d.devfn, PCI_SUBORDINATE_BUS, 1, max);
    }
    return max;
  }

  private present(bus: number, devfn: number): boolean {
    const v = this.acc.rd(bus, devfn, PCI_VENDOR_ID, 4);
    if (this.f.lastStatus === "CRS") {
      this.problems.push(new IovError("EIO", `${this.acc.bdf(bus, devfn)}: still answering CRS after ${this.o.crsTimeoutNs} ns; not enumerated`));
      return false;
    }
    const vendor = v & 0xffff;
    return vendor !== 0xffff && vendor !== 0 && vendor !== 0x0001;
  }

  private scanSlot(bus: EnumBus, slot: number): void {
    const devfn0 = slot << 3;
    if (!this.present(bus.number, devfn0)) return;
    const d0 = this.probe(bus, devfn0);
    const ari = bus.bridge !== undefined && this.acc.ariForwarding(bus.bridge);
    if (ari) {
      const seen = new Set<number>([devfn0]);
      let cur = d0;
      for (;;) {
        const ariPos = findExtCapability(this.acc.reader(cur.bus, cur.devfn), PCI_EXT_CAP_ID_ARI);
        if (ariPos === 0) break;
        const next = PCI_ARI_CAP_NFN(this.acc.rd(cur.bus, cur.devfn, ariPos + PCI_ARI_CAP, 2));
        if (next === 0 || seen.has(next) || !this.present(bus.number, next)) break;
        seen.add(next);
        cur = this.probe(bus, next);
      }
      return;
    }
    if ((this.acc.rd(bus.number, devfn0, PCI_HEADER_TYPE, 1) & PCI_HEADER_TYPE_MFD) === 0) return;
    for (let fn = 1; fn < 8; fn++) if (this.present(bus.number, devfn0 | fn)) this.probe(bus, devfn0 | fn);
  }

  private probe(bus: EnumBus, devfn: number): EnumDev {
    const b = bus.number;
    const rd = this.acc.reader(b, devfn);
    const id = rd(PCI_VENDOR_ID, 4);
    const hdr = rd(PCI_HEADER_TYPE, 1) & PCI_HEADER_TYPE_MASK;
    const classCode = rd(PCI_CLASS_REVISION, 4) >>> 8;
    const pcie = findCapability(rd, PCI_CAP_ID_EXP);
    let kind: FunctionKind;
    if (pcie !== 0) kind = KIND_OF_TYPE.get((rd(pcie + PCI_EXP_FLAGS, 2) & PCI_EXP_FLAGS_TYPE) >> 4) ?? "endpoint";
    else if (hdr === PCI_HEADER_TYPE_BRIDGE) kind = "pci-bridge";
    else kind = classCode >> 8 === PCI_CLASS_BRIDGE_HOST_16 ? "host-bridge" : "legacy-endpoint";
    const isBridge = hdr === PCI_HEADER_TYPE_BRIDGE;
    const dev: EnumDev = {
      bdf: this.acc.bdf(b, devfn),
      bus: b,
      devfn,
      kind,
      vendorId: id & 0xffff,
      deviceId: id >>> 16,
      classCode,
      bars: [],
      iov: [],
      sriovCap: 0,
      totalVfs: 0,
      maxVfBus: b,
      sysPage: 0,
      isBridge,
      below: undefined,
      hasIoWindow: false,
      hasPrefWindow: false,
      reserve: NO_RESERVE,
      secondary: 0,
      subordinate: 0,
    };
    bus.devs.push(dev);
    this.all.push(dev);
    if (pcie !== 0 && devfn === 0 && bus.bridge !== undefined) this.configureAri(bus.bridge, b, devfn);
    const isPcie = pcie !== 0; // and so has extended configuration space
    if (isPcie && this.o.enableAcs) this.enableAcs(b, devfn);
    this.sizeBars(dev, isBridge ? 2 : 6);
    if (isBridge) {
      this.checkWindows(dev);
      if (pcie !== 0 && (rd(pcie + PCI_EXP_FLAGS, 2) & PCI_EXP_FLAGS_SLOT) !== 0 && (rd(pcie + PCI_EXP_SLTCAP, 4) & PCI_EXP_SLTCAP_HPC) !== 0)
        dev.reserve = this.o.hotplugReserve;
    }
    if (isPcie && (kind === "endpoint" || kind === "rciep")) sriovInit(this.acc, bus, dev, this.o.hostPageSize, this.problems);
    return dev;
  }

  /** pci_configure_ari: function 0 with ARI below a bridge that supports ARI forwarding turns it on. */
  private configureAri(bridge: EnumDev, b: number, devfn: number): void {
    const bpos = findCapability(this.acc.reader(bridge.bus, bridge.devfn), PCI_CAP_ID_EXP);
    if (bpos === 0) return;
    if ((this.acc.rd(bridge.bus, bridge.devfn, bpos + PCI_EXP_DEVCAP2, 4) & PCI_EXP_DEVCAP2_ARI) === 0) return;
    const ctl = this.acc.rd(bridge.bus, bridge.devfn, bpos + PCI_EXP_DEVCTL2, 2);
    const has = findExtCapability(this.acc.reader(b, devfn), PCI_EXT_CAP_ID_ARI) !== 0;
    const want = has ? ctl | PCI_EXP_DEVCTL2_ARI : ctl & ~PCI_EXP_DEVCTL2_ARI;
    if (want !== ctl) this.acc.wr(bridge.bus, bridge.devfn, bpos + PCI_EXP_DEVCTL2, 2, want);
  }

  private enableAcs(b: number, devfn: number): void {
    const pos = findExtCapability(this.acc.reader(b, devfn), PCI_EXT_CAP_ID_ACS);
    if (pos === 0) return;
    const cap = this.acc.rd(b, devfn, pos + PCI_ACS_CAP, 2);
    const ctrl = this.acc.rd(b, devfn, pos + PCI_ACS_CTRL, 2);
    this.acc.wr(b, devfn, pos + PCI_ACS_CTRL, 2, ctrl | (cap & (PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF)));
  }

  /** BAR sizing with memory and I/O decode off, as Linux __pci_read_base does. */
  private sizeBars(dev: EnumDev, count: number): void {
    const cmd = this.acc.rd(dev.bus, dev.devfn, PCI_COMMAND, 2);
    const off = cmd & ~(PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
    if (off !== cmd) this.acc.wr(dev.bus, dev.devfn, PCI_COMMAND, 2, off);
    dev.bars.push(...this.acc.sizeBars(dev.bus, dev.devfn, PCI_BASE_ADDRESS_0, count));
    if (off !== cmd) this.acc.wr(dev.bus, dev.devfn, PCI_COMMAND, 2, cmd);
  }

  /** pci_bridge_check_ranges: a window whose base register stays 0 after writing ones is absent. */
  private checkWindows(dev: EnumDev): void {
    const { bus: b, devfn } = dev;
    const probe = (off: number, size: 1 | 2, ones: number): boolean => {
      const v = this.acc.rd(b, devfn, off, size);
      if (v !== 0) return true;
      this.acc.wr(b, devfn, off, size, ones);
      const back = this.acc.rd(b, devfn, off, size);
      this.acc.wr(b, devfn, off, size, v);
      return back !== 0;
    };
    dev.hasIoWindow = probe(PCI_IO_BASE, 1, 0xf0);
    dev.hasPrefWindow = probe(PCI_PREF_MEMORY_BASE, 2, 0xfff0);
  }

  private iovProblem(e: IovError): void {
    if (this.o.iovShortage === "error") throw e;
    this.problems.push(e);
  }

  run(): EnumerateResult {
    const root: EnumBus = { number: 0, bridge: undefined, devs: [] };
    const last = this.scanBus(root);
    const alloc = allocate(root, {
      io: this.o.io,
      mmio32: this.o.mmio32,
      mmio64: this.o.mmio64 ?? undefined,
      realloc: this.o.realloc,
      iovShortage: this.o.iovShortage,
      rootName: `root bus ${this.f.domain.toString(16).padStart(4, "0")}:00`,
    });
    this.problems.push(...alloc.problems);
    const res = programResources(this.acc, this.all, alloc.placements, this.o.busMaster);
    const functions: EnumeratedFunction[] = this.all.map((d) => ({
      bdf: d.bdf,
      bus: d.bus,
      devfn: d.devfn,
      kind: d.kind,
      vendorId: d.vendorId,
      deviceId: d.deviceId,
      classCode: d.classCode,
      ...(d.isBridge ? { secondary: d.secondary, subordinate: d.subordinate } : {}),
      resources: res.get(d) ?? [],
      ...(d.totalVfs > 0 ? { sriov: { totalVfs: d.totalVfs, maxVfBus: d.maxVfBus, systemPageSize: d.sysPage } } : {}),
    }));
    return { functions, lastBus: last, problems: this.problems };
  }
}

/** Enumerate the fabric: bus numbers, BAR/IOV/window addresses and Command, all by config cycles. */
export function enumerate(fabric: Fabric, opts: EnumerateOptions = {}): EnumerateResult {
  return new Enumerator(fabric, opts).run();
}
