/**
 * Checks shared by the fabric/enumeration/routing tests. They read the programmed state back through
 * configuration requests and decode it with their own (deliberately simple) arithmetic, so that they
 * do not lean on the code under test.
 */
import { expect } from "vitest";
import type { Fabric } from "../../../src/pcie/fabric.js";
import type { EnumerateResult, EnumeratedFunction } from "../../../src/pcie/enumerate.js";
import { DEFAULT_IO, DEFAULT_MMIO32, DEFAULT_MMIO64 } from "../../../src/pcie/enumerate.js";
import type { PciFunction } from "../../../src/pcie/function.js";

export interface Range {
  readonly base: number;
  readonly limit: number;
}
export interface Windows {
  readonly io?: Range;
  readonly mem?: Range;
  readonly pref?: Range;
}
export interface Leaf {
  readonly bdf: string;
  readonly what: string;
  readonly window: "io" | "mem" | "pref";
  readonly base: number;
  readonly size: number;
  readonly align: number;
}

const MiB = 2 ** 20;

export function cfg(f: Fabric, fn: PciFunction, off: number, size: 1 | 2 | 4): number {
  const r = f.configRead(fn.bus, fn.devfn, off, size);
  expect(r.status).toBe("SC");
  return r.value;
}

/** Bridge windows decoded from the registers read by config cycles. */
export function readWindows(f: Fabric, br: PciFunction): Windows {
  const ioB = cfg(f, br, 0x1c, 1);
  const ioL = cfg(f, br, 0x1d, 1);
  const ioU = cfg(f, br, 0x30, 4);
  const io = { base: ((ioB & 0xf0) << 8) + (ioU & 0xffff) * 65536, limit: ((ioL & 0xf0) << 8) + 0xfff + (ioU >>> 16) * 65536 };
  const m = cfg(f, br, 0x20, 4);
  const mem = { base: (m & 0xfff0) * 65536, limit: (m >>> 16 & 0xfff0) * 65536 + 0xfffff };
  const p = cfg(f, br, 0x24, 4);
  const pref = { base: (p & 0xfff0) * 65536 + cfg(f, br, 0x28, 4) * 2 ** 32, limit: ((p >>> 16) & 0xfff0) * 65536 + 0xfffff + cfg(f, br, 0x2c, 4) * 2 ** 32 };
  // Optional windows that are absent read as all-zero registers (enumeration never programs 0).
  const ioImpl = ioB !== 0 || ioL !== 0;
  const prefImpl = p !== 0;
  return {
    ...(ioImpl && io.base <= io.limit ? { io } : {}),
    ...(mem.base <= mem.limit ? { mem } : {}),
    ...(prefImpl && pref.base <= pref.limit ? { pref } : {}),
  };
}

function bdfOf(fn: PciFunction): string {
  return fn.bdfString;
}

/** Leaf resources (BARs, IOV apertures) of the enumeration result, checked against the BAR registers. */
export function leaves(f: Fabric, r: EnumerateResult): Leaf[] {
  const out: Leaf[] = [];
  for (const e of r.functions) {
    const fn = f.functionAt(e.bus, e.devfn)!;
    expect(fn.bdfString).toBe(e.bdf);
    for (const x of e.resources) {
      if (x.type === "window" || x.base < 0) continue;
      // The register holds the address (VF BARs live in the SR-IOV capability).
      const reg = x.type === "bar" ? 0x10 + 4 * x.index : f.node(fn).sriovCap + 0x24 + 4 * x.index;
      const lo = cfg(f, fn, reg, 4);
      expect((lo & (x.window === "io" ? ~0x3 : ~0xf)) >>> 0).toBe(x.base % 2 ** 32);
      if (x.base >= 2 ** 32) expect(cfg(f, fn, reg + 4, 4)).toBe(Math.floor(x.base / 2 ** 32));
      out.push({ bdf: e.bdf, what: `${x.type}${x.index}`, window: x.window, base: x.base, size: x.size, align: x.type === "iov" ? x.perVf! : x.size });
    }
  }
  return out;
}

/** The invariants every enumeration must satisfy. */
export function checkEnumeration(f: Fabric, r: EnumerateResult, roots: { mmio32?: Range; mmio64?: Range | null; io?: Range } = {}): void {
  const byBdf = new Map<string, EnumeratedFunction>(r.functions.map((e) => [e.bdf, e]));
  const reach = r.functions.map((e) => f.functionAt(e.bus, e.devfn)!);
  // Every function found is the one wired there; every wired, reachable non-VF function was found.
  for (const fn of f.functions()) if (fn.physfn === undefined) expect(byBdf.has(bdfOf(fn))).toBe(true);

  // ---- bus numbers ----
  const range = new Map<PciFunction, Range>();
  for (const fn of reach) {
    const e = byBdf.get(fn.bdfString)!;
    if (e.secondary === undefined) continue;
    const pri = cfg(f, fn, 0x18, 1);
    const sec = cfg(f, fn, 0x19, 1);
    const sub = cfg(f, fn, 0x1a, 1);
    expect(pri).toBe(fn.bus);
    expect(sec).toBe(e.secondary);
    expect(sub).toBe(e.subordinate);
    expect(sec).toBeGreaterThan(fn.bus);
    expect(sub).toBeGreaterThanOrEqual(sec);
    range.set(fn, { base: sec, limit: sub });
  }
  for (const fn of reach) {
    // the function's bus and every VF bus it may need lie inside every bridge above it
    const e = byBdf.get(fn.bdfString)!;
    const top = e.sriov?.maxVfBus ?? fn.bus;
    let p = f.parentBridge(fn);
    if (p !== undefined) expect(fn.bus).toBe(range.get(p)!.base);
    let child: PciFunction = fn;
    while (p !== undefined) {
      const pr = range.get(p)!;
      expect(fn.bus).toBeGreaterThanOrEqual(pr.base);
      expect(top).toBeLessThanOrEqual(pr.limit);
      const cr = range.get(child);
      if (cr !== undefined && child !== fn) {
        expect(cr.base).toBeGreaterThan(pr.base);
        expect(cr.limit).toBeLessThanOrEqual(pr.limit);
      }
      child = p;
      p = f.parentBridge(p);
    }
    // VF buses beyond the PF's bus belong to no sibling bridge
    if (top > fn.bus) {
      for (const [br, br_r] of range) {
        if (f.parentBridge(br) !== f.parentBridge(fn)) continue;
        expect(br_r.limit < fn.bus + 1 || br_r.base > top).toBe(true);
      }
    }
  }
  // sibling bridges have disjoint bus ranges
  const siblings = new Map<PciFunction | undefined, Range[]>();
  for (const [br, rr] of range) {
    const k = f.parentBridge(br);
    siblings.set(k, [...(siblings.get(k) ?? []), rr]);
  }
  for (const list of siblings.values()) {
    const s = [...list].sort((a, b) => a.base - b.base);
    for (let i = 1; i < s.length; i++) expect(s[i]!.base).toBeGreaterThan(s[i - 1]!.limit);
  }
  let maxBus = 0;
  for (const e of r.functions) maxBus = Math.max(maxBus, e.bus, e.subordinate ?? 0, e.sriov?.maxVfBus ?? 0);
  expect(r.lastBus).toBe(maxBus);

  // ---- windows, alignment, containment, overlap ----
  const win = new Map<PciFunction, Windows>();
  for (const fn of range.keys()) win.set(fn, readWindows(f, fn));
  const m32 = roots.mmio32 ?? DEFAULT_MMIO32;
  const m64 = roots.mmio64 === undefined ? DEFAULT_MMIO64 : roots.mmio64;
  const io = roots.io ?? DEFAULT_IO;
  const rootRange = (k: "io" | "mem" | "pref"): Range => (k === "io" ? io : k === "mem" || m64 === null ? m32 : m64);
  const inside = (b: number, size: number, w: Range | undefined): boolean => w !== undefined && b >= w.base && b + size - 1 <= w.limit;
  for (const [br, w] of win) {
    for (const k of ["mem", "pref"] as const) {
      const x = w[k];
      if (x === undefined) continue;
      expect(x.base % MiB).toBe(0);
      expect((x.limit + 1) % MiB).toBe(0);
    }
    if (w.io !== undefined) {
      expect(w.io.base % 4096).toBe(0);
      expect((w.io.limit + 1) % 4096).toBe(0);
    }
    const p = f.parentBridge(br);
    for (const k of ["io", "mem", "pref"] as const) {
      const x = w[k];
      if (x === undefined) continue;
      const outer = p === undefined ? rootRange(k) : win.get(p)![k === "pref" && win.get(p)!.pref === undefined ? "mem" : k];
      expect(inside(x.base, x.limit - x.base + 1, outer)).toBe(true);
    }
  }
  const ls = leaves(f, r);
  for (const l of ls) {
    expect(l.base % l.align).toBe(0);
    const e = byBdf.get(l.bdf)!;
    const fn = f.functionAt(e.bus, e.devfn)!;
    const p = f.parentBridge(fn);
    const outer = p === undefined ? rootRange(l.window) : win.get(p)![l.window];
    expect(inside(l.base, l.size, outer), `${l.bdf} ${l.what} ${l.base.toString(16)}+${l.size.toString(16)} in ${JSON.stringify(outer)}`).toBe(true);
  }
  const sorted = [...ls].sort((a, b) => a.base - b.base);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (a.window === "io" !== (b.window === "io")) continue;
    expect(b.base >= a.base + a.size, `${a.bdf} ${a.what} overlaps ${b.bdf} ${b.what}`).toBe(true);
  }
  const ioLeaves = sorted.filter((l) => l.window === "io");
  for (let i = 1; i < ioLeaves.length; i++) expect(ioLeaves[i]!.base).toBeGreaterThanOrEqual(ioLeaves[i - 1]!.base + ioLeaves[i - 1]!.size);
}
