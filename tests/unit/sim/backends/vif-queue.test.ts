/** xenvif's guest-receive queue with the VIF's qdisc behind it, against a plain reference model. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { VifRxQueue } from "../../../../sim/backends/xen/vif-queue.js";

const MAX = 16 * 1024;
const QDISC = 4;
const BUF = 2048;
const RING = MAX + (QDISC + 2) * BUF;

/** Reference: the frames in xenvif's queue and in the qdisc, as lengths; Linux's stop/wake rule. */
class Ref {
  q: number[] = [];
  qdisc: number[] = [];
  stopped = false;
  push(len: number): boolean {
    if (!this.stopped) {
      this.q.push(len);
      if (this.bytes() > MAX) this.stopped = true;
      return true;
    }
    if (this.qdisc.length === QDISC) return false;
    this.qdisc.push(len);
    return true;
  }
  pop(): number {
    const l = this.q.shift()!;
    if (this.stopped && this.bytes() < MAX) {
      this.stopped = false;
      while (this.qdisc.length > 0 && !this.stopped) {
        this.q.push(this.qdisc.shift()!);
        if (this.bytes() > MAX) this.stopped = true;
      }
    }
    return l;
  }
  bytes(): number {
    return this.q.reduce((a, b) => a + b, 0);
  }
}

describe("VifRxQueue (xenvif rx_queue_max + the VIF's qdisc)", () => {
  it("accepts, stops, queues in the qdisc, drops and drains exactly as the reference; frames keep their order and never overlap in the ring", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 60, max: BUF }), fc.constant(0)), { minLength: 1, maxLength: 400 }), (ops) => {
        const q = new VifRxQueue(RING, MAX, QDISC, 60);
        const ref = new Ref();
        const held: Array<{ off: number; len: number; id: number }> = [];
        let id = 0;
        for (const op of ops) {
          if (op > 0) {
            const at = q.push(op);
            expect(at >= 0).toBe(ref.push(op));
            if (at >= 0) {
              expect(at + op).toBeLessThanOrEqual(RING);
              for (const h of held) expect(at + op <= h.off || h.off + h.len <= at).toBe(true);
              held.push({ off: at, len: op, id: id++ });
            }
          } else if (q.frames > 0) {
            const h = held.shift()!;
            expect([q.headOff, q.headLen]).toEqual([h.off, h.len]);
            expect(ref.pop()).toBe(h.len);
            q.pop();
          }
          expect(q.frames).toBe(ref.q.length + ref.qdisc.length);
          expect(q.queuedFrames).toBe(ref.q.length);
          expect(q.queuedBytes).toBe(ref.bytes());
          expect(q.qdiscFrames).toBe(ref.qdisc.length);
          expect(q.stopped).toBe(ref.stopped);
          expect(q.ringUsed).toBeLessThanOrEqual(RING);
        }
        while (q.frames > 0) q.pop();
        expect(q.ringUsed).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it("a burst of MTU frames: about 512 KiB queued, then 32 in the qdisc, then drops (xenvif's limits)", () => {
    const q = new VifRxQueue(512 * 1024 + 34 * 2048, 512 * 1024, 32, 60);
    let accepted = 0;
    while (q.push(1514) >= 0) accepted++;
    expect(q.queuedFrames).toBe(Math.floor((512 * 1024) / 1514) + 1);
    expect(q.qdiscFrames).toBe(32);
    expect(accepted).toBe(q.queuedFrames + 32);
    q.pop();
    expect(q.stopped).toBe(true); // still above the limit
    while (q.stopped) q.pop();
    expect(q.qdiscFrames).toBeLessThan(32); // the qdisc has started to drain into the queue
  });
});
