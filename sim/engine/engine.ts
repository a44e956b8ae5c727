import { IovError } from "../../src/errors.js";
import { Prng } from "./prng.js";
import { EventQueue, type EventHandle } from "./queue.js";
import { Resource, type ResourceKind, type ResourceStats } from "./resource.js";

/**
 * Discrete-event engine in simulated nanoseconds.
 *
 * Hot path without closures: a component registers its handlers once (`handler(fn)` → id) and then
 * schedules events as (time, handler id, two numbers), e.g. (t, onTxDone, queueIndex, descriptorIndex).
 * Event records are pooled in the queue. `callAt`/`callIn` accept a plain callback for set-up and
 * tests; they allocate a closure and belong off the hot path.
 *
 * Determinism: events run in (time, insertion sequence) order; the PRNG is seeded from the options;
 * nothing reads the wall clock.
 */

export type EventHandler = (a0: number, a1: number) => void;
export type HandlerId = number;

export interface EngineOptions {
  /** Seed of `engine.rng` (default 1). */
  readonly seed?: number | bigint;
  /** Initial size of the event pool. */
  readonly initialEvents?: number;
}

/** Handler slot 0 runs one-shot callbacks registered through `callAt`/`callIn`. */
const ONE_SHOT_HANDLER = 0;
/** Events at one instant past which the model is taken to be in a livelock (an error, not a hang). */
const LIVELOCK_EVENTS = 1_000_000;

export class Engine {
  readonly rng: Prng;
  private readonly queue: EventQueue;
  private readonly handlers: EventHandler[] = [];
  private readonly handlerNames: string[] = [];
  private readonly oneShots: Array<(() => void) | undefined> = [];
  private readonly oneShotFree: number[] = [];
  private readonly resources: Resource[] = [];
  private _now = 0;
  private _processed = 0;
  private running = false;
  /** Events dispatched in a row at the current instant (livelock guard). */
  private sameTime = 0;
  private stopRequested = false;

  constructor(opts: EngineOptions = {}) {
    this.rng = new Prng(opts.seed ?? 1);
    this.queue = new EventQueue(opts.initialEvents);
    this.handlers.push((slot) => this.runOneShot(slot));
    this.handlerNames.push("oneShot");
  }

  /** Current simulated time (ns). */
  get now(): number {
    return this._now;
  }
  /** Events dispatched so far. */
  get processed(): number {
    return this._processed;
  }
  /** Events waiting to run. */
  get pending(): number {
    return this.queue.size;
  }
  /** Time of the next pending event, +Infinity if none. */
  get nextEventTime(): number {
    return this.queue.peekTime();
  }

  /** Registers a handler once; the returned id is what events carry. */
  handler(fn: EventHandler, name = `h${this.handlers.length}`): HandlerId {
    this.handlers.push(fn);
    this.handlerNames.push(name);
    return this.handlers.length - 1;
  }

  handlerName(id: HandlerId): string {
    const n = this.handlerNames[id];
    if (n === undefined) throw new IovError("EINVAL", `no handler with id ${id}`, { id });
    return n;
  }

  /** Schedules handler `h` at absolute time `atNs` (≥ now). */
  scheduleAt(atNs: number, h: HandlerId, a0 = 0, a1 = 0): EventHandle {
    if (!(atNs >= this._now && atNs < Infinity))
      throw new IovError("ERANGE", `cannot schedule at ${atNs} ns: now is ${this._now} ns`, { atNs, now: this._now });
    if (!(h > 0 && h < this.handlers.length))
      throw new IovError("EINVAL", `no handler with id ${h}`, { handler: h });
    return this.queue.push(atNs, h, a0, a1);
  }

  /** Schedules handler `h` `delayNs` (≥ 0) from now. */
  scheduleIn(delayNs: number, h: HandlerId, a0 = 0, a1 = 0): EventHandle {
    return this.scheduleAt(this._now + delayNs, h, a0, a1);
  }

  /** Runs `fn` at `atNs`. Allocates: for set-up and tests, not for per-packet events. */
  callAt(atNs: number, fn: () => void): EventHandle {
    if (!(atNs >= this._now && atNs < Infinity))
      throw new IovError("ERANGE", `cannot schedule at ${atNs} ns: now is ${this._now} ns`, { atNs, now: this._now });
    const slot = this.oneShotFree.pop() ?? this.oneShots.length;
    this.oneShots[slot] = fn;
    return this.queue.push(atNs, ONE_SHOT_HANDLER, slot, 0);
  }

  callIn(delayNs: number, fn: () => void): EventHandle {
    return this.callAt(this._now + delayNs, fn);
  }

  /** Cancels a pending event; false if it already ran or was cancelled. */
  cancel(handle: EventHandle): boolean {
    if (!this.queue.cancel(handle)) return false;
    if (this.queue.poppedHandler === ONE_SHOT_HANDLER) this.releaseOneShot(this.queue.poppedArg0);
    return true;
  }

  isPending(handle: EventHandle): boolean {
    return this.queue.isPending(handle);
  }

  /**
   * Dispatches every event with time ≤ `untilNs` in (time, sequence) order, including events that
   * handlers schedule meanwhile, then advances `now` to `untilNs` (when finite and not stopped).
   * Returns the number of events dispatched.
   */
  run(untilNs = Infinity): number {
    if (Number.isNaN(untilNs) || untilNs < this._now)
      throw new IovError("ERANGE", `cannot run until ${untilNs} ns: now is ${this._now} ns`, { untilNs, now: this._now });
    const n = this.dispatch(untilNs, Infinity);
    if (!this.stopRequested && untilNs !== Infinity) this._now = untilNs;
    return n;
  }

  /** Dispatches the single next event (if any); returns whether one ran. */
  step(): boolean {
    const t = this.queue.peekTime();
    if (t === Infinity) return false;
    return this.dispatch(t, 1) === 1;
  }

  /** Makes `run` return after the current event. */
  stop(): void {
    this.stopRequested = true;
  }

  // ── resources ──────────────────────────────────────────────────────────────

  /** Creates a resource whose accounting window starts now and tracks it for `resourceStats()`. */
  addResource(name: string, kind: ResourceKind = "other"): Resource {
    if (this.resources.some((r) => r.name === name))
      throw new IovError("EEXIST", `resource ${name} already exists`, { name });
    const r = new Resource(name, kind, this._now);
    this.resources.push(r);
    return r;
  }

  /** Queues `durationNs` of work on `r` arriving now; returns the completion time. */
  charge(r: Resource, durationNs: number): number {
    return r.charge(this._now, durationNs);
  }

  /** Restarts the accounting window of every tracked resource (e.g. after warm-up). */
  resetAccounting(): void {
    for (const r of this.resources) r.resetWindow(this._now);
  }

  resourceStats(): ResourceStats[] {
    return this.resources.map((r) => r.stats(this._now));
  }

  private dispatch(untilNs: number, max: number): number {
    if (this.running) throw new IovError("EBUSY", "the engine cannot be run from inside an event handler");
    this.running = true;
    this.stopRequested = false;
    const q = this.queue;
    const handlers = this.handlers;
    let n = 0;
    try {
      while (n < max && !this.stopRequested && q.size > 0 && q.peekTime() <= untilNs) {
        q.pop();
        const t = q.poppedTime;
        if (t === this._now) {
          if (++this.sameTime > LIVELOCK_EVENTS)
            throw new IovError("ELOOP", `engine: more than ${LIVELOCK_EVENTS} events at ${t} ns without time advancing (the last: ${this.handlerNames[q.poppedHandler]}): a livelock in the model (work repeating without time passing: costs overridden to 0?)`, { atNs: t });
        } else this.sameTime = 0;
        this._now = t;
        n++;
        handlers[q.poppedHandler]!(q.poppedArg0, q.poppedArg1);
      }
    } finally {
      this.running = false;
      this._processed += n;
    }
    return n;
  }

  private runOneShot(slot: number): void {
    const fn = this.oneShots[slot];
    this.releaseOneShot(slot);
    if (fn !== undefined) fn();
  }

  private releaseOneShot(slot: number): void {
    this.oneShots[slot] = undefined;
    this.oneShotFree.push(slot);
  }
}
