/**
 * TCP segmentation (TSO) as the igb family does it, for the NIC's advanced TX descriptors and for
 * the host's software GSO alike. The rules are the 8257x/82598 datasheets' (the 82576's own text was
 * not available): the packet's headers (MAC + IP + TCP, `hdrLen` bytes) are replicated in front of
 * every segment of at most `mss` payload bytes; per segment the IPv4 total length (IPv6: payload
 * length) is the segment's own, the IPv4 ID is the first segment's + k (16-bit wrap) with the header
 * checksum recomputed, the TCP sequence number advances by the payload sent before, FIN and PSH stay
 * on the last segment only, CWR on the first only, and the TCP checksum is computed over the
 * segment's pseudo-header, TCP header and payload. The checksums are computed from scratch, as QEMU's
 * igb does, so they do not depend on what the driver left in the check fields (for Linux's partial
 * sums the hardware's seeded sum gives the same values).
 */
import { foldChecksum, onesComplementSum } from "./checksum.js";

const IPPROTO_TCP = 6;
const F_FIN = 0x01;
const F_PSH = 0x08;
const F_CWR = 0x80;

/** Where an Ethernet/IPv4/TCP frame's headers are (tcpLayout): IP header, TCP header and payload offsets; ok false otherwise. */
export const TcpLayout = { ok: false, ipOff: 0, l4Off: 0, payOff: 0 };

/**
 * Find the headers of the IPv4/TCP frame b[0, len) (untagged or one 802.1Q tag) into TcpLayout;
 * false when it is not one or its headers run past its end.
 */
export function tcpLayout(b: Uint8Array, len: number): boolean {
  TcpLayout.ok = false;
  if (len < 14 + 20 + 20) return false;
  const ip = get16(b, 12) === 0x8100 ? 18 : 14;
  if (get16(b, ip - 2) !== 0x0800 || b[ip]! >>> 4 !== 4 || b[ip + 9] !== IPPROTO_TCP) return false;
  const ihl = (b[ip]! & 0x0f) * 4;
  const l4 = ip + ihl;
  if (ihl < 20 || l4 + 20 > len) return false;
  const doff = (b[l4 + 12]! >>> 4) * 4;
  const pay = l4 + doff;
  if (doff < 20 || pay > len) return false;
  TcpLayout.ipOff = ip;
  TcpLayout.l4Off = l4;
  TcpLayout.payOff = pay;
  TcpLayout.ok = true;
  return true;
}

/** Segments a TSO packet of `len` bytes with `hdrLen` bytes of headers cuts into at `mss` (at least 1). */
export function tsoSegments(len: number, hdrLen: number, mss: number): number {
  return Math.max(1, Math.ceil((len - hdrLen) / mss));
}

/**
 * Segment k of the TSO packet src[start, start + len): IP header at start + ipOff (IPv4 when `ipv4`,
 * else IPv6), TCP header at start + l4Off, payload from start + hdrLen. Written to out[outOff..];
 * returns its length (0 when k is out of range or `out` lacks room).
 */
export function tsoSegmentInto(src: Uint8Array, start: number, len: number, ipOff: number, l4Off: number, hdrLen: number, ipv4: boolean, mss: number, k: number, out: Uint8Array, outOff: number): number {
  const n = tsoSegments(len, hdrLen, mss);
  if (k < 0 || k >= n || mss <= 0) return 0;
  const from = start + hdrLen + k * mss;
  const pay = Math.min(mss, start + len - from);
  const segLen = hdrLen + pay;
  if (outOff + segLen > out.length || pay < 0) return 0;
  out.set(src.subarray(start, start + hdrLen), outOff);
  out.set(src.subarray(from, from + pay), outOff + hdrLen);
  const ip = outOff + ipOff;
  const l4 = outOff + l4Off;
  const tcpLen = segLen - l4Off;
  let pseudo: number;
  if (ipv4) {
    put16(out, ip + 2, segLen - ipOff);
    put16(out, ip + 4, (get16(src, start + ipOff + 4) + k) & 0xffff);
    put16(out, ip + 10, 0);
    put16(out, ip + 10, foldChecksum(onesComplementSum(out, ip, l4Off - ipOff)));
    pseudo = onesComplementSum(out, ip + 12, 8, IPPROTO_TCP + tcpLen);
  } else {
    put16(out, ip + 4, segLen - ipOff - 40);
    pseudo = onesComplementSum(out, ip + 8, 32, IPPROTO_TCP + tcpLen);
  }
  const seq = (get32(src, start + l4Off + 4) + k * mss) >>> 0;
  out[l4 + 4] = seq >>> 24;
  out[l4 + 5] = (seq >>> 16) & 0xff;
  out[l4 + 6] = (seq >>> 8) & 0xff;
  out[l4 + 7] = seq & 0xff;
  let flags = src[start + l4Off + 13]!;
  if (k < n - 1) flags &= ~(F_FIN | F_PSH);
  if (k > 0) flags &= ~F_CWR;
  out[l4 + 13] = flags;
  put16(out, l4 + 16, 0);
  put16(out, l4 + 16, foldChecksum(onesComplementSum(out, l4, tcpLen, pseudo)));
  return segLen;
}

const get16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const get32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const put16 = (b: Uint8Array, o: number, v: number): void => {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
};
