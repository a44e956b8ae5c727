/**
 * The host's GRO on one PF NAPI context (napi_gro_receive → inet_gro_receive → tcp_gro_receive),
 * for frames the bridge will hand to guests whose devices take GSO packets (virtio with TSO
 * negotiated: GUEST_TSO4 and mergeable RX buffers). Up to MAX_GRO_SKBS flows are held at once;
 * a TCP data segment joins its flow's aggregate when it continues it exactly — the next sequence
 * number, the next IPv4 ID, the same ACK number, headers and TCP options, a payload no longer
 * than the first segment's, and the IPv4 length staying within 64 KiB. A segment shorter than the
 * first, or with PSH, joins and flushes it; anything else of the flow (a pure ACK, other flags, a
 * gap) flushes it and goes on alone. A new flow when every slot is taken flushes the oldest. What
 * is held is flushed at the poll's end (napi_complete's napi_gro_flush).
 *
 * The aggregate is the first segment's frame followed by every segment's payload; `flush` hands it
 * over with its segment count and size, and the receiver can cut it back into the segments as they
 * arrived (tsoSegment), byte for byte.
 */
import { P, TSO_MAX_FRAME } from "../../traffic/packets.js";

/** Linux's MAX_GRO_SKBS: flows one NAPI context holds at once. */
const MAX_GRO_SKBS = 8;
const IPPROTO_TCP = 6;
const F_ACK = 0x10;
const F_PSH = 0x08;

export class HostGro {
  private readonly bufs: Uint8Array[] = [];
  private readonly len = new Int32Array(MAX_GRO_SKBS);
  private readonly segs = new Int32Array(MAX_GRO_SKBS);
  private readonly mss = new Int32Array(MAX_GRO_SKBS);
  private readonly port = new Int32Array(MAX_GRO_SKBS);
  private readonly hdr = new Int32Array(MAX_GRO_SKBS);
  private readonly l4 = new Int32Array(MAX_GRO_SKBS);
  private readonly nextId = new Int32Array(MAX_GRO_SKBS);
  private readonly nextSeq = new Float64Array(MAX_GRO_SKBS);
  private readonly ack = new Float64Array(MAX_GRO_SKBS);
  private readonly srcIp = new Float64Array(MAX_GRO_SKBS);
  private readonly dstIp = new Float64Array(MAX_GRO_SKBS);
  private readonly ports = new Float64Array(MAX_GRO_SKBS);
  /** Slots holding an aggregate, oldest first. */
  private readonly order = new Int32Array(MAX_GRO_SKBS);
  private held = 0;
  /** Aggregates of two or more segments flushed, and the segments in them. */
  aggregates = 0;
  segments = 0;

  constructor(
    /** Hands over slot buffer `buf[0, len)`: `segs` segments of `mss` payload bytes (a plain frame when 1). */
    private readonly flushTo: (buf: Uint8Array, len: number, segs: number, mss: number, port: number) => void,
  ) {
    for (let i = 0; i < MAX_GRO_SKBS; i++) this.bufs.push(new Uint8Array(0));
  }

  /**
   * A frame from the wire for guest port `port`, parsed (packets.parse) into P. Returns true when GRO
   * took it (held, or merged and perhaps flushed); false when the caller forwards it itself, after
   * anything held of its flow has been flushed ahead of it.
   */
  receive(buf: Uint8Array, len: number, port: number): boolean {
    const tcp = P.ok && P.proto === IPPROTO_TCP && !P.fragment;
    const mergeable = tcp && P.payLen > 0 && (P.tcpFlags & ~(F_ACK | F_PSH)) === 0;
    if (!tcp) return false;
    const ip = ((buf[12]! << 8) | buf[13]!) === 0x8100 ? 18 : 14;
    const l4 = ip + (buf[ip]! & 0x0f) * 4;
    const portPair = P.srcPort * 0x10000 + P.dstPort;
    let at = -1;
    for (let k = 0; k < this.held; k++) {
      const s = this.order[k]!;
      if (this.port[s] === port && this.srcIp[s] === P.srcIp && this.dstIp[s] === P.dstIp && this.ports[s] === portPair) {
        at = k;
        break;
      }
    }
    if (at >= 0) {
      const s = this.order[at]!;
      if (mergeable && this.continues(s, buf, l4)) {
        const b = this.bufs[s]!;
        b.set(buf.subarray(P.payOff, P.payOff + P.payLen), this.len[s]!);
        this.len[s]! += P.payLen;
        this.segs[s]!++;
        this.nextSeq[s] = (P.tcpSeq + P.payLen) % 2 ** 32;
        this.nextId[s] = (P.ipId + 1) & 0xffff;
        if ((P.tcpFlags & F_PSH) !== 0) b[this.l4[s]! + 13] = b[this.l4[s]! + 13]! | F_PSH;
        if ((P.tcpFlags & F_PSH) !== 0 || P.payLen < this.mss[s]!) this.flushAt(at);
        return true;
      }
      this.flushAt(at);
    }
    if (!mergeable) return false;
    if (this.held === MAX_GRO_SKBS) this.flushAt(0);
    const s = this.freeSlot();
    if (this.bufs[s]!.length === 0) this.bufs[s] = new Uint8Array(TSO_MAX_FRAME); // once per slot
    this.bufs[s]!.set(buf.subarray(0, len), 0);
    this.len[s] = len;
    this.segs[s] = 1;
    this.mss[s] = P.payLen;
    this.port[s] = port;
    this.hdr[s] = P.payOff;
    this.l4[s] = l4;
    this.nextSeq[s] = (P.tcpSeq + P.payLen) % 2 ** 32;
    this.nextId[s] = (P.ipId + 1) & 0xffff;
    this.ack[s] = P.tcpAck;
    this.srcIp[s] = P.srcIp;
    this.dstIp[s] = P.dstIp;
    this.ports[s] = portPair;
    this.order[this.held++] = s;
    if ((P.tcpFlags & F_PSH) !== 0) this.flushAt(this.held - 1);
    return true;
  }

  /** Flush every held aggregate, oldest first (the poll's end). */
  flushAll(): void {
    while (this.held > 0) this.flushAt(0);
  }

  /** Whether the parsed segment in `buf` (TCP header at `l4`) continues slot s's aggregate exactly. */
  private continues(s: number, buf: Uint8Array, l4: number): boolean {
    if (P.tcpSeq !== this.nextSeq[s] || P.ipId !== this.nextId[s] || P.tcpAck !== this.ack[s] || P.payOff !== this.hdr[s] || l4 !== this.l4[s]) return false;
    if (P.payLen > this.mss[s]! || this.len[s]! - 14 + P.payLen > 0xffff) return false;
    const b = this.bufs[s]!;
    for (let i = l4 + 20; i < P.payOff; i++) if (b[i] !== buf[i]) return false; // TCP options
    return true;
  }

  private freeSlot(): number {
    for (let s = 0; s < MAX_GRO_SKBS; s++) {
      let used = false;
      for (let k = 0; k < this.held; k++) if (this.order[k] === s) used = true;
      if (!used) return s;
    }
    return 0;
  }

  private flushAt(k: number): void {
    const s = this.order[k]!;
    for (let j = k; j + 1 < this.held; j++) this.order[j] = this.order[j + 1]!;
    this.held--;
    if (this.segs[s]! > 1) {
      this.aggregates++;
      this.segments += this.segs[s]!;
    }
    this.flushTo(this.bufs[s]!, this.len[s]!, this.segs[s]!, this.mss[s]!, this.port[s]!);
  }
}
