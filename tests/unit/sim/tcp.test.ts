/**
 * The bulk-TCP model (sim/traffic/tcp.ts): a sender and a receiver joined by an in-order channel
 * that may drop segments and ACKs, driven by random command sequences; SACK recovery, timeouts and
 * their undo, the receiver's ACK rules, and SACK blocks in real frames.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { MAX_SACK_BLOCKS, TcpReceiver, TcpSender, newSackBlocks, type SackBlocks, type TcpParams } from "../../../sim/traffic/tcp.js";
import { P as PARSED, Template, parse } from "../../../sim/traffic/packets.js";
import { decodeFrame } from "../../../sim/pcap/frames.js";

const MSS = 1448;
const W = 64 * MSS;
const BASE: TcpParams = { mss: MSS, windowBytes: W, ackEvery: 2, rtoNs: 1_000_000, delAckNs: 500_000 };
const TWO32 = 2 ** 32;

interface Ack {
  ack: number;
  sack: SackBlocks;
}

/** Sender, receiver and the two directions of an in-order channel, with the invariants checked after every step. */
class Loop {
  readonly s: TcpSender;
  readonly r: TcpReceiver;
  readonly data: Array<{ seq: number; psh: boolean }> = [];
  readonly acks: Ack[] = [];
  /** Segments (by first byte) that reached the receiver at least once. */
  readonly arrived = new Set<number>();
  now = 0;
  constructor(
    readonly p: TcpParams = BASE,
    sackBlocks = 3,
  ) {
    this.s = new TcpSender(p);
    this.r = new TcpReceiver(p.ackEvery, p.delAckNs, sackBlocks);
  }
  /** Start both ends at byte `x` of the stream (a multiple of the MSS), as if all before it was exchanged. */
  startAt(x: number): void {
    this.s.una = this.s.nxt = this.s.high = x;
    this.r.rcvNxt = x;
  }
  send(): void {
    if (!this.s.canSend()) return;
    const seq = this.s.send(this.now);
    this.data.push({ seq, psh: this.s.fillsWindow });
  }
  private pushAck(): void {
    const sack = newSackBlocks();
    const ack = this.r.takeAck(sack);
    this.acks.push({ ack, sack });
  }
  deliverData(drop: boolean): void {
    const d = this.data.shift();
    if (d === undefined || drop) return;
    const fresh = this.r.onData(d.seq % TWO32, MSS, d.psh, this.now);
    // goodput: each byte of the stream counted once
    expect(fresh).toBe(this.arrived.has(d.seq) ? 0 : MSS);
    this.arrived.add(d.seq);
    if (this.r.ackPending) this.pushAck();
  }
  deliverAck(drop: boolean): void {
    const a = this.acks.shift();
    if (a === undefined || drop) return;
    this.s.onAck(a.ack, this.now, a.sack);
  }
  tick(ns: number): void {
    this.now += ns;
    this.s.checkTimeout(this.now);
    if (this.r.delayedAckDue(this.now)) this.pushAck();
  }
  /** Everything in flight delivered, every ACK delivered, time moved on; `sendNew`: the sender may send. */
  round(tickNs: number, sendNew = true): void {
    if (sendNew) while (this.s.canSend()) this.send();
    while (this.data.length > 0) this.deliverData(false);
    while (this.acks.length > 0) this.deliverAck(false);
    this.tick(tickNs);
    this.check();
  }
  check(): void {
    const s = this.s;
    const r = this.r;
    expect(s.una).toBeLessThanOrEqual(s.nxt);
    expect(s.nxt).toBeLessThanOrEqual(s.high);
    // the sender never takes as acknowledged what the receiver does not have in order
    expect(s.una).toBeLessThanOrEqual(r.rcvNxt);
    expect(r.rcvNxt).toBeLessThanOrEqual(s.high);
    // the receiver counts exactly the distinct segments that reached it
    expect(r.received).toBe(this.arrived.size * MSS);
    // a segment SACKed at the sender did reach the receiver
    for (let q = s.una; q < s.high; q += MSS) if (s.isSacked(q)) expect(this.arrived.has(q)).toBe(true);
    // new data stays within the receive window; cwnd within [1 MSS, window]
    expect(s.high - s.una).toBeLessThanOrEqual(this.p.windowBytes);
    expect(s.cwnd).toBeGreaterThanOrEqual(MSS);
    expect(s.cwnd).toBeLessThanOrEqual(this.p.windowBytes);
  }
}

type Cmd = { k: "send"; n: number } | { k: "data"; drop: boolean } | { k: "ack"; drop: boolean } | { k: "tick"; ns: number };
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant("send" as const), n: fc.integer({ min: 1, max: 16 }) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant("data" as const), drop: fc.integer({ min: 0, max: 7 }).map((x) => x === 0) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("ack" as const), drop: fc.integer({ min: 0, max: 7 }).map((x) => x === 0) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("tick" as const), ns: fc.integer({ min: 1, max: 1_500_000 }) }) },
);

function apply(l: Loop, c: Cmd): void {
  if (c.k === "send") for (let i = 0; i < c.n; i++) l.send();
  else if (c.k === "data") l.deliverData(c.drop);
  else if (c.k === "ack") l.deliverAck(c.drop);
  else l.tick(c.ns);
}

/** Rounds without loss until everything sent by now is acknowledged; returns the rounds it took (-1: never). */
function drain(l: Loop, maxRounds = 3000): number {
  const target = l.s.high;
  for (let i = 0; i < maxRounds; i++) {
    if (l.s.una >= target) return i;
    l.round(BASE.rtoNs / 4);
  }
  return -1;
}

describe("bulk TCP model", () => {
  it("under any loss of segments and ACKs: goodput counts each byte once, SACKs are true, windows hold, and a lossless channel then delivers everything", () => {
    fc.assert(
      fc.property(fc.array(cmd, { minLength: 1, maxLength: 400 }), fc.boolean(), (cmds, sack) => {
        const l = new Loop(BASE, sack ? 3 : 0);
        for (const c of cmds) {
          apply(l, c);
          l.check();
        }
        expect(drain(l)).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 200 },
    );
  });

  it("without loss every byte is acknowledged, nothing is resent, and the window opens to its limit", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 60, max: 250 }), (ackEvery, rounds) => {
        const l = new Loop({ ...BASE, ackEvery });
        for (let i = 0; i < rounds; i++) l.round(10_000);
        expect(l.s.timeouts).toBe(0);
        expect(l.s.retransmits).toBe(0);
        expect(l.s.una).toBe(l.s.high);
        expect(l.r.received).toBe(l.s.high);
        expect(l.s.cwnd).toBe(W);
      }),
      { numRuns: 40 },
    );
  });

  it("with SACK a burst of lost segments is repaired in one recovery, without a timeout, each lost segment resent once", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 20 }), (burst, at) => {
        const l = new Loop();
        for (let i = 0; i < 20; i++) l.round(10_000); // the window is fully open
        while (l.s.canSend()) l.send();
        const inFlight = l.data.length;
        const first = Math.min(at, inFlight - burst - 3); // at least three segments after the burst
        if (first < 0) return;
        for (let i = 0; i < inFlight; i++) l.deliverData(i >= first && i < first + burst);
        // the SACK blocks show every hole at once: all are resent within about one round trip
        // (NewReno, below, needs one round trip per hole)
        const rounds = drain(l, 50);
        expect(rounds).toBeGreaterThanOrEqual(0);
        expect(rounds).toBeLessThanOrEqual(3);
        expect(l.s.timeouts).toBe(0);
        expect(l.s.fastRetransmits).toBe(1);
        expect(l.s.retransmits).toBe(burst);
        expect(l.r.duplicates).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it("without SACK the same burst is repaired by NewReno, one hole per round trip, without a timeout", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), (burst) => {
        const l = new Loop(BASE, 0);
        for (let i = 0; i < 20; i++) l.round(10_000);
        while (l.s.canSend()) l.send();
        const n = l.data.length;
        for (let i = 0; i < n; i++) l.deliverData(i < burst);
        const rounds = drain(l);
        expect(rounds).toBeGreaterThanOrEqual(burst); // a partial ACK a round trip uncovers the next hole
        expect(l.s.timeouts).toBe(0);
        expect(l.s.fastRetransmits).toBe(1);
        expect(l.s.retransmits).toBe(burst);
      }),
      { numRuns: 40 },
    );
  });

  it("a timeout with nothing lost is undone: cwnd comes back and the segments still in flight are not resent", () => {
    const l = new Loop();
    for (let i = 0; i < 10; i++) l.round(10_000);
    const cwnd = l.s.cwnd;
    while (l.s.canSend()) l.send();
    const sent = l.data.length;
    l.tick(BASE.rtoNs); // the ACKs are late, not lost
    expect(l.s.timeouts).toBe(1);
    expect(l.s.cwnd).toBe(MSS);
    l.send(); // the retransmission of snd_una
    while (l.data.length > 0) l.deliverData(false);
    while (l.acks.length > 0) l.deliverAck(false);
    expect(l.s.spuriousTimeouts).toBe(1);
    expect(l.s.retransmits).toBe(1);
    expect(l.s.cwnd).toBeGreaterThanOrEqual(cwnd);
    expect(l.s.una).toBe(l.s.high);
    expect(l.r.duplicates).toBe(1);
    expect(sent).toBeGreaterThan(1);
    l.check();
  });

  it("the RTO follows the measured round trip (RFC 6298) above its floor and backs off ×2 per timeout", () => {
    const l = new Loop({ ...BASE, rtoNs: 100_000 });
    // the round trip grows from 80 µs (below the floor) to 300 µs, 5 % a round trip, then stays
    for (let i = 0; i < 60; i++) {
      while (l.s.canSend()) l.send();
      l.tick(Math.round(Math.min(300_000, 80_000 * 1.05 ** i)));
      while (l.data.length > 0) l.deliverData(false);
      while (l.acks.length > 0) l.deliverAck(false);
    }
    expect(l.s.timeouts).toBe(0);
    expect(Math.abs(l.s.srttNs - 300_000)).toBeLessThan(3_000);
    expect(l.s.rtoNs).toBeGreaterThanOrEqual(300_000);
    while (l.s.canSend()) l.send();
    const rto = l.s.rtoNs;
    l.tick(Math.ceil(rto) - 1);
    expect(l.s.timeouts).toBe(0);
    l.tick(1);
    expect(l.s.timeouts).toBe(1);
    l.tick(Math.ceil(2 * rto) - 1); // backed off: twice the RTO
    expect(l.s.timeouts).toBe(1);
    l.tick(1);
    expect(l.s.timeouts).toBe(2);
  });

  it("sequence numbers wrap at 2^32 without losing the count, with losses and SACK across the wrap", () => {
    const l = new Loop();
    l.startAt(Math.floor(TWO32 / MSS) * MSS - 20 * MSS);
    const start = l.s.una;
    for (let i = 0; i < 10; i++) l.round(10_000);
    while (l.s.canSend()) l.send();
    const n = l.data.length;
    for (let i = 0; i < n; i++) l.deliverData(i % 7 === 3);
    expect(drain(l)).toBeGreaterThanOrEqual(0);
    expect(l.s.una).toBeGreaterThan(TWO32);
    expect(l.s.timeouts).toBe(0);
    expect(l.r.rcvNxt).toBeGreaterThanOrEqual(l.s.una);
    expect(l.r.received).toBe(l.r.rcvNxt - start);
  });

  it("the receiver ACKs every ackEvery segments, at once for PSH, out-of-order data and filled holes, and after the delayed-ACK time", () => {
    const r = new TcpReceiver(3, 500, 3);
    r.onData(0, MSS, false, 0);
    r.onData(MSS, MSS, false, 0);
    expect(r.ackPending).toBe(false);
    r.onData(2 * MSS, MSS, false, 0);
    expect(r.ackPending).toBe(true);
    expect(r.takeAck()).toBe(3 * MSS);
    r.onData(3 * MSS, MSS, true, 0);
    expect(r.takeAck()).toBe(4 * MSS);
    r.onData(4 * MSS, MSS, false, 1000);
    expect(r.delayedAckDue(1499)).toBe(false);
    expect(r.delayedAckDue(1500)).toBe(true);
    expect(r.takeAck()).toBe(5 * MSS);
    // out of order: a duplicate ACK at once, with SACK blocks, the latest segment's block first
    const sk = newSackBlocks();
    r.onData(7 * MSS, MSS, false, 2000);
    expect(r.takeAck(sk)).toBe(5 * MSS);
    expect([sk.n, sk.left[0], sk.right[0]]).toEqual([1, 7 * MSS, 8 * MSS]);
    r.onData(10 * MSS, MSS, false, 2000);
    r.onData(12 * MSS, MSS, false, 2000);
    r.onData(8 * MSS, MSS, false, 2000);
    // three duplicate ACKs, each a frame of its own with the SACK blocks of its moment
    expect(r.acksPending).toBe(3);
    const blocks = (): number[][] => Array.from({ length: sk.n }, (_, i) => [sk.left[i]! / MSS, sk.right[i]! / MSS]);
    expect(r.takeAck(sk)).toBe(5 * MSS);
    expect(blocks()).toEqual([[10, 11], [7, 8]]);
    expect(r.takeAck(sk)).toBe(5 * MSS);
    expect(blocks()).toEqual([[12, 13], [10, 11], [7, 8]]);
    expect(r.takeAck(sk)).toBe(5 * MSS);
    expect(blocks()).toEqual([[7, 9], [12, 13], [10, 11]]); // the latest (8) merged with 7
    expect(r.ackPending).toBe(false);
    // each filled hole: an ACK at once, up to the next hole
    r.onData(5 * MSS, MSS, false, 2000);
    expect(r.ackPending).toBe(true);
    r.onData(6 * MSS, MSS, false, 2000);
    expect(r.acksPending).toBe(2);
    expect(r.takeAck(sk)).toBe(6 * MSS);
    expect(sk.n).toBe(3);
    expect(r.takeAck(sk)).toBe(9 * MSS);
    expect(sk.n).toBe(2);
    expect(r.received).toBe(11 * MSS); // 0–8 in order, 10 and 12 held
    // a segment overlapping held data counts only its new bytes; one wholly held counts none
    const q = new TcpReceiver(2, 500, 3);
    expect(q.onData(100, 1000, false, 0)).toBe(1000);
    expect(q.onData(0, 1448, false, 0)).toBe(448);
    expect(q.onData(200, 500, false, 0)).toBe(0);
    expect(q.received).toBe(1448);
    // a duplicate ACK for the out-of-order piece, the filled hole's ACK, a duplicate for the copy
    expect([q.takeAck(), q.takeAck(), q.takeAck(), q.acksPending]).toEqual([0, 1448, 1448, 0]);
  });

  it("GRO aggregates (runs of contiguous segments as one) leave what the receiver holds as it was, with one ACK decision each", () => {
    fc.assert(
      fc.property(
        // segments by index, arriving in runs (from any segment, in any order, with repeats); a run of
        // contiguous arrivals is merged, up to maxRun
        fc
          .array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 8 })), { minLength: 1, maxLength: 30 })
          .map((runs) => runs.flatMap(([from, n]) => Array.from({ length: n }, (_, j) => from + j))),
        fc.integer({ min: 2, max: 45 }),
        (order, maxRun) => {
          const one = new TcpReceiver(2, 500, 3);
          const agg = new TcpReceiver(2, 500, 3);
          let freshOne = 0;
          let freshAgg = 0;
          let acksOne = 0;
          let acksAgg = 0;
          let aggregates = 0;
          for (const k of order) {
            freshOne += one.onData(k * MSS, MSS, false, 0);
            while (one.ackPending) {
              one.takeAck();
              acksOne++;
            }
          }
          for (let i = 0; i < order.length; ) {
            let n = 1;
            while (i + n < order.length && n < maxRun && order[i + n] === order[i]! + n) n++;
            const atNext = order[i]! * MSS === agg.rcvNxt;
            freshAgg += agg.onData(order[i]! * MSS, n * MSS, false, 0, n);
            aggregates++;
            // an in-order aggregate of two or more segments is ACKed at once (they count as n)
            if (atNext && n >= 2) expect(agg.ackPending).toBe(true);
            while (agg.ackPending) {
              agg.takeAck();
              acksAgg++;
            }
            i += n;
          }
          expect([agg.rcvNxt, agg.received, freshAgg]).toEqual([one.rcvNxt, one.received, freshOne]);
          expect(freshAgg).toBe(new Set(order).size * MSS);
          // at most one ACK decision per aggregate, never more than frame by frame
          expect(acksAgg).toBeLessThanOrEqual(aggregates);
          expect(acksAgg).toBeLessThanOrEqual(acksOne);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("SACK blocks travel in real TCP options: the frame parses back to the same blocks with valid checksums", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 1, max: MAX_SACK_BLOCKS }), fc.array(fc.tuple(fc.nat({ max: TWO32 - 1 }), fc.nat({ max: TWO32 - 1 })), { minLength: 4, maxLength: 4 }), (ts, n0, blocks) => {
        const n = ts ? Math.min(n0, 3) : n0;
        const t = Template.tcp(0, ts, 0x02_00_00_00_00_01, 0x02_00_00_00_00_02, 0x0a000001, 0x0a000002, 5001, 40000, n);
        for (let i = 0; i < n; i++) t.setSack(i, blocks[i]![0], blocks[i]![1]);
        t.setTcp(0, 12345, 0x10);
        const buf = new Uint8Array(t.len);
        const len = t.copyTo(buf);
        expect(parse(buf, len)).toBe(true);
        expect(PARSED.sack.n).toBe(n);
        for (let i = 0; i < n; i++) expect([PARSED.sack.left[i], PARSED.sack.right[i]]).toEqual(blocks[i]);
        expect(PARSED.tcpAck).toBe(12345);
        const d = decodeFrame(buf, 0, len)!;
        expect(d.ipv4!.headerChecksumOk).toBe(true);
        expect(d.l4!.checksumOk).toBe(true);
        expect(d.l4!.payloadLength).toBe(0);
      }),
      { numRuns: 100 },
    );
  });
});
