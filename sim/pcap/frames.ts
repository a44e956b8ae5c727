import { foldChecksum, onesComplementSum } from "../../src/nic/checksum.js";
import { IovError } from "../../src/errors.js";
import { ETH_FCS_BYTES, ETH_HEADER_BYTES, ETH_MIN_FRAME_BYTES, IPV4_HEADER_BYTES, TCP_HEADER_BYTES, UDP_HEADER_BYTES, VLAN_TAG_BYTES } from "../wire.js";

/**
 * Frame builders for traffic and tests: Ethernet II (+ optional 802.1Q tag), IPv4 with a correct header
 * checksum, UDP or TCP with a correct checksum over the pseudo-header. They write into a caller's buffer
 * and return the frame length; nothing is allocated per frame (spec objects can be reused and mutated).
 * Frames are written as captured: without the FCS, padded with zeros to the 60-byte minimum.
 *
 * MAC addresses are 48-bit integers and IPv4 addresses 32-bit unsigned integers, both in network order
 * (0x02_00_00_00_00_01 is 02:00:00:00:00:01; 0x0a000001 is 10.0.0.1).
 */

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_VLAN = 0x8100;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
/** Minimum Ethernet frame as captured (64 B minus the 4 B FCS). */
export const ETH_MIN_FRAME_NO_FCS = ETH_MIN_FRAME_BYTES - ETH_FCS_BYTES;
export const TCP_FLAG = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20 } as const;
const IPV4_VERSION_IHL = 0x45;
const IPV4_FLAG_DF = 0x4000;
const TCP_OPT_NOP = 1;
const TCP_OPT_TIMESTAMP = 8;
const TCP_OPT_TIMESTAMP_LEN = 10;
const TCP_TS_OPTION_SPACE = 12;
const TCP_OPT_SACK = 5;
/** Option space of n SACK blocks: NOP, NOP, kind, length, 8 bytes a block (RFC 2018). */
const sackOptionSpace = (n: number): number => (n === 0 ? 0 : 4 + 8 * n);
const TCP_MAX_OPTION_SPACE = 40;
const TWO_POW_32 = 0x1_0000_0000;
const IPV4_MAX_TOTAL = 0xffff;

export interface VlanTag {
  /** VLAN id 0..4095. */
  readonly vid: number;
  /** Priority code point 0..7. */
  readonly pcp?: number;
  readonly dei?: boolean;
}

export interface EthernetFields {
  dstMac: number;
  srcMac: number;
  vlan?: VlanTag | undefined;
}

export interface Ipv4Fields extends EthernetFields {
  srcIp: number;
  dstIp: number;
  /** Default 64. */
  ttl?: number;
  /** Identification field (default 0). */
  ipId?: number;
  /** DSCP 0..63 (default 0). */
  dscp?: number;
}

export interface PayloadFields {
  /** Payload bytes to copy; when absent, `payloadLength` bytes of the pattern (seed + i) & 0xff. */
  payload?: Uint8Array | undefined;
  payloadLength?: number;
  payloadSeed?: number;
}

export interface UdpFrameSpec extends Ipv4Fields, PayloadFields {
  srcPort: number;
  dstPort: number;
}

export interface TcpFrameSpec extends Ipv4Fields, PayloadFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Bitwise OR of TCP_FLAG values. */
  flags: number;
  window: number;
  /** RFC 7323 timestamps option (NOP, NOP, TS): 12 option bytes. */
  timestamps?: { readonly value: number; readonly echo: number } | undefined;
  /** RFC 2018 SACK blocks [left, right) (NOP, NOP, SACK): 4 + 8 per block option bytes; at most 4, 3 with timestamps. */
  sack?: ReadonlyArray<readonly [number, number]> | undefined;
}

function u16(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new IovError("ERANGE", `${name} ${v} outside 0..65535`, { [name]: v });
}
function u32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= TWO_POW_32) throw new IovError("ERANGE", `${name} ${v} outside 0..2^32-1`, { [name]: v });
}

export { foldChecksum, onesComplementSum } from "../../src/nic/checksum.js";

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}
function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}
function put48(b: Uint8Array, o: number, v: number): void {
  const hi = Math.floor(v / TWO_POW_32);
  put16(b, o, hi);
  put32(b, o + 2, v >>> 0);
}
function get16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
function get32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function checkEth(spec: EthernetFields): void {
  if (!Number.isInteger(spec.dstMac) || spec.dstMac < 0 || spec.dstMac >= 2 ** 48)
    throw new IovError("ERANGE", `dstMac ${spec.dstMac} is not a 48-bit value`, { dstMac: spec.dstMac });
  if (!Number.isInteger(spec.srcMac) || spec.srcMac < 0 || spec.srcMac >= 2 ** 48)
    throw new IovError("ERANGE", `srcMac ${spec.srcMac} is not a 48-bit value`, { srcMac: spec.srcMac });
  const v = spec.vlan;
  if (v !== undefined) {
    if (!Number.isInteger(v.vid) || v.vid < 0 || v.vid > 4095) throw new IovError("ERANGE", `VLAN id ${v.vid} outside 0..4095`, { vid: v.vid });
    const pcp = v.pcp ?? 0;
    if (!Number.isInteger(pcp) || pcp < 0 || pcp > 7) throw new IovError("ERANGE", `VLAN PCP ${pcp} outside 0..7`, { pcp });
  }
}

/** Writes the Ethernet header (and 802.1Q tag); returns its length (14 or 18). */
export function writeEthernetHeader(out: Uint8Array, offset: number, spec: EthernetFields, ethertype: number): number {
  put48(out, offset, spec.dstMac);
  put48(out, offset + 6, spec.srcMac);
  const v = spec.vlan;
  if (v === undefined) {
    put16(out, offset + 12, ethertype);
    return ETH_HEADER_BYTES;
  }
  put16(out, offset + 12, ETHERTYPE_VLAN);
  put16(out, offset + 14, ((v.pcp ?? 0) << 13) | (v.dei === true ? 0x1000 : 0) | v.vid);
  put16(out, offset + 16, ethertype);
  return ETH_HEADER_BYTES + VLAN_TAG_BYTES;
}

function payloadLengthOf(spec: PayloadFields): number {
  const n = spec.payload !== undefined ? spec.payload.length : (spec.payloadLength ?? 0);
  if (!Number.isInteger(n) || n < 0) throw new IovError("ERANGE", `payload length ${n} must be a non-negative integer`, { n });
  return n;
}

function writePayload(out: Uint8Array, offset: number, spec: PayloadFields, n: number): void {
  if (spec.payload !== undefined) {
    out.set(spec.payload, offset);
    return;
  }
  const seed = spec.payloadSeed ?? 0;
  for (let i = 0; i < n; i++) out[offset + i] = (seed + i) & 0xff;
}

function checkIp(spec: Ipv4Fields): void {
  checkEth(spec);
  u32("srcIp", spec.srcIp);
  u32("dstIp", spec.dstIp);
  const ttl = spec.ttl ?? 64;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255) throw new IovError("ERANGE", `TTL ${ttl} outside 0..255`, { ttl });
  u16("ipId", spec.ipId ?? 0);
  const dscp = spec.dscp ?? 0;
  if (!Number.isInteger(dscp) || dscp < 0 || dscp > 63) throw new IovError("ERANGE", `DSCP ${dscp} outside 0..63`, { dscp });
}

/** IPv4 header (no options, DF set) with its checksum; returns 20. */
function writeIpv4Header(out: Uint8Array, o: number, spec: Ipv4Fields, protocol: number, totalLength: number): number {
  out[o] = IPV4_VERSION_IHL;
  out[o + 1] = (spec.dscp ?? 0) << 2;
  put16(out, o + 2, totalLength);
  put16(out, o + 4, spec.ipId ?? 0);
  put16(out, o + 6, IPV4_FLAG_DF);
  out[o + 8] = spec.ttl ?? 64;
  out[o + 9] = protocol;
  put16(out, o + 10, 0);
  put32(out, o + 12, spec.srcIp);
  put32(out, o + 16, spec.dstIp);
  put16(out, o + 10, foldChecksum(onesComplementSum(out, o, IPV4_HEADER_BYTES)));
  return IPV4_HEADER_BYTES;
}

/** Sum of the IPv4 pseudo-header (src, dst, zero, protocol, L4 length). */
function pseudoHeaderSum(srcIp: number, dstIp: number, protocol: number, l4Length: number): number {
  return (srcIp >>> 16) + (srcIp & 0xffff) + (dstIp >>> 16) + (dstIp & 0xffff) + protocol + l4Length;
}

function checkRoom(out: Uint8Array, offset: number, need: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + need > out.length)
    throw new IovError("ERANGE", `frame of ${need} bytes does not fit at offset ${offset} of a ${out.length}-byte buffer`, {
      offset,
      need,
      capacity: out.length,
    });
}

function padFrame(out: Uint8Array, offset: number, len: number): number {
  if (len >= ETH_MIN_FRAME_NO_FCS) return len;
  out.fill(0, offset + len, offset + ETH_MIN_FRAME_NO_FCS);
  return ETH_MIN_FRAME_NO_FCS;
}

/** Length `writeUdpFrame` will produce for `spec` (without FCS, padded to 60). */
export function udpFrameLength(spec: UdpFrameSpec): number {
  const len = (spec.vlan === undefined ? ETH_HEADER_BYTES : ETH_HEADER_BYTES + VLAN_TAG_BYTES) + IPV4_HEADER_BYTES + UDP_HEADER_BYTES + payloadLengthOf(spec);
  return len < ETH_MIN_FRAME_NO_FCS ? ETH_MIN_FRAME_NO_FCS : len;
}

/** Writes Ethernet (+802.1Q) / IPv4 / UDP at `offset`; returns the frame length. */
export function writeUdpFrame(out: Uint8Array, offset: number, spec: UdpFrameSpec): number {
  checkIp(spec);
  u16("srcPort", spec.srcPort);
  u16("dstPort", spec.dstPort);
  const n = payloadLengthOf(spec);
  const udpLen = UDP_HEADER_BYTES + n;
  const ipLen = IPV4_HEADER_BYTES + udpLen;
  if (ipLen > IPV4_MAX_TOTAL) throw new IovError("ERANGE", `UDP payload ${n} B exceeds the IPv4 total length limit`, { payloadLength: n });
  checkRoom(out, offset, udpFrameLength(spec));
  const l2 = writeEthernetHeader(out, offset, spec, ETHERTYPE_IPV4);
  const ip = offset + l2;
  writeIpv4Header(out, ip, spec, IPPROTO_UDP, ipLen);
  const u = ip + IPV4_HEADER_BYTES;
  put16(out, u, spec.srcPort);
  put16(out, u + 2, spec.dstPort);
  put16(out, u + 4, udpLen);
  put16(out, u + 6, 0);
  writePayload(out, u + UDP_HEADER_BYTES, spec, n);
  const sum = onesComplementSum(out, u, udpLen, pseudoHeaderSum(spec.srcIp, spec.dstIp, IPPROTO_UDP, udpLen));
  const ck = foldChecksum(sum);
  put16(out, u + 6, ck === 0 ? 0xffff : ck); // RFC 768: a computed zero is sent as all ones
  return padFrame(out, offset, l2 + ipLen);
}

function tcpHeaderLength(spec: TcpFrameSpec): number {
  return TCP_HEADER_BYTES + (spec.timestamps !== undefined ? TCP_TS_OPTION_SPACE : 0) + sackOptionSpace(spec.sack?.length ?? 0);
}

/** Length `writeTcpFrame` will produce for `spec`. */
export function tcpFrameLength(spec: TcpFrameSpec): number {
  const len = (spec.vlan === undefined ? ETH_HEADER_BYTES : ETH_HEADER_BYTES + VLAN_TAG_BYTES) + IPV4_HEADER_BYTES + tcpHeaderLength(spec) + payloadLengthOf(spec);
  return len < ETH_MIN_FRAME_NO_FCS ? ETH_MIN_FRAME_NO_FCS : len;
}

/** Writes Ethernet (+802.1Q) / IPv4 / TCP segment at `offset`; returns the frame length. */
export function writeTcpFrame(out: Uint8Array, offset: number, spec: TcpFrameSpec): number {
  checkIp(spec);
  u16("srcPort", spec.srcPort);
  u16("dstPort", spec.dstPort);
  u32("seq", spec.seq);
  u32("ack", spec.ack);
  u16("window", spec.window);
  if (!Number.isInteger(spec.flags) || spec.flags < 0 || spec.flags > 0xff)
    throw new IovError("ERANGE", `TCP flags ${spec.flags} outside 0..255`, { flags: spec.flags });
  if (spec.timestamps !== undefined) {
    u32("tsval", spec.timestamps.value);
    u32("tsecr", spec.timestamps.echo);
  }
  const blocks = spec.sack ?? [];
  for (const [l, r] of blocks) {
    u32("SACK left edge", l);
    u32("SACK right edge", r);
  }
  const optSpace = (spec.timestamps !== undefined ? TCP_TS_OPTION_SPACE : 0) + sackOptionSpace(blocks.length);
  if (optSpace > TCP_MAX_OPTION_SPACE)
    throw new IovError("ERANGE", `${blocks.length} SACK blocks do not fit in TCP's 40 option bytes${spec.timestamps !== undefined ? " next to timestamps" : ""}`, { sackBlocks: blocks.length });
  const n = payloadLengthOf(spec);
  const thl = tcpHeaderLength(spec);
  const tcpLen = thl + n;
  const ipLen = IPV4_HEADER_BYTES + tcpLen;
  if (ipLen > IPV4_MAX_TOTAL) throw new IovError("ERANGE", `TCP payload ${n} B exceeds the IPv4 total length limit`, { payloadLength: n });
  checkRoom(out, offset, tcpFrameLength(spec));
  const l2 = writeEthernetHeader(out, offset, spec, ETHERTYPE_IPV4);
  const ip = offset + l2;
  writeIpv4Header(out, ip, spec, IPPROTO_TCP, ipLen);
  const t = ip + IPV4_HEADER_BYTES;
  put16(out, t, spec.srcPort);
  put16(out, t + 2, spec.dstPort);
  put32(out, t + 4, spec.seq);
  put32(out, t + 8, spec.ack);
  out[t + 12] = (thl / 4) << 4;
  out[t + 13] = spec.flags;
  put16(out, t + 14, spec.window);
  put16(out, t + 16, 0);
  put16(out, t + 18, 0); // urgent pointer
  if (spec.timestamps !== undefined) {
    out[t + 20] = TCP_OPT_NOP;
    out[t + 21] = TCP_OPT_NOP;
    out[t + 22] = TCP_OPT_TIMESTAMP;
    out[t + 23] = TCP_OPT_TIMESTAMP_LEN;
    put32(out, t + 24, spec.timestamps.value);
    put32(out, t + 28, spec.timestamps.echo);
  }
  if (blocks.length > 0) {
    const o = t + TCP_HEADER_BYTES + (spec.timestamps !== undefined ? TCP_TS_OPTION_SPACE : 0);
    out[o] = TCP_OPT_NOP;
    out[o + 1] = TCP_OPT_NOP;
    out[o + 2] = TCP_OPT_SACK;
    out[o + 3] = 2 + 8 * blocks.length;
    blocks.forEach(([l, r], i) => {
      put32(out, o + 4 + 8 * i, l);
      put32(out, o + 8 + 8 * i, r);
    });
  }
  writePayload(out, t + thl, spec, n);
  const sum = onesComplementSum(out, t, tcpLen, pseudoHeaderSum(spec.srcIp, spec.dstIp, IPPROTO_TCP, tcpLen));
  put16(out, t + 16, foldChecksum(sum));
  return padFrame(out, offset, l2 + ipLen);
}

// ── decoding (tests, traces) ─────────────────────────────────────────────────────────────────────

export interface DecodedFrame {
  readonly dstMac: number;
  readonly srcMac: number;
  /** VLAN id, or −1 when untagged. */
  readonly vlanId: number;
  readonly ethertype: number;
  readonly ipv4?: {
    readonly srcIp: number;
    readonly dstIp: number;
    readonly protocol: number;
    readonly ttl: number;
    readonly totalLength: number;
    readonly headerChecksumOk: boolean;
  };
  readonly l4?: {
    readonly srcPort: number;
    readonly dstPort: number;
    readonly checksumOk: boolean;
    readonly payloadOffset: number;
    readonly payloadLength: number;
  };
}

/** Decodes Ethernet / 802.1Q / IPv4 / UDP|TCP headers and verifies the checksums; null if too short. */
export function decodeFrame(buf: Uint8Array, offset = 0, length = buf.length - offset): DecodedFrame | null {
  if (length < ETH_HEADER_BYTES) return null;
  const dstMac = get16(buf, offset) * TWO_POW_32 + get32(buf, offset + 2);
  const srcMac = get16(buf, offset + 6) * TWO_POW_32 + get32(buf, offset + 8);
  let ethertype = get16(buf, offset + 12);
  let l2 = ETH_HEADER_BYTES;
  let vlanId = -1;
  if (ethertype === ETHERTYPE_VLAN) {
    if (length < ETH_HEADER_BYTES + VLAN_TAG_BYTES) return null;
    vlanId = get16(buf, offset + 14) & 0x0fff;
    ethertype = get16(buf, offset + 16);
    l2 += VLAN_TAG_BYTES;
  }
  const base = { dstMac, srcMac, vlanId, ethertype };
  if (ethertype !== ETHERTYPE_IPV4 || length < l2 + IPV4_HEADER_BYTES) return base;
  const ip = offset + l2;
  const ihl = (buf[ip]! & 0x0f) * 4;
  const totalLength = get16(buf, ip + 2);
  if (ihl < IPV4_HEADER_BYTES || totalLength < ihl || l2 + totalLength > length) return base;
  const srcIp = get32(buf, ip + 12);
  const dstIp = get32(buf, ip + 16);
  const protocol = buf[ip + 9]!;
  const ipv4 = {
    srcIp,
    dstIp,
    protocol,
    ttl: buf[ip + 8]!,
    totalLength,
    headerChecksumOk: foldChecksum(onesComplementSum(buf, ip, ihl)) === 0,
  };
  const l4 = ip + ihl;
  const l4Len = totalLength - ihl;
  let hdr = 0;
  if (protocol === IPPROTO_UDP && l4Len >= UDP_HEADER_BYTES) hdr = UDP_HEADER_BYTES;
  else if (protocol === IPPROTO_TCP && l4Len >= TCP_HEADER_BYTES) hdr = (buf[l4 + 12]! >>> 4) * 4;
  if (hdr === 0 || hdr > l4Len) return { ...base, ipv4 };
  const sum = foldChecksum(onesComplementSum(buf, l4, l4Len, pseudoHeaderSum(srcIp, dstIp, protocol, l4Len)));
  const udpNoChecksum = protocol === IPPROTO_UDP && get16(buf, l4 + 6) === 0;
  return {
    ...base,
    ipv4,
    l4: {
      srcPort: get16(buf, l4),
      dstPort: get16(buf, l4 + 2),
      checksumOk: sum === 0 || udpNoChecksum,
      payloadOffset: l4 + hdr,
      payloadLength: l4Len - hdr,
    },
  };
}

// ── address helpers ──────────────────────────────────────────────────────────────────────────────

export function parseMac(text: string): number {
  const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(text);
  if (m === null) throw new IovError("EINVAL", `"${text}" is not a MAC address`, { text });
  let v = 0;
  for (let i = 1; i <= 6; i++) v = v * 256 + parseInt(m[i]!, 16);
  return v;
}

export function formatMac(mac: number): string {
  const parts: string[] = [];
  let v = mac;
  for (let i = 0; i < 6; i++) {
    parts.unshift((v % 256).toString(16).padStart(2, "0"));
    v = Math.floor(v / 256);
  }
  return parts.join(":");
}

export function parseIpv4(text: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (m === null) throw new IovError("EINVAL", `"${text}" is not an IPv4 address`, { text });
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) throw new IovError("EINVAL", `"${text}" is not an IPv4 address`, { text });
    v = v * 256 + o;
  }
  return v;
}

export function formatIpv4(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}
