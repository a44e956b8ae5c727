/**
 * Guests: RAM backed by host pages (GPA→HPA), vCPUs, a guest-physical address map with RAM,
 * directly mapped device memory (passthrough BARs: no exit) and trapped regions (an exit per
 * access), and interrupt delivery with exit accounting.
 */
import { IovError } from "../errors.js";
import type { PhysMem } from "../memory/physmem.js";
import type { ExitCounters, ExitReason } from "./exits.js";
import { newExitCounters } from "./exits.js";

/** Guest RAM is backed in 2 MiB host chunks, so a 2 MiB IOMMU/EPT page can map each chunk whole. */
export const GUEST_CHUNK = 2 * 1024 * 1024;

/** Host memory access for directly mapped device regions (the fabric's memory routing). */
export interface HostMmio {
  memRead(addr: number, size: 1 | 2 | 4): number;
  memWrite(addr: number, size: 1 | 2 | 4, value: number): void;
}

/** A trapped (emulated) region's handler: runs in the hypervisor after an exit. */
export interface TrapHandler {
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
}

export type GpaRegion =
  | { kind: "direct"; gpa: number; size: number; hpa: number; name: string }
  | { kind: "trap"; gpa: number; size: number; handler: TrapHandler; reason: ExitReason; name: string };

export interface VcpuState {
  readonly index: number;
  running: boolean;
  /** Vectors injected and not yet EOI'd by the guest (count). */
  inService: number;
  /** Interrupts received by this vCPU. */
  interrupts: number;
}

/** Guest interrupt handler callback: vector delivered (the guest driver's ISR). */
export type GuestIsr = (vector: number) => void;

export class Guest {
  readonly exits: ExitCounters = newExitCounters();
  readonly vcpus: VcpuState[];
  private readonly chunks: number[];
  private readonly regions: GpaRegion[] = [];
  private readonly isrs = new Map<number, GuestIsr>();

  constructor(
    readonly id: number,
    readonly name: string,
    readonly memoryBytes: number,
    vcpus: number,
    readonly mem: PhysMem,
    chunkHpas: readonly number[],
    private readonly hostMmio?: HostMmio,
  ) {
    if (chunkHpas.length * GUEST_CHUNK < memoryBytes) throw new IovError("EINVAL", `guest ${name}: RAM backing too small`);
    this.chunks = [...chunkHpas];
    this.vcpus = Array.from({ length: vcpus }, (_, index) => ({ index, running: true, inService: 0, interrupts: 0 }));
  }

  /** Host physical address backing guest-physical `gpa` (RAM only), or -1. */
  gpaToHpa(gpa: number): number {
    if (gpa < 0 || gpa >= this.memoryBytes) return -1;
    const c = this.chunks[Math.floor(gpa / GUEST_CHUNK)];
    return c === undefined ? -1 : c + (gpa % GUEST_CHUNK);
  }
  /** The host chunks backing guest RAM (GPA = index × 2 MiB). */
  get ramChunks(): readonly number[] {
    return this.chunks;
  }

  // ---- the guest CPU's own memory accesses (through EPT: no IOMMU involved) ----
  private ramHpa(gpa: number, len: number): number {
    const ci = Math.floor(gpa / GUEST_CHUNK);
    const o = gpa - ci * GUEST_CHUNK;
    const c = this.chunks[ci];
    if (c === undefined || gpa < 0 || o + len > GUEST_CHUNK || gpa + len > this.memoryBytes)
      throw new IovError("EFAULT", `guest ${this.name}: GPA 0x${gpa.toString(16)}+${len} is not RAM`);
    return c + o;
  }
  read8(gpa: number): number {
    return this.mem.read8(this.ramHpa(gpa, 1));
  }
  read16(gpa: number): number {
    return this.mem.read16(this.ramHpa(gpa, 2));
  }
  read32(gpa: number): number {
    return this.mem.read32(this.ramHpa(gpa, 4));
  }
  write8(gpa: number, v: number): void {
    this.mem.write8(this.ramHpa(gpa, 1), v);
  }
  write16(gpa: number, v: number): void {
    this.mem.write16(this.ramHpa(gpa, 2), v);
  }
  write32(gpa: number, v: number): void {
    this.mem.write32(this.ramHpa(gpa, 4), v);
  }
  write64n(gpa: number, v: number): void {
    this.mem.write64n(this.ramHpa(gpa, 8), v);
  }
  read64n(gpa: number): number {
    return this.mem.read64n(this.ramHpa(gpa, 8));
  }
  writeBytes(gpa: number, src: Uint8Array, off = 0, len = src.length - off): void {
    let done = 0;
    while (done < len) {
      const g = gpa + done;
      const n = Math.min(len - done, GUEST_CHUNK - (g % GUEST_CHUNK));
      this.mem.writeFrom(this.ramHpa(g, n), src, off + done, n);
      done += n;
    }
  }
  readBytes(gpa: number, dst: Uint8Array, off = 0, len = dst.length - off): void {
    let done = 0;
    while (done < len) {
      const g = gpa + done;
      const n = Math.min(len - done, GUEST_CHUNK - (g % GUEST_CHUNK));
      this.mem.readInto(this.ramHpa(g, n), dst, off + done, n);
      done += n;
    }
  }

  // ---- guest-physical map of device memory ----
  mapDirect(name: string, gpa: number, size: number, hpa: number): void {
    this.checkFree(gpa, size, name);
    this.regions.push({ kind: "direct", gpa, size, hpa, name });
  }
  mapTrap(name: string, gpa: number, size: number, handler: TrapHandler, reason: ExitReason = "mmio"): void {
    this.checkFree(gpa, size, name);
    this.regions.push({ kind: "trap", gpa, size, handler, reason, name });
  }
  unmapRegion(gpa: number): void {
    const i = this.regions.findIndex((r) => r.gpa === gpa);
    if (i >= 0) this.regions.splice(i, 1);
  }
  get deviceRegions(): readonly GpaRegion[] {
    return this.regions;
  }
  private checkFree(gpa: number, size: number, name: string): void {
    if (gpa < this.memoryBytes) throw new IovError("EINVAL", `guest ${this.name}: ${name} at GPA 0x${gpa.toString(16)} overlaps RAM`);
    for (const r of this.regions)
      if (gpa < r.gpa + r.size && r.gpa < gpa + size)
        throw new IovError("EEXIST", `guest ${this.name}: ${name} overlaps ${r.name} in guest-physical space`);
  }
  private region(gpa: number): GpaRegion | undefined {
    const rs = this.regions;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i]!;
      if (gpa >= r.gpa && gpa < r.gpa + r.size) return r;
    }
    return undefined;
  }

  /** A guest MMIO store: straight to the device if directly mapped (no exit), else an exit to the handler. */
  mmioWrite(gpa: number, size: 1 | 2 | 4, value: number): void {
    const r = this.region(gpa);
    if (r === undefined) {
      this.exits.eptViolation++;
      return; // unmapped: the hypervisor swallows it (a real one may kill the guest)
    }
    if (r.kind === "direct") this.hostMmio?.memWrite(r.hpa + (gpa - r.gpa), size, value);
    else {
      this.exits[r.reason]++;
      r.handler.write(gpa - r.gpa, size, value);
    }
  }
  mmioRead(gpa: number, size: 1 | 2 | 4): number {
    const r = this.region(gpa);
    if (r === undefined) {
      this.exits.eptViolation++;
      return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    }
    if (r.kind === "direct") return this.hostMmio?.memRead(r.hpa + (gpa - r.gpa), size) ?? 0xffffffff;
    this.exits[r.reason]++;
    return r.handler.read(gpa - r.gpa, size);
  }

  // ---- interrupts ----
  onInterrupt(vector: number, isr: GuestIsr): void {
    this.isrs.set(vector, isr);
  }
  /**
   * Deliver `vector` to vCPU `cpu`. Posted (and the vCPU running): no exit, no EOI exit (virtual
   * APIC handles EOI). Otherwise: one exit to inject and one exit for the guest's EOI write.
   */
  deliverInterrupt(cpu: number, vector: number, posted: boolean): void {
    const v = this.vcpus[cpu % this.vcpus.length]!;
    v.interrupts++;
    if (!(posted && v.running)) this.exits.interrupt++;
    v.inService++;
    const isr = this.isrs.get(vector);
    if (isr !== undefined) isr(vector);
    // EOI by the guest
    v.inService--;
    if (!posted) this.exits.eoi++;
  }
}
