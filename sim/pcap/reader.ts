import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { IovError } from "../../src/errors.js";
import {
  IF_DESCRIPTION,
  IF_NAME,
  IF_TSOFFSET,
  IF_TSRESOL,
  IF_TSRESOL_DEFAULT,
  OPT_ENDOFOPT,
  PCAP_FILE_HEADER_BYTES,
  PCAP_LINKTYPE_MASK,
  PCAP_MAGIC_NS,
  PCAP_MAGIC_NS_SWAPPED,
  PCAP_MAGIC_US,
  PCAP_MAGIC_US_SWAPPED,
  PCAP_RECORD_HEADER_BYTES,
  PCAPNG_BLOCK_OVERHEAD_BYTES,
  PCAPNG_BYTE_ORDER_MAGIC,
  PCAPNG_EPB,
  PCAPNG_EPB_FIXED_BYTES,
  PCAPNG_IDB,
  PCAPNG_PB,
  PCAPNG_SHB,
  PCAPNG_SPB,
  pad4,
} from "./format.js";

/**
 * Reader for classic pcap (µs and ns magic, either byte order) and pcapng (any number of sections and
 * interfaces, EPB/SPB/obsolete PB; other blocks are skipped). It pulls from a ByteSource, so a file is
 * read in windows rather than loaded whole. Malformed input throws IovError EINVAL with the offset.
 */

export interface ByteSource {
  readonly size: number;
  /** `length` bytes from `position` (within size); the view is valid until the next call. */
  bytes(position: number, length: number): Uint8Array;
  close(): void;
}

export class MemorySource implements ByteSource {
  constructor(private readonly data: Uint8Array) {}
  get size(): number {
    return this.data.length;
  }
  /** Views into the caller's array: they stay valid. */
  bytes(position: number, length: number): Uint8Array {
    return this.data.subarray(position, position + length);
  }
  close(): void {}
}

const DEFAULT_WINDOW = 1024 * 1024;

/** Reads a file through one window buffer (grown only for a block larger than the window). */
export class FileSource implements ByteSource {
  private fd: number;
  readonly size: number;
  private buf: Uint8Array;
  private winStart = 0;
  private winLen = 0;

  constructor(
    readonly path: string,
    windowBytes = DEFAULT_WINDOW,
  ) {
    try {
      this.fd = openSync(path, "r");
    } catch (e) {
      throw new IovError("ENOENT", `cannot open capture ${path}: ${(e as Error).message}`, { path });
    }
    this.size = fstatSync(this.fd).size;
    this.buf = new Uint8Array(Math.max(64, windowBytes));
  }

  bytes(position: number, length: number): Uint8Array {
    if (this.fd < 0) throw new IovError("EINVAL", `capture ${this.path} is closed`, { path: this.path });
    if (position >= this.winStart && position + length <= this.winStart + this.winLen)
      return this.buf.subarray(position - this.winStart, position - this.winStart + length);
    if (length > this.buf.length) this.buf = new Uint8Array(length);
    let got = 0;
    const want = Math.min(this.buf.length, this.size - position);
    while (got < want) {
      const n = readSync(this.fd, this.buf, got, want - got, position + got);
      if (n === 0) break;
      got += n;
    }
    this.winStart = position;
    this.winLen = got;
    if (got < length) throw new IovError("EIO", `capture ${this.path} shrank while reading at offset ${position}`, { position });
    return this.buf.subarray(0, length);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

export type CaptureFormat = "pcap" | "pcapng";

export interface CaptureInterface {
  /** pcapng section (0 for classic pcap). */
  readonly section: number;
  /** Interface id within its section, as packets refer to it. */
  readonly id: number;
  readonly linktype: number;
  readonly snaplen: number;
  readonly name: string | undefined;
  readonly description: string | undefined;
  /** Timestamp units per second (10^6 for µs, 10^9 for ns, 2^n for binary resolutions). */
  readonly tsUnitsPerSecond: bigint;
  /** if_tsoffset: seconds added to every timestamp. */
  readonly tsOffsetSec: bigint;
}

export interface CapturedPacket {
  readonly section: number;
  readonly interfaceId: number;
  /** Nanoseconds since the epoch, exact (binary resolutions are truncated to whole ns). */
  readonly tsNs: bigint;
  readonly capturedLength: number;
  readonly originalLength: number;
  /** The captured bytes: a view into the source (for a FileSource valid until the next `next()`). */
  readonly data: Uint8Array;
}

function bad(offset: number, what: string): IovError {
  return new IovError("EINVAL", `malformed capture at offset ${offset}: ${what}`, { offset });
}

const TEN_POW_9 = 1_000_000_000n;
const utf8 = new TextDecoder("utf-8");

export class CaptureReader implements Iterable<CapturedPacket> {
  readonly format: CaptureFormat;
  private little = true;
  private pos = 0;
  private section = -1;
  private readonly _interfaces: CaptureInterface[] = [];
  /** Interfaces of the current section, indexed by id. */
  private sectionIfs: CaptureInterface[] = [];
  private classicUnits = 1_000_000n;

  constructor(private readonly src: ByteSource) {
    if (src.size < 4) throw bad(0, `file of ${src.size} bytes is too short for a capture header`);
    const head = src.bytes(0, 4);
    const le = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true);
    switch (le) {
      case PCAPNG_SHB:
        this.format = "pcapng";
        break;
      case PCAP_MAGIC_US:
      case PCAP_MAGIC_NS:
      case PCAP_MAGIC_US_SWAPPED:
      case PCAP_MAGIC_NS_SWAPPED:
        this.format = "pcap";
        this.readClassicHeader(le);
        break;
      default:
        throw new IovError("EINVAL", `not a pcap or pcapng file (magic 0x${le.toString(16).padStart(8, "0")})`, { magic: le });
    }
  }

  get byteOrder(): "little" | "big" {
    return this.little ? "little" : "big";
  }

  /** Interfaces seen so far (all of them once the file has been read to the end). */
  get interfaces(): readonly CaptureInterface[] {
    return this._interfaces;
  }

  /** The next packet, or null at the end of the file. */
  next(): CapturedPacket | null {
    return this.format === "pcap" ? this.nextClassic() : this.nextPcapng();
  }

  *[Symbol.iterator](): Iterator<CapturedPacket> {
    for (let p = this.next(); p !== null; p = this.next()) yield p;
  }

  close(): void {
    this.src.close();
  }

  // ── classic pcap ─────────────────────────────────────────────────────────────────────────────

  private readClassicHeader(magicLe: number): void {
    if (this.src.size < PCAP_FILE_HEADER_BYTES) throw bad(0, "truncated pcap file header");
    this.little = magicLe === PCAP_MAGIC_US || magicLe === PCAP_MAGIC_NS;
    this.classicUnits = magicLe === PCAP_MAGIC_NS || magicLe === PCAP_MAGIC_NS_SWAPPED ? TEN_POW_9 : 1_000_000n;
    const h = this.src.bytes(0, PCAP_FILE_HEADER_BYTES);
    const dv = new DataView(h.buffer, h.byteOffset, h.length);
    const major = dv.getUint16(4, this.little);
    if (major !== 2) throw bad(4, `unsupported pcap version ${major}.${dv.getUint16(6, this.little)}`);
    const iface: CaptureInterface = {
      section: 0,
      id: 0,
      linktype: dv.getUint32(20, this.little) & PCAP_LINKTYPE_MASK,
      snaplen: dv.getUint32(16, this.little),
      name: undefined,
      description: undefined,
      tsUnitsPerSecond: this.classicUnits,
      tsOffsetSec: 0n,
    };
    this._interfaces.push(iface);
    this.section = 0;
    this.pos = PCAP_FILE_HEADER_BYTES;
  }

  private nextClassic(): CapturedPacket | null {
    const size = this.src.size;
    if (this.pos === size) return null;
    if (size - this.pos < PCAP_RECORD_HEADER_BYTES) throw bad(this.pos, "truncated record header");
    const h = this.src.bytes(this.pos, PCAP_RECORD_HEADER_BYTES);
    const dv = new DataView(h.buffer, h.byteOffset, h.length);
    const sec = dv.getUint32(0, this.little);
    const frac = dv.getUint32(4, this.little);
    const incl = dv.getUint32(8, this.little);
    const orig = dv.getUint32(12, this.little);
    if (BigInt(frac) >= this.classicUnits) throw bad(this.pos + 4, `sub-second field ${frac} out of range`);
    const dataAt = this.pos + PCAP_RECORD_HEADER_BYTES;
    if (incl > size - dataAt) throw bad(this.pos, `record of ${incl} bytes runs past the end of the file`);
    const tsNs = BigInt(sec) * TEN_POW_9 + (BigInt(frac) * TEN_POW_9) / this.classicUnits;
    const data = this.src.bytes(dataAt, incl);
    this.pos = dataAt + incl;
    return { section: 0, interfaceId: 0, tsNs, capturedLength: incl, originalLength: orig, data };
  }

  // ── pcapng ───────────────────────────────────────────────────────────────────────────────────

  private nextPcapng(): CapturedPacket | null {
    const size = this.src.size;
    for (;;) {
      if (this.pos === size) return null;
      const at = this.pos;
      if (size - at < PCAPNG_BLOCK_OVERHEAD_BYTES) throw bad(at, "truncated block header");
      const h = this.src.bytes(at, PCAPNG_BLOCK_OVERHEAD_BYTES);
      let dv = new DataView(h.buffer, h.byteOffset, h.length);
      const type = dv.getUint32(0, this.little);
      if (type === PCAPNG_SHB) {
        const bom = dv.getUint32(8, true);
        if (bom === PCAPNG_BYTE_ORDER_MAGIC) this.little = true;
        else if (bom === 0x4d3c2b1a) this.little = false;
        else throw bad(at + 8, `bad byte-order magic 0x${bom.toString(16)}`);
      }
      const len = dv.getUint32(4, this.little);
      if (len < PCAPNG_BLOCK_OVERHEAD_BYTES || len % 4 !== 0) throw bad(at + 4, `block length ${len} is not a multiple of 4 ≥ 12`);
      if (len > size - at) throw bad(at, `block of ${len} bytes runs past the end of the file`);
      const blk = this.src.bytes(at, len);
      dv = new DataView(blk.buffer, blk.byteOffset, blk.length);
      if (dv.getUint32(len - 4, this.little) !== len) throw bad(at + len - 4, "trailing block length differs from the leading one");
      this.pos = at + len;
      switch (type) {
        case PCAPNG_SHB:
          this.readShb(dv, at);
          break;
        case PCAPNG_IDB:
          this.readIdb(blk, dv, at);
          break;
        case PCAPNG_EPB:
          return this.readEpb(blk, dv, at);
        case PCAPNG_SPB:
          return this.readSpb(blk, dv, at);
        case PCAPNG_PB:
          return this.readPb(blk, dv, at);
        default:
          if (this.section < 0) throw bad(at, "pcapng file does not start with a Section Header Block");
          break;
      }
    }
  }

  private readShb(dv: DataView, at: number): void {
    if (dv.byteLength < 28) throw bad(at, "Section Header Block too short");
    const major = dv.getUint16(12, this.little);
    if (major !== 1) throw bad(at + 12, `unsupported pcapng version ${major}`);
    this.section++;
    this.sectionIfs = [];
  }

  private requireSection(at: number): void {
    if (this.section < 0) throw bad(at, "block before the first Section Header Block");
  }

  private readIdb(blk: Uint8Array, dv: DataView, at: number): void {
    this.requireSection(at);
    if (blk.length < 20) throw bad(at, "Interface Description Block too short");
    let name: string | undefined;
    let description: string | undefined;
    let tsresol = IF_TSRESOL_DEFAULT;
    let tsOffsetSec = 0n;
    this.forEachOption(dv, 16, blk.length - 4, at, (code, off, vlen) => {
      switch (code) {
        case IF_NAME:
          name = utf8.decode(blk.subarray(off, off + vlen));
          break;
        case IF_DESCRIPTION:
          description = utf8.decode(blk.subarray(off, off + vlen));
          break;
        case IF_TSRESOL:
          if (vlen < 1) throw bad(at + off, "empty if_tsresol");
          tsresol = blk[off]!;
          break;
        case IF_TSOFFSET:
          if (vlen < 8) throw bad(at + off, "short if_tsoffset");
          tsOffsetSec = dv.getBigInt64(off, this.little);
          break;
        default:
          break;
      }
    });
    const units = tsresol & 0x80 ? 1n << BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol);
    const iface: CaptureInterface = {
      section: this.section,
      id: this.sectionIfs.length,
      linktype: dv.getUint16(8, this.little),
      snaplen: dv.getUint32(12, this.little),
      name,
      description,
      tsUnitsPerSecond: units,
      tsOffsetSec,
    };
    this.sectionIfs.push(iface);
    this._interfaces.push(iface);
  }

  private forEachOption(
    dv: DataView,
    start: number,
    end: number,
    at: number,
    fn: (code: number, valueOffset: number, valueLength: number) => void,
  ): void {
    let o = start;
    while (o + 4 <= end) {
      const code = dv.getUint16(o, this.little);
      const vlen = dv.getUint16(o + 2, this.little);
      if (code === OPT_ENDOFOPT) return;
      if (o + 4 + vlen > end) throw bad(at + o, `option ${code} of ${vlen} bytes overruns its block`);
      fn(code, o + 4, vlen);
      o += 4 + vlen + pad4(vlen);
    }
  }

  private iface(id: number, at: number): CaptureInterface {
    this.requireSection(at);
    const i = this.sectionIfs[id];
    if (i === undefined) throw bad(at + 8, `packet refers to undeclared interface ${id}`);
    return i;
  }

  private ts(i: CaptureInterface, high: number, low: number): bigint {
    const ticks = (BigInt(high) << 32n) | BigInt(low);
    return (ticks * TEN_POW_9) / i.tsUnitsPerSecond + i.tsOffsetSec * TEN_POW_9;
  }

  private readEpb(blk: Uint8Array, dv: DataView, at: number): CapturedPacket {
    if (blk.length < PCAPNG_BLOCK_OVERHEAD_BYTES + PCAPNG_EPB_FIXED_BYTES) throw bad(at, "Enhanced Packet Block too short");
    const id = dv.getUint32(8, this.little);
    const i = this.iface(id, at);
    const incl = dv.getUint32(20, this.little);
    const orig = dv.getUint32(24, this.little);
    if (28 + incl + pad4(incl) + 4 > blk.length) throw bad(at + 20, `captured length ${incl} overruns the block`);
    return {
      section: this.section,
      interfaceId: id,
      tsNs: this.ts(i, dv.getUint32(12, this.little), dv.getUint32(16, this.little)),
      capturedLength: incl,
      originalLength: orig,
      data: blk.subarray(28, 28 + incl),
    };
  }

  private readSpb(blk: Uint8Array, dv: DataView, at: number): CapturedPacket {
    if (blk.length < 16) throw bad(at, "Simple Packet Block too short");
    const i = this.iface(0, at);
    const orig = dv.getUint32(8, this.little);
    const room = blk.length - 16;
    let incl = orig < room ? orig : room;
    if (i.snaplen > 0 && incl > i.snaplen) incl = i.snaplen;
    return { section: this.section, interfaceId: 0, tsNs: 0n, capturedLength: incl, originalLength: orig, data: blk.subarray(12, 12 + incl) };
  }

  private readPb(blk: Uint8Array, dv: DataView, at: number): CapturedPacket {
    if (blk.length < 32) throw bad(at, "Packet Block too short");
    const id = dv.getUint16(8, this.little);
    const i = this.iface(id, at);
    const incl = dv.getUint32(20, this.little);
    const orig = dv.getUint32(24, this.little);
    if (28 + incl + 4 > blk.length) throw bad(at + 20, `captured length ${incl} overruns the block`);
    return {
      section: this.section,
      interfaceId: id,
      tsNs: this.ts(i, dv.getUint32(12, this.little), dv.getUint32(16, this.little)),
      capturedLength: incl,
      originalLength: orig,
      data: blk.subarray(28, 28 + incl),
    };
  }
}

export interface Capture {
  readonly format: CaptureFormat;
  readonly byteOrder: "little" | "big";
  readonly interfaces: readonly CaptureInterface[];
  readonly packets: readonly CapturedPacket[];
}

/** Parses a whole capture held in memory; packet data are views into `bytes`. */
export function parseCapture(bytes: Uint8Array): Capture {
  const r = new CaptureReader(new MemorySource(bytes));
  const packets = [...r];
  return { format: r.format, byteOrder: r.byteOrder, interfaces: r.interfaces, packets };
}

/** Opens a capture file for streaming reads (call `close()` when done). */
export function openCaptureFile(path: string, windowBytes?: number): CaptureReader {
  const src = new FileSource(path, windowBytes);
  try {
    return new CaptureReader(src);
  } catch (e) {
    src.close();
    throw e;
  }
}

/** Reads a whole capture file; packet data are copied out of the read window. */
export function readCaptureFile(path: string): Capture {
  const r = openCaptureFile(path);
  try {
    const packets: CapturedPacket[] = [];
    for (const p of r) packets.push({ ...p, data: p.data.slice() });
    return { format: r.format, byteOrder: r.byteOrder, interfaces: r.interfaces, packets };
  } finally {
    r.close();
  }
}
