import { IovError } from "../errors.js";
import type { CapDef, RegTable } from "./regs.js";
import { getField } from "./regs.js";
import type { CapInstance, ConfigLayout, PlacedReg } from "./layout.js";

/** Called after a software write changed a register: sees the whole register's old and new value. */
export type PostWriteHook = (cs: ConfigSpace, reg: PlacedReg, oldValue: number, newValue: number) => void;

/**
 * One function's configuration space: the layout (shared, immutable) plus this function's bytes.
 * Bytes are copy-on-write: thousands of identical VFs share the layout's reset image until one is written.
 * Every software access goes through `read`/`write` (1, 2 or 4 bytes, naturally aligned), which apply
 * the write mask and W1C mask derived from the register tables, then run post-write hooks.
 */
export class ConfigSpace {
  private bytes: Uint8Array;
  private owned: boolean;
  private readonly hooks = new Map<number, PostWriteHook[]>();
  /** One flag per dword: any hook on it (fast path skip). */
  private hookDw: Uint8Array | undefined;
  /**
   * Change observer, owned by the fabric that holds this function: told the offset and size of every
   * change of the bytes (software write that changed something, hardware update), or (-1, 0) when the
   * whole space changed (reset, load). It keeps routing caches current; it must not write back.
   */
  observer: ((off: number, size: number) => void) | undefined;

  constructor(readonly layout: ConfigLayout, initial?: Uint8Array) {
    if (initial !== undefined) {
      this.bytes = new Uint8Array(layout.size);
      this.bytes.set(initial.subarray(0, layout.size));
      this.owned = true;
    } else {
      this.bytes = layout.resetImage;
      this.owned = false;
    }
  }

  get size(): number {
    return this.layout.size;
  }
  /** True once this space has its own copy of the bytes. */
  get isPrivate(): boolean {
    return this.owned;
  }

  private own(): Uint8Array {
    if (!this.owned) {
      this.bytes = this.layout.resetImage.slice();
      this.owned = true;
    }
    return this.bytes;
  }

  /** Software (config cycle) read. Offsets beyond the space read as all-ones like a master abort. */
  read(off: number, size: 1 | 2 | 4): number {
    const b = this.bytes;
    if (off < 0 || off + size > b.length || (off & (size - 1)) !== 0) {
      if ((off & (size - 1)) !== 0) throw new IovError("EINVAL", `unaligned config read of ${size} at 0x${off.toString(16)}`);
      return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    }
    if (size === 1) return b[off]!;
    if (size === 2) return b[off]! | (b[off + 1]! << 8);
    return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
  }
  read8(off: number): number {
    return this.read(off, 1);
  }
  read16(off: number): number {
    return this.read(off, 2);
  }
  read32(off: number): number {
    return this.read(off, 4);
  }

  /** Software (config cycle) write: masked, W1C applied, then post-write hooks. */
  write(off: number, size: 1 | 2 | 4, value: number): void {
    if ((off & (size - 1)) !== 0) throw new IovError("EINVAL", `unaligned config write of ${size} at 0x${off.toString(16)}`);
    if (off < 0 || off + size > this.layout.size) return; // dropped, as hardware does
    const L = this.layout;
    const hookDw = this.hookDw;
    const hooked = hookDw !== undefined && hookDw[off >> 2] === 1;
    let olds: Array<[PlacedReg, number]> | undefined;
    if (hooked) {
      olds = [];
      let last = -1;
      for (let i = 0; i < size; i++) {
        const idx = L.regAt[off + i]!;
        if (idx < 0 || idx === last) continue;
        last = idx;
        const r = L.regs[idx]!;
        if (this.hooks.has(r.abs)) olds.push([r, this.readRaw(r.abs, r.spec.size)]);
      }
    }
    let changed = false;
    for (let i = 0; i < size; i++) {
      const o = off + i;
      const wm = L.wmask[o]!;
      const wc = L.w1cmask[o]!;
      if ((wm | wc) === 0) continue;
      const b = (value >>> (8 * i)) & 0xff;
      const cur = this.bytes[o]!;
      const nb = ((cur & ~wm) | (b & wm)) & ~(b & wc) & 0xff;
      if (nb !== cur) {
        this.own()[o] = nb;
        changed = true;
      }
    }
    if (changed && this.observer !== undefined) this.observer(off, size);
    if (olds !== undefined) {
      for (const [r, old] of olds) {
        const nv = this.readRaw(r.abs, r.spec.size);
        for (const h of this.hooks.get(r.abs) ?? []) h(this, r, old, nv);
      }
    }
  }
  write8(off: number, v: number): void {
    this.write(off, 1, v);
  }
  write16(off: number, v: number): void {
    this.write(off, 2, v);
  }
  write32(off: number, v: number): void {
    this.write(off, 4, v);
  }

  /** Raw read with no alignment rule (any size up to 4; bytes beyond the space read 0). */
  readRaw(off: number, size: number): number {
    const b = this.bytes;
    if (size === 1) return b[off] ?? 0;
    if (size === 2) return (b[off] ?? 0) | ((b[off + 1] ?? 0) << 8);
    if (size === 4) return ((b[off] ?? 0) | ((b[off + 1] ?? 0) << 8) | ((b[off + 2] ?? 0) << 16) | ((b[off + 3] ?? 0) << 24)) >>> 0;
    let v = 0;
    for (let i = 0; i < size; i++) v += (this.bytes[off + i] ?? 0) * 2 ** (8 * i);
    return v >>> 0;
  }

  /** Hardware-side update (read-only fields the device itself changes, e.g. SR-IOV offset/stride). */
  setHw(off: number, size: number, v: number): void {
    const b = this.own();
    for (let i = 0; i < size; i++) b[off + i] = Math.floor((v >>> 0) / 2 ** (8 * i)) & 0xff;
    if (this.observer !== undefined) this.observer(off, size);
  }

  /** The whole space as bytes (a copy: for dumps). */
  snapshot(): Uint8Array {
    return this.bytes.slice();
  }
  /** Replace all bytes (dump import / restore). */
  load(bytes: Uint8Array): void {
    const b = this.own();
    b.fill(0);
    b.set(bytes.subarray(0, b.length));
    if (this.observer !== undefined) this.observer(-1, 0);
  }

  /** Reset to the layout's image. `keepSticky` keeps RWS bits (FLR and hot reset keep them). */
  reset(keepSticky = false): void {
    if (!keepSticky) {
      this.bytes = this.layout.resetImage;
      this.owned = false;
    } else {
      const b = this.own();
      const img = this.layout.resetImage;
      const sm = this.layout.stickyMask;
      for (let i = 0; i < b.length; i++) b[i] = (img[i]! & ~sm[i]!) | (b[i]! & sm[i]!);
    }
    if (this.observer !== undefined) this.observer(-1, 0);
  }

  /** Register a post-write hook on the register that starts at absolute offset `abs`. */
  onWrite(abs: number, hook: PostWriteHook): void {
    const idx = this.layout.regAt[abs];
    if (idx === undefined || idx < 0 || this.layout.regs[idx]!.abs !== abs)
      throw new IovError("EINVAL", `no register starts at 0x${abs.toString(16)}`);
    const list = this.hooks.get(abs) ?? [];
    list.push(hook);
    this.hooks.set(abs, list);
    const r = this.layout.regs[idx]!;
    this.hookDw ??= new Uint8Array(this.layout.size >> 2);
    for (let o = r.abs; o < r.abs + r.spec.size; o++) this.hookDw[o >> 2] = 1;
  }

  /** Find an instance of capability `def` (by identity, else by ID and kind). */
  cap(def: CapDef): CapInstance | undefined {
    return this.layout.caps.find((c) => c.def === def) ?? this.layout.caps.find((c) => c.def.id === def.id && c.def.extended === def.extended);
  }

  /** Offset of the register `key` of capability instance `inst`. */
  regOffset<R extends RegTable>(inst: CapInstance & { def: CapDef<R> }, key: keyof R & string): number {
    const spec = inst.def.regs[key];
    if (spec === undefined) throw new IovError("EINVAL", `${inst.def.name} has no register ${key}`);
    return inst.offset + spec.offset;
  }

  /** Read a register of a capability by name (raw, no side effects). */
  getReg<R extends RegTable>(inst: CapInstance & { def: CapDef<R> }, key: keyof R & string): number {
    const spec = inst.def.regs[key]!;
    return this.readRaw(inst.offset + spec.offset, spec.size);
  }
  /** Read one field of one register. */
  getField<R extends RegTable, K extends keyof R & string>(
    inst: CapInstance & { def: CapDef<R> },
    key: K,
    field: keyof R[K]["fields"] & string,
  ): number {
    const spec = inst.def.regs[key]!;
    return getField(spec.fields[field]!, this.readRaw(inst.offset + spec.offset, spec.size));
  }

  /** Trace name of the register holding byte `off`, e.g. "SR-IOV.CTRL". */
  nameAt(off: number): string {
    const idx = this.layout.regAt[off];
    if (idx === undefined || idx < 0) return `0x${off.toString(16)}`;
    const r = this.layout.regs[idx]!;
    return `${r.owner.def.name}.${r.key}`;
  }
}
