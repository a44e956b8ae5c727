/**
 * Device MMIO register files built from register tables (pcie/regs.ts): a layout places blocks of a
 * table (once, or once per queue/vector at offsets a function gives) and derives the decode map, the
 * reset image, the write mask and the write-1-to-clear mask. One generic write loop applies them and
 * then calls the post-write hook of the register, if it has one, with (old, new, written).
 * All registers are 32-bit; 1- and 2-byte accesses read or merge the addressed bytes.
 * A bad guest access (unmapped, unaligned, outside the file) reads 0 and writes nothing.
 */
import { IovError } from "../errors.js";
import type { RegTable } from "../pcie/regs.js";

/** The part of a register table (pcie/regs.ts CapDef from defineRegFile) a layout needs. */
export interface RegFileDef {
  readonly name: string;
  readonly regs: RegTable;
}

export interface RegBlockSpec {
  readonly def: RegFileDef;
  /** Instances (queues, vectors, ...): 1 for a plain block. */
  readonly count: number;
  /** Offset of instance i in the file. */
  readonly at: (i: number) => number;
  /** Post-write hook id per register key. */
  readonly hooks?: Readonly<Record<string, number>>;
  /** Read hook id per register key (value computed on read). */
  readonly readHooks?: Readonly<Record<string, number>>;
}

export interface PlacedMmioReg {
  readonly block: string;
  readonly key: string;
  readonly instance: number;
  readonly offset: number;
  readonly slot: number;
}

/** Where register writes with side effects and computed reads go. */
export interface RegHookSink {
  regWritten(owner: number, hook: number, instance: number, key: number, oldValue: number, newValue: number, written: number): void;
  regRead(owner: number, hook: number, instance: number, key: number, stored: number): number;
}

/** The immutable, shareable part: decode map, masks, reset image, hooks. */
export class MmioLayout {
  readonly regs: PlacedMmioReg[] = [];
  /** Bytes the decode covers (highest register end, rounded to a dword). */
  readonly size: number;
  /** dword index → slot, or -1. */
  readonly decode: Int32Array;
  readonly reset: Uint32Array;
  readonly rw: Uint32Array;
  readonly w1c: Uint32Array;
  readonly whook: Uint8Array;
  readonly rhook: Uint8Array;
  readonly instance: Int32Array;
  /** Per slot: index of the register key within its table (lets one hook serve several registers). */
  readonly keyIndex: Int32Array;
  private readonly bySlotName = new Map<string, number>();

  constructor(readonly name: string, blocks: ReadonlyArray<RegBlockSpec>) {
    let end = 0;
    let n = 0;
    for (const b of blocks) {
      for (let i = 0; i < b.count; i++) {
        for (const r of Object.values(b.def.regs)) {
          if (r.size !== 4) throw new IovError("EINVAL", `${b.def.name}: MMIO registers are 32-bit`);
          end = Math.max(end, b.at(i) + r.offset + 4);
          n++;
        }
      }
    }
    this.size = end;
    this.decode = new Int32Array(end >> 2).fill(-1);
    this.reset = new Uint32Array(n);
    this.rw = new Uint32Array(n);
    this.w1c = new Uint32Array(n);
    this.whook = new Uint8Array(n);
    this.rhook = new Uint8Array(n);
    this.instance = new Int32Array(n);
    this.keyIndex = new Int32Array(n);
    let slot = 0;
    for (const b of blocks) {
      const keys = Object.keys(b.def.regs);
      for (let i = 0; i < b.count; i++) {
        keys.forEach((key, ki) => {
          const r = b.def.regs[key]!;
          const off = b.at(i) + r.offset;
          if ((off & 3) !== 0) throw new IovError("EINVAL", `${b.def.name}.${key}: offset 0x${off.toString(16)} not dword aligned`);
          if (this.decode[off >> 2] !== -1)
            throw new IovError("EINVAL", `${name}: ${b.def.name}[${i}].${key} at 0x${off.toString(16)} overlaps ${this.nameAt(off)}`);
          this.decode[off >> 2] = slot;
          this.reset[slot] = r.reset;
          this.rw[slot] = r.rw;
          this.w1c[slot] = r.w1c;
          this.whook[slot] = b.hooks?.[key] ?? 0;
          this.rhook[slot] = b.readHooks?.[key] ?? 0;
          this.instance[slot] = i;
          this.keyIndex[slot] = ki;
          this.regs.push({ block: b.def.name, key, instance: i, offset: off, slot });
          this.bySlotName.set(`${b.def.name}/${i}/${key}`, slot);
          slot++;
        });
      }
    }
  }

  /** Slot of register `key` of instance `instance` of the block declared by `def`. */
  slot(def: RegFileDef, key: string, instance = 0): number {
    const s = this.bySlotName.get(`${def.name}/${instance}/${key}`);
    if (s === undefined) throw new IovError("EINVAL", `${this.name}: no register ${def.name}[${instance}].${key}`);
    return s;
  }

  /** Trace name of the register at `off`, e.g. "rxq[1].RDT". */
  nameAt(off: number): string {
    const s = off >= 0 && off < this.size ? this.decode[off >> 2]! : -1;
    if (s < 0) return `0x${off.toString(16)}`;
    const r = this.regs[s]!;
    return r.block === "nic" || r.block === "pf" ? r.key : `${r.block}[${r.instance}].${r.key}`;
  }
}

/** One function's values for a layout. */
export class MmioRegs {
  readonly vals: Uint32Array;

  constructor(
    readonly layout: MmioLayout,
    private readonly sink: RegHookSink,
    readonly owner: number,
  ) {
    this.vals = new Uint32Array(layout.reset.length);
    this.vals.set(layout.reset);
  }

  reset(): void {
    this.vals.set(this.layout.reset);
  }

  /** The slot decoded at `off`, or -1. */
  slotAt(off: number): number {
    return off >= 0 && off < this.layout.size ? this.layout.decode[off >> 2]! : -1;
  }

  read(off: number, size: 1 | 2 | 4): number {
    const L = this.layout;
    const shift = (off & 3) * 8;
    if (off < 0 || off >= L.size || (off & 3) + size > 4) return 0;
    const s = L.decode[off >> 2]!;
    if (s < 0) return 0;
    let v = this.vals[s]!;
    const rh = L.rhook[s]!;
    if (rh !== 0) v = this.sink.regRead(this.owner, rh, L.instance[s]!, L.keyIndex[s]!, v) >>> 0;
    if (size === 4) return v;
    return (v >>> shift) & (size === 1 ? 0xff : 0xffff);
  }

  write(off: number, size: 1 | 2 | 4, value: number): void {
    const L = this.layout;
    if (off < 0 || off >= L.size || (off & 3) + size > 4) return;
    const s = L.decode[off >> 2]!;
    if (s < 0) return;
    const shift = (off & 3) * 8;
    const lanes = size === 4 ? 0xffffffff : ((size === 1 ? 0xff : 0xffff) << shift) >>> 0;
    const written = ((value << shift) & lanes) >>> 0;
    const old = this.vals[s]!;
    const wm = L.rw[s]! & lanes;
    const nv = (((old & ~wm) | (written & wm)) & ~(written & L.w1c[s]!)) >>> 0;
    this.vals[s] = nv;
    const h = L.whook[s]!;
    if (h !== 0) this.sink.regWritten(this.owner, h, L.instance[s]!, L.keyIndex[s]!, old, nv, written);
  }
}
