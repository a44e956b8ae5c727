/**
 * Config-space hex dumps in the format of `lspci -x` / `-xxx` / `-xxxx`, which `lspci -F FILE` reads
 * back (pciutils lib/dump.c): a header line `BB:DD.F text` or `DDDD:BB:DD.F text` per function, then
 * lines `OO: hh hh ... hh` of 16 bytes, then a blank line.
 *
 * The reader accepts what lspci accepts from a well-formed dump (a domain of 4–6 hex digits, offsets
 * of 2–8 hex digits, text after the address ignored, CRLF line ends, one trailing space) and refuses,
 * with `file:line:col`, what lspci would silently skip or misread: data before any header, short,
 * misaligned, out-of-order or overlapping lines, non-hex bytes, offsets beyond 4096, a function with
 * less than the 64-byte standard header, an empty file.
 */
import { IovError } from "../errors.js";
import type { Bdf } from "./bdf.js";
import { formatBdf } from "./bdf.js";
import type { IdStyle } from "./names.js";
import { classText, vendorDeviceText } from "./names.js";

/** `-x`: the 64-byte standard header; `-xxx`: 256 bytes; `-xxxx`: the 4096-byte extended space. */
export type DumpMode = "x" | "xxx" | "xxxx";

export const DUMP_MODE_BYTES: Readonly<Record<DumpMode, number>> = { x: 64, xxx: 256, xxxx: 4096 };

/** Bytes per data line, as lspci writes them. */
export const DUMP_LINE_BYTES = 16;
/** The standard header every function must supply. */
export const DUMP_MIN_BYTES = 64;
/** Largest config space (PCIe extended). */
export const CONFIG_SPACE_MAX = 4096;

/** One function to write: its address and its config bytes (`length` limits how many are valid). */
export interface DumpEntry {
  readonly bdf: Bdf;
  readonly bytes: Uint8Array;
  readonly length?: number;
  /** Bytes the header line's names come from, when they differ (a VF: lspci names it from sysfs IDs). */
  readonly idBytes?: Uint8Array;
}

/** One function read back. `bytes` is 256 or 4096 long; bytes not supplied read 0xff, as in lspci. */
export interface ParsedDumpEntry {
  readonly bdf: Bdf;
  readonly bytes: Uint8Array;
  /** Number of bytes the dump supplied (64, 256 or 4096 for lspci's own dumps). */
  readonly length: number;
  /** 1-based line of the header line. */
  readonly line: number;
}

export interface WriteDumpOptions {
  /** Default "xxxx". */
  readonly mode?: DumpMode;
  /** Print the domain on every header: true always; default: when any function has a non-zero domain (lspci). */
  readonly domains?: boolean;
  /** How the header text shows IDs (default "names", as plain `lspci -x`). */
  readonly ids?: IdStyle;
}

/** Where a dump failed to parse. */
export interface DumpErrorDetail {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly expected: string;
  readonly found: string;
}

/** A malformed dump: an `IovError("EINVAL")` whose message reads `file:line:col: expected …, found …`. */
export class DumpParseError extends IovError {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  constructor(d: DumpErrorDetail) {
    super("EINVAL", `${d.file}:${d.line}:${d.col}: expected ${d.expected}, found ${d.found}`, { ...d });
    this.file = d.file;
    this.line = d.line;
    this.col = d.col;
  }
}

const hex2 = (n: number): string => n.toString(16).padStart(2, "0");

function slotText(b: Bdf, withDomain: boolean): string {
  const s = `${hex2(b.bus)}:${hex2(b.dev)}.${b.fn.toString(16)}`;
  return withDomain ? `${b.domain.toString(16).padStart(4, "0")}:${s}` : s;
}

function byteAt(bytes: Uint8Array, limit: number, off: number): number {
  return off < limit ? (bytes[off] ?? 0xff) : 0xff;
}

/** lspci's terse header text for a function: `Ethernet controller: Intel Corporation 82576 ... (rev 01)`. */
export function dumpHeaderText(bytes: Uint8Array, length: number = bytes.length, ids: IdStyle = "names"): string {
  const b = (o: number): number => byteAt(bytes, length, o);
  const vendor = b(0) | (b(1) << 8);
  const device = b(2) | (b(3) << 8);
  const cls = b(0x0a) | (b(0x0b) << 8);
  const rev = b(0x08);
  const revText = rev !== 0 ? ` (rev ${hex2(rev)})` : "";
  return `${classText(cls, ids)}: ${vendorDeviceText(vendor, device, ids)}${revText}`;
}

/**
 * Write functions as `lspci -x`/`-xxx`/`-xxxx` does: a header line, 16 bytes a line, a blank line after
 * each function. A function with fewer valid bytes than the mode asks for is written as far as it goes
 * (lspci does the same for a 256-byte function under `-xxxx`), rounded up to whole lines.
 */
export function writeDump(entries: readonly DumpEntry[], opts: WriteDumpOptions = {}): string {
  const want = DUMP_MODE_BYTES[opts.mode ?? "xxxx"];
  const withDomain = opts.domains ?? entries.some((e) => e.bdf.domain !== 0);
  const out: string[] = [];
  for (const e of entries) {
    const limit = Math.min(e.length ?? e.bytes.length, e.bytes.length, CONFIG_SPACE_MAX);
    const n = Math.ceil(Math.min(want, limit) / DUMP_LINE_BYTES) * DUMP_LINE_BYTES;
    out.push(`${slotText(e.bdf, withDomain)} ${dumpHeaderText(e.idBytes ?? e.bytes, limit, opts.ids)}\n`);
    for (let off = 0; off < n; off += DUMP_LINE_BYTES) {
      let line = `${off.toString(16).padStart(2, "0")}:`;
      for (let i = 0; i < DUMP_LINE_BYTES; i++) line += ` ${hex2(byteAt(e.bytes, limit, off + i))}`;
      out.push(`${line}\n`);
    }
    out.push("\n");
  }
  return out.join("");
}

const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(c);

function quote(s: string): string {
  const cut = s.length > 24 ? `${s.slice(0, 24)}…` : s;
  return JSON.stringify(cut);
}

/** What is at column `col` (1-based) of `s`, for messages. */
function foundAt(s: string, col: number): string {
  if (col > s.length) return "end of line";
  const rest = s.slice(col - 1);
  const tok = /^\S+/.exec(rest)?.[0] ?? rest.slice(0, 1);
  return quote(tok);
}

const HEADER_RE = /^(?:([0-9a-fA-F]{4,6}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-9a-fA-F])(?:\s|$)/;
const DATA_RE = /^([0-9a-fA-F]+):/;

interface Building {
  bdf: Bdf;
  bytes: Uint8Array;
  length: number;
  line: number;
  lastLine: number;
}

/**
 * Read a dump written by `lspci -x`/`-xxx`/`-xxxx` (or `writeDump`). Every function's bytes start at
 * offset 0 and come in whole, contiguous 16-byte lines.
 * @throws DumpParseError (an IovError with code EINVAL) naming `file:line:col`.
 */
export function parseDump(text: string, file = "<dump>"): ParsedDumpEntry[] {
  const fail = (line: number, col: number, expected: string, found: string): never => {
    throw new DumpParseError({ file, line, col, expected, found });
  };
  const lines = text.split("\n");
  const done: ParsedDumpEntry[] = [];
  const seen = new Map<string, number>();
  let cur: Building | undefined;

  const finish = (): void => {
    if (cur === undefined) return;
    if (cur.length < DUMP_MIN_BYTES) {
      const where = cur.lastLine;
      fail(where, 1, `at least ${DUMP_MIN_BYTES} bytes (the standard header) for ${formatBdf(cur.bdf)}`, `${cur.length}`);
    }
    done.push({ bdf: cur.bdf, bytes: cur.bytes, length: cur.length, line: cur.line });
    cur = undefined;
  };

  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let s = lines[i] ?? "";
    if (s.endsWith("\r")) s = s.slice(0, -1);
    if (s.trim() === "") {
      finish();
      continue;
    }
    const h = HEADER_RE.exec(s);
    if (h !== null) {
      finish();
      const domain = h[1] === undefined ? 0 : parseInt(h[1], 16);
      const bus = parseInt(h[2] ?? "", 16);
      const dev = parseInt(h[3] ?? "", 16);
      const fn = parseInt(h[4] ?? "", 16);
      const devCol = (h[1] === undefined ? 0 : h[1].length + 1) + 4;
      if (dev > 0x1f) fail(lineNo, devCol, "a device number 00..1f", quote(h[3] ?? ""));
      if (fn > 7) fail(lineNo, devCol + 3, "a function number 0..7", quote(h[4] ?? ""));
      const bdf: Bdf = { domain, bus, dev, fn };
      const key = formatBdf(bdf);
      const first = seen.get(key);
      if (first !== undefined) fail(lineNo, 1, `each function once (${key} was first given at line ${first})`, `${key} again`);
      seen.set(key, lineNo);
      cur = { bdf, bytes: new Uint8Array(256).fill(0xff), length: 0, line: lineNo, lastLine: lineNo };
      continue;
    }
    const d = DATA_RE.exec(s);
    if (d === null || cur === undefined) {
      fail(
        lineNo,
        1,
        cur === undefined
          ? "a function header line (BB:DD.F or DDDD:BB:DD.F followed by a space)"
          : `a data line "OO: hh hh ..." or a blank line`,
        foundAt(s, 1),
      );
      continue;
    }
    const cb = cur;
    const digits = d[1] ?? "";
    if (digits.length < 2 || digits.length > 8) fail(lineNo, 1, "an offset of 2 to 8 hex digits", quote(`${digits}:`));
    const off = parseInt(digits, 16);
    if (off % DUMP_LINE_BYTES !== 0) fail(lineNo, 1, `an offset that is a multiple of 0x10 (16 bytes a line)`, `0x${off.toString(16)}`);
    if (off + DUMP_LINE_BYTES > CONFIG_SPACE_MAX) fail(lineNo, 1, `an offset below 0x1000 (4096-byte config space)`, `0x${off.toString(16)}`);
    if (off !== cb.length) {
      fail(
        lineNo,
        1,
        off < cb.length ? `offset 0x${cb.length.toString(16)} (offsets in increasing order)` : `offset 0x${cb.length.toString(16)} (no gap after the previous line)`,
        `0x${off.toString(16)}`,
      );
    }
    let p = digits.length + 1; // 0-based index of the char after ':'
    if (s[p] !== " ") fail(lineNo, p + 1, "a space after the offset", foundAt(s, p + 1));
    p++;
    const vals: number[] = [];
    for (;;) {
      if (p >= s.length) break;
      if (vals.length === DUMP_LINE_BYTES) fail(lineNo, p + 1, `${DUMP_LINE_BYTES} bytes on the line`, `more: ${foundAt(s, p + 1)}`);
      const c0 = s[p];
      const c1 = s[p + 1];
      if (!isHex(c0)) fail(lineNo, p + 1, "a byte as two hex digits", foundAt(s, p + 1));
      if (!isHex(c1)) fail(lineNo, p + 1, "a byte as two hex digits", c1 === undefined ? `${quote(c0 ?? "")} at end of line (truncated byte)` : foundAt(s, p + 1));
      vals.push(parseInt(`${c0 ?? ""}${c1 ?? ""}`, 16));
      p += 2;
      if (p >= s.length) break;
      if (s[p] !== " ") fail(lineNo, p + 1, "a single space between bytes", foundAt(s, p + 1));
      p++;
    }
    if (vals.length < DUMP_LINE_BYTES) fail(lineNo, s.length + 1, `${DUMP_LINE_BYTES} bytes on the line (truncated line)`, `${vals.length}`);
    if (off + DUMP_LINE_BYTES > cb.bytes.length) {
      const grown = new Uint8Array(CONFIG_SPACE_MAX).fill(0xff);
      grown.set(cb.bytes);
      cb.bytes = grown;
    }
    cb.bytes.set(vals, off);
    cb.length = off + DUMP_LINE_BYTES;
    cb.lastLine = lineNo;
  }
  finish();
  if (done.length === 0) {
    const nonEmpty = lines.findIndex((l) => l.trim() !== "");
    fail(nonEmpty < 0 ? 1 : nonEmpty + 1, 1, "at least one function (a header line, then data lines)", text.trim() === "" ? "an empty file" : "no function");
  }
  return done;
}

/** True when `e` is a dump parse error (for the CLI: exit 2). */
export function isDumpParseError(e: unknown): e is DumpParseError {
  return e instanceof DumpParseError;
}
