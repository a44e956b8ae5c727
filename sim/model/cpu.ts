/**
 * CPU time in the simulation: cores are FIFO servers (engine Resources); software that runs on them
 * (a guest vCPU's kernel, a netback or vhost thread, a host softirq) is a Worker that executes one
 * step at a time. A step does its functional work on the bytes at the moment it starts, returns the
 * CPU time it costs, and the worker charges that time to its core; the step's effects that others can
 * see (a doorbell, a kick, a hand-off to another worker) happen in `finish()`, at the step's end.
 *
 * Several workers may share one core (more vCPUs than guest cores, several netback threads on one
 * Dom0 core): their steps queue FIFO on the core, work-conserving, with no scheduling quantum and no
 * context-switch cost. That is the simplification; the contention itself is real.
 */
import type { Engine, HandlerId } from "../engine/engine.js";
import type { Resource } from "../engine/resource.js";
import type { ExitCounters, ExitReason } from "../../src/hypervisor-glue/exits.js";
import { EXIT_REASONS } from "../../src/hypervisor-glue/exits.js";

/** What a core is used for, for utilisation reports. */
export type CoreClass = "guest" | "host" | "vhost";
export const CORE_CLASSES: readonly CoreClass[] = ["guest", "host", "vhost"];

export interface Core {
  readonly res: Resource;
  readonly cls: CoreClass;
  readonly index: number;
}

/** CPU time a piece of software accumulates while it works; the owning worker's step drains it. */
export class CostMeter {
  ns = 0;
  take(): number {
    const n = this.ns;
    this.ns = 0;
    return n;
  }
}

/**
 * Turns a guest's exit counters into CPU time: every exit counted since the last `take()` costs
 * the per-reason time given. The exits are counted by the mechanisms (Guest.mmioWrite on a trapped
 * region, Guest.deliverInterrupt, hypercalls); this only prices them.
 */
export class ExitLedger {
  /** Price (ns) of each reason, in EXIT_REASONS order; the counts seen at the last `take()`. */
  private readonly price = new Float64Array(EXIT_REASONS.length);
  private readonly seen = new Float64Array(EXIT_REASONS.length);
  /** Sum of all counters at the last `take()`: most calls find no new exit and stop there. */
  private seenTotal: number;
  constructor(
    private readonly exits: ExitCounters,
    pricesNs: Readonly<Partial<Record<ExitReason, number>>>,
  ) {
    EXIT_REASONS.forEach((r, i) => {
      this.price[i] = pricesNs[r] ?? 0;
      this.seen[i] = exits[r];
    });
    this.seenTotal = ExitLedger.total(exits);
  }

  /* Named loads (one shape, fixed fields) rather than a loop over reason strings. */
  private static total(e: ExitCounters): number {
    return e.mmio + e.pio + e.interrupt + e.eoi + e.hypercall + e.ipi + e.hlt + e.eptViolation + e.configSpace;
  }

  /** CPU time of the exits counted since the last `take()`, without taking it. */
  pending(): number {
    const e = this.exits;
    if (ExitLedger.total(e) === this.seenTotal) return 0;
    const s = this.seen;
    const p = this.price;
    return (
      (e.mmio - s[0]!) * p[0]! +
      (e.pio - s[1]!) * p[1]! +
      (e.interrupt - s[2]!) * p[2]! +
      (e.eoi - s[3]!) * p[3]! +
      (e.hypercall - s[4]!) * p[4]! +
      (e.ipi - s[5]!) * p[5]! +
      (e.hlt - s[6]!) * p[6]! +
      (e.eptViolation - s[7]!) * p[7]! +
      (e.configSpace - s[8]!) * p[8]!
    );
  }

  /** CPU time of the exits counted since the last call (reasons without a price cost nothing). */
  take(): number {
    const e = this.exits;
    const total = ExitLedger.total(e);
    if (total === this.seenTotal) return 0;
    this.seenTotal = total;
    return (
      this.delta(0, e.mmio) +
      this.delta(1, e.pio) +
      this.delta(2, e.interrupt) +
      this.delta(3, e.eoi) +
      this.delta(4, e.hypercall) +
      this.delta(5, e.ipi) +
      this.delta(6, e.hlt) +
      this.delta(7, e.eptViolation) +
      this.delta(8, e.configSpace)
    );
  }

  private delta(i: number, now: number): number {
    const d = now - this.seen[i]!;
    if (d === 0) return 0;
    this.seen[i] = now;
    return d * this.price[i]!;
  }
}

export interface WorkerBody {
  /** Start the next piece of work at `engine.now`: do it on the bytes, return its CPU time (ns), or -1 when idle. */
  step(): number;
  /** The step's externally visible effects, at its end. */
  finish(): void;
}

/** Registry of workers: two engine handlers shared by all (step start, step end), addressed by index. */
export class Workers {
  private readonly list: Worker[] = [];
  readonly hStep: HandlerId;
  readonly hDone: HandlerId;

  constructor(readonly engine: Engine) {
    this.hStep = engine.handler((i) => this.list[i]!.onStep(), "worker.step");
    this.hDone = engine.handler((i) => this.list[i]!.onDone(), "worker.done");
  }

  add(name: string, core: Core, body: WorkerBody): Worker {
    const w = new Worker(this, this.list.length, name, core, body);
    this.list.push(w);
    return w;
  }

  get all(): readonly Worker[] {
    return this.list;
  }
}

export class Worker {
  private scheduled = false;
  private running = false;
  /** Steps run and CPU time charged (for reports and tests). */
  steps = 0;
  busyNs = 0;
  /** When the current step's CPU time begins: now, or later if the core is still busy with another worker's step. */
  startNs = 0;

  constructor(
    private readonly reg: Workers,
    readonly index: number,
    readonly name: string,
    readonly core: Core,
    private readonly body: WorkerBody,
  ) {}

  /** There may be work: run a step now unless one is running or already scheduled. */
  wake(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    this.reg.engine.scheduleIn(0, this.reg.hStep, this.index);
  }

  get idle(): boolean {
    return !this.running && !this.scheduled;
  }

  /** @internal */
  onStep(): void {
    this.scheduled = false;
    this.run();
  }

  /** @internal */
  onDone(): void {
    this.body.finish();
    this.run();
  }

  private run(): void {
    const now = this.reg.engine.now;
    const busy = this.core.res.busyUntil;
    this.startNs = busy > now ? busy : now;
    const cost = this.body.step();
    if (cost < 0) {
      this.running = false;
      return;
    }
    this.running = true;
    this.steps++;
    this.busyNs += cost;
    const engine = this.reg.engine;
    const done = this.core.res.charge(engine.now, cost);
    engine.scheduleAt(done, this.reg.hDone, this.index);
  }
}
