/**
 * Random but well-formed configuration spaces for differential tests against lspci: a type 0 or type 1
 * header with random registers, a standard chain of the capabilities pciov renders in detail (PM, MSI,
 * MSI-X, PCI Express, virtio vendor caps) and an extended chain (AER, ACS, ARI, ATS, PRI, PASID,
 * SR-IOV, DSN), all at random offsets in random order, with random contents.
 */
import type { Bdf } from "../../src/pcie/bdf.js";

/** Small deterministic PRNG (xorshift32) so a failing seed can be replayed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number {
    return this.u32() % n;
  }
  bool(p = 0.5): boolean {
    return this.u32() / 2 ** 32 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
}

const put = (b: Uint8Array, off: number, size: number, v: number): void => {
  for (let i = 0; i < size; i++) b[off + i] = Math.floor((v >>> 0) / 2 ** (8 * i)) & 0xff;
};

function randomBar(r: Rng): [number, number | undefined] {
  switch (r.int(7)) {
    case 0:
      return [0, undefined];
    case 1:
      return [(r.u32() & ~0xf & ~0x6) >>> 0 | (r.bool() ? 8 : 0), undefined]; // mem32
    case 2:
      return [((r.u32() & ~0xf) | 0x4 | (r.bool() ? 8 : 0)) >>> 0, r.bool() ? 0 : r.int(0x1000)]; // mem64
    case 3:
      return [((r.u32() & 0xfffc) | 1) >>> 0, undefined]; // io
    case 4:
      return [0xffffffff, undefined];
    case 5:
      return [r.bool() ? 0xc : 0x4, r.bool() ? 0 : 0x200];
    default:
      return [r.u32(), undefined];
  }
}

export interface GeneratedFn {
  readonly bdf: Bdf;
  readonly bytes: Uint8Array;
}

/** One random function; `expressType` forces the PCIe device/port type (else random). */
export function randomFunction(r: Rng, bdf: Bdf, opts: { expressType?: number } = {}): GeneratedFn {
  const b = new Uint8Array(4096);
  for (let i = 0; i < 64; i++) b[i] = r.int(256);
  const bridge = r.bool(0.3);
  b[0x0e] = (bridge ? 1 : 0) | (r.bool() ? 0x80 : 0);
  if (r.bool(0.02)) b[0x0e] = r.int(256);
  if (bridge && r.bool(0.9)) put(b, 0x0a, 2, 0x0604);
  else if (!bridge) put(b, 0x0a, 2, r.pick([0x0200, 0x0108, 0x0280, 0x0c03, 0xff00, 0x0604, r.int(0x10000)]));
  if (r.bool(0.7)) b[0x09] = 0;
  if (r.bool(0.5)) b[0x0f] = 0;
  b[0x06] = (b[0x06] ?? 0) | 0x10;
  if (r.bool(0.03)) b[0x06] = (b[0x06] ?? 0) & ~0x10;
  const slots = bridge ? 2 : 6;
  for (let i = 0; i < slots; i++) {
    const [lo, hi] = randomBar(r);
    put(b, 0x10 + 4 * i, 4, lo);
    if (hi !== undefined && i + 1 < slots) {
      put(b, 0x14 + 4 * i, 4, hi);
      i++;
    }
  }
  if (bridge) {
    const t = r.bool(0.9) ? r.int(2) : r.int(16);
    b[0x1c] = (r.int(16) << 4) | t;
    b[0x1d] = (r.int(16) << 4) | (r.bool(0.9) ? t : r.int(16));
    put(b, 0x20, 2, (r.int(0x1000) << 4) | (r.bool(0.95) ? 0 : r.int(16)));
    put(b, 0x22, 2, (r.int(0x1000) << 4) | (r.bool(0.95) ? 0 : r.int(16)));
    const pt = r.bool(0.9) ? r.int(2) : r.int(16);
    put(b, 0x24, 2, (r.int(0x1000) << 4) | pt);
    put(b, 0x26, 2, (r.int(0x1000) << 4) | (r.bool(0.9) ? pt : r.int(16)));
    if (r.bool()) put(b, 0x28, 4, r.bool() ? 0 : r.u32());
    if (r.bool()) put(b, 0x2c, 4, r.bool() ? 0 : r.u32());
    if (r.bool()) put(b, 0x30, 4, 0);
    put(b, 0x38, 4, r.pick([0, 0xffffffff, r.u32(), r.u32() & ~0x7ff]));
  } else {
    put(b, 0x30, 4, r.pick([0, 0, 0xffffffff, r.u32(), r.u32() & ~0x7fe, 1]));
    if (r.bool(0.2)) put(b, 0x2c, 4, 0);
  }
  b[0x3c] = r.pick([0, 0xff, r.int(256)]);
  b[0x3d] = r.pick([0, 1, 2, r.int(256)]);

  // Standard capabilities, at random dword offsets in 0x40..0xff, in random order.
  type Std = { id: number; size: number };
  const std: Std[] = [];
  if (r.bool(0.8)) std.push({ id: 0x01, size: 8 });
  if (r.bool(0.6)) std.push({ id: 0x05, size: 24 });
  if (r.bool(0.6)) std.push({ id: 0x11, size: 12 });
  const hasExp = r.bool(0.9);
  if (hasExp) std.push({ id: 0x10, size: 0x3c });
  if (r.bool(0.2)) {
    std.push({ id: 0x09, size: 20 });
    if (r.bool()) {
      put(b, 0, 2, 0x1af4);
      put(b, 2, 2, 0x1000 + r.int(0x80));
    }
  }
  for (let i = std.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [std[i], std[j]] = [std[j] as Std, std[i] as Std];
  }
  let off = 0x40;
  const placed: number[] = [];
  for (const c of std) {
    off += 4 * r.int(3);
    if (off + c.size > 0x100) break;
    for (let i = 0; i < c.size; i++) b[off + i] = r.int(256);
    b[off] = c.id;
    if (c.id === 0x10) {
      let flags = r.u32() & 0xffff;
      flags = (flags & ~0xf0) | ((opts.expressType ?? r.pick([0, 0, 1, 4, 5, 6, 7, 8, 9, 10, r.int(16)])) << 4);
      flags = (flags & ~0xf) | r.pick([1, 2, 2, 2, r.int(16)]);
      put(b, off + 2, 2, flags);
    }
    if (c.id === 0x09) {
      b[off + 2] = c.size;
      b[off + 3] = r.pick([1, 2, 3, 4, 5, r.int(256)]);
    }
    placed.push(off);
    off = (off + c.size + 3) & ~3;
  }
  b[0x34] = placed[0] ?? 0;
  for (let i = 0; i < placed.length; i++) b[(placed[i] ?? 0) + 1] = placed[i + 1] ?? 0;
  if (placed.length === 0) b[0x34] = 0;

  // Extended capabilities.
  const ext: Std[] = [];
  if (r.bool(0.6)) ext.push({ id: 0x01, size: 0x48 });
  if (r.bool(0.5)) ext.push({ id: 0x0d, size: 8 });
  if (r.bool(0.5)) ext.push({ id: 0x0e, size: 8 });
  if (r.bool(0.4)) ext.push({ id: 0x0f, size: 8 });
  if (r.bool(0.4)) ext.push({ id: 0x13, size: 0x10 });
  if (r.bool(0.4)) ext.push({ id: 0x1b, size: 8 });
  if (r.bool(0.6)) ext.push({ id: 0x10, size: 0x40 });
  if (r.bool(0.4)) ext.push({ id: 0x03, size: 0x0c });
  for (let i = ext.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [ext[i], ext[j]] = [ext[j] as Std, ext[i] as Std];
  }
  off = 0x100;
  const eplaced: Array<[number, number]> = [];
  for (const c of ext) {
    for (let i = 0; i < c.size; i++) b[off + i] = r.int(256);
    eplaced.push([off, c.id]);
    off = (off + c.size + 4 * r.int(8) + 3) & ~3;
  }
  for (let i = 0; i < eplaced.length; i++) {
    const [o, id] = eplaced[i] as [number, number];
    const next = eplaced[i + 1]?.[0] ?? 0;
    put(b, o, 4, (id | (r.int(16) << 16) | (next << 20)) >>> 0);
  }
  return { bdf, bytes: b };
}

/** `n` random functions at distinct addresses. */
export function randomFunctions(seed: number, n: number): GeneratedFn[] {
  const r = new Rng(seed);
  const out: GeneratedFn[] = [];
  for (let i = 0; i < n; i++) {
    const bdf: Bdf = { domain: Math.floor(i / 255), bus: (i % 255) + 1, dev: r.bool(0.6) ? 0 : r.int(32), fn: r.bool(0.6) ? 0 : r.int(8) };
    out.push(randomFunction(r, bdf));
  }
  return out;
}
