/**
 * CPU time in the simulation: cores are servers (engine Resources); software that runs on them (a
 * guest vCPU's kernel, a netback or vhost thread, a host softirq) is a Worker that executes one step
 * at a time. A step does its functional work on the bytes when it starts on its core, returns the CPU
 * time it costs, and the worker charges that time to the core; the step's effects that others can
 * see (a doorbell, a kick, a hand-off to another worker) happen in `finish()`, at the step's end.
 *
 * Several workers may share one core (more vCPUs than guest cores, several netback threads on one
 * Dom0 core). Each core runs one step at a time and, when a step ends, picks what runs next: softirq
 * work (a NAPI poll, PRIO_SOFTIRQ) before threads (PRIO_THREAD: vCPUs, netback, vhost, QEMU), and
 * among equals the worker that has waited longest — round robin at step granularity, the worker
 * that just ran going behind the others that are ready. Softirq priority is bounded as Linux bounds
 * it: after SOFTIRQ_POLLS steps in a row while threads were waiting (about netdev_budget, 300
 * frames), the rest of the work goes to ksoftirqd, a thread: the worker runs as a thread, round robin
 * with the others, until it runs out of work (NAPI completes). Without that bound a line-rate
 * receive load starves every thread on the core (receive livelock, Mogul & Ramakrishnan, TOCS 1997). A step is never preempted: softirq work
 * woken during a thread's step waits for that step to end (Linux would run it at the interrupt's
 * exit). No scheduling quantum and no context-switch cost: that is the simplification; the
 * contention itself is real.
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
    return ExitLedger.total(this.exits) === this.seenTotal ? 0 : this.priced();
  }

  /** The price of the counts above those seen at the last `take()`. */
  private priced(): number {
    const e = this.exits;
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
    const ns = this.priced();
    const s = this.seen;
    s[0] = e.mmio;
    s[1] = e.pio;
    s[2] = e.interrupt;
    s[3] = e.eoi;
    s[4] = e.hypercall;
    s[5] = e.ipi;
    s[6] = e.hlt;
    s[7] = e.eptViolation;
    s[8] = e.configSpace;
    this.seenTotal = total;
    return ns;
  }
}

export interface WorkerBody {
  /** Start the next piece of work at `engine.now`: do it on the bytes, return its CPU time (ns), or -1 when idle. */
  step(): number;
  /** The step's externally visible effects, at its end. */
  finish(): void;
}

/** Softirq steps (full NAPI polls) in a row before the rest is left to ksoftirqd (≈ netdev_budget 300 / 64). */
export const SOFTIRQ_POLLS = 4;

/** Scheduling classes on a core: lower runs first. */
export const PRIO_SOFTIRQ = 0;
export const PRIO_THREAD = 1;
export type WorkerPriority = typeof PRIO_SOFTIRQ | typeof PRIO_THREAD;

/** A core's run queue: the worker whose step is on the core, and the ready ones by class (FIFO). */
class RunQueue {
  current: Worker | undefined;
  readonly ready: [Worker[], Worker[]] = [[], []];
  next(): Worker | undefined {
    return this.ready[0].length > 0 ? this.ready[0].shift() : this.ready[1].shift();
  }
}

/** Registry of workers: two engine handlers shared by all (step start, step end), addressed by index. */
export class Workers {
  private readonly list: Worker[] = [];
  private readonly queues = new Map<Resource, RunQueue>();
  readonly hStep: HandlerId;
  readonly hDone: HandlerId;

  constructor(readonly engine: Engine) {
    this.hStep = engine.handler((i) => this.list[i]!.onStep(), "worker.step");
    this.hDone = engine.handler((i) => this.list[i]!.onDone(), "worker.done");
  }

  add(name: string, core: Core, body: WorkerBody, priority: WorkerPriority = PRIO_THREAD): Worker {
    let rq = this.queues.get(core.res);
    if (rq === undefined) {
      rq = new RunQueue();
      this.queues.set(core.res, rq);
    }
    const w = new Worker(this, this.list.length, name, core, body, priority, rq);
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
  /** Waiting in its core's run queue. */
  private queued = false;
  /** Softirq steps in a row while threads were waiting; whether the work has gone to ksoftirqd. */
  private streak = 0;
  private ksoftirqd = false;
  /** Steps run and CPU time charged (for reports and tests). */
  steps = 0;
  busyNs = 0;
  /** When the current step's CPU time began on the core (the step's start). */
  startNs = 0;

  constructor(
    private readonly reg: Workers,
    readonly index: number,
    readonly name: string,
    readonly core: Core,
    private readonly body: WorkerBody,
    readonly priority: WorkerPriority,
    private readonly rq: RunQueue,
  ) {}

  /** There may be work: run a step now unless one is running, scheduled or waiting for the core. */
  wake(): void {
    if (this.running || this.scheduled || this.queued) return;
    if (this.rq.current !== undefined) {
      this.enqueue(); // the core is busy with another worker's step: ready when it ends
      return;
    }
    this.scheduled = true;
    this.reg.engine.scheduleIn(0, this.reg.hStep, this.index);
  }

  get idle(): boolean {
    return !this.running && !this.scheduled && !this.queued;
  }

  /** @internal */
  onStep(): void {
    this.scheduled = false;
    if (this.rq.current !== undefined) this.enqueue();
    else this.run();
  }

  /** @internal */
  onDone(): void {
    this.body.finish();
    const rq = this.rq;
    rq.current = undefined;
    this.running = false;
    if (this.priority === PRIO_SOFTIRQ && !this.ksoftirqd) {
      if (rq.ready[PRIO_THREAD].length === 0) this.streak = 0;
      else if (++this.streak >= SOFTIRQ_POLLS) this.ksoftirqd = true;
    }
    const cls: WorkerPriority = this.ksoftirqd ? PRIO_THREAD : this.priority;
    if (rq.ready[PRIO_SOFTIRQ].length > 0 || (cls === PRIO_THREAD && rq.ready[PRIO_THREAD].length > 0)) {
      // it may have more work: it waits its turn behind the others
      this.enqueue(cls);
      rq.next()!.dispatch();
    } else this.run();
  }

  /** @internal Taken from the run queue by the core. */
  dispatch(): void {
    this.queued = false;
    this.run();
  }

  private enqueue(cls: WorkerPriority = this.priority): void {
    this.queued = true;
    this.rq.ready[cls].push(this);
  }

  private run(): void {
    const rq = this.rq;
    const engine = this.reg.engine;
    this.startNs = engine.now;
    const cost = this.body.step();
    if (cost < 0) {
      this.running = false;
      this.streak = 0;
      this.ksoftirqd = false;
      rq.next()?.dispatch();
      return;
    }
    rq.current = this;
    this.running = true;
    this.steps++;
    this.busyNs += cost;
    const done = this.core.res.charge(engine.now, cost);
    engine.scheduleAt(done, this.reg.hDone, this.index);
  }
}
