/**
 * Where interrupts end up on the host: the local APICs of the CPUs that run vCPUs. Every guest vCPU
 * gets an APIC ID. A remapped interrupt (host vector) is taken by the hypervisor and injected into
 * the guest (an exit, and an exit for the guest's EOI). A posted-interrupt notification to a CPU that
 * runs the vCPU is handled by the CPU itself: PIR → virtual APIC, no exit.
 */
import type { InterruptTarget } from "./iommu/intremap.js";
import { pidDrain } from "./iommu/irte.js";
import type { Guest } from "./guest.js";

/** Notification vector of posted interrupts (Linux POSTED_INTR_VECTOR). */
export const POSTED_INTR_VECTOR = 0xf2;
/** First host vector handed out for remapped (non-posted) device interrupts. */
const FIRST_HOST_VECTOR = 0x30;

interface VcpuSlot {
  guest: Guest;
  vcpu: number;
  /** Posted-interrupt descriptor of this vCPU (0 = none). */
  pda: number;
}

export class InterruptRouter implements InterruptTarget {
  private readonly byApic = new Map<number, VcpuSlot>();
  private readonly hostVectors = new Map<number, { guest: Guest; vcpu: number; vector: number }>();
  private nextApic = 1;
  private nextHostVector = FIRST_HOST_VECTOR;
  /** Notifications that arrived for a vCPU that was not running (the hypervisor had to wake it). */
  wakeups = 0;
  /** Interrupts nobody claimed. */
  spurious = 0;

  /** APIC ID for a guest vCPU (allocated on first use). */
  apicOf(guest: Guest, vcpu: number): number {
    for (const [id, s] of this.byApic) if (s.guest === guest && s.vcpu === vcpu) return id;
    const id = this.nextApic++;
    this.byApic.set(id, { guest, vcpu, pda: 0 });
    return id;
  }
  setPostedDescriptor(apic: number, pda: number): void {
    const s = this.byApic.get(apic);
    if (s !== undefined) s.pda = pda;
  }
  postedDescriptorOf(apic: number): number {
    return this.byApic.get(apic)?.pda ?? 0;
  }
  /** A host vector whose interrupts the hypervisor injects as `vector` into `guest`'s `vcpu`. */
  allocHostVector(guest: Guest, vcpu: number, vector: number): number {
    const hv = this.nextHostVector++;
    this.hostVectors.set(hv, { guest, vcpu, vector });
    return hv;
  }
  releaseGuest(guest: Guest): void {
    for (const [k, s] of this.byApic) if (s.guest === guest) this.byApic.delete(k);
    for (const [k, s] of this.hostVectors) if (s.guest === guest) this.hostVectors.delete(k);
  }

  deliver(destId: number, vector: number): void {
    if (vector === POSTED_INTR_VECTOR) {
      const s = this.byApic.get(destId);
      if (s === undefined || s.pda === 0) {
        this.spurious++;
        return;
      }
      const running = s.guest.vcpus[s.vcpu]?.running ?? false;
      if (!running) this.wakeups++;
      for (const v of pidDrain(s.guest.mem, s.pda)) s.guest.deliverInterrupt(s.vcpu, v, true);
      return;
    }
    const t = this.hostVectors.get(vector);
    if (t === undefined) {
      this.spurious++;
      return;
    }
    t.guest.deliverInterrupt(t.vcpu, t.vector, false);
  }
}
