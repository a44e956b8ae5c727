/**
 * The last step of enumeration: programming BARs, VF BARs, bridge windows and Command through
 * configuration writes.
 */
import {
  PCI_BASE_ADDRESS_0,
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_IO_BASE,
  PCI_IO_BASE_UPPER16,
  PCI_MEMORY_BASE,
  PCI_PREF_BASE_UPPER32,
  PCI_PREF_LIMIT_UPPER32,
  PCI_PREF_MEMORY_BASE,
} from "./header.js";
import { PCI_SRIOV_BAR } from "./caps/sriov.js";
import type { CfgAccess, EnumDev } from "./enum-access.js";
import type { Placement, WindowKind } from "./resources.js";

/** One resource as assigned. `base` is −1 for an IOV resource skipped for lack of space. */
export interface EnumeratedResource {
  readonly type: "bar" | "iov" | "window";
  /** BAR or VF BAR index; for windows the window kind. */
  readonly index: number;
  readonly window: WindowKind;
  readonly base: number;
  readonly size: number;
  /** IOV resources: number of VFs and the size of each VF's BAR. */
  readonly vfs?: number;
  readonly perVf?: number;
}

/**
 * Write what the allocator decided: BARs and VF BARs (both dwords of 64-bit ones), bridge windows
 * (an empty window is written base > limit), and Command: Memory/I-O decode where the function or
 * bridge has something of that kind, Bus Master on request. Returns the resources per function.
 */
export function programResources(acc: CfgAccess, all: readonly EnumDev[], placements: readonly Placement[], busMaster: boolean): Map<EnumDev, EnumeratedResource[]> {
  const res = new Map<EnumDev, EnumeratedResource[]>();
  const windows = new Map<EnumDev, Record<WindowKind, Placement | undefined>>();
  for (const p of placements) {
    const d = p.dev as EnumDev;
    let list = res.get(d);
    if (list === undefined) res.set(d, (list = []));
    const r: EnumeratedResource = {
      type: p.what,
      index: p.index,
      window: p.kind,
      base: p.base,
      size: p.size,
      ...(p.what === "iov" ? { vfs: p.size / p.align, perVf: p.align } : {}),
    };
    list.push(r);
    if (p.what === "window") {
      const w = windows.get(d) ?? { io: undefined, mem: undefined, pref: undefined };
      w[p.kind] = p;
      windows.set(d, w);
    } else if (p.base >= 0) {
      const barBase = p.what === "bar" ? PCI_BASE_ADDRESS_0 : d.sriovCap + PCI_SRIOV_BAR;
      const off = barBase + 4 * p.index;
      const lo = acc.rd(d.bus, d.devfn, off, 4);
      acc.wr(d.bus, d.devfn, off, 4, ((p.base % 2 ** 32) | (lo & 0xf)) >>> 0);
      const is64 = p.what === "bar" ? d.bars.some((x) => x.index === p.index && x.kind === "mem64") : d.iov.some((x) => x.index === p.index && x.kind === "mem64");
      if (is64) acc.wr(d.bus, d.devfn, off + 4, 4, Math.floor(p.base / 2 ** 32));
    }
  }
  for (const d of all) {
    let cmd = acc.rd(d.bus, d.devfn, PCI_COMMAND, 2) & ~(PCI_COMMAND_MEMORY | PCI_COMMAND_IO | PCI_COMMAND_MASTER);
    if (d.isBridge) {
      const w = windows.get(d) ?? { io: undefined, mem: undefined, pref: undefined };
      writeWindows(acc, d, w);
      if (w.mem !== undefined || w.pref !== undefined) cmd |= PCI_COMMAND_MEMORY;
      if (w.io !== undefined) cmd |= PCI_COMMAND_IO;
    }
    if (d.bars.some((x) => x.kind !== "io")) cmd |= PCI_COMMAND_MEMORY;
    if (d.bars.some((x) => x.kind === "io")) cmd |= PCI_COMMAND_IO;
    if (busMaster && d.kind !== "host-bridge") cmd |= PCI_COMMAND_MASTER;
    acc.wr(d.bus, d.devfn, PCI_COMMAND, 2, cmd);
  }
  return res;
}

function writeWindows(acc: CfgAccess, d: EnumDev, w: Record<WindowKind, Placement | undefined>): void {
  const { bus: b, devfn } = d;
  const io = w.io;
  if (d.hasIoWindow) {
    if (io !== undefined) {
      const lim = io.base + io.size - 1;
      acc.wr(b, devfn, PCI_IO_BASE, 2, ((io.base >> 8) & 0xf0) | (((lim >> 8) & 0xf0) << 8));
      acc.wr(b, devfn, PCI_IO_BASE_UPPER16, 4, ((io.base >>> 16) | ((lim >>> 16) << 16)) >>> 0);
    } else {
      acc.wr(b, devfn, PCI_IO_BASE, 2, 0x00f0);
      acc.wr(b, devfn, PCI_IO_BASE_UPPER16, 4, 0);
    }
  }
  const mem = w.mem;
  if (mem !== undefined) {
    const lim = mem.base + mem.size - 1;
    acc.wr(b, devfn, PCI_MEMORY_BASE, 4, (((mem.base >>> 16) & 0xfff0) | ((((lim >>> 16) & 0xfff0) << 16) >>> 0)) >>> 0);
  } else acc.wr(b, devfn, PCI_MEMORY_BASE, 4, 0x0000fff0);
  if (!d.hasPrefWindow) return;
  const pref = w.pref;
  if (pref !== undefined) {
    const lim = pref.base + pref.size - 1;
    const lo = (x: number): number => Math.floor((x % 2 ** 32) / 0x10000) & 0xfff0;
    acc.wr(b, devfn, PCI_PREF_MEMORY_BASE, 4, (lo(pref.base) | (lo(lim) << 16)) >>> 0);
    acc.wr(b, devfn, PCI_PREF_BASE_UPPER32, 4, Math.floor(pref.base / 2 ** 32));
    acc.wr(b, devfn, PCI_PREF_LIMIT_UPPER32, 4, Math.floor(lim / 2 ** 32));
  } else {
    acc.wr(b, devfn, PCI_PREF_MEMORY_BASE, 4, 0x0000fff0);
    acc.wr(b, devfn, PCI_PREF_BASE_UPPER32, 4, 0);
    acc.wr(b, devfn, PCI_PREF_LIMIT_UPPER32, 4, 0);
  }
}
