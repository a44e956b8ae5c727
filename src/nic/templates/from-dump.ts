/**
 * A device imported from an `lspci -xxxx` dump: its config space byte for byte, its SR-IOV geometry
 * from its SR-IOV capability and its VF BAR layout from the VF BAR registers.
 *
 * Register semantics come from the capability tables placed at the offsets the dump's chains give;
 * read-only values (IDs, capabilities, TotalVFs, offset/stride, ...) are the dump's, so reset restores
 * the device as its hardware reports itself, with software state (Command, BARs, VF Enable, NumVFs)
 * back at the tables' reset values. Bytes no table describes stay as dumped, read-only.
 *
 * What a dump cannot say, and how it is inferred (documented heuristics, [A]):
 * - BAR sizes: a dump holds addresses, not sizes. A BAR's size is taken as the largest power of two
 *   that keeps it naturally aligned and clear of the next BAR of the same function (min 4 KiB for
 *   memory, 32 B for I/O); a user who knows better passes `barSizes`.
 * - VF BAR sizes: VF BARn's per-VF size × TotalVFs must fit before the next VF BAR's aperture, and the
 *   aperture base is aligned to the per-VF size (Linux aligns IOV resources to it); the last VF BAR
 *   takes the smallest size found for the others (or the page size).
 * - Offset/stride: the values in the dump, for every NumVFs and ARI setting (the device's own rule is
 *   not visible in one dump).
 */
import { IovError } from "../../errors.js";
import type { BarKind, BarSpec } from "../../pcie/bars.js";
import { barOverrides } from "../../pcie/bars.js";
import { capDefAt } from "../../pcie/caps/index.js";
import type { CapDef } from "../../pcie/regs.js";
import { ConfigBytes, walkCapabilities } from "../../pcie/decode.js";
import { TYPE0_HEADER } from "../../pcie/header.js";
import type { ConfigLayout, Overrides } from "../../pcie/layout.js";
import { LayoutBuilder } from "../../pcie/layout.js";
import { fixedOffsetStride } from "../../sriov/geometry.js";
import type { NicTemplate, LinkSpeed } from "./catalog.js";

export interface ImportedDevice {
  readonly template: NicTemplate;
  readonly layout: ConfigLayout;
  /** The dumped bytes (4096), loaded as the function's initial config space. */
  readonly bytes: Uint8Array;
  readonly sriovOffset: number;
  readonly notes: readonly string[];
}

const rd = (b: Uint8Array, o: number, n: number): number => {
  let v = 0;
  for (let i = 0; i < n; i++) v += (b[o + i] ?? 0) * 2 ** (8 * i);
  return v;
};
const lowBit = (v: number): number => {
  if (v === 0) return 0;
  let p = 1;
  while (v % (p * 2) === 0) p *= 2;
  return p;
};
const floorPow2 = (v: number): number => (v < 1 ? 0 : 2 ** Math.floor(Math.log2(v)));

interface RawBar {
  index: number;
  kind: BarKind;
  prefetchable: boolean;
  address: number;
}

/** BARs at `base` (6 registers) as a dump shows them: addresses and flags. */
function rawBars(b: Uint8Array, base: number): RawBar[] {
  const out: RawBar[] = [];
  for (let i = 0; i < 6; i++) {
    const lo = rd(b, base + 4 * i, 4);
    if (lo === 0) continue;
    if (lo & 1) {
      out.push({ index: i, kind: "io", prefetchable: false, address: lo & ~3 });
      continue;
    }
    const is64 = (lo & 6) === 4;
    const hi = is64 ? rd(b, base + 4 * (i + 1), 4) : 0;
    out.push({ index: i, kind: is64 ? "mem64" : "mem32", prefetchable: (lo & 8) !== 0, address: hi * 2 ** 32 + (lo & ~0xf) });
    if (is64) i++;
  }
  return out;
}

/** Infer sizes: largest aligned power of two not overlapping the next BAR (per-VF when `count` > 1). */
function inferSizes(bars: RawBar[], count: number, minMem: number, fallback?: number): number[] {
  const sorted = [...bars].sort((a, b) => a.address - b.address);
  const sizes = new Map<RawBar, number>();
  for (let i = 0; i < sorted.length; i++) {
    const bar = sorted[i]!;
    const min = bar.kind === "io" ? 32 : minMem;
    let s = lowBit(bar.address);
    const next = sorted.slice(i + 1).find((x) => (x.kind === "io") === (bar.kind === "io"));
    if (next !== undefined) s = Math.min(s, floorPow2((next.address - bar.address) / count));
    else if (fallback !== undefined) s = Math.min(s, fallback);
    if (bar.kind === "io") s = Math.min(s, 256); // I/O BARs decode at most 256 ports
    sizes.set(bar, Math.max(min, s === 0 ? min : s));
  }
  if (fallback === undefined && count > 1) {
    // the last aperture has no neighbour: take the smallest size found for the others
    const known = [...sizes.entries()].filter(([b]) => b !== sorted[sorted.length - 1]).map(([, s]) => s);
    const last = sorted[sorted.length - 1];
    if (last !== undefined && known.length > 0) sizes.set(last, Math.min(sizes.get(last)!, Math.min(...known)));
  }
  return bars.map((b) => sizes.get(b)!);
}

const SPEEDS: Record<number, LinkSpeed> = { 1: "2.5GT/s", 2: "5GT/s", 3: "8GT/s", 4: "16GT/s", 5: "32GT/s" };

/** Build the template, layout and initial bytes of the function in `bytes` (a 4096-byte dump). */
export function importDevice(bytes: Uint8Array, name: string, opts: { barSizes?: Record<number, number> } = {}): ImportedDevice {
  if (bytes.length < 4096) throw new IovError("EINVAL", `${name}: the dump has ${bytes.length} bytes of config space; SR-IOV import needs the full 4096 (lspci -xxxx)`, { input: true });
  if ((rd(bytes, 0x0e, 1) & 0x7f) !== 0) throw new IovError("EINVAL", `${name}: header type ${rd(bytes, 0x0e, 1) & 0x7f} is not an endpoint (type 0)`, { input: true });
  const notes: string[] = [];
  const cfg = new ConfigBytes(bytes, 4096);
  const chains = walkCapabilities(cfg);
  if (chains.problems.length > 0) notes.push(`capability chain: ${chains.problems.join("; ")}`);
  const caps = chains.caps;
  const sriov = caps.find((c) => c.extended && c.id === 0x10);
  if (sriov === undefined) throw new IovError("EINVAL", `${name}: no SR-IOV capability in the dump`, { input: true });
  const pcie = caps.find((c) => !c.extended && c.id === 0x10);
  const S = sriov.offset;
  const totalVfs = rd(bytes, S + 0x0e, 2);
  if (totalVfs === 0) throw new IovError("EINVAL", `${name}: TotalVFs is 0 (SR-IOV not supported)`, { input: true });

  const pfRaw = rawBars(bytes, 0x10);
  const pfSizes = inferSizes(pfRaw, 1, 4096);
  const pfBars: BarSpec[] = pfRaw.map((b, i) => ({ index: b.index, kind: b.kind, prefetchable: b.prefetchable, size: opts.barSizes?.[b.index] ?? pfSizes[i]! }));
  const vfRaw = rawBars(bytes, S + 0x24);
  const sysPage = 2 ** (31 - Math.clz32(rd(bytes, S + 0x20, 4) || 1) + 12);
  const vfSizes = inferSizes(vfRaw, totalVfs, sysPage);
  const vfBars: BarSpec[] = vfRaw.map((b, i) => ({ index: b.index, kind: b.kind, prefetchable: b.prefetchable, size: vfSizes[i]! }));
  if (vfBars.length > 0) notes.push(`VF BAR sizes inferred from the dump's apertures: ${vfBars.map((b) => `BAR${b.index} ${b.size / 1024} KiB`).join(", ")}`);

  // Layout: header + every capability with a table, at the dump's offsets.
  const hdrOv = barOverrides(pfBars, (i) => `BAR${i}`) as Overrides<typeof TYPE0_HEADER.regs>;
  const b = new LayoutBuilder(4096).header(TYPE0_HEADER, hdrOv);
  const read = (o: number, n: 1 | 2 | 4): number => rd(bytes, o, n);
  const used: Array<[number, number]> = [];
  const placed: CapDef[] = [];
  const sorted = [...caps].sort((x, y) => Number(x.extended) - Number(y.extended));
  for (const c of sorted) {
    const def = capDefAt(read, c.offset, c.id, c.extended);
    if (def === undefined) continue;
    const end = c.offset + def.size;
    if (used.some(([s, e]) => c.offset < e && s < end) || end > (c.extended ? 4096 : 256)) {
      notes.push(`${def.name} at 0x${c.offset.toString(16)}: table does not fit; kept read-only`);
      continue;
    }
    if (c.extended && placed.every((d) => !d.extended) && c.offset !== 0x100) continue;
    const ov = c.id === 0x10 && c.extended ? (barOverrides(vfBars, (i) => `BAR${i}`) as never) : undefined;
    b.cap(def, c.offset, ov);
    used.push([c.offset, end]);
    placed.push(def);
  }
  const layout = b.build();
  // Reset image: read-only bits from the dump, writable/W1C bits at the tables' reset.
  const img = layout.resetImage;
  for (let o = 0; o < 4096; o++) {
    const wm = layout.wmask[o]! | layout.w1cmask[o]!;
    img[o] = (img[o]! & wm) | (bytes[o]! & ~wm & 0xff);
  }
  const lnkcap = pcie === undefined ? 0 : rd(bytes, pcie.offset + 0x0c, 4);
  const msix = caps.find((c) => !c.extended && c.id === 0x11);
  const msixVectors = msix === undefined ? 1 : (rd(bytes, msix.offset + 2, 2) & 0x7ff) + 1;
  const msixBar = msix === undefined ? 0 : rd(bytes, msix.offset + 4, 4) & 7;
  const offset = rd(bytes, S + 0x14, 2);
  const stride = rd(bytes, S + 0x16, 2);
  const template: NicTemplate = {
    name,
    description: `imported from ${name}`,
    vendorId: rd(bytes, 0, 2),
    deviceId: rd(bytes, 2, 2),
    vfDeviceId: rd(bytes, S + 0x1a, 2),
    subsystemVendorId: rd(bytes, 0x2c, 2),
    subsystemId: rd(bytes, 0x2e, 2),
    revision: rd(bytes, 8, 1),
    classCode: rd(bytes, 9, 3),
    ports: (rd(bytes, 0x0e, 1) & 0x80) !== 0 ? 2 : 1,
    totalVfs,
    initialVfs: rd(bytes, S + 0x0c, 2),
    supportedPageSizes: rd(bytes, S + 0x1c, 4),
    offsetStride: fixedOffsetStride(offset, stride),
    offsetStrideRule: `as dumped: First VF Offset ${offset}, VF Stride ${stride}`,
    pfBars,
    vfBars,
    msixBar,
    pfMsixVectors: msixVectors,
    vfMsixVectors: 3,
    queuePairsPerVf: 1,
    maxQueuePairsPerVf: 1,
    linkSpeed: SPEEDS[lnkcap & 0xf] ?? "2.5GT/s",
    linkWidth: (lnkcap >> 4) & 0x3f || 1,
    ethRateBps: 1e9,
    sources: { all: `${name} (lspci -xxxx dump); sizes and VF data-path parameters inferred as documented in from-dump.ts` },
  };
  return { template, layout, bytes: bytes.slice(0, 4096), sriovOffset: S, notes };
}
