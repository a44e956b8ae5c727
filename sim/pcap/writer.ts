import { IovError } from "../../src/errors.js";
import {
  DEFAULT_SNAPLEN,
  IF_DESCRIPTION,
  IF_NAME,
  IF_TSRESOL,
  IF_TSRESOL_NS,
  LINKTYPE_ETHERNET,
  NS_PER_SEC,
  OPT_ENDOFOPT,
  PCAP_FILE_HEADER_BYTES,
  PCAP_MAGIC_NS,
  PCAP_MAGIC_US,
  PCAP_RECORD_HEADER_BYTES,
  PCAP_VERSION_MAJOR,
  PCAP_VERSION_MINOR,
  PCAPNG_BLOCK_OVERHEAD_BYTES,
  PCAPNG_BYTE_ORDER_MAGIC,
  PCAPNG_EPB,
  PCAPNG_EPB_FIXED_BYTES,
  PCAPNG_IDB,
  PCAPNG_SHB,
  PCAPNG_VERSION_MAJOR,
  PCAPNG_VERSION_MINOR,
  SHB_USERAPPL,
  pad4,
} from "./format.js";
import type { ByteSink } from "./sink.js";

/**
 * Streaming capture writers (little-endian). Each packet is handed to the sink as it is written: a
 * record header built in a reusable scratch buffer, the frame bytes, and padding; nothing is kept.
 *
 * Timestamps are simulated nanoseconds (a number, ≥ 0; fractions are truncated) counted from
 * `baseTimeNs` (a bigint, ns since the Unix epoch; default 0, i.e. 1970-01-01).
 */

const ZEROS = new Uint8Array(8);
const TWO_POW_16 = 0x1_0000;
const TWO_POW_32 = 0x1_0000_0000;
const MAX_FRAME = 0x3fff_ffff;
const MAX_U32 = 0xffff_ffff;

/** Splits base + t ns into whole seconds and nanoseconds without BigInt on the per-packet path. */
class TimeBase {
  private readonly baseSec: number;
  private readonly baseNs: number;
  sec = 0;
  ns = 0;

  constructor(baseTimeNs: bigint) {
    if (baseTimeNs < 0n) throw new IovError("ERANGE", `capture base time ${baseTimeNs} ns must be ≥ 0`, { baseTimeNs });
    this.baseSec = Number(baseTimeNs / 1_000_000_000n);
    this.baseNs = Number(baseTimeNs % 1_000_000_000n);
  }

  /** Sets `sec` and `ns` for simulated time `tNs`. */
  split(tNs: number): void {
    if (!(tNs >= 0 && tNs <= Number.MAX_SAFE_INTEGER))
      throw new IovError("ERANGE", `packet timestamp ${tNs} ns outside 0..2^53`, { tNs });
    const t = Math.floor(tNs);
    let q = Math.floor(t / NS_PER_SEC);
    let r = t - q * NS_PER_SEC;
    if (r < 0) {
      q--;
      r += NS_PER_SEC;
    } else if (r >= NS_PER_SEC) {
      q++;
      r -= NS_PER_SEC;
    }
    r += this.baseNs;
    if (r >= NS_PER_SEC) {
      r -= NS_PER_SEC;
      q++;
    }
    this.sec = this.baseSec + q;
    this.ns = r;
  }
}

function checkFrame(buf: Uint8Array, offset: number, length: number, originalLength: number): void {
  if (!(Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length >= 0 && offset + length <= buf.length))
    throw new IovError("ERANGE", `frame slice ${offset}+${length} outside a ${buf.length}-byte buffer`, { offset, length });
  if (!(Number.isInteger(originalLength) && originalLength >= length && originalLength <= MAX_FRAME))
    throw new IovError("ERANGE", `original length ${originalLength} must be ≥ captured length ${length}`, { originalLength, length });
}

function checkSnaplen(snaplen: number): void {
  if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > MAX_FRAME)
    throw new IovError("ERANGE", `snapshot length ${snaplen} outside 1..${MAX_FRAME}`, { snaplen });
}

function checkLinktype(linktype: number): void {
  if (!Number.isInteger(linktype) || linktype < 0 || linktype > 0xffff)
    throw new IovError("ERANGE", `link type ${linktype} outside 0..65535`, { linktype });
}

export interface PcapWriterOptions {
  /** Nanosecond timestamps (magic a1b23c4d); false writes microseconds (a1b2c3d4). Default true. */
  readonly nanos?: boolean;
  readonly snaplen?: number;
  readonly linktype?: number;
  readonly baseTimeNs?: bigint;
}

/** Classic pcap: 24-byte file header, then a 16-byte record header and the captured bytes per packet. */
export class PcapWriter {
  private readonly scratch = new Uint8Array(PCAP_FILE_HEADER_BYTES);
  private readonly dv = new DataView(this.scratch.buffer);
  private readonly time: TimeBase;
  private readonly nanos: boolean;
  readonly snaplen: number;
  private _packets = 0;
  private _bytes = 0;
  private closed = false;

  constructor(
    private readonly sink: ByteSink,
    opts: PcapWriterOptions = {},
  ) {
    this.nanos = opts.nanos ?? true;
    this.snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    const linktype = opts.linktype ?? LINKTYPE_ETHERNET;
    checkSnaplen(this.snaplen);
    checkLinktype(linktype);
    this.time = new TimeBase(opts.baseTimeNs ?? 0n);
    const dv = this.dv;
    dv.setUint32(0, this.nanos ? PCAP_MAGIC_NS : PCAP_MAGIC_US, true);
    dv.setUint16(4, PCAP_VERSION_MAJOR, true);
    dv.setUint16(6, PCAP_VERSION_MINOR, true);
    dv.setInt32(8, 0, true); // thiszone (reserved)
    dv.setUint32(12, 0, true); // sigfigs (reserved)
    dv.setUint32(16, this.snaplen, true);
    dv.setUint32(20, linktype, true);
    sink.write(this.scratch, 0, PCAP_FILE_HEADER_BYTES);
  }

  /** Packets written so far. */
  get packets(): number {
    return this._packets;
  }
  /** Captured bytes written so far (frame data only). */
  get capturedBytes(): number {
    return this._bytes;
  }

  /**
   * Appends one packet captured at `tsNs`. Frames longer than the snapshot length are truncated;
   * `originalLength` (default: the frame length) is what was on the link.
   */
  writePacket(tsNs: number, buf: Uint8Array, offset = 0, length = buf.length - offset, originalLength = length): void {
    if (this.closed) throw new IovError("EINVAL", "write to a closed pcap writer");
    checkFrame(buf, offset, length, originalLength);
    const incl = length < this.snaplen ? length : this.snaplen;
    this.time.split(tsNs);
    if (this.time.sec > MAX_U32)
      throw new IovError("ERANGE", `timestamp ${this.time.sec} s does not fit the 32-bit seconds field of classic pcap; use pcapng`, {
        sec: this.time.sec,
      });
    const dv = this.dv;
    dv.setUint32(0, this.time.sec, true);
    dv.setUint32(4, this.nanos ? this.time.ns : Math.floor(this.time.ns / 1000), true);
    dv.setUint32(8, incl, true);
    dv.setUint32(12, originalLength, true);
    this.sink.write(this.scratch, 0, PCAP_RECORD_HEADER_BYTES);
    this.sink.write(buf, offset, incl);
    this._packets++;
    this._bytes += incl;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sink.close();
  }
}

export interface PcapngInterfaceOptions {
  /** if_name, e.g. "vf0" or "dom0-vif1.0". */
  readonly name: string;
  readonly description?: string;
  readonly linktype?: number;
  readonly snaplen?: number;
}

export interface PcapngWriterOptions {
  /** shb_userappl (default "pciov"). */
  readonly application?: string;
  readonly baseTimeNs?: bigint;
}

const utf8 = new TextEncoder();

/** Encodes options (code, length, value padded to 4) followed by opt_endofopt. */
function encodeOptions(opts: ReadonlyArray<readonly [number, Uint8Array]>): Uint8Array {
  let n = 4;
  for (const [, v] of opts) n += 4 + v.length + pad4(v.length);
  const out = new Uint8Array(n);
  const dv = new DataView(out.buffer);
  let o = 0;
  for (const [code, v] of opts) {
    if (v.length > 0xffff) throw new IovError("ERANGE", `pcapng option ${code} longer than 65535 bytes`, { code });
    dv.setUint16(o, code, true);
    dv.setUint16(o + 2, v.length, true);
    out.set(v, o + 4);
    o += 4 + v.length + pad4(v.length);
  }
  dv.setUint16(o, OPT_ENDOFOPT, true);
  dv.setUint16(o + 2, 0, true);
  return out;
}

/** Builds a whole block: type, total length, body, total length. Used for the rare SHB/IDB blocks. */
function block(type: number, body: Uint8Array): Uint8Array {
  const len = PCAPNG_BLOCK_OVERHEAD_BYTES + body.length;
  const out = new Uint8Array(len);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, len, true);
  out.set(body, 8);
  dv.setUint32(len - 4, len, true);
  return out;
}

/**
 * pcapng: one Section Header Block, one Interface Description Block per `addInterface` (each with
 * if_name and if_tsresol = 9, i.e. nanosecond timestamps), and one Enhanced Packet Block per packet.
 */
export class PcapngWriter {
  private readonly scratch = new Uint8Array(8 + PCAPNG_EPB_FIXED_BYTES);
  private readonly dv = new DataView(this.scratch.buffer);
  private readonly time: TimeBase;
  private readonly snaplens: number[] = [];
  private readonly names: string[] = [];
  private _packets = 0;
  private _bytes = 0;
  private closed = false;

  constructor(
    private readonly sink: ByteSink,
    opts: PcapngWriterOptions = {},
  ) {
    this.time = new TimeBase(opts.baseTimeNs ?? 0n);
    const head = new Uint8Array(16);
    const hv = new DataView(head.buffer);
    hv.setUint32(0, PCAPNG_BYTE_ORDER_MAGIC, true);
    hv.setUint16(4, PCAPNG_VERSION_MAJOR, true);
    hv.setUint16(6, PCAPNG_VERSION_MINOR, true);
    hv.setBigInt64(8, -1n, true); // section length not specified
    const options = encodeOptions([[SHB_USERAPPL, utf8.encode(opts.application ?? "pciov")]]);
    const body = new Uint8Array(head.length + options.length);
    body.set(head, 0);
    body.set(options, head.length);
    const shb = block(PCAPNG_SHB, body);
    sink.write(shb, 0, shb.length);
  }

  get packets(): number {
    return this._packets;
  }
  get capturedBytes(): number {
    return this._bytes;
  }
  get interfaceNames(): readonly string[] {
    return this.names;
  }

  /** Declares a capture interface; returns its id for `writePacket`. Interfaces may be added at any time. */
  addInterface(opts: PcapngInterfaceOptions): number {
    if (this.closed) throw new IovError("EINVAL", "addInterface on a closed pcapng writer");
    const linktype = opts.linktype ?? LINKTYPE_ETHERNET;
    const snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    checkLinktype(linktype);
    checkSnaplen(snaplen);
    if (opts.name.length === 0) throw new IovError("EINVAL", "pcapng interface name must not be empty");
    if (this.names.includes(opts.name))
      throw new IovError("EEXIST", `pcapng interface ${opts.name} already declared`, { name: opts.name });
    const head = new Uint8Array(8);
    const hv = new DataView(head.buffer);
    hv.setUint16(0, linktype, true);
    hv.setUint16(2, 0, true); // reserved
    hv.setUint32(4, snaplen, true);
    const list: Array<readonly [number, Uint8Array]> = [[IF_NAME, utf8.encode(opts.name)]];
    if (opts.description !== undefined) list.push([IF_DESCRIPTION, utf8.encode(opts.description)]);
    list.push([IF_TSRESOL, Uint8Array.of(IF_TSRESOL_NS)]);
    const options = encodeOptions(list);
    const body = new Uint8Array(head.length + options.length);
    body.set(head, 0);
    body.set(options, head.length);
    const idb = block(PCAPNG_IDB, body);
    this.sink.write(idb, 0, idb.length);
    this.snaplens.push(snaplen);
    this.names.push(opts.name);
    return this.names.length - 1;
  }

  /** Appends one Enhanced Packet Block for interface `interfaceId` at simulated time `tsNs`. */
  writePacket(interfaceId: number, tsNs: number, buf: Uint8Array, offset = 0, length = buf.length - offset, originalLength = length): void {
    if (this.closed) throw new IovError("EINVAL", "write to a closed pcapng writer");
    const snaplen = this.snaplens[interfaceId];
    if (snaplen === undefined)
      throw new IovError("ENODEV", `pcapng interface ${interfaceId} not declared (${this.names.length} declared)`, { interfaceId });
    checkFrame(buf, offset, length, originalLength);
    const incl = length < snaplen ? length : snaplen;
    const pad = pad4(incl);
    const total = PCAPNG_BLOCK_OVERHEAD_BYTES + PCAPNG_EPB_FIXED_BYTES + incl + pad;
    this.time.split(tsNs);
    // ticks = sec × 10^9 + ns, split into 32-bit halves exactly: sec = sHi·2^16 + sLo, A = sHi·10^9 = aHi·2^16 + aLo.
    const sec = this.time.sec;
    const sLo = sec % TWO_POW_16;
    const a = ((sec - sLo) / TWO_POW_16) * NS_PER_SEC;
    const aLo = a % TWO_POW_16;
    const aHi = (a - aLo) / TWO_POW_16;
    const c = aLo * TWO_POW_16 + sLo * NS_PER_SEC + this.time.ns;
    const cLo = c % TWO_POW_32;
    const tsHigh = aHi + (c - cLo) / TWO_POW_32;
    if (tsHigh > MAX_U32) throw new IovError("ERANGE", `timestamp beyond 2^64 ns`, { sec });
    const dv = this.dv;
    dv.setUint32(0, PCAPNG_EPB, true);
    dv.setUint32(4, total, true);
    dv.setUint32(8, interfaceId, true);
    dv.setUint32(12, tsHigh, true);
    dv.setUint32(16, cLo, true);
    dv.setUint32(20, incl, true);
    dv.setUint32(24, originalLength, true);
    this.sink.write(this.scratch, 0, 8 + PCAPNG_EPB_FIXED_BYTES);
    this.sink.write(buf, offset, incl);
    if (pad > 0) this.sink.write(ZEROS, 0, pad);
    dv.setUint32(0, total, true);
    this.sink.write(this.scratch, 0, 4);
    this._packets++;
    this._bytes += incl;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sink.close();
  }
}
