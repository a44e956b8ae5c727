/**
 * The kernel of one guest as its vCPU runs it: interrupt entry, NAPI polling with a budget, the
 * application's sends, and the doorbell/kick/notification at the end of each step. Every backend's
 * guest driver plugs in as a `GuestNic`; the traffic's application as a `GuestApp`.
 *
 * Batching is the kernel's, not written in: an interrupt schedules NAPI; a poll takes at most
 * `NAPI_BUDGET` frames and re-arms the device only when it finished under budget (else it polls
 * again); the application is blocked while its driver's TX ring is full and resumes when a poll has
 * reclaimed descriptors. One transmission per send step — a frame, or with GSO the frames of a
 * super-segment — and its doorbell at the end of the step (the frames of a GSO super-segment share
 * one: xmit_more). TCP ACKs are sent from the receive softirq, in the poll's step, each with a
 * doorbell of its own (rung at the step's end, in order); with GRO the poll's segments of a stream
 * go up the stack as aggregates, flushed at its end. Other replies wait for the application.
 * Softirq work has priority: after SOFTIRQ_POLLS consecutive full polls (about
 * Linux's netdev_budget of 300 frames) the application gets one step before polling goes on, as
 * when ksoftirqd takes over.
 *
 * Time inside a step: the step's CPU time runs from the worker's start, and a received frame reaches
 * the application when the CPU has done the work before it in the step and its own (interrupt entry,
 * poll entry, the driver's and the stack's work on earlier frames and on this one): a poll of 64
 * frames hands them up one after another over its duration, not all at its start.
 */
import type { Guest } from "../../src/hypervisor-glue/guest.js";
import { SOFTIRQ_POLLS, type CostMeter, type ExitLedger, type Worker, type WorkerBody } from "./cpu.js";

/**
 * A driver's transmit marks: the ring position after each transmission of a step, rung one by one
 * at its end (at most 256 a step; past that the last one moves on, merging transmissions).
 */
export class TxMarks {
  private readonly v = new Float64Array(256);
  n = 0;
  push(x: number): void {
    if (this.n > 0 && this.v[this.n - 1] === x) return; // nothing queued since the last mark
    if (this.n === this.v.length) this.v[this.n - 1] = x;
    else this.v[this.n++] = x;
  }
  at(i: number): number {
    return this.v[i]!;
  }
  clear(): void {
    this.n = 0;
  }
}

/** Linux's default NAPI weight (NAPI_POLL_WEIGHT). */
export const NAPI_BUDGET = 64;

export interface RxConsumer {
  /** A received frame (bytes valid during the call); `gsoSize` > 0: a TCPv4 GSO packet of segments of that payload size. */
  rx(buf: Uint8Array, len: number, gsoSize?: number): void;
}

/** A guest network driver as the kernel uses it. */
export interface GuestNic {
  /** Driver CPU time accumulated by the calls below (and by work its interrupt handler did). */
  readonly meter: CostMeter;
  /** Room for one more frame (after reclaiming completed ones if needed). */
  canXmit(): boolean;
  /**
   * Copy a frame into the TX ring; false when full. `gsoSize` > 0: a TSO super-frame to be cut into
   * segments of that many payload bytes (only a driver whose device negotiated TSO is given one).
   */
  xmit(frame: Uint8Array, len: number, gsoSize?: number): boolean;
  /**
   * The frames queued since the last mark are one transmission (an skb sent without xmit_more):
   * flush() rings the device for them on their own.
   */
  mark(): void;
  /**
   * Make queued frames visible to the device (doorbell / kick / event channel): one ring per mark,
   * in order (each publishing up to its mark; suppressed where the device asked not to be told),
   * then one for frames queued after the last mark.
   */
  flush(): void;
  /** NAPI poll: reclaim TX, hand up to `budget` received frames to `rx`; returns frames received. */
  poll(budget: number, rx: RxConsumer): number;
  /** NAPI complete: re-arm the interrupt/notification; true if work is already waiting (poll again). */
  complete(): boolean;
}

/** The guest's application (with its socket and transport stack). */
export interface GuestApp {
  /** A frame is ready to be sent now. */
  wantsTx(): boolean;
  /** A frame the receive softirq sends itself (a TCP ACK) is pending. */
  wantsSoftirqTx(): boolean;
  /** Write the next frame into `out` and return its length. */
  produce(out: Uint8Array): number;
  /**
   * The driver refused the frame just produced although it had reported room (canXmit): a model
   * inconsistency, counted as a drop (`guest:tx-refused`) so that it shows instead of a frame
   * vanishing. The backends keep the contract; the conservation tests check that none is counted.
   */
  refused(len: number): void;
  /**
   * A frame for the application; the stack starts on it at `atNs` (≥ now: the CPU time of the step
   * before it), and it reaches the application `lastCostNs` later. `gsoSize` > 0: a GSO packet (the
   * host's GRO aggregate), segments of that payload size that cross the stack as one packet.
   */
  consume(buf: Uint8Array, len: number, atNs: number, gsoSize?: number): void;
  /**
   * The NAPI poll ended: what the stack holds from it (a GRO aggregate) goes up now, from `atNs`;
   * its CPU time is in lastCostNs (0 when nothing was held).
   */
  flushRx(atNs: number): void;
  /** GSO: the frame just produced has more of its super-segment to send now (same step, one doorbell). */
  gsoMore(): boolean;
  /** TSO: the frame just produced is a super-frame of segments of this payload size (0 or absent: a plain frame). */
  readonly lastGsoSize?: number;
  /** CPU time (ns) of the last produce/consume/flushRx in the stack and the application (copies included). */
  readonly lastCostNs: number;
}

export interface KernelCosts {
  readonly irqEntryNs: number;
  readonly napiPollNs: number;
  /** The timer interrupt's own work (host.guestHz), besides irqEntryNs. */
  readonly tickNs?: number;
}

/**
 * The exits a guest's timer tick costs (host.guestHz): `kvm` — the LAPIC timer is the host's (its
 * expiry is an exit that injects the interrupt) and the guest's EOI write exits; `kvm-apicv` — the
 * same with a virtual APIC, whose EOI does not exit (the posted-interrupt hardware); `xen` — Xen
 * delivers VIRQ_TIMER as an upcall and the PV guest re-arms its one-shot timer with a hypercall.
 */
export type TickExits = "kvm" | "kvm-apicv" | "xen";

/**
 * What an idle vCPU does (host.vcpuHalt). `kvm`: the guest executes HLT, a VM exit (counted as
 * `hlt`); the vCPU is then not running, so an interrupt for it goes through the host, which resumes
 * it — Guest.deliverInterrupt counts that as an interrupt exit even when posted — and a timer that
 * wakes it (a kick) is a host interrupt too, counted the same. `xen`: a PV guest blocks with the
 * SCHEDOP_block hypercall (counted as `hlt`), and the event-channel upcall that wakes it is already
 * charged per interrupt. `none`: an idle vCPU spins at no cost.
 */
export type HaltMode = "none" | "kvm" | "xen";

export class GuestKernel implements WorkerBody, RxConsumer {
  worker: Worker | undefined;
  private napi = false;
  private irqs = 0;
  private flushPending = false;
  private pollRun = 0;
  private rxCost = 0;
  /** Start of the current poll's per-frame work: the step's start plus the CPU time before the poll's frames. */
  private rxBase = 0;
  private halted = false;
  /** Timer ticks taken since the last step (their handler runs in it). */
  private ticksDue = 0;
  private readonly out: Uint8Array;
  /** Interrupts taken, NAPI polls, frames sent and received, timer ticks. */
  interrupts = 0;
  ticks = 0;
  polls = 0;
  sent = 0;
  received = 0;

  constructor(
    readonly guest: Guest,
    readonly nic: GuestNic,
    readonly app: GuestApp,
    private readonly exits: ExitLedger,
    private readonly c: KernelCosts,
    maxFrame: number,
    private readonly halt: HaltMode = "none",
    private readonly tickExits: TickExits = "kvm",
  ) {
    this.out = new Uint8Array(maxFrame);
  }

  /** The vCPU leaves its halt (its step is about to run). */
  private resume(): void {
    this.halted = false;
    this.guest.vcpus[0]!.running = true;
  }

  /** The device's interrupt (or event-channel upcall) reached this vCPU. */
  onInterrupt(): void {
    if (this.halted) this.resume();
    this.interrupts++;
    this.irqs++;
    this.napi = true;
    this.worker?.wake();
  }

  /**
   * The guest's periodic timer interrupt (host.guestHz): its exits now, its handler in the vCPU's
   * next step (a halted vCPU resumes for it: the wake-up is the timer's own exit).
   */
  onTick(): void {
    if (this.halted) this.resume();
    const e = this.guest.exits;
    if (this.tickExits === "xen") e.hypercall++; // VCPUOP_set_singleshot_timer for the next tick
    else {
      e.interrupt++;
      if (this.tickExits === "kvm") e.eoi++;
    }
    this.ticks++;
    this.ticksDue++;
    this.worker?.wake();
  }

  /** The application may have something to send (a timer fired, a window opened). */
  kick(): void {
    if (this.halted) {
      // a timer (or the application's wake-up) reaches a halted vCPU through a host interrupt
      if (this.halt === "kvm") this.guest.exits.interrupt++;
      this.resume();
    }
    this.worker?.wake();
  }

  step(): number {
    let c = this.nic.meter.take() + this.exits.take();
    if (this.irqs > 0) {
      c += this.irqs * this.c.irqEntryNs;
      this.irqs = 0;
    }
    if (this.ticksDue > 0) {
      c += this.ticksDue * (this.c.irqEntryNs + (this.c.tickNs ?? 0));
      this.ticksDue = 0;
    }
    const tx = this.app.wantsTx();
    if (this.napi && !(this.pollRun >= SOFTIRQ_POLLS && tx && this.nic.canXmit())) {
      this.pollRun++;
      this.polls++;
      this.rxCost = 0;
      c += this.c.napiPollNs + this.nic.meter.take() + this.exits.take();
      this.rxBase = (this.worker !== undefined ? this.worker.startNs : 0) + c;
      const n = this.nic.poll(NAPI_BUDGET, this);
      // napi_gro_flush: the frames GRO still holds go up the stack at the poll's end
      this.app.flushRx(this.rxBase + this.nic.meter.ns + this.exits.pending() + this.rxCost);
      this.rxCost += this.app.lastCostNs;
      c += this.rxCost;
      // ACKs go out from the softirq, behind the frames that caused them
      // each ACK is sent on its own (tcp_send_ack → dev_queue_xmit, no xmit_more): a doorbell each
      while (this.app.wantsSoftirqTx() && this.nic.canXmit()) {
        c += this.send();
        this.nic.mark();
      }
      if (n < NAPI_BUDGET) {
        this.napi = false;
        this.pollRun = 0;
        if (this.nic.complete()) this.napi = true;
      }
      return c + this.nic.meter.take() + this.exits.take();
    }
    this.pollRun = 0;
    if (tx && this.nic.canXmit()) {
      c += this.send();
      // GSO: the rest of the super-segment goes in this step, its doorbell at the step's end (xmit_more)
      while (this.app.gsoMore() && this.nic.canXmit()) c += this.send();
      this.nic.mark();
      return c + this.nic.meter.take() + this.exits.take();
    }
    if (c > 0) return c;
    if (this.halt !== "none") {
      // nothing to do: the vCPU halts until an interrupt or a timer
      this.halted = true;
      this.guest.vcpus[0]!.running = false;
      this.guest.exits.hlt++;
    }
    return -1;
  }

  private send(): number {
    const len = this.app.produce(this.out);
    if (this.nic.xmit(this.out, len, this.app.lastGsoSize ?? 0)) {
      this.sent++;
      this.flushPending = true;
    } else this.app.refused(len);
    return this.app.lastCostNs;
  }

  rx(buf: Uint8Array, len: number, gsoSize = 0): void {
    this.received++;
    // the driver's work so far in this poll (this frame's included) and the stack's on earlier frames
    this.app.consume(buf, len, this.rxBase + this.nic.meter.ns + this.exits.pending() + this.rxCost, gsoSize);
    this.rxCost += this.app.lastCostNs;
  }

  finish(): void {
    if (this.flushPending) {
      this.flushPending = false;
      this.nic.flush();
    }
  }
}
