/**
 * A small typed reader over a parsed YAML document. It walks the nodes (not the plain JS value), so
 * every problem is reported at the node's own line:col, collects every problem instead of stopping
 * at the first, and returns a fallback value after reporting so that the walk can go on.
 * Messages say what was expected and what was found.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type Scalar, type YAMLMap, type YAMLSeq } from "yaml";
import { makeIssue, type ConfigIssue } from "./issues.js";
import { parseSize, suggest, type Parsed } from "./values.js";
import type { Pos, Src } from "./types.js";

type YNode = Scalar | YAMLMap | YAMLSeq;

/** A resolved node, its path from the document root ("guests[0].memory") and where it is used
 *  (for a node reached through an alias, the alias). */
export interface Val {
  readonly node: YNode;
  readonly path: string;
  readonly at: Pos;
}

const FOUND_MAX = 40;

/**
 * Offsets → line:col. Line breaks are CRLF, CR or LF, as in YAML and in editors. Built from the text
 * itself: the yaml package's LineCounter misses line breaks inside tokens it could not parse.
 */
export class LineIndex {
  private readonly starts: number[] = [0];
  private readonly ends: number[] = [];

  constructor(private readonly text: string) {
    const re = /\r\n|\r|\n/g;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      this.ends.push(m.index);
      this.starts.push(m.index + m[0].length);
    }
    this.ends.push(text.length);
  }

  /** 1-based line and column; an offset past the end names the last character (or 1:1 when empty). */
  pos(offset: number): Pos {
    const o = Math.max(0, Math.min(offset, this.text.length - 1));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    const start = this.starts[lo]!;
    const lineLength = this.ends[lo]! - start;
    return { line: lo + 1, col: Math.min(o - start, lineLength) + 1 };
  }
}

export class Reader {
  readonly issues: ConfigIssue[] = [];
  private readonly lines: LineIndex;

  constructor(
    readonly file: string,
    private readonly source: string,
    private readonly doc: Document.Parsed,
  ) {
    this.lines = new LineIndex(source);
  }

  // ---- positions and reporting -----------------------------------------------------------------

  posAt(offset: number): Pos {
    return this.lines.pos(offset);
  }

  posOf(node: unknown): Pos {
    const range = (node as { range?: readonly number[] | null } | null)?.range;
    return range === undefined || range === null ? this.posAt(0) : this.posAt(range[0] ?? 0);
  }

  report(pos: Pos, path: string, text: string): void {
    this.issues.push(makeIssue(this.file, pos, path, text));
  }

  /** "expected <expected>, found <what the node is>[ (<hint>)]", at the node. */
  expected(v: Val, expected: string, hint?: string): void {
    this.report(v.at, v.path, `expected ${expected}, found ${this.describe(v.node)}${hint === undefined ? "" : ` (${hint})`}`);
  }

  /** How a node reads in a message: strings quoted, numbers and booleans as written. */
  describe(node: YNode): string {
    if (isMap(node)) return "a mapping";
    if (isSeq(node)) return "a list";
    const v: unknown = node.value;
    if (v === null || v === undefined) return "nothing";
    if (typeof v === "string") {
      const s = v.length > FOUND_MAX ? `${v.slice(0, FOUND_MAX)}…` : v;
      return JSON.stringify(s);
    }
    const range = node.range;
    if (range !== undefined && range !== null) return this.source.slice(range[0], range[1]);
    return String(v);
  }

  // ---- node access -----------------------------------------------------------------------------

  /** Follow an alias; report (unless `quiet`) one that names no anchor. */
  resolve(node: unknown, path: string, fallback: Pos, quiet = false): Val | undefined {
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (target === undefined) {
        if (!quiet) this.report(this.posOf(node), path, `expected an alias to an anchor defined earlier, found *${node.source}`);
        return undefined;
      }
      return { node: target, path, at: this.posOf(node) };
    }
    if (isScalar(node) || isMap(node) || isSeq(node)) return { node, path, at: this.posOf(node) };
    if (!quiet && node !== null && node !== undefined) this.report(fallback, path, "expected a value, found an unsupported YAML node");
    return undefined;
  }

  root(): Val | undefined {
    const c = this.doc.contents;
    if (c === null) return undefined;
    return this.resolve(c, "", this.posAt(0));
  }

  /** The plain value of a scalar node; undefined for collections. */
  static scalarValue(v: Val): unknown {
    return isScalar(v.node) ? v.node.value : undefined;
  }

  /** Number of items when the node is a list; undefined otherwise. */
  static itemCount(v: Val): number | undefined {
    return isSeq(v.node) ? v.node.items.length : undefined;
  }

  static isEmpty(v: Val): boolean {
    return isScalar(v.node) && (v.node.value === null || v.node.value === undefined);
  }

  /** A mapping with exactly `keys` allowed; unknown keys are reported with a suggestion. */
  mapping<K extends string>(v: Val, expected: string, keys: readonly K[]): Fields<K> | undefined {
    if (!isMap(v.node)) {
      this.expected(v, expected);
      return undefined;
    }
    const entries = new Map<K, { key: Pos; value: unknown }>();
    for (const pair of v.node.items) {
      if (!isPair(pair)) continue;
      const keyVal = this.resolve(pair.key, v.path, v.at);
      const keyPos = keyVal === undefined ? v.at : keyVal.at;
      const name = keyVal !== undefined && isScalar(keyVal.node) ? keyVal.node.value : undefined;
      if (typeof name !== "string" || !(keys as readonly string[]).includes(name)) {
        const shown = keyVal === undefined ? "?" : typeof name === "string" ? JSON.stringify(name) : this.describe(keyVal.node);
        const near = typeof name === "string" ? suggest(name, keys) : undefined;
        const hint = near === undefined ? `expected one of ${keys.join(", ")}` : `did you mean "${near}"?`;
        this.report(keyPos, v.path, `unknown key ${shown} (${hint})`);
        continue;
      }
      entries.set(name as K, { key: keyPos, value: pair.value });
    }
    return new Fields<K>(this, v, entries);
  }

  /** A list, each item read by `each`. An empty value reads as an empty list. */
  list<T>(v: Val, expected: string, each: (item: Val, index: number) => T | undefined): T[] {
    if (Reader.isEmpty(v)) return [];
    if (!isSeq(v.node)) {
      this.expected(v, expected);
      return [];
    }
    const out: T[] = [];
    v.node.items.forEach((item, i) => {
      const iv = this.resolve(item, `${v.path}[${i}]`, v.at);
      if (iv === undefined) return;
      const t = each(iv, i);
      if (t !== undefined) out.push(t);
    });
    return out;
  }

  // ---- scalars ---------------------------------------------------------------------------------

  private scalar(v: Val): unknown {
    return Reader.scalarValue(v);
  }

  str(v: Val, expected: string, re?: RegExp): string | undefined {
    const s = this.scalar(v);
    if (typeof s !== "string" || (re !== undefined && !re.test(s))) {
      this.expected(v, expected);
      return undefined;
    }
    return s;
  }

  /** A string or a YAML integer, for notations where both occur ("vf: 3", "vf: 1-3"). */
  text(v: Val): string | undefined {
    const s = this.scalar(v);
    if (typeof s === "string") return s;
    if (typeof s === "number" && Number.isInteger(s) && s >= 0) return String(s);
    return undefined;
  }

  int(v: Val, min: number, max: number): number | undefined {
    const n = this.scalar(v);
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
      this.expected(v, `an integer from ${min} to ${max}`);
      return undefined;
    }
    return n;
  }

  bool(v: Val): boolean | undefined {
    const b = this.scalar(v);
    if (typeof b !== "boolean") {
      this.expected(v, "true or false");
      return undefined;
    }
    return b;
  }

  /** One of a fixed set of strings or numbers; a near-miss string gets a suggestion. */
  oneOf<T extends string | number>(v: Val, values: readonly T[], label?: string): T | undefined {
    const x = this.scalar(v);
    if ((values as readonly unknown[]).includes(x)) return x as T;
    const near = typeof x === "string" ? suggest(x, values.map(String)) : undefined;
    const match = values.find((c) => String(c) === near);
    this.expected(v, label ?? `one of ${values.join(", ")}`, match === undefined ? undefined : `did you mean ${JSON.stringify(match)}?`);
    return undefined;
  }

  /** A size: an integer number of bytes or a string like "2GiB". */
  size(v: Val, expected: string): number | undefined {
    const x = this.scalar(v);
    let r: Parsed<number>;
    if (typeof x === "number") r = Number.isSafeInteger(x) && x >= 0 ? { ok: true, value: x } : { ok: false };
    else if (typeof x === "string") r = parseSize(x);
    else r = { ok: false };
    if (!r.ok) {
      this.expected(v, expected, r.reason);
      return undefined;
    }
    return r.value;
  }

  /** A string notation read by a pure parser from values.ts. */
  notation<T>(v: Val, expected: string, parse: (s: string) => Parsed<T>): T | undefined {
    const s = this.text(v);
    const r: Parsed<T> = s === undefined ? { ok: false } : parse(s);
    if (!r.ok) {
      this.expected(v, expected, r.reason);
      return undefined;
    }
    return r.value;
  }
}

/** The keys of one mapping, read by name. */
export class Fields<K extends string> {
  constructor(
    private readonly r: Reader,
    readonly map: Val,
    private readonly entries: ReadonlyMap<K, { key: Pos; value: unknown }>,
  ) {}

  get at(): Pos {
    return this.map.at;
  }

  path(key: K): string {
    return this.map.path === "" ? key : `${this.map.path}.${key}`;
  }

  /** Whether `key` is given with a value (without reporting anything). */
  has(key: K): boolean {
    const e = this.entries.get(key);
    if (e === undefined) return false;
    const v = this.r.resolve(e.value, this.path(key), e.key, true);
    return v !== undefined && !Reader.isEmpty(v);
  }

  /** The value of `key`; undefined when the key is absent or its value is empty. */
  opt(key: K): Val | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    const v = this.r.resolve(e.value, this.path(key), e.key);
    return v === undefined || Reader.isEmpty(v) ? undefined : v;
  }

  /** The value of `key`, reporting a missing key or an empty value as such. */
  req(key: K, expected: string): Val | undefined {
    const e = this.entries.get(key);
    if (e === undefined) {
      this.r.report(this.at, this.map.path, `missing key "${key}" (expected ${expected})`);
      return undefined;
    }
    const v = this.r.resolve(e.value, this.path(key), e.key);
    if (v === undefined) {
      if (e.value === null || e.value === undefined) this.r.report(e.key, this.path(key), `expected ${expected}, found nothing`);
      return undefined;
    }
    if (Reader.isEmpty(v)) {
      this.r.expected(v, expected);
      return undefined;
    }
    return v;
  }

  /** Read an optional key with `read`, or take `dflt` when it is absent. */
  optWith<T>(key: K, read: (v: Val) => T | undefined, dflt: T): T {
    const v = this.opt(key);
    if (v === undefined) return dflt;
    return read(v) ?? dflt;
  }

  /** Read a required key with `read`; `fallback` stands in after a reported problem. */
  reqWith<T>(key: K, expected: string, read: (v: Val) => T | undefined, fallback: T): T {
    const v = this.req(key, expected);
    if (v === undefined) return fallback;
    return read(v) ?? fallback;
  }

  /** Positions of the values of the keys given. */
  src(): Src<K> {
    const fields: Partial<Record<K, Pos>> = {};
    for (const [k, e] of this.entries) {
      const v = this.r.resolve(e.value, this.path(k), e.key, true);
      fields[k] = v === undefined ? e.key : v.at;
    }
    return { at: this.at, fields };
  }
}
