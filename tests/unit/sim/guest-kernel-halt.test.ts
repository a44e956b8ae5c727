/**
 * The guest kernel's halt and wake-up (host.vcpuHalt), one step at a time with a scripted driver:
 * an idle vCPU halts with one HLT exit and stops running; the interrupt or timer that ends the halt
 * makes it run again before its next step, so a posted interrupt arriving while it works costs no
 * exit. The end-to-end runs (exits.test.ts) cannot see the resume on an interrupt: NAPI keeps the
 * vector masked while the vCPU polls. Here the vCPU is kept busy by the application after the
 * interrupt that woke it, and a second interrupt arrives during that work.
 */
import { describe, expect, it } from "vitest";
import { Hypervisor } from "../../../src/hypervisor-glue/hypervisor.js";
import { CostMeter, ExitLedger } from "../../../sim/model/cpu.js";
import { GuestKernel, type GuestApp, type GuestNic, type HaltMode, type RxConsumer } from "../../../sim/model/guest-kernel.js";

const MiB = 1024 * 1024;
const VECTOR = 0x40;

class ScriptedNic implements GuestNic {
  readonly meter = new CostMeter();
  sent = 0;
  canXmit(): boolean {
    return true;
  }
  xmit(): boolean {
    this.sent++;
    return true;
  }
  mark(): void {}
  flush(): void {}
  poll(_budget: number, _rx: RxConsumer): number {
    return 0;
  }
  complete(): boolean {
    return false;
  }
}

class ScriptedApp implements GuestApp {
  pending = 0;
  lastCostNs = 100;
  wantsTx(): boolean {
    return this.pending > 0;
  }
  wantsSoftirqTx(): boolean {
    return false;
  }
  produce(out: Uint8Array): number {
    this.pending--;
    this.lastCostNs = 100;
    return out.length;
  }
  consume(): void {
    this.lastCostNs = 100;
  }
  flushRx(): void {
    this.lastCostNs = 0; // nothing held
  }
  gsoMore(): boolean {
    return false;
  }
  refused(): void {
    throw new Error("the scripted NIC refused a frame it had room for");
  }
}

function setup(halt: HaltMode) {
  const hv = new Hypervisor({ hostMemoryBytes: 64 * MiB, cpus: 2 });
  const g = hv.createGuest("vm0", 4 * MiB, 1);
  const nic = new ScriptedNic();
  const app = new ScriptedApp();
  const ledger = new ExitLedger(g.exits, { interrupt: 1000, hlt: 2000 });
  const k = new GuestKernel(g, nic, app, ledger, { irqEntryNs: 50, napiPollNs: 50 }, 64, halt);
  g.onInterrupt(VECTOR, () => k.onInterrupt());
  return { g, k, app, nic };
}

describe("guest kernel: halting vCPUs", () => {
  it("an idle vCPU halts once (HLT exit) and is not running; a posted interrupt then costs one wake exit", () => {
    const { g, k } = setup("kvm");
    expect(k.step()).toBe(-1);
    expect(g.exits.hlt).toBe(1);
    expect(g.vcpus[0]!.running).toBe(false);
    g.deliverInterrupt(0, VECTOR, true);
    expect(g.exits.interrupt).toBe(1);
    expect(g.vcpus[0]!.running).toBe(true);
  });

  it("the interrupt that woke the vCPU resumes it: a second posted interrupt during its work costs nothing", () => {
    const { g, k, app, nic } = setup("kvm");
    expect(k.step()).toBe(-1); // halted
    app.pending = 3; // the application has work once the vCPU runs (the wake-up's own doing is not needed)
    g.deliverInterrupt(0, VECTOR, true); // wakes: one exit
    expect(k.step()).toBeGreaterThan(0); // the NAPI poll the interrupt scheduled
    expect(k.step()).toBeGreaterThan(0); // a send
    g.deliverInterrupt(0, VECTOR, true); // arrives while the vCPU works: posted, no exit
    expect(g.exits.interrupt).toBe(1);
    expect(k.step()).toBeGreaterThan(0); // its poll
    while (k.step() > 0);
    expect(nic.sent).toBe(3);
    expect(g.exits.hlt).toBe(2); // halted again once idle
    expect(g.vcpus[0]!.running).toBe(false);
  });

  it("a timer (application kick) wakes a halted KVM vCPU through a host interrupt; a Xen PV guest's is the event channel's", () => {
    const kvm = setup("kvm");
    kvm.k.step();
    kvm.k.kick();
    expect(kvm.g.exits.interrupt).toBe(1);
    expect(kvm.g.vcpus[0]!.running).toBe(true);
    kvm.g.deliverInterrupt(0, VECTOR, true);
    expect(kvm.g.exits.interrupt).toBe(1);

    const xen = setup("xen");
    xen.k.step();
    expect(xen.g.exits.hlt).toBe(1);
    xen.k.kick();
    expect(xen.g.exits.interrupt).toBe(0);
    expect(xen.g.vcpus[0]!.running).toBe(true);
  });

  it("without halting an idle vCPU spins: no HLT, always running, posted interrupts never exit", () => {
    const { g, k } = setup("none");
    expect(k.step()).toBe(-1);
    expect(g.exits.hlt).toBe(0);
    expect(g.vcpus[0]!.running).toBe(true);
    g.deliverInterrupt(0, VECTOR, true);
    expect(g.exits.interrupt).toBe(0);
  });
});
