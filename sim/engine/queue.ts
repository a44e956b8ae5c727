import { IovError } from "../../src/errors.js";

/**
 * The pending-event set of the discrete-event engine: a binary min-heap ordered by (time, sequence).
 * The sequence number is the insertion order, so events at the same time run first-scheduled-first:
 * the order never depends on heap internals, which makes runs reproducible.
 *
 * Events are pooled records in parallel typed arrays (struct of arrays): an event is a handler id and
 * two numeric arguments, so scheduling allocates nothing once the pool has grown to the working size.
 * Each record slot carries a generation so that a stale handle cannot cancel a later event that reuses
 * the slot.
 */

/** Slots are addressed with 24 bits inside a handle; the generation takes the bits above. */
const SLOT_BITS = 24;
const SLOT_LIMIT = 1 << SLOT_BITS;
/** Generations wrap below 2^29 so that generation × 2^24 + slot stays a safe integer. */
const GEN_LIMIT = 1 << 29;
const INITIAL_CAPACITY = 256;

/** Opaque handle of a scheduled event (for `cancel`). */
export type EventHandle = number;

export class EventQueue {
  private cap = 0;
  private time: Float64Array = new Float64Array(0);
  private seq: Float64Array = new Float64Array(0);
  private handler = new Int32Array(0);
  private arg0: Float64Array = new Float64Array(0);
  private arg1: Float64Array = new Float64Array(0);
  private gen = new Uint32Array(0);
  /** Position of a slot in `heap`, or −1 when the slot is free. */
  private pos = new Int32Array(0);
  private heap = new Int32Array(0);
  private free = new Int32Array(0);
  private freeTop = 0;
  private count = 0;
  private nextSeq = 0;

  /** Fields of the event most recently removed by `pop()`. */
  poppedTime = 0;
  poppedHandler = 0;
  poppedArg0 = 0;
  poppedArg1 = 0;

  constructor(initialCapacity = INITIAL_CAPACITY) {
    this.grow(Math.max(1, initialCapacity));
  }

  get size(): number {
    return this.count;
  }

  /** Time of the earliest pending event, or +Infinity when none is pending. */
  peekTime(): number {
    return this.count === 0 ? Infinity : this.time[this.heap[0]!]!;
  }

  push(timeNs: number, handlerId: number, a0: number, a1: number): EventHandle {
    if (this.freeTop === 0) this.grow(this.cap * 2);
    const s = this.free[--this.freeTop]!;
    this.time[s] = timeNs;
    this.seq[s] = this.nextSeq++;
    this.handler[s] = handlerId;
    this.arg0[s] = a0;
    this.arg1[s] = a1;
    const i = this.count++;
    this.heap[i] = s;
    this.pos[s] = i;
    this.siftUp(i);
    return this.gen[s]! * SLOT_LIMIT + s;
  }

  /** Removes the earliest event into the `popped*` fields; false when the queue is empty. */
  pop(): boolean {
    if (this.count === 0) return false;
    const s = this.heap[0]!;
    this.poppedTime = this.time[s]!;
    this.poppedHandler = this.handler[s]!;
    this.poppedArg0 = this.arg0[s]!;
    this.poppedArg1 = this.arg1[s]!;
    this.removeAt(0);
    return true;
  }

  /**
   * Removes a pending event; false if it already ran or was cancelled. On success the removed event's
   * fields are left in `popped*`, as after `pop()`.
   */
  cancel(handle: EventHandle): boolean {
    if (!this.isPending(handle)) return false;
    const s = handle % SLOT_LIMIT;
    this.poppedTime = this.time[s]!;
    this.poppedHandler = this.handler[s]!;
    this.poppedArg0 = this.arg0[s]!;
    this.poppedArg1 = this.arg1[s]!;
    this.removeAt(this.pos[s]!);
    return true;
  }

  /** Whether the event behind `handle` is still pending. */
  isPending(handle: EventHandle): boolean {
    if (!Number.isSafeInteger(handle) || handle < 0) return false;
    const s = handle % SLOT_LIMIT;
    return s < this.cap && this.pos[s]! >= 0 && this.gen[s] === Math.floor(handle / SLOT_LIMIT);
  }

  clear(): void {
    while (this.count > 0) this.removeAt(this.count - 1);
  }

  private removeAt(i: number): void {
    const s = this.heap[i]!;
    const last = --this.count;
    if (i !== last) {
      const moved = this.heap[last]!;
      this.heap[i] = moved;
      this.pos[moved] = i;
      if (i > 0 && this.less(moved, this.heap[(i - 1) >> 1]!)) this.siftUp(i);
      else this.siftDown(i);
    }
    this.pos[s] = -1;
    this.gen[s] = (this.gen[s]! + 1) % GEN_LIMIT;
    this.free[this.freeTop++] = s;
  }

  private less(a: number, b: number): boolean {
    const ta = this.time[a]!;
    const tb = this.time[b]!;
    return ta < tb || (ta === tb && this.seq[a]! < this.seq[b]!);
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const s = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const ps = heap[p]!;
      if (!this.less(s, ps)) break;
      heap[i] = ps;
      this.pos[ps] = i;
      i = p;
    }
    heap[i] = s;
    this.pos[s] = i;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = this.count;
    const s = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.less(heap[r]!, heap[l]!)) c = r;
      const cs = heap[c]!;
      if (!this.less(cs, s)) break;
      heap[i] = cs;
      this.pos[cs] = i;
      i = c;
    }
    heap[i] = s;
    this.pos[s] = i;
  }

  private grow(newCap: number): void {
    if (newCap > SLOT_LIMIT) {
      if (this.cap >= SLOT_LIMIT)
        throw new IovError("ENOSPC", `event queue full: ${SLOT_LIMIT} pending events`, { limit: SLOT_LIMIT });
      newCap = SLOT_LIMIT;
    }
    const old = this.cap;
    const f64 = (a: Float64Array): Float64Array => {
      const n = new Float64Array(newCap);
      n.set(a);
      return n;
    };
    this.time = f64(this.time);
    this.seq = f64(this.seq);
    this.arg0 = f64(this.arg0);
    this.arg1 = f64(this.arg1);
    const handler = new Int32Array(newCap);
    handler.set(this.handler);
    this.handler = handler;
    const gen = new Uint32Array(newCap);
    gen.set(this.gen);
    this.gen = gen;
    const pos = new Int32Array(newCap).fill(-1);
    pos.set(this.pos);
    this.pos = pos;
    const heap = new Int32Array(newCap);
    heap.set(this.heap);
    this.heap = heap;
    // The free stack holds every free slot; new slots are pushed highest first so that slot 0 is used first.
    const free = new Int32Array(newCap);
    free.set(this.free.subarray(0, this.freeTop));
    let top = this.freeTop;
    for (let s = newCap - 1; s >= old; s--) free[top++] = s;
    this.free = free;
    this.freeTop = top;
    this.cap = newCap;
  }
}
