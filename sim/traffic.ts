/**
 * Traffic of a run: the applications in the guests (`VmApp`, driven by each guest's kernel) and the
 * machine on the other side of the wire (`WorldPeer`, an ideal host: it reacts at once and costs no
 * CPU). Frames are real bytes built from per-flow templates (sim/pcap/frames.ts builders) and
 * patched in place; nothing is allocated per packet.
 *
 * Kinds: fixed-size UDP frames, bulk TCP-like streams (traffic/tcp.ts), UDP request/response, and a
 * pcap file replayed. Directions: tx (guests → wire), rx (wire → guests), g2g (guest i → guest i+1
 * mod n, on the same host). Every frame a source creates is offered to the ledger; every frame that
 * reaches an application or the peer is delivered; drops are counted where they happen.
 * Sources stop creating new data at `stopAt`; ACKs and responses to earlier frames still flow.
 */
import { IovError } from "../src/errors.js";
import type { Engine, HandlerId } from "./engine/engine.js";
import type { Ledger } from "./model/ledger.js";
import type { WindowStats } from "./model/window.js";
import type { GuestApp } from "./model/guest-kernel.js";
import type { WirePeer } from "./model/platform.js";
import type { FramePool } from "./model/frames.js";
import { readCaptureFile } from "./pcap/reader.js";
import { readWithNodePcapSync } from "./pcap/libpcap.js";
import { IPPROTO_TCP, IPPROTO_UDP, TCP_FLAG } from "./pcap/frames.js";
import { tcpMss } from "./wire.js";
import { BornTable, P as PARSED, PEER_IP, PEER_MAC, TSO_MAX_FRAME, Template, finishTsoFrame, parse as parseFrame, readdress, setIpv4Id, tsoSegment, tsoSegmentCount, vmIp, vmMac, vmOfIp } from "./traffic/packets.js";
import { TICK_DIVISOR, TcpReceiver, TcpSender, delAckFor, maxSackBlocks, newSackBlocks, type TcpParams } from "./traffic/tcp.js";

/*
 * Data-path bindings kept module-local: under the TypeScript runners (tsx/esbuild, vite) an imported
 * binding can compile to an accessor call per use.
 */
const P = PARSED;
const parse = parseFrame;
const PROTO_TCP = IPPROTO_TCP;
const PROTO_UDP = IPPROTO_UDP;
const F_ACK = TCP_FLAG.ACK;
const F_PSH = TCP_FLAG.PSH;

export type TrafficKind = "udp" | "tcp" | "rr" | "pcap";
export const TRAFFIC_KINDS: readonly TrafficKind[] = ["udp", "tcp", "rr", "pcap"];
export type Direction = "tx" | "rx" | "g2g";
export const DIRECTIONS: readonly Direction[] = ["tx", "rx", "g2g"];

export interface TrafficSpec {
  readonly kind: TrafficKind;
  readonly direction: Direction;
  /** UDP: Ethernet frame size including the 4-byte FCS (64..9018). */
  readonly frameBytes: number;
  /**
   * Offered rate per VM in Mb/s of frames; 0 = as fast as possible (guests: until the TX ring is full;
   * peer: line rate). A pcap source replays at the capture's own timing with 0, and at this rate
   * (frames back to back, preamble and gap counted, as tcpreplay --mbps) otherwise.
   */
  readonly rateMbps: number;
  /** IP MTU for TCP (MSS = MTU − 40, − 12 more with timestamps). */
  readonly mtu: number;
  readonly timestamps: boolean;
  /** TCP receive window (bytes), the cap of cwnd. */
  readonly windowBytes: number;
  readonly ackEvery: number;
  /** TCP retransmission-timeout floor (rto_min), µs. */
  readonly rtoUs: number;
  /** TCP selective acknowledgments (RFC 2018): on by default, as in Linux; off leaves NewReno recovery. */
  readonly sack: boolean;
  /** Request/response: UDP payload bytes of each. */
  readonly reqBytes: number;
  readonly respBytes: number;
  /** UDP: flows per VM (source ports cycled per frame), so that multi-queue devices can spread them. */
  readonly flows: number;
  /** pcap source (kind pcap). */
  readonly pcapFile?: string | undefined;
  /**
   * What reads the pcap source: `libpcap`, the npm package pcap (node_pcap; libpcap gives
   * microsecond timestamps, so replay times are whole µs), or `pciov`, this repository's reader
   * (sim/pcap/reader.ts: pcap and pcapng, nanosecond timestamps kept).
   */
  readonly pcapReader: PcapReaderName;
}

export type PcapReaderName = "libpcap" | "pciov";
export const PCAP_READERS: readonly PcapReaderName[] = ["libpcap", "pciov"];

export const DEFAULT_TRAFFIC: TrafficSpec = {
  kind: "tcp",
  direction: "rx",
  frameBytes: 1518,
  rateMbps: 0,
  mtu: 1500,
  timestamps: true,
  windowBytes: 512 * 1024,
  ackEvery: 2,
  rtoUs: 10000,
  sack: true,
  reqBytes: 64,
  respBytes: 64,
  flows: 1,
  pcapReader: "libpcap",
};

/**
 * The peer's TCP senders keep at most this much wire time queued on their NIC (like Linux's TCP
 * small queues and byte queue limits): beyond it they wait, they do not drop.
 */
const PEER_TX_BACKLOG_NS = 100_000;

/** Ports of the flows: data/request to DATA_PORT; flow i's source port is BASE_PORT + i. */
const DATA_PORT = 5001;
const BASE_PORT = 10000;
/** Source ports of the peer's UDP flows when a VM gets several (traffic.flows > 1). */
const FLOW_PORT_BASE = 40000;
const FCS = 4;
/** Time between frames of `frameLen` bytes (no FCS) sent back to back at `rateMbps`: FCS, preamble, SFD and gap counted. */
const frameIntervalNs = (frameLen: number, rateMbps: number): number => ((frameLen + FCS + 20) * 8 * 1000) / rateMbps;

/** What the traffic needs from the run. */
export interface TrafficEnv {
  readonly engine: Engine;
  readonly ledger: Ledger;
  readonly window: WindowStats;
  readonly born: BornTable;
  readonly vms: number;
  readonly stopAt: number;
  readonly stackTxNs: number;
  readonly stackRxNs: number;
  readonly pureAckNs: number;
  readonly copyNsPerByte: number;
  /**
   * The guests' GRO (host.guestGro): a NAPI poll merges a TCP stream's consecutive segments into one
   * aggregate that crosses the stack once (`groNs` per merged segment, the stack's per-packet work
   * once per aggregate); off: every segment crosses the stack.
   */
  readonly gro: boolean;
  readonly groNs: number;
  /**
   * The guests' GSO without TSO (host.guestGso): a TCP sender's stack builds a super-segment of up
   * to 64 KiB once (stackTxNs) and it is cut into MSS frames just before the driver (`gsoNs` a
   * frame), all of them sent in one step with one doorbell (xmit_more); off: every segment crosses
   * the stack on its own.
   */
  readonly gso: boolean;
  readonly gsoNs: number;
  /**
   * The guests' device takes TSO super-frames (sriov.tso, virtio.tso, xen.gso) of at most this many bytes (0: no TSO):
   * a TCP sender's stack builds a super-frame once (stackTxNs, the payload's copy) and hands it to
   * the driver whole, to be cut into MSS segments beyond the guest (`lastGsoSize`); 0: as `gso` says.
   */
  readonly tsoMaxFrame: number;
  /** Destination MAC the peer uses for frames to VM i (its own MAC, or the host's as next hop). */
  readonly wireDstMac: (vm: number) => number;
  /** Put the frame built in pool slot `slot` on the wire towards the host now. */
  readonly toHost: (slot: number) => void;
  /** When the wire towards the host is free. */
  readonly wireInFreeAt: () => number;
  readonly pool: FramePool;
  /** Wake VM i's kernel (its application has something to send). */
  readonly kickVm: (vm: number) => void;
}

/** Largest frame (no FCS) the traffic can create. */
export function maxFrameOf(s: TrafficSpec): number {
  switch (s.kind) {
    case "udp":
      return s.frameBytes - FCS;
    case "tcp":
      return s.mtu + 14;
    case "rr":
      return Math.max(60, 42 + Math.max(s.reqBytes, s.respBytes));
    case "pcap":
      return 9728; // the NIC's largest frame; runOnce uses the file's longest frame instead
  }
}

export function checkTraffic(s: TrafficSpec, vms: number): void {
  if (s.kind === "udp" && (!Number.isInteger(s.frameBytes) || s.frameBytes < 64 || s.frameBytes > 9018))
    throw new IovError("ERANGE", `UDP frame size ${s.frameBytes} B outside 64..9018`, { frameBytes: s.frameBytes });
  if (s.direction === "g2g" && vms < 2) throw new IovError("EINVAL", "guest-to-guest traffic needs at least 2 VMs", { vms });
  if (s.kind === "pcap" && (s.pcapFile === undefined || s.pcapFile === "")) throw new IovError("EINVAL", "pcap traffic needs a pcap file");
  if (s.kind === "pcap" && s.direction === "g2g") throw new IovError("EINVAL", "a pcap file can be replayed from the wire (rx) or by the guests (tx), not g2g");
  if (s.kind === "tcp") tcpMss({ mtu: s.mtu, timestamps: s.timestamps });
  if (!Number.isInteger(s.flows) || s.flows < 1 || s.flows > 1024) throw new IovError("ERANGE", `flows ${s.flows} outside 1..1024`, { flows: s.flows });
  if (s.kind === "rr" && (s.reqBytes < 8 || s.respBytes < 8 || s.reqBytes > 8972 || s.respBytes > 8972))
    throw new IovError("ERANGE", "request/response sizes must be 8..8972 B", { reqBytes: s.reqBytes, respBytes: s.respBytes });
}

interface SourcePacket {
  readonly tsNs: bigint;
  readonly capturedLength: number;
  readonly data: Uint8Array;
}

/** The packets of a capture file, by the reader asked for; Ethernet only. */
function readSource(path: string, reader: PcapReaderName): readonly SourcePacket[] {
  if (reader === "pciov") {
    try {
      return readCaptureFile(path).packets;
    } catch (e) {
      // a missing or malformed file is the user's input: say which file, exit as a usage error
      const code = e instanceof IovError ? e.code : (e as NodeJS.ErrnoException).code;
      const msg = (e as Error).message.replace(/^[A-Z]+: /, "");
      throw new IovError(code === "ENOENT" ? "ENOENT" : "EINVAL", msg.includes(path) ? msg : `${path}: ${msg}`, { path, input: true });
    }
  }
  const pk = readWithNodePcapSync(path);
  const bad = pk.find((p) => p.linkType !== "LINKTYPE_ETHERNET");
  if (bad !== undefined) throw new IovError("EINVAL", `${path}: link type ${bad.linkType}, not Ethernet`, { path, input: true });
  return pk.map((p) => ({ tsNs: BigInt(p.tsSec) * 1_000_000_000n + BigInt(p.tsUsec) * 1000n, capturedLength: p.capturedLength, data: p.data }));
}

/** Frames of a pcap file, preloaded into one arena with their relative times. */
export class PcapFrames {
  readonly data: Uint8Array;
  readonly off: Int32Array;
  readonly len: Int32Array;
  readonly relNs: Float64Array;
  readonly count: number;
  readonly spanNs: number;
  /** Longest frame in the file. */
  readonly maxLen: number;
  /** Mean frame length in the file (no FCS). */
  readonly meanLen: number;

  constructor(path: string, reader: PcapReaderName = "libpcap") {
    const pk = readSource(path, reader).filter((p) => p.capturedLength >= 34 && p.capturedLength <= 9728 && parse(p.data, p.capturedLength));
    if (pk.length === 0) throw new IovError("EINVAL", `${path}: no IPv4 UDP/TCP frames of 34..9728 bytes to replay`, { path, input: true });
    let total = 0;
    for (const p of pk) total += p.capturedLength;
    this.data = new Uint8Array(total);
    this.off = new Int32Array(pk.length);
    this.len = new Int32Array(pk.length);
    this.relNs = new Float64Array(pk.length);
    const t0 = pk[0]!.tsNs;
    let o = 0;
    pk.forEach((p, i) => {
      this.data.set(p.data.subarray(0, p.capturedLength), o);
      this.off[i] = o;
      this.len[i] = p.capturedLength;
      this.relNs[i] = Math.max(0, Number(p.tsNs - t0));
      o += p.capturedLength;
    });
    this.count = pk.length;
    this.maxLen = pk.reduce((m, p) => Math.max(m, p.capturedLength), 0);
    this.meanLen = total / pk.length;
    const last = this.relNs[pk.length - 1]!;
    this.spanNs = last + (pk.length > 1 ? last / (pk.length - 1) : 1000);
  }
}

/**
 * When the data frame `P` describes was born (-1: not traced): a replayed capture's frame (pcapFlow
 * given: its VM's birth-table flow, -1 for none) by the sequence number in its IPv4 ID, unless it is
 * a fragment; any other frame by its tag.
 */
function bornOfData(born: BornTable, pcapFlow: number | undefined): number {
  if (pcapFlow !== undefined) return pcapFlow >= 0 && !P.fragment ? born.bornOf(pcapFlow, P.ipId) : -1;
  return P.tagged ? born.bornOf(P.tagFlow, P.tagSeq) : -1;
}

/** Rate-limited or as-fast-as-possible frame source state. */
class Pacer {
  nextAt = 0;
  constructor(readonly intervalNs: number) {}
  ready(now: number): boolean {
    return this.intervalNs === 0 || now >= this.nextAt;
  }
  sent(now: number): void {
    if (this.intervalNs > 0) this.nextAt = Math.max(this.nextAt, now - this.intervalNs) + this.intervalNs;
  }
}

/** A TCP receiver and its ACK frames (index: SACK blocks carried). */
interface TcpIn {
  readonly r: TcpReceiver;
  readonly acks: Template[];
}

const SACK = newSackBlocks();
/** The receiver's ACK now, as a frame: the template for its number of SACK blocks, filled in. */
function ackFrame(t: TcpIn, ipId: number): Template {
  const ackNo = t.r.takeAck(SACK);
  const tpl = t.acks[SACK.n]!;
  for (let i = 0; i < SACK.n; i++) tpl.setSack(i, SACK.left[i]!, SACK.right[i]!);
  tpl.setTcp(0, ackNo, F_ACK);
  tpl.setIpId(ipId);
  return tpl;
}

/** Largest GRO aggregate: its IP length (headers of the first segment and every payload) stays below 64 KiB. */
export const GRO_MAX_IP_LEN = 65536;
/** Largest GSO super-segment (IP length, as GSO_MAX_SIZE): 45 segments of MSS 1448. */
export const GSO_MAX_BYTES = 65536;
/** Segments an aggregate can hold (64 KiB of the smallest MSS, 536 B, is 123). */
const GRO_MAX_SEGS = 128;

/** One guest's application. */
export class VmApp implements GuestApp {
  lastCostNs = 0;
  /**
   * The GRO aggregate being built (guestGro): its segments' frame lengths, payloads and birth times,
   * delivered together when it is flushed; its first sequence number (32-bit), the next one it
   * takes, its payload bytes, its first segment's IP and TCP header bytes, and PSH seen.
   */
  private readonly groLen = new Int32Array(GRO_MAX_SEGS);
  private readonly groPay = new Int32Array(GRO_MAX_SEGS);
  private readonly groBorn = new Float64Array(GRO_MAX_SEGS);
  private groN = 0;
  private groSeq = 0;
  private groNext = 0;
  private groBytes = 0;
  private groHdr = 0;
  private groPsh = false;
  /** GRO aggregates flushed, and segments merged into them. */
  groFlushes = 0;
  groSegments = 0;
  /** TSO: the segment size of the super-frame just produced (0: a plain frame), and the segments in it (1 for a plain frame). */
  lastGsoSize = 0;
  private lastSegs = 1;
  /** TSO super-frames produced (two or more segments), and the segments in them. */
  tsoFrames = 0;
  tsoSegments = 0;
  /** GSO: segments left in the super-segment being sent (0: the next segment starts one). */
  private gsoLeft = 0;
  /** GSO super-segments started, and the segments sent from them. */
  gsoSupers = 0;
  gsoSegments = 0;
  // roles
  udp: { tpl: Template; flow: number; pace: Pacer; port: number; flows: number; k: number } | undefined;
  tcpOut: { s: TcpSender; tpl: Template; flow: number } | undefined;
  tcpIn: TcpIn | undefined;
  rrServer: { resp: Template; pending: number; qFlow: Int32Array; qSeq: Float64Array; head: number } | undefined;
  rrClient: { req: Template; flow: number; outstanding: boolean } | undefined;
  /**
   * A replayed capture: the next frame, the loops done, when the next frame may go, the rate asked
   * (0: the capture's timing), and the birth-table flow whose sequence numbers the frames carry in
   * their IPv4 ID (for their latency).
   */
  pcap: { frames: PcapFrames; next: number; startNs: number; loops: number; at: number; rateMbps: number; flow: number } | undefined;
  /** The birth-table flow of the replayed capture's frames the peer sends to this VM (undefined: no replay). */
  pcapRxFlow: number | undefined;
  private ipId = 0;
  /** Frames this application received and produced. */
  received = 0;
  produced = 0;

  private readonly dropRefused: number;

  constructor(
    readonly vm: number,
    private readonly env: TrafficEnv,
  ) {
    this.dropRefused = env.ledger.reason("guest:tx-refused");
  }

  refused(): void {
    this.env.ledger.drop(this.dropRefused, this.lastSegs);
  }

  private stopped(): boolean {
    return this.env.engine.now >= this.env.stopAt;
  }

  wantsSoftirqTx(): boolean {
    return this.tcpIn !== undefined && this.tcpIn.r.ackPending;
  }

  wantsTx(): boolean {
    if (this.tcpIn !== undefined && this.tcpIn.r.ackPending) return true;
    if (this.rrServer !== undefined && this.rrServer.pending > 0) return true;
    if (this.stopped()) return false;
    const now = this.env.engine.now;
    if (this.rrClient !== undefined && !this.rrClient.outstanding) return true;
    if (this.tcpOut !== undefined && this.tcpOut.s.canSend()) return true;
    if (this.udp !== undefined && this.udp.pace.ready(now)) return true;
    if (this.pcap !== undefined && this.pcap.at <= now) return true;
    return false;
  }

  private pcapTime(): number {
    const p = this.pcap!;
    return p.loops * p.frames.spanNs + p.frames.relNs[p.next]!;
  }

  produce(out: Uint8Array): number {
    const env = this.env;
    const now = env.engine.now;
    this.produced++;
    this.lastGsoSize = 0;
    this.lastSegs = 1;
    let len: number;
    if (this.tcpIn !== undefined && this.tcpIn.r.ackPending) {
      const a = this.tcpIn;
      len = ackFrame(a, this.ipId++).copyTo(out);
      this.lastCostNs = env.pureAckNs;
    } else if (this.rrServer !== undefined && this.rrServer.pending > 0) {
      const r = this.rrServer;
      r.resp.setTag(r.qFlow[r.head]!, r.qSeq[r.head]!);
      r.head = (r.head + 1) % r.qFlow.length;
      r.pending--;
      r.resp.setIpId(this.ipId++);
      len = r.resp.copyTo(out);
      this.lastCostNs = env.stackTxNs + r.resp.payLen * env.copyNsPerByte;
    } else if (this.rrClient !== undefined && !this.rrClient.outstanding) {
      const c = this.rrClient;
      env.born.stamp(c.req, c.flow, now);
      c.req.setIpId(this.ipId++);
      c.outstanding = true;
      len = c.req.copyTo(out);
      this.lastCostNs = env.stackTxNs + c.req.payLen * env.copyNsPerByte;
    } else if (this.tcpOut !== undefined && this.tcpOut.s.canSend() && env.tsoMaxFrame > 0) {
      return this.produceTso(out, now); // offers its segments itself
    } else if (this.tcpOut !== undefined && this.tcpOut.s.canSend()) {
      const t = this.tcpOut;
      const seq = t.s.send(now);
      const psh = t.s.fillsWindow;
      t.tpl.setTcp(seq % 2 ** 32, 0, F_ACK | (psh ? F_PSH : 0));
      env.born.stamp(t.tpl, t.flow, now);
      t.tpl.setIpId(this.ipId++);
      len = t.tpl.copyTo(out);
      if (env.gso) {
        // the stack's work once per super-segment; each segment cut from it and copied
        this.gsoSegments++;
        if (this.gsoLeft === 0) {
          this.gsoSupers++;
          this.gsoLeft = Math.max(1, Math.floor((GSO_MAX_BYTES - (len - 14 - t.tpl.payLen)) / t.tpl.payLen));
          this.lastCostNs = env.stackTxNs;
        } else this.lastCostNs = 0;
        this.gsoLeft--;
        this.lastCostNs += env.gsoNs + t.tpl.payLen * env.copyNsPerByte;
      } else this.lastCostNs = env.stackTxNs + t.tpl.payLen * env.copyNsPerByte;
    } else if (this.udp !== undefined) {
      const u = this.udp;
      u.pace.sent(now);
      if (u.flows > 1) {
        u.k = (u.k + 1) % u.flows;
        u.tpl.set16(u.tpl.l4Off, u.port + u.k);
      }
      env.born.stamp(u.tpl, u.flow, now);
      u.tpl.setIpId(this.ipId++);
      len = u.tpl.copyTo(out);
      this.lastCostNs = env.stackTxNs + u.tpl.payLen * env.copyNsPerByte;
      if (u.pace.intervalNs > 0) this.armPacer(u.pace.nextAt);
    } else {
      const p = this.pcap!;
      const f = p.frames;
      len = f.len[p.next]!;
      out.set(f.data.subarray(f.off[p.next]!, f.off[p.next]! + len));
      readdress(out, len, "src", vmMac(this.vm), vmIp(this.vm));
      readdress(out, len, "dst", PEER_MAC, PEER_IP);
      if (!P.fragment) setIpv4Id(out, env.born.mark(p.flow, now)); // a fragment keeps the ID that joins it to the others, untimed
      this.lastCostNs = env.stackTxNs + (P.ok ? P.payLen : len) * env.copyNsPerByte;
      p.next++;
      if (p.next === f.count) {
        p.next = 0;
        p.loops++;
      }
      if (p.rateMbps > 0) {
        const gap = frameIntervalNs(len, p.rateMbps);
        p.at = Math.max(p.at, now - gap) + gap;
      } else p.at = p.startNs + this.pcapTime();
      this.armPacer(p.at);
    }
    env.ledger.offer(len);
    return len;
  }

  /**
   * TSO: the stack's one pass over a super-frame (tcp_write_xmit with a TSO device): new data
   * segments while the window allows, up to 64 KiB of IP length, written as the first segment's
   * headers and every segment's payload (each segment's tag and sequence number as it would have
   * carried on its own), then the super-frame's headers finished (finishTsoFrame: PSH as its last
   * segment has it). A retransmission, or a segment that fills the window, ends it. Each segment is
   * offered to the ledger; one segment is a plain frame.
   */
  private produceTso(out: Uint8Array, now: number): number {
    const env = this.env;
    const t = this.tcpOut!;
    const s = t.s;
    const tpl = t.tpl;
    const pay = tpl.payLen;
    const hdr = tpl.payOff;
    // an IPv4 datagram's length, and what the device takes (gso_max_size)
    const maxSegs = Math.max(1, Math.floor((Math.min(0xffff - (hdr - 14), env.tsoMaxFrame - hdr)) / pay));
    let n = 0;
    let flags: number = F_ACK;
    for (;;) {
      const fresh = !s.inRecovery && s.nxt >= s.high;
      const seq = s.send(now);
      const psh = s.fillsWindow;
      flags = F_ACK | (psh ? F_PSH : 0);
      tpl.setTcp(seq % 2 ** 32, 0, flags);
      env.born.stamp(tpl, t.flow, now);
      tpl.setIpId(this.ipId++);
      if (n === 0) tpl.copyTo(out);
      else out.set(tpl.buf.subarray(hdr, hdr + pay), hdr + n * pay);
      env.ledger.offer(tpl.len);
      n++;
      if (!fresh || psh || n === maxSegs || s.inRecovery || s.nxt < s.high || !s.canSend()) break;
    }
    const len = hdr + n * pay;
    if (n > 1) {
      out[tpl.l4Off + 13] = flags;
      finishTsoFrame(out, len);
      this.lastGsoSize = pay;
      this.lastSegs = n;
      this.tsoFrames++;
      this.tsoSegments += n;
    }
    this.lastCostNs = env.stackTxNs + n * pay * env.copyNsPerByte;
    return len;
  }

  /** Timer to wake the kernel when the paced source is ready again. */
  armPacer: (atNs: number) => void = () => undefined;

  /** A frame the stack starts on at `atNs`; it reaches its sink when the stack's work on it is done. */
  consume(buf: Uint8Array, len: number, atNs: number, gsoSize = 0): void {
    if (gsoSize > 0) {
      this.consumeGso(buf, len, atNs, gsoSize);
      return;
    }
    const env = this.env;
    this.received++;
    env.ledger.deliver(len);
    if (!parse(buf, len)) {
      this.lastCostNs = env.stackRxNs;
      env.window.deliver(atNs + this.lastCostNs, len, 0, -1, this.vm);
      return;
    }
    const copy = P.payLen * env.copyNsPerByte;
    if (P.proto === PROTO_TCP) {
      if (P.payLen === 0) {
        // a pure ACK for our sender
        this.lastCostNs = env.pureAckNs;
        const at = atNs + this.lastCostNs;
        env.window.deliver(at, len, 0, -1, this.vm, true);
        if (this.tcpOut !== undefined && P.dstPort === BASE_PORT + this.vm) this.tcpOut.s.onAck(P.tcpAck, at, P.sack);
        return;
      }
      if (env.gro && this.tcpIn !== undefined) {
        this.lastCostNs = this.groReceive(len, copy, atNs);
        return;
      }
      this.lastCostNs = env.stackRxNs + copy;
      // goodput: the stream's bytes that arrived for the first time (a retransmission of held data adds none)
      const fresh = this.tcpIn !== undefined ? this.tcpIn.r.onData(P.tcpSeq, P.payLen, (P.tcpFlags & F_PSH) !== 0, atNs + this.lastCostNs) : P.payLen;
      env.window.deliver(atNs + this.lastCostNs, len, fresh, bornOfData(env.born, this.pcapRxFlow), this.vm);
      return;
    }
    this.lastCostNs = env.stackRxNs + copy;
    const at = atNs + this.lastCostNs;
    if (P.dstPort === DATA_PORT && this.rrServer !== undefined && P.tagged) {
      // a request: the response carries the request's tag, so its latency is the round trip
      const r = this.rrServer;
      const q = (r.head + r.pending) % r.qFlow.length;
      r.qFlow[q] = P.tagFlow;
      r.qSeq[q] = P.tagSeq;
      if (r.pending < r.qFlow.length) r.pending++;
      env.window.deliver(at, len, P.payLen, -1, this.vm);
      return;
    }
    if (this.rrClient !== undefined && P.srcPort === DATA_PORT && P.tagged && P.tagFlow === this.rrClient.flow) {
      env.window.deliver(at, len, P.payLen, env.born.bornOf(P.tagFlow, P.tagSeq), this.vm);
      this.rrClient.outstanding = false;
      return;
    }
    env.window.deliver(at, len, P.payLen, bornOfData(env.born, this.pcapRxFlow), this.vm);
  }

  /** GSO packets received (the host's GRO aggregates), and the segments in them. */
  rxGsoPackets = 0;
  rxGsoSegments = 0;
  /** One segment cut from a received GSO packet. */
  private segScratch: Uint8Array | undefined;

  /**
   * A GSO packet from the device (the host's GRO aggregate): it crosses the stack once as a GRO
   * aggregate does — what the guest's own GRO holds goes up first — with one ACK decision for its
   * segments, each delivered (ledger, window) with its own tag and its payload copied. A packet that
   * is not a TCP stream this VM receives goes up segment by segment.
   */
  private consumeGso(buf: Uint8Array, len: number, atNs: number, gso: number): void {
    const env = this.env;
    const n = tsoSegmentCount(buf, len, gso);
    const seg = (this.segScratch ??= new Uint8Array(TSO_MAX_FRAME));
    if (n === 0) {
      this.consume(buf, len, atNs);
      return;
    }
    if (this.tcpIn === undefined || n > GRO_MAX_SEGS) {
      let cost = 0;
      for (let k = 0; k < n; k++) {
        this.consume(seg, tsoSegment(buf, len, gso, k, seg), atNs + cost);
        cost += this.lastCostNs;
      }
      this.lastCostNs = cost;
      return;
    }
    let cost = this.groFlush(atNs);
    this.rxGsoPackets++;
    for (let k = 0; k < n; k++) {
      const sl = tsoSegment(buf, len, gso, k, seg);
      this.received++;
      env.ledger.deliver(sl);
      parse(seg, sl);
      this.groAppend(sl);
      if ((P.tcpFlags & F_PSH) !== 0) this.groPsh = true;
      cost += P.payLen * env.copyNsPerByte;
      this.rxGsoSegments++;
    }
    this.lastCostNs = cost + this.groFlush(atNs + cost, false);
  }

  /**
   * napi_gro_receive for the parsed TCP data segment of this VM's stream, starting at `atNs`: a
   * segment that does not continue the held aggregate (another sequence number, or past 64 KiB)
   * flushes it first; the segment joins (or starts) the aggregate; PSH flushes it with the segment
   * in it, as Linux's tcp_gro_receive does. Returns the CPU time of all that.
   */
  private groReceive(len: number, copy: number, atNs: number): number {
    const env = this.env;
    let cost = 0;
    if (this.groN > 0 && (P.tcpSeq !== this.groNext || this.groHdr + this.groBytes + P.payLen >= GRO_MAX_IP_LEN || this.groN === GRO_MAX_SEGS)) cost += this.groFlush(atNs);
    this.groAppend(len);
    this.groSegments++;
    cost += env.groNs + copy;
    if ((P.tcpFlags & F_PSH) !== 0) {
      this.groPsh = true;
      cost += this.groFlush(atNs + cost);
    }
    return cost;
  }

  /** The parsed segment (P), a frame of `len` bytes, joins the aggregate (or starts one: its first sequence number and headers). */
  private groAppend(len: number): void {
    if (this.groN === 0) {
      this.groSeq = P.tcpSeq;
      this.groBytes = 0;
      this.groHdr = len - 14 - P.payLen; // IP and TCP headers of the first segment
      this.groPsh = false;
    }
    const k = this.groN++;
    this.groLen[k] = len;
    this.groPay[k] = P.payLen;
    this.groBorn[k] = bornOfData(this.env.born, this.pcapRxFlow);
    this.groBytes += P.payLen;
    this.groNext = (P.tcpSeq + P.payLen) % 2 ** 32;
  }

  /**
   * The held aggregate crosses the stack as one packet from `atNs`: one ACK decision for all its
   * segments (an aggregate of two or more full segments is ACKed at once, as Linux's
   * __tcp_ack_snd_check does), and its frames reach the application when that work is done.
   * Returns the CPU time (0 when nothing is held).
   */
  private groFlush(atNs: number, guestGro = true): number {
    const n = this.groN;
    if (n === 0) return 0;
    const env = this.env;
    const at = atNs + env.stackRxNs;
    let fresh = this.tcpIn!.r.onData(this.groSeq, this.groBytes, this.groPsh, at, n);
    // goodput: the bytes new to the stream, credited to the aggregate's segments in order
    for (let i = 0; i < n; i++) {
      const f = Math.min(fresh, this.groPay[i]!);
      fresh -= f;
      env.window.deliver(at, this.groLen[i]!, f, this.groBorn[i]!, this.vm);
    }
    this.groN = 0;
    if (guestGro) this.groFlushes++;
    return env.stackRxNs;
  }

  /**
   * GSO: the frame just produced came from a super-segment with segments left that the sender may
   * send now; the kernel sends them in the same step, one doorbell for all. A super-segment that
   * stops (window, ring) goes on later without crossing the stack again, as the rest of its skb.
   */
  gsoMore(): boolean {
    if (this.gsoLeft === 0 || this.tcpOut === undefined || this.stopped()) return false;
    if (this.tcpIn !== undefined && this.tcpIn.r.ackPending) return false;
    return this.tcpOut.s.canSend();
  }

  /** The NAPI poll ended (napi_gro_flush): the held aggregate goes up now. */
  flushRx(atNs: number): void {
    this.lastCostNs = this.groFlush(atNs);
  }
}

/** The machine beyond the wire. */
export class WorldPeer implements WirePeer {
  udpGen: { tpls: Template[]; flows: number[]; next: number; intervalNs: number; ports: number; k: Int32Array } | undefined;
  tcpOut: Array<{ s: TcpSender; tpl: Template; flow: number }> | undefined;
  tcpIn: TcpIn[] | undefined;
  rrClients: Array<{ req: Template; flow: number }> | undefined;
  rrServer: Template[] | undefined;
  /** A replayed capture, its frames dealt to the VMs in turn (rateMbps: as for VmApp.pcap, per VM; flows: the birth-table flow of each VM's frames). */
  pcap: { frames: PcapFrames; next: number; loops: number; startNs: number; vm: number; rateMbps: number; flows: number[] } | undefined;
  /** The birth-table flows of the VMs' replayed captures (their frames' latency is taken here). */
  pcapTxFlows: number[] | undefined;
  /** The pool slot the next frame is built in (frames go on the wire from the pool, without a copy). */
  private slot = -1;
  private readonly hRx: HandlerId;
  private readonly hGen: HandlerId;
  private readonly hPump: HandlerId;
  private pumpArmed = false;
  private pumpFrom = 0;
  private ipId = 0;
  received = 0;
  sentFrames = 0;

  constructor(private readonly env: TrafficEnv) {
    this.hRx = env.engine.handler((s) => this.onRx(s), "peer.rx");
    this.hGen = env.engine.handler(() => this.onGen(), "peer.gen");
    this.hPump = env.engine.handler(() => {
      this.pumpArmed = false;
      const flows = this.tcpOut!;
      const n = flows.length;
      for (let k = 0; k < n; k++) this.pumpTcp((this.pumpFrom + k) % n);
      this.pumpFrom = (this.pumpFrom + 1) % n;
    }, "peer.pump");
  }

  start(): void {
    if (this.udpGen !== undefined || this.pcap !== undefined) this.env.engine.scheduleIn(0, this.hGen);
    if (this.tcpOut !== undefined) for (let i = 0; i < this.tcpOut.length; i++) this.pumpTcp(i);
    if (this.rrClients !== undefined) for (let i = 0; i < this.rrClients.length; i++) this.sendRequest(i);
  }

  /** The buffer to build the next frame in. */
  private get scratch(): Uint8Array {
    if (this.slot < 0) this.slot = this.env.pool.alloc(this.env.engine.now);
    return this.env.pool.buf(this.slot);
  }

  private send(len: number): void {
    const s = this.slot;
    this.slot = -1;
    this.env.ledger.offer(len);
    this.sentFrames++;
    this.env.pool.setLen(s, len);
    this.env.toHost(s);
  }

  private onGen(): void {
    const env = this.env;
    const now = env.engine.now;
    if (now >= env.stopAt) return;
    let next: number;
    if (this.udpGen !== undefined) {
      const g = this.udpGen;
      const tpl = g.tpls[g.next]!;
      if (g.ports > 1) {
        const k = (g.k[g.next]! + 1) % g.ports;
        g.k[g.next] = k;
        tpl.set16(tpl.l4Off, FLOW_PORT_BASE + k);
      }
      env.born.stamp(tpl, g.flows[g.next]!, now);
      tpl.setIpId(this.ipId++);
      this.send(tpl.copyTo(this.scratch));
      g.next = (g.next + 1) % g.tpls.length;
      next = Math.max(env.wireInFreeAt(), now + g.intervalNs);
    } else {
      const p = this.pcap!;
      const f = p.frames;
      const len = f.len[p.next]!;
      this.scratch.set(f.data.subarray(f.off[p.next]!, f.off[p.next]! + len));
      readdress(this.scratch, len, "dst", env.wireDstMac(p.vm), vmIp(p.vm));
      if (!P.fragment) setIpv4Id(this.scratch, env.born.mark(p.flows[p.vm]!, now)); // a fragment keeps its ID, untimed
      p.vm = (p.vm + 1) % env.vms;
      this.send(len);
      p.next++;
      if (p.next === f.count) {
        p.next = 0;
        p.loops++;
      }
      next = p.rateMbps > 0 ? Math.max(env.wireInFreeAt(), now + frameIntervalNs(len, p.rateMbps) / env.vms) : Math.max(now, p.startNs + p.loops * f.spanNs + f.relNs[p.next]!);
    }
    env.engine.scheduleAt(next, this.hGen);
  }

  private pumpTcp(i: number): void {
    const env = this.env;
    const now = env.engine.now;
    const t = this.tcpOut![i]!;
    t.s.checkTimeout(now);
    while (now < env.stopAt && t.s.canSend()) {
      if (env.wireInFreeAt() - now > PEER_TX_BACKLOG_NS) {
        // the peer's NIC queue is full: the stack waits for it to drain (TSQ/BQL), no loss
        if (!this.pumpArmed) {
          this.pumpArmed = true;
          env.engine.scheduleAt(env.wireInFreeAt() - PEER_TX_BACKLOG_NS / 2, this.hPump);
        }
        return;
      }
      const seq = t.s.send(now);
      const psh = t.s.fillsWindow;
      t.tpl.setTcp(seq % 2 ** 32, 0, F_ACK | (psh ? F_PSH : 0));
      env.born.stamp(t.tpl, t.flow, now);
      t.tpl.setIpId(this.ipId++);
      this.send(t.tpl.copyTo(this.scratch));
    }
  }

  /** Timer checks of the peer's streams (called by the run's tick): retransmission timeouts, delayed ACKs. */
  tcpTimers(): void {
    if (this.tcpOut !== undefined) for (let i = 0; i < this.tcpOut.length; i++) if (this.tcpOut[i]!.s.outstanding > 0) this.pumpTcp(i);
    if (this.tcpIn !== undefined) {
      const now = this.env.engine.now;
      for (const r of this.tcpIn) {
        if (!r.r.delayedAckDue(now)) continue;
        this.send(ackFrame(r, this.ipId++).copyTo(this.scratch));
      }
    }
  }

  private sendRequest(i: number): void {
    const env = this.env;
    if (env.engine.now >= env.stopAt) return;
    const c = this.rrClients![i]!;
    env.born.stamp(c.req, c.flow, env.engine.now);
    c.req.setIpId(this.ipId++);
    this.send(c.req.copyTo(this.scratch));
  }

  fromHost(slot: number, doneNs: number): void {
    // A peer that only counts needs no event at the frame's arrival: it is accounted at doneNs now.
    if (this.tcpOut === undefined && this.tcpIn === undefined && this.rrClients === undefined && this.rrServer === undefined) this.onRx(slot, doneNs);
    else this.env.engine.scheduleAt(doneNs, this.hRx, slot);
  }

  private onRx(slot: number, at = this.env.engine.now): void {
    const env = this.env;
    const pool = env.pool;
    const buf = pool.buf(slot);
    const len = pool.len(slot);
    const now = at;
    this.received++;
    env.ledger.deliver(len);
    if (!parse(buf, len)) {
      env.window.deliver(now, len, 0, -1, -1);
      pool.release(slot);
      return;
    }
    const vm = vmOfIp(P.srcIp);
    if (P.proto === PROTO_TCP) {
      if (P.payLen === 0) {
        env.window.deliver(now, len, 0, -1, vm, true);
        if (this.tcpOut !== undefined && vm >= 0 && vm < this.tcpOut.length) {
          this.tcpOut[vm]!.s.onAck(P.tcpAck, now, P.sack);
          this.pumpTcp(vm);
        }
      } else {
        const r = this.tcpIn?.[vm];
        const fresh = r !== undefined ? r.r.onData(P.tcpSeq, P.payLen, (P.tcpFlags & F_PSH) !== 0, now) : P.payLen;
        env.window.deliver(now, len, fresh, bornOfData(env.born, this.pcapFlowOf(vm)), vm);
        if (r !== undefined) while (r.r.ackPending) this.send(ackFrame(r, this.ipId++).copyTo(this.scratch));
      }
    } else if (P.proto === PROTO_UDP && P.srcPort === DATA_PORT && this.rrClients !== undefined && vm >= 0 && P.tagged) {
      env.window.deliver(now, len, P.payLen, env.born.bornOf(P.tagFlow, P.tagSeq), vm);
      this.sendRequest(vm);
    } else if (P.proto === PROTO_UDP && P.dstPort === DATA_PORT && this.rrServer !== undefined && vm >= 0 && P.tagged) {
      env.window.deliver(now, len, P.payLen, -1, vm);
      const resp = this.rrServer[vm]!;
      resp.setTag(P.tagFlow, P.tagSeq);
      resp.setIpId(this.ipId++);
      this.send(resp.copyTo(this.scratch));
    } else {
      env.window.deliver(now, len, P.payLen, bornOfData(env.born, this.pcapFlowOf(vm)), vm);
    }
    pool.release(slot);
  }

  /** The birth-table flow of VM `vm`'s replayed capture (undefined: no replay; -1: not a VM's). */
  private pcapFlowOf(vm: number): number | undefined {
    const f = this.pcapTxFlows;
    return f === undefined ? undefined : (f[vm] ?? -1);
  }
}

export interface Traffic {
  readonly apps: VmApp[];
  readonly peer: WorldPeer;
  /** The period of the run's tick for the TCP timers (retransmission timeouts, delayed ACKs), ns. */
  readonly tickNs: number;
  tcpTimers(): void;
  /** TCP loss recovery so far, summed over every stream (empty for other traffic). */
  tcpCounters(): Record<string, number>;
}

/**
 * Build the applications and the peer for `spec` over `env.vms` guests (`pcap`: the file, if already
 * loaded). `spec` has passed checkTraffic (runOnce's checkRunParams does it before anything is built).
 */
export function buildTraffic(spec: TrafficSpec, env: TrafficEnv, pcap?: PcapFrames): Traffic {
  const n = env.vms;
  const apps = Array.from({ length: n }, (_, i) => new VmApp(i, env));
  const peer = new WorldPeer(env);
  const born = env.born;
  const dstOf = (i: number): number => (i + 1) % n;
  const perVmInterval = (frameLen: number): number => (spec.rateMbps > 0 ? frameIntervalNs(frameLen, spec.rateMbps) : 0);
  const mss = spec.kind === "tcp" ? tcpMss({ mtu: spec.mtu, timestamps: spec.timestamps }) : 0;
  const tcpP: TcpParams = { mss, windowBytes: spec.windowBytes, ackEvery: spec.ackEvery, rtoNs: spec.rtoUs * 1000, delAckNs: delAckFor(spec.rtoUs * 1000) };
  const tcpData = (sMac: number, dMac: number, sIp: number, dIp: number, sPort: number, dPort: number): Template =>
    Template.tcp(mss, spec.timestamps, sMac, dMac, sIp, dIp, sPort, dPort);
  const sackBlocks = spec.sack ? maxSackBlocks(spec.timestamps) : 0;
  /** A receiver with its ACK frames: one template per number of SACK blocks. */
  const tcpIn = (sMac: number, dMac: number, sIp: number, dIp: number, sPort: number, dPort: number): TcpIn => ({
    r: new TcpReceiver(spec.ackEvery, tcpP.delAckNs, sackBlocks),
    acks: Array.from({ length: sackBlocks + 1 }, (_, n) => Template.tcp(0, spec.timestamps, sMac, dMac, sIp, dIp, sPort, dPort, n)),
  });

  switch (spec.kind) {
    case "udp": {
      const fl = spec.frameBytes - FCS;
      if (spec.direction === "rx") {
        const tpls: Template[] = [];
        const flows: number[] = [];
        for (let i = 0; i < n; i++) {
          tpls.push(Template.udp(fl, PEER_MAC, env.wireDstMac(i), PEER_IP, vmIp(i), BASE_PORT + i, DATA_PORT));
          flows.push(born.flow());
        }
        const aggregate = spec.rateMbps > 0 ? perVmInterval(fl) / n : 0;
        peer.udpGen = { tpls, flows, next: 0, intervalNs: aggregate, ports: spec.flows, k: new Int32Array(n) };
      } else {
        for (let i = 0; i < n; i++) {
          const toVm = spec.direction === "g2g";
          const d = dstOf(i);
          const tpl = Template.udp(fl, vmMac(i), toVm ? vmMac(d) : PEER_MAC, vmIp(i), toVm ? vmIp(d) : PEER_IP, BASE_PORT + i, DATA_PORT);
          apps[i]!.udp = { tpl, flow: born.flow(), pace: new Pacer(perVmInterval(fl)), port: BASE_PORT + i, flows: spec.flows, k: 0 };
        }
      }
      break;
    }
    case "tcp": {
      if (spec.direction === "rx") {
        peer.tcpOut = [];
        for (let i = 0; i < n; i++) {
          peer.tcpOut.push({ s: new TcpSender(tcpP), tpl: tcpData(PEER_MAC, env.wireDstMac(i), PEER_IP, vmIp(i), DATA_PORT, BASE_PORT + i), flow: born.flow() });
          apps[i]!.tcpIn = tcpIn(vmMac(i), PEER_MAC, vmIp(i), PEER_IP, BASE_PORT + i, DATA_PORT);
        }
      } else if (spec.direction === "tx") {
        peer.tcpIn = [];
        for (let i = 0; i < n; i++) {
          apps[i]!.tcpOut = { s: new TcpSender(tcpP), tpl: tcpData(vmMac(i), PEER_MAC, vmIp(i), PEER_IP, BASE_PORT + i, DATA_PORT), flow: born.flow() };
          peer.tcpIn.push(tcpIn(PEER_MAC, env.wireDstMac(i), PEER_IP, vmIp(i), DATA_PORT, BASE_PORT + i));
        }
      } else {
        for (let i = 0; i < n; i++) {
          const d = dstOf(i);
          const s = (i - 1 + n) % n; // the VM that sends to i
          apps[i]!.tcpOut = { s: new TcpSender(tcpP), tpl: tcpData(vmMac(i), vmMac(d), vmIp(i), vmIp(d), BASE_PORT + i, DATA_PORT), flow: born.flow() };
          apps[i]!.tcpIn = tcpIn(vmMac(i), vmMac(s), vmIp(i), vmIp(s), DATA_PORT, BASE_PORT + s);
        }
      }
      break;
    }
    case "rr": {
      const req = Math.max(60, 42 + spec.reqBytes);
      const resp = Math.max(60, 42 + spec.respBytes);
      const server = (tpl: Template): NonNullable<VmApp["rrServer"]> => ({ resp: tpl, pending: 0, qFlow: new Int32Array(64), qSeq: new Float64Array(64), head: 0 });
      if (spec.direction === "rx") {
        peer.rrClients = [];
        for (let i = 0; i < n; i++) {
          peer.rrClients.push({ req: Template.udp(req, PEER_MAC, env.wireDstMac(i), PEER_IP, vmIp(i), BASE_PORT + i, DATA_PORT), flow: born.flow() });
          apps[i]!.rrServer = server(Template.udp(resp, vmMac(i), PEER_MAC, vmIp(i), PEER_IP, DATA_PORT, BASE_PORT + i));
        }
      } else if (spec.direction === "tx") {
        peer.rrServer = [];
        for (let i = 0; i < n; i++) {
          apps[i]!.rrClient = { req: Template.udp(req, vmMac(i), PEER_MAC, vmIp(i), PEER_IP, BASE_PORT + i, DATA_PORT), flow: born.flow(), outstanding: false };
          peer.rrServer.push(Template.udp(resp, PEER_MAC, env.wireDstMac(i), PEER_IP, vmIp(i), DATA_PORT, BASE_PORT + i));
        }
      } else {
        for (let i = 0; i < n; i++) {
          const d = dstOf(i);
          const s = (i - 1 + n) % n;
          apps[i]!.rrClient = { req: Template.udp(req, vmMac(i), vmMac(d), vmIp(i), vmIp(d), BASE_PORT + i, DATA_PORT), flow: born.flow(), outstanding: false };
          apps[i]!.rrServer = server(Template.udp(resp, vmMac(i), vmMac(s), vmIp(i), vmIp(s), DATA_PORT, BASE_PORT + s));
        }
      }
      break;
    }
    case "pcap": {
      const frames = pcap ?? new PcapFrames(spec.pcapFile!, spec.pcapReader);
      const rateMbps = spec.rateMbps;
      // every frame's birth goes to its VM's flow, its sequence number into its IPv4 ID
      const flows = Array.from({ length: n }, () => born.flow());
      if (spec.direction === "rx") {
        peer.pcap = { frames, next: 0, loops: 0, startNs: 0, vm: 0, rateMbps, flows };
        for (let i = 0; i < n; i++) apps[i]!.pcapRxFlow = flows[i]!;
      } else {
        for (let i = 0; i < n; i++) apps[i]!.pcap = { frames, next: 0, startNs: 0, loops: 0, at: 0, rateMbps, flow: flows[i]! };
        peer.pcapTxFlows = flows;
      }
      break;
    }
  }
  return {
    apps,
    peer,
    tickNs: Math.min(tcpP.rtoNs, tcpP.delAckNs) / TICK_DIVISOR,
    tcpTimers(): void {
      peer.tcpTimers();
      const now = env.engine.now;
      for (let i = 0; i < n; i++) {
        const a = apps[i]!;
        const t = a.tcpOut;
        // the guest's timer softirq: a retransmission or a held ACK is sent by its kernel
        if ((t !== undefined && t.s.checkTimeout(now)) || (a.tcpIn !== undefined && a.tcpIn.r.delayedAckDue(now))) env.kickVm(i);
      }
    },
    tcpCounters(): Record<string, number> {
      if (spec.kind !== "tcp") return {};
      const senders = [...(peer.tcpOut ?? []).map((t) => t.s), ...apps.flatMap((a) => (a.tcpOut !== undefined ? [a.tcpOut.s] : []))];
      const receivers = [...(peer.tcpIn ?? []).map((t) => t.r), ...apps.flatMap((a) => (a.tcpIn !== undefined ? [a.tcpIn.r] : []))];
      const sum = <T>(xs: T[], f: (x: T) => number): number => xs.reduce((a, x) => a + f(x), 0);
      return {
        tcpRetransmits: sum(senders, (s) => s.retransmits),
        tcpFastRetransmits: sum(senders, (s) => s.fastRetransmits),
        tcpTimeouts: sum(senders, (s) => s.timeouts),
        tcpSpuriousTimeouts: sum(senders, (s) => s.spuriousTimeouts),
        tcpOutOfOrder: sum(receivers, (r) => r.outOfOrder),
        tcpDuplicates: sum(receivers, (r) => r.duplicates),
        // the guests' GRO (host.guestGro): aggregates that crossed their stacks, and the segments in them
        ...(env.gro ? { groAggregates: sum(apps, (a) => a.groFlushes), groSegments: sum(apps, (a) => a.groSegments) } : {}),
        // the guests' GSO (host.guestGso): super-segments built by their stacks, and the segments cut from them
        ...(env.gso ? { gsoSuperSegments: sum(apps, (a) => a.gsoSupers), gsoSegments: sum(apps, (a) => a.gsoSegments) } : {}),
        // the devices' TSO (sriov.tso, virtio.tso, xen.gso): the super-frames the guests' stacks handed to
        // their devices and the segments in them; the GSO packets they received and the segments in those
        ...(env.tsoMaxFrame > 0 ? { tsoFrames: sum(apps, (a) => a.tsoFrames), tsoSegments: sum(apps, (a) => a.tsoSegments), rxGsoPackets: sum(apps, (a) => a.rxGsoPackets), rxGsoSegments: sum(apps, (a) => a.rxGsoSegments) } : {}),
      };
    },
  };
}
