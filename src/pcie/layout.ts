import { IovError } from "../errors.js";
import type { CapDef, RegSpec, RegTable } from "./regs.js";

/** Per-device adjustment of one register of a table: a new reset value and/or masks. */
export type RegOverride = number | { reset?: number; rw?: number; w1c?: number; sticky?: number };
export type Overrides<R extends RegTable> = { [K in keyof R]?: RegOverride };

export interface CapInstance {
  readonly def: CapDef;
  /** Absolute offset in config space. */
  readonly offset: number;
}

/** Effective register after overrides, at an absolute offset. */
export interface PlacedReg {
  readonly owner: CapInstance;
  readonly key: string;
  readonly spec: RegSpec;
  readonly abs: number;
  readonly reset: number;
  readonly rw: number;
  readonly w1c: number;
  readonly sticky: number;
}

/** Immutable description of one function's config space; shared by every function built alike. */
export interface ConfigLayout {
  readonly size: number;
  readonly resetImage: Uint8Array;
  readonly wmask: Uint8Array;
  readonly w1cmask: Uint8Array;
  readonly stickyMask: Uint8Array;
  /** The register-file header (type 0 or type 1) instance at 0. */
  readonly header: CapInstance;
  readonly caps: readonly CapInstance[];
  readonly regs: readonly PlacedReg[];
  /** abs byte offset → index into regs (or -1). */
  readonly regAt: Int16Array;
}

function putLE(buf: Uint8Array, off: number, size: number, v: number): void {
  for (let i = 0; i < size; i++) buf[off + i] = Math.floor(v / 2 ** (8 * i)) & 0xff;
}

interface Pending {
  def: CapDef;
  offset: number | undefined;
  ov: Record<string, RegOverride>;
}

/**
 * Builds a ConfigLayout: the header table, then capabilities (placed automatically when no offset
 * is given), with next pointers chained in the order added, Status.CapList and the capability pointer set.
 */
export class LayoutBuilder {
  private readonly caps: Pending[] = [];
  private hdr: Pending | undefined;
  constructor(readonly size: 256 | 4096 = 4096) {}

  header<R extends RegTable>(def: CapDef<R>, ov: Overrides<R> = {}): this {
    this.hdr = { def: def as unknown as CapDef, offset: 0, ov: ov as Record<string, RegOverride> };
    return this;
  }

  cap<R extends RegTable>(def: CapDef<R>, offset?: number, ov: Overrides<R> = {}): this {
    this.caps.push({ def: def as unknown as CapDef, offset, ov: ov as Record<string, RegOverride> });
    return this;
  }

  build(): ConfigLayout {
    if (this.hdr === undefined) throw new IovError("EINVAL", "layout has no header");
    const size = this.size;
    const resetImage = new Uint8Array(size);
    const wmask = new Uint8Array(size);
    const w1cmask = new Uint8Array(size);
    const stickyMask = new Uint8Array(size);
    const regAt = new Int16Array(size).fill(-1);
    const regs: PlacedReg[] = [];
    const used = new Uint8Array(size);

    let nextStd = 0x40;
    let nextExt = 0x100;
    const placed: CapInstance[] = [];
    const header: CapInstance = { def: this.hdr.def, offset: 0 };
    const all: Array<[CapInstance, Record<string, RegOverride>]> = [[header, this.hdr.ov]];
    for (const p of this.caps) {
      let off = p.offset;
      if (off === undefined) {
        off = p.def.extended ? nextExt : nextStd;
      }
      if (p.def.extended && (off < 0x100 || off + p.def.size > size))
        throw new IovError("ERANGE", `${p.def.name} at 0x${off.toString(16)} outside extended config space`);
      if (!p.def.extended && (off < 0x40 || off + p.def.size > 0x100))
        throw new IovError("ERANGE", `${p.def.name} at 0x${off.toString(16)} outside 0x40..0xff`);
      if ((off & 3) !== 0) throw new IovError("EINVAL", `${p.def.name} at 0x${off.toString(16)} is not dword aligned`);
      for (let i = off; i < off + p.def.size; i++) {
        if (used[i]) throw new IovError("EINVAL", `${p.def.name} at 0x${off.toString(16)} overlaps another capability`);
        used[i] = 1;
      }
      const end = (off + p.def.size + 3) & ~3;
      if (p.def.extended) nextExt = Math.max(nextExt, end);
      else nextStd = Math.max(nextStd, end);
      const inst: CapInstance = { def: p.def, offset: off };
      placed.push(inst);
      all.push([inst, p.ov]);
    }

    for (const [inst, ov] of all) {
      for (const [key, spec] of Object.entries(inst.def.regs)) {
        const o = ov[key];
        const obj = typeof o === "number" ? { reset: o } : (o ?? {});
        const pr: PlacedReg = {
          owner: inst,
          key,
          spec,
          abs: inst.offset + spec.offset,
          reset: (obj.reset ?? spec.reset) >>> 0,
          rw: (obj.rw ?? spec.rw) >>> 0,
          w1c: (obj.w1c ?? spec.w1c) >>> 0,
          sticky: (obj.sticky ?? spec.sticky) >>> 0,
        };
        if (pr.abs + spec.size > size) throw new IovError("ERANGE", `${inst.def.name}.${key} beyond config space`);
        const idx = regs.length;
        regs.push(pr);
        putLE(resetImage, pr.abs, spec.size, pr.reset);
        putLE(wmask, pr.abs, spec.size, pr.rw);
        putLE(w1cmask, pr.abs, spec.size, pr.w1c);
        putLE(stickyMask, pr.abs, spec.size, pr.sticky);
        for (let i = 0; i < spec.size; i++) regAt[pr.abs + i] = idx;
      }
    }

    // Chain the capability lists in insertion order.
    const std = placed.filter((c) => !c.def.extended);
    const ext = placed.filter((c) => c.def.extended);
    if (std.length > 0) {
      resetImage[0x34] = std[0]!.offset; // PCI_CAPABILITY_LIST
      resetImage[0x06] = (resetImage[0x06] ?? 0) | 0x10; // PCI_STATUS_CAP_LIST
    }
    for (let i = 0; i < std.length; i++) resetImage[std[i]!.offset + 1] = i + 1 < std.length ? std[i + 1]!.offset : 0;
    if (ext.length > 0 && ext[0]!.offset !== 0x100)
      throw new IovError("EINVAL", `${ext[0]!.def.name} is the first extended capability but sits at 0x${ext[0]!.offset.toString(16)}: the chain starts at 0x100`);
    for (let i = 0; i < ext.length; i++) {
      const c = ext[i]!;
      const nxt = i + 1 < ext.length ? ext[i + 1]!.offset : 0;
      const hdr = (c.def.id | (c.def.version << 16) | (nxt << 20)) >>> 0;
      putLE(resetImage, c.offset, 4, hdr);
    }
    return { size, resetImage, wmask, w1cmask, stickyMask, header, caps: placed, regs, regAt };
  }
}
