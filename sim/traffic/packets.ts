/**
 * Frames as the traffic sees them: addresses of the simulated machines, per-flow frame templates
 * patched in place for each packet (IP ID, TCP sequence/ack, a timestamp tag) with their checksums
 * kept correct incrementally (RFC 1624), an allocation-free parser for sinks, and the tag table
 * that gives every tagged frame its creation time for end-to-end latency.
 *
 * The tag: the first 8 bytes of the transport payload are {magic u16 = 0x7043, flow u16, seq u32}.
 */
import { IovError } from "../../src/errors.js";
import { IPPROTO_TCP, IPPROTO_UDP, TCP_FLAG, foldChecksum, onesComplementSum, writeTcpFrame, writeUdpFrame } from "../pcap/frames.js";
import { newSackBlocks } from "./tcp.js";
import { TcpLayout, tcpLayout, tsoSegmentInto, tsoSegments } from "../../src/nic/tso.js";

/** The machine on the other end of the wire. */
export const PEER_MAC = 0x02_99_00_00_00_01;
export const PEER_IP = 0x0a_00_00_01; // 10.0.0.1
/** The host's own port (PF / Dom0) as a next hop for routed paravirtual networking. */
export const HOST_MAC = 0x02_88_00_00_00_01;
const VM_MAC_BASE = 0x02_00_00_00_01_00;
const VM_IP_BASE = 0x0a_01_00_01; // 10.1.0.1

export const vmMac = (i: number): number => VM_MAC_BASE + i;
export const vmIp = (i: number): number => VM_IP_BASE + i;
/** VM index of an IPv4 address, or -1. */
export const vmOfIp = (ip: number): number => (ip >= VM_IP_BASE && ip < VM_IP_BASE + 0xfffe ? ip - VM_IP_BASE : -1);

export const TAG_MAGIC = 0x7043;
export const TAG_BYTES = 8;
const ETH_P_IP = 0x0800;
const ETH_P_8021Q = 0x8100;

/** Replace a 16-bit word covered by an Internet checksum: the new checksum (RFC 1624 eqn. 3). */
export function csumReplace16(csum: number, old: number, nw: number): number {
  let s = (~csum & 0xffff) + (~old & 0xffff) + (nw & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

const get16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const put16 = (b: Uint8Array, o: number, v: number): void => {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
};

/** One frame of a flow, built once, then patched per packet with its checksums kept valid. */
export class Template {
  readonly buf: Uint8Array;
  readonly len: number;
  readonly ipOff: number;
  readonly l4Off: number;
  readonly payOff: number;
  readonly payLen: number;
  private readonly l4Csum: number;
  private readonly udp: boolean;
  private readonly view: Uint8Array;

  private constructor(buf: Uint8Array, len: number, udp: boolean) {
    this.buf = buf;
    this.len = len;
    this.view = buf.subarray(0, len);
    this.udp = udp;
    this.ipOff = get16(buf, 12) === ETH_P_8021Q ? 18 : 14;
    this.l4Off = this.ipOff + (buf[this.ipOff]! & 0x0f) * 4;
    const ipTotal = get16(buf, this.ipOff + 2);
    if (udp) {
      this.payOff = this.l4Off + 8;
      this.l4Csum = this.l4Off + 6;
    } else {
      this.payOff = this.l4Off + (buf[this.l4Off + 12]! >>> 4) * 4;
      this.l4Csum = this.l4Off + 16;
    }
    this.payLen = this.ipOff + ipTotal - this.payOff;
  }

  static udp(frameLen: number, srcMac: number, dstMac: number, srcIp: number, dstIp: number, srcPort: number, dstPort: number): Template {
    const payload = frameLen - 42;
    if (payload < TAG_BYTES) throw new IovError("ERANGE", `UDP frame of ${frameLen} B (no FCS) has no room for the ${TAG_BYTES}-byte tag`, { frameLen });
    const buf = new Uint8Array(frameLen);
    const len = writeUdpFrame(buf, 0, { dstMac, srcMac, srcIp, dstIp, srcPort, dstPort, payloadLength: payload, payloadSeed: 0 });
    return new Template(buf, len, true);
  }

  /** With `sackBlocks` > 0: a SACK option of that many blocks after the timestamps (set them with `setSack`). */
  static tcp(payload: number, timestamps: boolean, srcMac: number, dstMac: number, srcIp: number, dstIp: number, srcPort: number, dstPort: number, sackBlocks = 0): Template {
    const spec = {
      dstMac,
      srcMac,
      srcIp,
      dstIp,
      srcPort,
      dstPort,
      seq: 0,
      ack: 0,
      flags: TCP_FLAG.ACK,
      window: 0xffff,
      timestamps: timestamps ? { value: 1, echo: 1 } : undefined,
      sack: sackBlocks > 0 ? Array.from({ length: sackBlocks }, () => [0, 0] as const) : undefined,
      payloadLength: payload,
      payloadSeed: 0,
    };
    const buf = new Uint8Array(14 + 20 + 60 + payload + 64);
    const len = writeTcpFrame(buf, 0, spec);
    const t = new Template(buf, len, false);
    if (sackBlocks > 0) t.sackOff = t.l4Off + 20 + (timestamps ? 12 : 0) + 4;
    return t;
  }

  /** Offset of the first SACK block's left edge (-1: no SACK option). */
  sackOff = -1;

  /** Set SACK block i to [left, right) (32-bit sequence numbers). */
  setSack(i: number, left: number, right: number): void {
    this.set32(this.sackOff + 8 * i, left >>> 0);
    this.set32(this.sackOff + 8 * i + 4, right >>> 0);
  }

  /** Set the 16-bit word at `off` (in the IP header or the transport segment), fixing the checksums. */
  set16(off: number, v: number): void {
    const b = this.buf;
    const old = get16(b, off);
    if (old === v) return;
    put16(b, off, v);
    if (off < this.l4Off) {
      const c = this.ipOff + 10;
      put16(b, c, csumReplace16(get16(b, c), old, v));
      return;
    }
    const c = this.l4Csum;
    const ck = get16(b, c);
    if (this.udp && ck === 0) return; // UDP without checksum stays without
    let n = csumReplace16(ck, old, v);
    if (this.udp && n === 0) n = 0xffff;
    put16(b, c, n);
  }

  set32(off: number, v: number): void {
    this.set16(off, (v >>> 16) & 0xffff);
    this.set16(off + 2, v & 0xffff);
  }

  setIpId(id: number): void {
    this.set16(this.ipOff + 4, id & 0xffff);
  }

  setTag(flow: number, seq: number): void {
    this.set16(this.payOff, TAG_MAGIC);
    this.set16(this.payOff + 2, flow & 0xffff);
    this.set32(this.payOff + 4, seq >>> 0);
  }

  setTcp(seq: number, ack: number, flags: number): void {
    this.set32(this.l4Off + 4, seq >>> 0);
    this.set32(this.l4Off + 8, ack >>> 0);
    const w = get16(this.buf, this.l4Off + 12);
    this.set16(this.l4Off + 12, (w & 0xff00) | (flags & 0xff));
  }

  copyTo(out: Uint8Array): number {
    out.set(this.view);
    return this.len;
  }
}

/** Fields of the last frame `parse` looked at (one shared record: no allocation per frame). */
export const P = {
  ok: false,
  proto: 0,
  srcIp: 0,
  dstIp: 0,
  srcPort: 0,
  dstPort: 0,
  payOff: 0,
  payLen: 0,
  tcpSeq: 0,
  tcpAck: 0,
  tcpFlags: 0,
  tagged: false,
  tagFlow: 0,
  tagSeq: 0,
  /** The IPv4 header's identification field (a replayed capture's frames carry their birth sequence there). */
  ipId: 0,
  /** An IPv4 fragment (more fragments, or an offset): its ID ties it to the other fragments. */
  fragment: false,
  /** SACK blocks of a TCP segment (32-bit edges). */
  sack: newSackBlocks(),
};

/** The SACK option among the TCP options in b[from, to) into P.sack (n = 0 when none or malformed). */
function readSack(b: Uint8Array, from: number, to: number): void {
  const sk = P.sack;
  sk.n = 0;
  let o = from;
  while (o < to) {
    const kind = b[o]!;
    if (kind === 0) return; // end of options
    if (kind === 1) {
      o++;
      continue;
    }
    if (o + 1 >= to) return;
    const len = b[o + 1]!;
    if (len < 2 || o + len > to) return;
    if (kind === 5 && (len - 2) % 8 === 0) {
      const n = Math.min((len - 2) / 8, sk.left.length);
      for (let i = 0; i < n; i++) {
        const q = o + 2 + 8 * i;
        sk.left[i] = ((b[q]! << 24) | (b[q + 1]! << 16) | (b[q + 2]! << 8) | b[q + 3]!) >>> 0;
        sk.right[i] = ((b[q + 4]! << 24) | (b[q + 5]! << 16) | (b[q + 6]! << 8) | b[q + 7]!) >>> 0;
      }
      sk.n = n;
      return;
    }
    o += len;
  }
}

/** Parse an Ethernet/IPv4/UDP-or-TCP frame into `P`; P.ok false for anything else. */
export function parse(b: Uint8Array, len: number): boolean {
  P.ok = false;
  P.tagged = false;
  if (len < 34) return false;
  let o = 12;
  let et = get16(b, o);
  if (et === ETH_P_8021Q) {
    o += 4;
    et = get16(b, o);
  }
  if (et !== ETH_P_IP) return false;
  const ip = o + 2;
  if ((b[ip]! >>> 4) !== 4) return false;
  const ihl = (b[ip]! & 0x0f) * 4;
  const total = get16(b, ip + 2);
  const proto = b[ip + 9]!;
  const l4 = ip + ihl;
  if (ip + total > len || total < ihl) return false;
  P.proto = proto;
  P.ipId = get16(b, ip + 4);
  P.fragment = (get16(b, ip + 6) & 0x3fff) !== 0;
  P.srcIp = ((b[ip + 12]! << 24) | (b[ip + 13]! << 16) | (b[ip + 14]! << 8) | b[ip + 15]!) >>> 0;
  P.dstIp = ((b[ip + 16]! << 24) | (b[ip + 17]! << 16) | (b[ip + 18]! << 8) | b[ip + 19]!) >>> 0;
  if (proto === IPPROTO_UDP) {
    if (total < ihl + 8) return false;
    P.payOff = l4 + 8;
    P.tcpFlags = 0;
  } else if (proto === IPPROTO_TCP) {
    if (total < ihl + 20) return false;
    P.payOff = l4 + (b[l4 + 12]! >>> 4) * 4;
    P.tcpSeq = ((b[l4 + 4]! << 24) | (b[l4 + 5]! << 16) | (b[l4 + 6]! << 8) | b[l4 + 7]!) >>> 0;
    P.tcpAck = ((b[l4 + 8]! << 24) | (b[l4 + 9]! << 16) | (b[l4 + 10]! << 8) | b[l4 + 11]!) >>> 0;
    P.tcpFlags = b[l4 + 13]!;
    readSack(b, l4 + 20, P.payOff);
  } else return false;
  P.srcPort = get16(b, l4);
  P.dstPort = get16(b, l4 + 2);
  P.payLen = ip + total - P.payOff;
  if (P.payLen >= TAG_BYTES && get16(b, P.payOff) === TAG_MAGIC) {
    P.tagged = true;
    P.tagFlow = get16(b, P.payOff + 2);
    P.tagSeq = ((b[P.payOff + 4]! << 24) | (b[P.payOff + 5]! << 16) | (b[P.payOff + 6]! << 8) | b[P.payOff + 7]!) >>> 0;
  }
  P.ok = true;
  return true;
}

/** Creation times of tagged frames, per flow, indexed by the tag's sequence number. */
export class BornTable {
  private static readonly DEPTH = 1 << 14;
  private readonly t: Float64Array[] = [];
  private readonly next: number[] = [];

  /** A new flow id. */
  flow(): number {
    this.t.push(new Float64Array(BornTable.DEPTH).fill(-1));
    this.next.push(0);
    return this.t.length - 1;
  }

  /** Stamp `tpl` with the next tag of `flow`, born at `now`; returns the tag's sequence number. */
  stamp(tpl: Template, flow: number, now: number): number {
    const seq = this.mark(flow, now);
    tpl.setTag(flow, seq);
    return seq;
  }

  /**
   * Record the next frame of `flow` as born at `now` and return its sequence number, for a frame
   * that carries the number elsewhere than in a tag (a replayed capture: in its IPv4 ID, whose 16
   * bits index the table alike since DEPTH divides 2^16).
   */
  mark(flow: number, now: number): number {
    const seq = this.next[flow]!;
    this.next[flow] = (seq + 1) >>> 0;
    this.t[flow]![seq & (BornTable.DEPTH - 1)] = now;
    return seq;
  }

  /** Record an explicit birth time for (flow, seq) (a response carrying its request's tag). */
  bornOf(flow: number, seq: number): number {
    const a = this.t[flow];
    return a === undefined ? -1 : a[seq & (BornTable.DEPTH - 1)]!;
  }
}

const putMac = (b: Uint8Array, o: number, m: number): void => {
  const hi = Math.floor(m / 2 ** 32);
  b[o] = (hi >>> 8) & 0xff;
  b[o + 1] = hi & 0xff;
  b[o + 2] = (m >>> 24) & 0xff;
  b[o + 3] = (m >>> 16) & 0xff;
  b[o + 4] = (m >>> 8) & 0xff;
  b[o + 5] = m & 0xff;
};

/**
 * Set the IPv4 identification of a frame `parse` accepted (P describes it), fixing the header
 * checksum incrementally (the ID is not in the UDP/TCP pseudo-header).
 */
export function setIpv4Id(b: Uint8Array, id: number): void {
  const ipOff = get16(b, 12) === ETH_P_8021Q ? 18 : 14;
  const old = get16(b, ipOff + 4);
  const nw = id & 0xffff;
  if (old === nw) return;
  put16(b, ipOff + 4, nw);
  put16(b, ipOff + 10, csumReplace16(get16(b, ipOff + 10), old, nw));
}

/**
 * Readdress an IPv4 frame in place: source or destination MAC and IP, with the IPv4 header checksum
 * and the UDP/TCP checksum (which covers the addresses through the pseudo-header) fixed
 * incrementally. Returns false (frame untouched) for anything but IPv4 UDP/TCP.
 */
export function readdress(b: Uint8Array, len: number, which: "src" | "dst", mac: number, ip: number): boolean {
  if (!parse(b, len)) return false;
  putMac(b, which === "dst" ? 0 : 6, mac);
  const ipOff = get16(b, 12) === ETH_P_8021Q ? 18 : 14;
  const at = ipOff + (which === "dst" ? 16 : 12);
  const l4 = ipOff + (b[ipOff]! & 0x0f) * 4;
  const l4c = l4 + (P.proto === IPPROTO_UDP ? 6 : 16);
  for (let w = 0; w < 2; w++) {
    const o = at + 2 * w;
    const old = get16(b, o);
    const nw = w === 0 ? (ip >>> 16) & 0xffff : ip & 0xffff;
    if (old === nw) continue;
    put16(b, o, nw);
    put16(b, ipOff + 10, csumReplace16(get16(b, ipOff + 10), old, nw));
    const ck = get16(b, l4c);
    if (P.proto === IPPROTO_UDP && ck === 0) continue;
    let n = csumReplace16(ck, old, nw);
    if (P.proto === IPPROTO_UDP && n === 0) n = 0xffff;
    put16(b, l4c, n);
  }
  return true;
}

// ── TCP segmentation offload ──────────────────────────────────────────────────────────────────────

/** Largest frame a TSO super-frame can be: Ethernet header, an 802.1Q tag, and an IPv4 datagram of 64 KiB. */
export const TSO_MAX_FRAME = 14 + 4 + 0xffff;
const IP_CSUM = 10;
const TCP_CSUM = 16;

/** The Internet checksum of b[from, to) with `sum` (a pseudo-header's) added. */
const csumOf = (b: Uint8Array, from: number, to: number, sum: number): number => foldChecksum(onesComplementSum(b, from, to - from, sum));

/** The pseudo-header sum (RFC 793: source, destination, protocol, TCP length) of the frame's IPv4 header, unfolded. */
function pseudoSum(b: Uint8Array, ip: number, tcpLen: number): number {
  return onesComplementSum(b, ip + 12, 8, IPPROTO_TCP + tcpLen);
}

/**
 * Make an IPv4/TCP frame of `len` bytes (header of its first segment, then the payload of all of
 * them) a TSO super-frame as the stack hands it to a device with TSO: IPv4 total length and header
 * checksum for the whole, and the TCP checksum left as CHECKSUM_PARTIAL leaves it (the
 * pseudo-header's sum, for the device to complete per segment). False when the frame is not
 * IPv4/TCP or longer than an IPv4 datagram.
 */
export function finishTsoFrame(b: Uint8Array, len: number): boolean {
  if (!tcpLayout(b, len)) return false;
  const ip = TcpLayout.ipOff;
  if (len - ip > 0xffff) return false;
  put16(b, ip + 2, len - ip);
  put16(b, ip + IP_CSUM, 0);
  put16(b, ip + IP_CSUM, csumOf(b, ip, TcpLayout.l4Off, 0));
  put16(b, TcpLayout.l4Off + TCP_CSUM, ~foldChecksum(pseudoSum(b, ip, len - TcpLayout.l4Off)) & 0xffff);
  return true;
}

/** Segments a TSO super-frame of `len` bytes cuts into at `mss` payload bytes each (0 when it is not IPv4/TCP). */
export function tsoSegmentCount(b: Uint8Array, len: number, mss: number): number {
  if (mss <= 0 || !tcpLayout(b, len)) return 0;
  return tsoSegments(len, TcpLayout.payOff, mss);
}

/**
 * Segment `k` of the TSO super-frame src[0, len) cut at `mss` payload bytes (tcp_gso_segment, as a
 * NIC's TSO or the kernel's GSO fallback does it: src/nic/tso.ts), written to `out`; returns its
 * length (0 when the frame is not IPv4/TCP or k is past its last segment).
 */
export function tsoSegment(src: Uint8Array, len: number, mss: number, k: number, out: Uint8Array): number {
  if (tsoSegmentCount(src, len, mss) === 0) return 0;
  return tsoSegmentInto(src, 0, len, TcpLayout.ipOff, TcpLayout.l4Off, TcpLayout.payOff, true, mss, k, out, 0);
}
