/**
 * Pieces shared by the capability modules of this folder: the `{ def, overrides }` pair that the
 * per-device helpers (`pcieCap`, `msixCap`, `acsCap`, ...) return, a register whose whole width is one
 * read-only value, and argument checks that throw the project's one error class.
 */
import { IovError } from "../../errors.js";
import type { LayoutBuilder, Overrides } from "../layout.js";
import type { CapDef, FieldSpec, RegSize, RegSpec, RegTable } from "../regs.js";
import { bits, reg } from "../regs.js";

/** A capability table plus this device's adjustments (reset values, masks) of its registers. */
export interface CapConfig<R extends RegTable = RegTable> {
  readonly def: CapDef<R>;
  readonly overrides: Overrides<R>;
}

/** `builder.cap(c.def, offset, c.overrides)`, spelled once: `placeCap(b, pcieCap("endpoint", o), 0xa0)`. */
export function placeCap<R extends RegTable>(b: LayoutBuilder, c: CapConfig<R>, offset?: number): LayoutBuilder {
  return b.cap(c.def, offset, c.overrides);
}

export interface ValueOpts {
  readonly reset?: number;
  readonly rw?: number;
  readonly w1c?: number;
  readonly sticky?: number;
  readonly desc?: string;
}

/**
 * A register that is one number from bit 0 up (Total VFs, VF Device ID, a serial number half).
 * It carries one field `VALUE` under the register's own JSON name, so that its bits count as named
 * (not reserved) and the JSON view shows the number once.
 */
export function value(offset: number, size: RegSize, json: string, opts: ValueOpts = {}): RegSpec<{ VALUE: FieldSpec }> {
  return reg(offset, size, { ...opts, json, fields: { VALUE: bits(size * 8 - 1, 0, json) } });
}

/**
 * A specific table as the registry's general `CapDef`. `CapDef<R>` is invariant in `R` (its
 * `regNames` is typed by `keyof R`), so a table with known keys does not widen on its own.
 */
export function asCapDef<R extends RegTable>(d: CapDef<R>): CapDef {
  return d as unknown as CapDef;
}

/** A `{ def, overrides }` pair with its table keys forgotten (for helpers that pick one of several tables). */
export function asCapConfig<R extends RegTable>(c: CapConfig<R>): CapConfig {
  return c as unknown as CapConfig;
}

/** Integer in [min, max], else ERANGE naming the argument. */
export function checkRange(what: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new IovError("ERANGE", `${what} ${v} outside ${min}..${max}`, { what, value: v, min, max });
  return v;
}

/** `bit` when `on`, else 0: keeps mask arithmetic on one line. */
export const when = (on: boolean | undefined, bitMask: number): number => (on === true ? bitMask : 0);
