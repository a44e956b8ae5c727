import { IovError } from "../../src/errors.js";

/** What a resource stands for; used to group utilisation in reports. */
export type ResourceKind = "cpu" | "pcie" | "wire" | "memory" | "other";

export interface ResourceStats {
  readonly name: string;
  readonly kind: ResourceKind;
  /** Busy time inside the accounting window up to `atNs`. */
  readonly busyNs: number;
  /** Length of the accounting window up to `atNs`. */
  readonly elapsedNs: number;
  /** busyNs / elapsedNs (0 for an empty window). */
  readonly utilisation: number;
  /** Charges served in the window. */
  readonly served: number;
  /** Mean time a charge waited behind earlier work before it started. */
  readonly meanWaitNs: number;
  /** Work already accepted that ends after `atNs`. */
  readonly backlogNs: number;
}

/**
 * A FIFO server with one unit of capacity: a CPU core, one direction of a PCIe link, an Ethernet wire.
 * A charge made at time t for d ns starts at max(t, busyUntil) and completes d ns later; the caller
 * schedules whatever follows at the returned completion time.
 *
 * Accounting. Charges must be made at non-decreasing times. Then every gap between busy intervals lies
 * before the latest charge time, so the work that ends after a time t ≥ that charge time is the single
 * interval [t, busyUntil): the busy time inside the window up to t is `busyNs − max(0, busyUntil − t)`.
 */
export class Resource {
  private _busyUntil: number;
  private _busyNs = 0;
  private _served = 0;
  private _waitNs = 0;
  private _windowStart: number;
  private _lastChargeAt: number;

  constructor(
    readonly name: string,
    readonly kind: ResourceKind = "other",
    startNs = 0,
  ) {
    if (!Number.isFinite(startNs) || startNs < 0)
      throw new IovError("ERANGE", `resource ${name}: start time ${startNs} must be finite and ≥ 0`, { startNs });
    this._busyUntil = startNs;
    this._windowStart = startNs;
    this._lastChargeAt = startNs;
  }

  /** Time at which all accepted work is done. */
  get busyUntil(): number {
    return this._busyUntil;
  }
  get windowStartNs(): number {
    return this._windowStart;
  }
  get served(): number {
    return this._served;
  }

  /**
   * Queue `durationNs` of work arriving at `nowNs`; returns its completion time.
   * Throws ERANGE for a negative or non-finite duration or a charge earlier than the previous one.
   */
  charge(nowNs: number, durationNs: number): number {
    if (!(durationNs >= 0 && durationNs < Infinity))
      throw new IovError("ERANGE", `resource ${this.name}: duration ${durationNs} must be finite and ≥ 0`, { durationNs });
    if (!(nowNs >= this._lastChargeAt))
      throw new IovError("ERANGE", `resource ${this.name}: charge at ${nowNs} ns precedes the previous charge at ${this._lastChargeAt} ns`, {
        nowNs,
        lastChargeAt: this._lastChargeAt,
      });
    this._lastChargeAt = nowNs;
    const start = nowNs > this._busyUntil ? nowNs : this._busyUntil;
    this._waitNs += start - nowNs;
    this._busyUntil = start + durationNs;
    this._busyNs += durationNs;
    this._served++;
    return this._busyUntil;
  }

  /** Whether the resource has no accepted work left at `atNs`. */
  idleAt(atNs: number): boolean {
    return this._busyUntil <= atNs;
  }

  /** Busy time inside the window [windowStart, atNs]; atNs must not precede the last charge. */
  busyNsAt(atNs: number): number {
    this.checkQueryTime(atNs);
    const tail = this._busyUntil - atNs;
    return tail > 0 ? this._busyNs - tail : this._busyNs;
  }

  utilisation(atNs: number): number {
    const elapsed = atNs - this._windowStart;
    return elapsed > 0 ? this.busyNsAt(atNs) / elapsed : 0;
  }

  /** Starts a new accounting window at `atNs` (e.g. after warm-up); work still queued carries over. */
  resetWindow(atNs: number): void {
    this.checkQueryTime(atNs);
    this._busyNs = Math.max(0, this._busyUntil - atNs);
    this._windowStart = atNs;
    this._served = 0;
    this._waitNs = 0;
  }

  stats(atNs: number): ResourceStats {
    const busyNs = this.busyNsAt(atNs);
    const elapsedNs = atNs - this._windowStart;
    return {
      name: this.name,
      kind: this.kind,
      busyNs,
      elapsedNs,
      utilisation: elapsedNs > 0 ? busyNs / elapsedNs : 0,
      served: this._served,
      meanWaitNs: this._served > 0 ? this._waitNs / this._served : 0,
      backlogNs: Math.max(0, this._busyUntil - atNs),
    };
  }

  private checkQueryTime(atNs: number): void {
    if (!(atNs >= this._lastChargeAt && atNs >= this._windowStart))
      throw new IovError("ERANGE", `resource ${this.name}: accounting at ${atNs} ns precedes the last charge or window start`, {
        atNs,
        lastChargeAt: this._lastChargeAt,
        windowStart: this._windowStart,
      });
  }
}
