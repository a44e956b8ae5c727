/**
 * The simplified bulk-TCP model (sim/traffic/tcp.ts) between a sender and a receiver joined by an
 * in-order channel that may drop segments and ACKs, driven by random command sequences.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { TcpReceiver, TcpSender, type TcpParams } from "../../../sim/traffic/tcp.js";

const MSS = 1448;
const P: TcpParams = { mss: MSS, windowBytes: 64 * MSS, ackEvery: 2, rtoNs: 1_000_000 };

/** Sender, receiver and the two directions of an in-order channel, with the invariants checked after every step. */
class Loop {
  readonly s: TcpSender;
  readonly r: TcpReceiver;
  /** Data segments on the way (PSH flags), ACKs on the way (ack numbers), in order. */
  readonly data: boolean[] = [];
  readonly acks: number[] = [];
  now = 0;
  dataLost = 0;
  constructor(p: TcpParams = P) {
    this.s = new TcpSender(p);
    this.r = new TcpReceiver(p.ackEvery);
  }
  send(): void {
    if (!this.s.canSend()) return;
    this.s.send(this.now);
    this.data.push(this.s.fillsWindow);
  }
  deliverData(drop: boolean): void {
    const psh = this.data.shift();
    if (psh === undefined) return;
    if (drop) {
      this.dataLost += MSS;
      return;
    }
    this.r.onData(MSS, psh);
    if (this.r.ackPending) this.acks.push(this.r.takeAck());
  }
  deliverAck(drop: boolean): void {
    const a = this.acks.shift();
    if (a === undefined || drop) return;
    this.s.onAck(a, this.now);
  }
  tick(ns: number): void {
    this.now += ns;
    this.s.checkTimeout(this.now);
  }
  check(): void {
    const s = this.s;
    // every byte sent is acknowledged, written off as lost, or in flight
    expect(s.acked + s.lost + s.inFlight).toBe(s.sent);
    expect(s.acked + s.lost).toBeLessThanOrEqual(s.sent);
    // the receiver never counts more than was sent, the sender never more acked than received
    expect(this.r.received).toBeLessThanOrEqual(s.sent);
    expect(s.acked).toBeLessThanOrEqual(this.r.received);
    expect(this.r.received + this.dataLost + this.data.length * MSS).toBe(s.sent);
    // cwnd stays within [2 MSS, window] and the flight within min(cwnd, window)
    expect(s.cwnd).toBeLessThanOrEqual(P.windowBytes);
    expect(s.cwnd).toBeGreaterThanOrEqual(2 * MSS);
    expect(s.inFlight).toBeLessThanOrEqual(Math.min(s.cwnd, P.windowBytes));
  }
}

type Cmd = { k: "send"; n: number } | { k: "data"; drop: boolean } | { k: "ack"; drop: boolean } | { k: "tick"; ns: number };
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ k: fc.constant("send" as const), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ k: fc.constant("data" as const), drop: fc.integer({ min: 0, max: 9 }).map((x) => x === 0) }),
  fc.record({ k: fc.constant("ack" as const), drop: fc.boolean() }),
  fc.record({ k: fc.constant("tick" as const), ns: fc.integer({ min: 1, max: 1_500_000 }) }),
);

function apply(l: Loop, c: Cmd): void {
  if (c.k === "send") for (let i = 0; i < c.n; i++) l.send();
  else if (c.k === "data") l.deliverData(c.drop);
  else if (c.k === "ack") l.deliverAck(c.drop);
  else l.tick(c.ns);
}

describe("bulk TCP model", () => {
  it("conserves bytes and keeps cwnd and the flight in bounds under any loss of segments and ACKs", () => {
    fc.assert(
      fc.property(fc.array(cmd, { minLength: 1, maxLength: 300 }), (cmds) => {
        const l = new Loop();
        for (const c of cmds) {
          apply(l, c);
          l.check();
        }
      }),
      { numRuns: 300 },
    );
  });

  it("without loss every byte is acknowledged, there is no timeout, and the window opens to its limit", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 200, max: 2000 }), (ackEvery, rounds) => {
        const p = { ...P, ackEvery };
        const l = new Loop(p);
        for (let i = 0; i < rounds; i++) {
          while (l.s.canSend()) l.send();
          while (l.data.length > 0) l.deliverData(false);
          while (l.acks.length > 0) l.deliverAck(false);
          l.tick(10_000);
        }
        expect(l.s.timeouts).toBe(0);
        expect(l.s.lost).toBe(0);
        expect(l.s.acked).toBe(l.s.sent);
        expect(l.r.received).toBe(l.s.sent);
        expect(l.s.cwnd).toBe(p.windowBytes);
      }),
      { numRuns: 50 },
    );
  });

  it("a lost segment stalls the flow until the timeout, which writes the flight off and halves the window", () => {
    const l = new Loop();
    for (let i = 0; i < 10; i++) l.send();
    expect(l.s.canSend()).toBe(false); // the initial window: 10 segments
    l.deliverData(true); // the first is lost
    while (l.data.length > 0) l.deliverData(false);
    while (l.acks.length > 0) l.deliverAck(false);
    // 9 segments arrived and were acknowledged (the model's ACKs count bytes received), 1 is in flight for the sender
    expect(l.s.acked).toBe(9 * MSS);
    expect(l.s.inFlight).toBe(MSS);
    const before = l.s.cwnd;
    l.tick(P.rtoNs - 1);
    expect(l.s.timeouts).toBe(0);
    l.tick(1);
    expect(l.s.timeouts).toBe(1);
    expect(l.s.lost).toBe(MSS);
    expect(l.s.inFlight).toBe(0);
    expect(l.s.cwnd).toBe(Math.max(2 * MSS, MSS / 2));
    expect(before).toBeGreaterThan(l.s.cwnd);
    l.check();
  });

  it("segments still on the way when the timeout wrote them off are acknowledged without counting a byte twice", () => {
    const l = new Loop();
    for (let i = 0; i < 6; i++) l.send();
    l.tick(P.rtoNs); // nothing arrived yet: all 6 written off
    expect(l.s.lost).toBe(6 * MSS);
    expect(l.s.inFlight).toBe(0);
    while (l.data.length > 0) l.deliverData(false);
    while (l.acks.length > 0) l.deliverAck(false);
    // they did arrive: acknowledged, no longer lost
    expect(l.s.acked).toBe(6 * MSS);
    expect(l.s.lost).toBe(0);
    l.check();
  });

  it("ACK numbers wrap at 2^32 without losing the count", () => {
    const l = new Loop();
    // a stream 5 segments short of 4 GiB (the counts are the model's own; the wire carries them mod 2^32)
    l.s.sent = l.s.acked = l.r.received = 2 ** 32 - 5 * MSS;
    const total = 2 ** 32 + 100 * MSS;
    while (l.s.sent < total) {
      while (l.s.canSend()) l.send();
      while (l.data.length > 0) l.deliverData(false);
      while (l.acks.length > 0) l.deliverAck(false);
    }
    expect(l.s.sent).toBeGreaterThan(2 ** 32);
    expect(l.s.acked).toBe(l.s.sent);
    expect(l.s.lost).toBe(0);
  });

  it("the receiver ACKs every ackEvery segments, and at once for PSH", () => {
    const r = new TcpReceiver(3);
    r.onData(MSS, false);
    r.onData(MSS, false);
    expect(r.ackPending).toBe(false);
    r.onData(MSS, false);
    expect(r.ackPending).toBe(true);
    expect(r.takeAck()).toBe(3 * MSS);
    expect(r.ackPending).toBe(false);
    r.onData(MSS, true);
    expect(r.ackPending).toBe(true);
    expect(r.takeAck()).toBe(4 * MSS);
  });
});
