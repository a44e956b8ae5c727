/**
 * Pure parsers for the scalar notations a host file uses: sizes ("64GiB"), VF index sets ("0,2-5"),
 * VF references ("0000:01:00.0#3"), PF selectors ("0000:01:00.0#0-3", as the Kubernetes device
 * plugin writes them), 16-bit IDs ("0x8086"), and the "did you mean" suggestion.
 * Each parser returns a value or a reason; none throws.
 */
import { formatBdf, parseBdf } from "../pcie/bdf.js";

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason?: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(reason?: string): Parsed<T> => (reason === undefined ? { ok: false } : { ok: false, reason });

// ---- sizes -------------------------------------------------------------------------------------

/** Binary multipliers; the one-letter forms are QEMU's (`-m 2G` is 2 GiB). */
export const SIZE_UNITS: ReadonlyMap<string, number> = new Map([
  ["B", 1],
  ["K", 2 ** 10],
  ["KiB", 2 ** 10],
  ["M", 2 ** 20],
  ["MiB", 2 ** 20],
  ["G", 2 ** 30],
  ["GiB", 2 ** 30],
  ["T", 2 ** 40],
  ["TiB", 2 ** 40],
]);
const SIZE_RE = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/;
/** Units shown by formatSize, largest first. */
const FORMAT_UNITS: ReadonlyArray<readonly [string, number]> = [
  ["TiB", 2 ** 40],
  ["GiB", 2 ** 30],
  ["MiB", 2 ** 20],
  ["KiB", 2 ** 10],
];

/** "64GiB", "512M", "1.5GiB", "4096" → bytes. Decimal units (GB) are refused with a hint. */
export function parseSize(text: string): Parsed<number> {
  const m = SIZE_RE.exec(text.trim());
  if (m === null) return bad();
  const [, num, unit] = m as unknown as [string, string, string];
  const mult = unit === "" ? 1 : SIZE_UNITS.get(unit);
  if (mult === undefined) {
    const letter = unit.charAt(0).toUpperCase();
    if (/^[KMGT]B$/i.test(unit) && SIZE_UNITS.has(letter)) {
      return bad(`sizes are binary: did you mean ${num}${letter}iB?`);
    }
    return bad();
  }
  const bytes = Number(num) * mult;
  if (!Number.isSafeInteger(bytes)) return bad(Number.isInteger(bytes) ? "too large" : "not a whole number of bytes");
  return ok(bytes);
}

/** Bytes in the largest binary unit that divides them exactly: 68719476736 → "64GiB". */
export function formatSize(bytes: number): string {
  for (const [unit, mult] of FORMAT_UNITS) if (bytes !== 0 && bytes % mult === 0) return `${bytes / mult}${unit}`;
  return `${bytes}B`;
}

// ---- VF index sets -----------------------------------------------------------------------------

/** NumVFs is a 16-bit register (SR-IOV 1.1 §3.3.7), so VF indices are below 0x10000. */
export const MAX_VF_INDEX = 0xffff;

/** "3", "1-3", "0,2-5" (or a YAML integer) → sorted distinct indices. */
export function parseVfSet(text: string): Parsed<number[]> {
  const out: number[] = [];
  const seen = new Set<number>();
  for (const raw of text.split(",")) {
    const item = raw.trim();
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(item);
    if (m === null) return bad(item === "" ? "empty item" : undefined);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi > MAX_VF_INDEX) return bad(`VF indices stop at ${MAX_VF_INDEX}`);
    if (hi < lo) return bad(`range ${lo}-${hi} ends below its start`);
    for (let i = lo; i <= hi; i++) {
      if (seen.has(i)) return bad(`VF ${i} is listed twice`);
      seen.add(i);
      out.push(i);
    }
  }
  return ok(out.sort((a, b) => a - b));
}

/** Sorted indices → the shortest "0-3,5" form. */
export function formatVfSet(indices: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < indices.length) {
    const start = indices[i]!;
    let end = start;
    while (i + 1 < indices.length && indices[i + 1] === end + 1) end = indices[++i]!;
    parts.push(start === end ? `${start}` : `${start}-${end}`);
    i++;
  }
  return parts.join(",");
}

// ---- PCI addresses and VF references ----------------------------------------------------------

/** Any accepted PCI address form → the canonical "0000:01:00.0". */
export function canonicalBdf(text: string): Parsed<string> {
  try {
    return ok(formatBdf(parseBdf(text)));
  } catch (e) {
    const dev = /device number (0x[0-9a-f]+) above 0x1f/.exec((e as Error).message);
    return bad(dev === null ? undefined : `device number ${dev[1]} is above 0x1f`);
  }
}

export interface VfRef {
  readonly pf: string;
  readonly vf: number;
}

/** "0000:01:00.0#3": one VF of a PF. */
export function parseVfRef(text: string): Parsed<VfRef> {
  const hash = text.indexOf("#");
  if (hash < 0) return bad("missing #index");
  const pf = canonicalBdf(text.slice(0, hash));
  if (!pf.ok) return bad(pf.reason);
  const idx = text.slice(hash + 1).trim();
  if (!/^\d+$/.test(idx)) return bad();
  const vf = Number(idx);
  if (vf > MAX_VF_INDEX) return bad(`VF indices stop at ${MAX_VF_INDEX}`);
  return ok({ pf: pf.value, vf });
}

export interface PfSelector {
  readonly pf: string;
  /** Only these VF indices; undefined = every VF of the PF. */
  readonly vfs?: readonly number[];
}

/** "0000:01:00.0" or "0000:01:00.0#0,2-5" (the device plugin's `<PF>#<ranges>` form). */
export function parsePfSelector(text: string): Parsed<PfSelector> {
  const hash = text.indexOf("#");
  const pf = canonicalBdf(hash < 0 ? text : text.slice(0, hash));
  if (!pf.ok) return bad(pf.reason);
  if (hash < 0) return ok({ pf: pf.value });
  const set = parseVfSet(text.slice(hash + 1));
  return set.ok ? ok({ pf: pf.value, vfs: set.value }) : bad(set.reason);
}

/** "0000:01:00.0" + [0,1,2,3,5] → "0000:01:00.0#0-3,5". */
export const formatVfAddrs = (pf: string, indices: readonly number[]): string => `${pf}#${formatVfSet(indices)}`;

// ---- 16-bit IDs --------------------------------------------------------------------------------

/** A vendor or device ID written in hex: "8086", "0x8086". */
export function parseHexId(text: string): Parsed<number> {
  const m = /^(?:0[xX])?([0-9a-fA-F]{1,4})$/.exec(text.trim());
  return m === null ? bad() : ok(parseInt(m[1]!, 16));
}

// ---- suggestions -------------------------------------------------------------------------------

/** Optimal-string-alignment distance (Levenshtein plus adjacent transpositions). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j]!;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      d[i * cols + j] = v;
    }
  }
  return at(rows - 1, cols - 1);
}

/** The candidate nearest to `word` (ignoring case), if it is near enough to be a likely slip. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(w.length / 3)));
  let best: string | undefined;
  let bestD = limit + 1;
  for (const c of candidates) {
    const dist = editDistance(w, c.toLowerCase());
    if (dist < bestD) {
      best = c;
      bestD = dist;
    }
  }
  return best;
}
