/**
 * Register tables: every register file (type 0/1 header, each capability) is declared once here-style,
 * and everything else is derived from the table: reset image, write mask, write-1-to-clear mask,
 * typed field decode/encode, names for traces, JSON and the conformance tests.
 */

export interface FieldSpec {
  readonly lsb: number;
  readonly width: number;
  /** camelCase name used in JSON (defaults to the table key lower-camel-cased). */
  readonly json?: string;
}

/** A one-bit field at bit `n`. */
export function bit(n: number, json?: string): FieldSpec {
  return json === undefined ? { lsb: n, width: 1 } : { lsb: n, width: 1, json };
}
/** A multi-bit field `hi:lo` (inclusive, as datasheets write it). */
export function bits(hi: number, lo: number, json?: string): FieldSpec {
  return json === undefined ? { lsb: lo, width: hi - lo + 1 } : { lsb: lo, width: hi - lo + 1, json };
}

export type RegSize = 1 | 2 | 4;

export interface RegSpec<F extends Record<string, FieldSpec> = Record<string, FieldSpec>> {
  /** Offset inside the register file (capability-relative for capabilities). */
  readonly offset: number;
  readonly size: RegSize;
  /** Value after reset (a template may override it per device). */
  readonly reset: number;
  /** Bits software can write. */
  readonly rw: number;
  /** Bits that clear when software writes 1 (RW1C). */
  readonly w1c: number;
  /** Bits that are "sticky" (kept across FLR/hot reset; restored only by a cold reset). */
  readonly sticky: number;
  readonly fields: F;
  /** camelCase JSON name of the whole register. */
  readonly json: string;
  readonly desc?: string;
}

export interface RegOpts<F extends Record<string, FieldSpec>> {
  reset?: number;
  rw?: number;
  w1c?: number;
  sticky?: number;
  fields?: F;
  json?: string;
  desc?: string;
}

export function reg<F extends Record<string, FieldSpec> = Record<never, FieldSpec>>(
  offset: number,
  size: RegSize,
  opts: RegOpts<F> = {},
): RegSpec<F> {
  const full = size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
  const spec: RegSpec<F> = {
    offset,
    size,
    reset: (opts.reset ?? 0) >>> 0,
    rw: ((opts.rw ?? 0) & full) >>> 0,
    w1c: ((opts.w1c ?? 0) & full) >>> 0,
    sticky: ((opts.sticky ?? 0) & full) >>> 0,
    fields: (opts.fields ?? {}) as F,
    json: opts.json ?? "",
    ...(opts.desc === undefined ? {} : { desc: opts.desc }),
  };
  return spec;
}

export type RegTable = Record<string, RegSpec<Record<string, FieldSpec>>>;

export interface CapDef<R extends RegTable = RegTable> {
  readonly name: string;
  readonly id: number;
  readonly extended: boolean;
  /** Capability version (extended capabilities carry it in the header). */
  readonly version: number;
  /** Bytes the capability occupies. */
  readonly size: number;
  readonly regs: R;
  /** Table keys of the registers, in declaration order. */
  readonly regNames: readonly string[];
}

function camel(s: string): string {
  return s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function finishRegs<R extends RegTable>(regs: R): R {
  const out: Record<string, RegSpec> = {};
  for (const [k, r] of Object.entries(regs)) {
    const fields: Record<string, FieldSpec> = {};
    for (const [fk, f] of Object.entries(r.fields)) fields[fk] = { ...f, json: f.json ?? camel(fk) };
    out[k] = { ...r, json: r.json || camel(k), fields };
  }
  return out as R;
}

/** Standard (0x34 chain) capability: byte 0 = ID, byte 1 = next pointer, both read-only. */
export function defineCap<R extends RegTable>(name: string, id: number, size: number, regs: R): CapDef<R & { HDR: RegSpec }> {
  const all = { HDR: reg(0x00, 2, { reset: id, json: "header", fields: { ID: bits(7, 0, "capId"), NEXT: bits(15, 8, "next") } }), ...regs };
  return { name, id, extended: false, version: 0, size, regs: finishRegs(all), regNames: Object.keys(all) as never };
}

/** Extended (0x100 chain) capability: 32-bit header = ID[15:0] | version[19:16] | next[31:20]. */
export function defineExtCap<R extends RegTable>(
  name: string,
  id: number,
  size: number,
  regs: R,
  version = 1,
): CapDef<R & { HDR: RegSpec }> {
  const all = {
    HDR: reg(0x00, 4, {
      reset: (id | (version << 16)) >>> 0,
      json: "header",
      fields: { ID: bits(15, 0, "capId"), VER: bits(19, 16, "version"), NEXT: bits(31, 20, "next") },
    }),
    ...regs,
  };
  return { name, id, extended: true, version, size, regs: finishRegs(all), regNames: Object.keys(all) as never };
}

/** A plain register file (type 0/1 header, device MMIO): no capability header. */
export function defineRegFile<R extends RegTable>(name: string, size: number, regs: R): CapDef<R> {
  return { name, id: -1, extended: false, version: 0, size, regs: finishRegs(regs), regNames: Object.keys(regs) as never };
}

export type FieldValues<F extends Record<string, FieldSpec>> = { [K in keyof F]: number };

export function fieldMask(f: FieldSpec): number {
  return f.width >= 32 ? 0xffffffff : (((1 << f.width) >>> 0) - 1) * 2 ** f.lsb;
}

export function getField(f: FieldSpec, v: number): number {
  return f.width >= 32 ? v >>> 0 : Math.floor((v >>> 0) / 2 ** f.lsb) % 2 ** f.width;
}

export function setField(f: FieldSpec, v: number, x: number): number {
  const m = fieldMask(f);
  return (((v >>> 0) & ~m) | ((x * 2 ** f.lsb) & m)) >>> 0;
}

/** Typed decode: `decode(SRIOV.regs.CTRL, v).VFE`. */
export function decode<F extends Record<string, FieldSpec>>(r: RegSpec<F>, v: number): FieldValues<F> {
  const out: Record<string, number> = {};
  for (const [k, f] of Object.entries(r.fields)) out[k] = getField(f, v);
  return out as FieldValues<F>;
}

/** Typed encode: unspecified fields take their reset value. */
export function encode<F extends Record<string, FieldSpec>>(r: RegSpec<F>, fields: Partial<FieldValues<F>>, base = r.reset): number {
  let v = base >>> 0;
  for (const [k, x] of Object.entries(fields) as Array<[string, number | undefined]>) {
    const f = r.fields[k];
    if (f !== undefined && x !== undefined) v = setField(f, v, x);
  }
  return v >>> 0;
}

/** Bits of a register that no field names and software cannot write: reserved, read as 0 unless reset says otherwise. */
export function reservedMask(r: RegSpec): number {
  const full = r.size === 4 ? 0xffffffff : (1 << (r.size * 8)) - 1;
  let named = 0;
  for (const f of Object.values(r.fields)) named |= fieldMask(f);
  return (full & ~named & ~r.rw & ~r.w1c & ~r.reset) >>> 0;
}

/** JSON view of one register value: the raw value under the register's name, and every field by name. */
export function regJson(r: RegSpec, v: number): Record<string, number | boolean> {
  const out: Record<string, number | boolean> = { [r.json]: v >>> 0 };
  for (const f of Object.values(r.fields)) {
    const x = getField(f, v);
    out[f.json ?? ""] = f.width === 1 ? x === 1 : x;
  }
  return out;
}
