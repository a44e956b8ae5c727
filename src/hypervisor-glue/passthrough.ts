/**
 * VFIO-like passthrough of a VF to a guest:
 * - the VF's RID is attached to the guest's IOMMU domain, which maps guest RAM with IOVA = GPA;
 * - the VF's BARs are mapped straight into the guest's physical space (doorbells do not exit), except
 *   the MSI-X table page, which is trapped so that the hypervisor programs interrupt remapping;
 * - the guest sees an emulated config space: real vendor/device IDs filled in (the VF reads 0xFFFF),
 *   virtual BARs with their sizing protocol, a virtual Memory Space Enable, no INTx; writes are
 *   filtered (Command's Bus Master, MSI-X control and Device Control pass through; the rest is dropped);
 *   every guest config access is an exit;
 * - MSI-X messages the guest programs become IRTEs: posted (the vCPU's descriptor; no exit) or
 *   remapped to a host vector that the hypervisor injects (an exit plus an EOI exit).
 * Detach undoes all of it in reverse.
 */
import { IovError } from "../errors.js";
import type { ConfigAccess, PciFunction } from "../pcie/function.js";
import type { BarSpec } from "../pcie/bars.js";
import { findCapability } from "../pcie/capwalk.js";
import { PCI_CAP_ID_MSIX } from "../pcie/caps/msix.js";
import { PCI_CAP_ID_EXP, PCI_EXP_DEVCTL } from "../pcie/caps/pcie-regs.js";
import { PCI_BASE_ADDRESS_0, PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_INTERRUPT_PIN } from "../pcie/header.js";
import type { Guest } from "./guest.js";
import type { IommuHost } from "./iommu/host.js";
import { PAGE_2M, PAGE_4K, type PageSize } from "./iommu/defs.js";
import { GUEST_CHUNK } from "./guest.js";
import { InterruptRouter, POSTED_INTR_VECTOR } from "./interrupts.js";


/** What passthrough needs from the host. */
export interface PassthroughHost {
  readonly iommu: IommuHost;
  readonly router: InterruptRouter;
  /** Host-side config cycles to a function. */
  config(fn: PciFunction): ConfigAccess;
  /** Host MMIO (writes to the VF's real MSI-X table). */
  memWrite(addr: number, size: 1 | 2 | 4, value: number): void;
  /** Next free IRTE index. */
  allocIrte(): number;
}

export interface VfPassthroughInfo {
  readonly vf: PciFunction;
  /** Vendor ID of the PF and the VF Device ID: what the guest is shown. */
  readonly vendorId: number;
  readonly deviceId: number;
  /** VF BARs: spec and host physical address. */
  readonly bars: ReadonlyArray<{ spec: BarSpec; hpa: number }>;
  /** MSI-X table placement on the VF's BARs. */
  readonly msix: { bar: number; table: number; vectors: number };
}

export interface PassthroughOptions {
  readonly posted: boolean;
  /** Largest IOMMU page for guest RAM: 4 KiB or 2 MiB (guest RAM is in 2 MiB chunks). */
  readonly pageSize: PageSize;
  /** Guest-physical base for this device's BARs (above guest RAM). */
  readonly barGpaBase: number;
}

const MSIX_ENTRY = 16;
const MSI_WINDOW_START = 0xfee00000;
const MSI_WINDOW_END = 0xfef00000;
const MSIX_VECTOR_CTRL_MASKBIT = 1;

/** One guest domain in the IOMMU: RAM mapped once, shared by all its VFs. */
export class GuestDomain {
  readonly did: number;
  readonly rids = new Set<number>();
  constructor(readonly guest: Guest, readonly iommu: IommuHost, levels: 3 | 4, pageSize: PageSize) {
    this.did = guest.id;
    iommu.createDomain(this.did, levels);
    try {
      guest.ramChunks.forEach((hpa, i) => {
        const gpa = i * GUEST_CHUNK;
        const len = Math.min(GUEST_CHUNK, guest.memoryBytes - gpa);
        // IOVAs in the interrupt address window are MSIs, never DMA: that guest memory is not mapped
        // (a real VMM leaves a hole there; a DMA into it is an interrupt request, not a memory write).
        if (gpa < MSI_WINDOW_END && gpa + len > MSI_WINDOW_START) return;
        const ps = pageSize === PAGE_2M && len === GUEST_CHUNK ? PAGE_2M : PAGE_4K;
        iommu.map(this.did, gpa, hpa, len, "rw", ps);
      });
    } catch (e) {
      iommu.destroyDomain(this.did);
      throw e;
    }
  }
  destroy(): void {
    for (const rid of this.rids) this.iommu.detach(rid, { flush: true });
    this.iommu.invalidateIotlb({ kind: "domain", did: this.did });
    this.iommu.destroyDomain(this.did);
  }
}

export class VfioDevice implements ConfigAccess {
  private readonly host: ConfigAccess;
  private readonly vbar = new Uint32Array(6);
  private readonly barGpa: number[] = [0, 0, 0, 0, 0, 0];
  private readonly barSize: number[] = [0, 0, 0, 0, 0, 0];
  private virtMse = false;
  private readonly msixCap: number;
  private readonly pcieCap: number;
  private readonly msixShadow: Uint32Array;
  private readonly irte: number[];
  private readonly undo: Array<() => void> = [];
  /** Guest config accesses (each an exit). */
  configAccesses = 0;

  constructor(
    readonly px: PassthroughHost,
    readonly guest: Guest,
    readonly domain: GuestDomain,
    readonly info: VfPassthroughInfo,
    readonly opts: PassthroughOptions,
  ) {
    this.host = px.config(info.vf);
    const rd = (o: number, s: 1 | 2 | 4): number => this.host.read(o, s);
    this.msixCap = findCapability(rd, PCI_CAP_ID_MSIX);
    this.pcieCap = findCapability(rd, PCI_CAP_ID_EXP);
    this.msixShadow = new Uint32Array(info.msix.vectors * 4);
    for (let i = 0; i < info.msix.vectors; i++) this.msixShadow[i * 4 + 3] = MSIX_VECTOR_CTRL_MASKBIT;
    this.irte = new Array<number>(info.msix.vectors).fill(-1);
    try {
      this.attach();
    } catch (e) {
      this.detach();
      throw e;
    }
  }

  private attach(): void {
    const rid = this.info.vf.rid;
    if (this.px.iommu.attachedDomain(rid) !== undefined) throw new IovError("EBUSY", `${this.info.vf.bdfString} is already attached to an IOMMU domain`);
    this.px.iommu.attach(this.domain.did, rid);
    this.domain.rids.add(rid);
    this.undo.push(() => {
      this.px.iommu.detach(rid, { flush: true });
      this.domain.rids.delete(rid);
    });
    let gpa = this.opts.barGpaBase;
    for (const { spec, hpa } of this.info.bars) {
      gpa = Math.ceil(gpa / spec.size) * spec.size;
      const i = spec.index;
      this.barGpa[i] = gpa;
      this.barSize[i] = spec.size;
      this.vbar[i] = ((gpa % 2 ** 32) | (spec.kind === "mem64" ? 0x4 : 0) | (spec.prefetchable ? 0x8 : 0)) >>> 0;
      if (spec.kind === "mem64") this.vbar[i + 1] = Math.floor(gpa / 2 ** 32);
      const name = `${this.info.vf.bdfString} BAR${i}`;
      if (i === this.info.msix.bar) {
        // VFIO traps the MSI-X table; the rest of the BAR is mapped straight through.
        const tStart = Math.floor(this.info.msix.table / PAGE_4K) * PAGE_4K;
        const tEnd = Math.ceil((this.info.msix.table + this.info.msix.vectors * MSIX_ENTRY) / PAGE_4K) * PAGE_4K;
        if (tStart > 0) this.mapDirect(`${name} (before MSI-X table)`, gpa, tStart, hpa);
        this.guest.mapTrap(`${name} MSI-X table`, gpa + tStart, tEnd - tStart, {
          read: (off, size) => this.msixRead(tStart + off, size),
          write: (off, size, v) => this.msixWrite(tStart + off, size, v),
        });
        this.undo.push(() => this.guest.unmapRegion(gpa + tStart));
        if (tEnd < spec.size) this.mapDirect(`${name} (after MSI-X table)`, gpa + tEnd, spec.size - tEnd, hpa + tEnd);
      } else this.mapDirect(name, gpa, spec.size, hpa);
      gpa += spec.size;
    }
  }

  private mapDirect(name: string, gpa: number, size: number, hpa: number): void {
    this.guest.mapDirect(name, gpa, size, hpa);
    this.undo.push(() => this.guest.unmapRegion(gpa));
  }

  /** Undo everything attach did, in reverse. */
  detach(): void {
    for (let i = 0; i < this.irte.length; i++) this.releaseVector(i);
    while (this.undo.length > 0) this.undo.pop()!();
  }

  /** Guest-physical address of VF BAR `i` as the guest sees it. */
  barGpaOf(i: number): number {
    return this.barGpa[i] ?? 0;
  }

  // ---- the guest's view of config space (every access is an exit) ----
  read(off: number, size: 1 | 2 | 4): number {
    this.guest.exits.configSpace++;
    this.configAccesses++;
    let v = 0;
    for (let i = 0; i < size; i++) v += this.readByte(off + i) * 2 ** (8 * i);
    return v >>> 0;
  }
  private readByte(o: number): number {
    const dw = o & ~3;
    const sh = (o & 3) * 8;
    if (dw === 0x00) return (((this.info.deviceId << 16) | this.info.vendorId) >>> sh) & 0xff;
    if (dw >= PCI_BASE_ADDRESS_0 && dw < PCI_BASE_ADDRESS_0 + 24) return (this.vbar[(dw - PCI_BASE_ADDRESS_0) >> 2]! >>> sh) & 0xff;
    if (o === PCI_INTERRUPT_PIN) return 0;
    const b = this.host.read(o, 1);
    if (o === PCI_COMMAND && this.virtMse) return b | PCI_COMMAND_MEMORY;
    return b;
  }

  write(off: number, size: 1 | 2 | 4, value: number): void {
    this.guest.exits.configSpace++;
    this.configAccesses++;
    if (off >= PCI_BASE_ADDRESS_0 && off < PCI_BASE_ADDRESS_0 + 24 && size === 4) {
      const i = (off - PCI_BASE_ADDRESS_0) >> 2;
      const spec = this.info.bars.find((b) => b.spec.index === i || (b.spec.kind === "mem64" && b.spec.index + 1 === i));
      if (spec === undefined) return;
      if (spec.spec.index === i) {
        const flags = this.vbar[i]! & 0xf;
        this.vbar[i] = ((value & ~(Math.min(spec.spec.size, 2 ** 32) - 1) & ~0xf) | flags) >>> 0;
      } else this.vbar[i] = (spec.spec.size > 2 ** 32 ? value & ~(spec.spec.size / 2 ** 32 - 1) : value) >>> 0;
      return; // the guest may move its view of the BAR; the host mapping stays (documented)
    }
    if (off === PCI_COMMAND && size >= 2) {
      this.virtMse = (value & PCI_COMMAND_MEMORY) !== 0;
      this.host.write(PCI_COMMAND, 2, value & PCI_COMMAND_MASTER);
      return;
    }
    if (this.msixCap !== 0 && off === this.msixCap + 2 && size === 2) {
      this.host.write(off, 2, value);
      return;
    }
    if (this.pcieCap !== 0 && off === this.pcieCap + PCI_EXP_DEVCTL && size === 2) {
      this.host.write(off, 2, value);
      return;
    }
    // everything else is dropped (read-only to the guest)
  }

  // ---- MSI-X table trap ----
  private msixRead(off: number, size: 1 | 2 | 4): number {
    const rel = off - this.info.msix.table;
    if (rel < 0 || rel >= this.msixShadow.length * 4 || size !== 4) return 0;
    return this.msixShadow[rel >> 2]!;
  }
  private msixWrite(off: number, size: 1 | 2 | 4, v: number): void {
    const rel = off - this.info.msix.table;
    if (rel < 0 || rel >= this.msixShadow.length * 4 || size !== 4) return;
    this.msixShadow[rel >> 2] = v >>> 0;
    const entry = rel >> 4;
    if ((rel & 0xf) === 12 || (rel & 0xf) === 8) this.programVector(entry);
  }

  private programVector(i: number): void {
    const addr = this.msixShadow[i * 4]!;
    const data = this.msixShadow[i * 4 + 2]!;
    const masked = (this.msixShadow[i * 4 + 3]! & MSIX_VECTOR_CTRL_MASKBIT) !== 0;
    const hwEntry = this.info.bars.find((b) => b.spec.index === this.info.msix.bar)!.hpa + this.info.msix.table + i * MSIX_ENTRY;
    if (masked || addr === 0) {
      this.px.memWrite(hwEntry + 12, 4, MSIX_VECTOR_CTRL_MASKBIT);
      return;
    }
    const vector = data & 0xff;
    const vcpu = (addr >>> 12) & 0xff; // guest APIC destination ID = vCPU index
    const apic = this.px.router.apicOf(this.guest, vcpu % this.guest.vcpus.length);
    let index = this.irte[i]!;
    if (index < 0) {
      index = this.px.allocIrte();
      this.irte[i] = index;
    }
    const source = { svt: "requester" as const, sid: this.info.vf.rid };
    if (this.opts.posted) {
      let pda = this.px.router.postedDescriptorOf(apic);
      if (pda === 0) {
        pda = this.px.iommu.interrupts.allocPostedDescriptor(POSTED_INTR_VECTOR, apic);
        this.px.router.setPostedDescriptor(apic, pda);
      }
      this.px.iommu.interrupts.setIrte(index, { mode: "posted", vector, pda, source });
    } else {
      const hostVector = this.px.router.allocHostVector(this.guest, vcpu % this.guest.vcpus.length, vector);
      this.px.iommu.interrupts.setIrte(index, { mode: "remapped", vector: hostVector, dest: apic, source });
    }
    const msg = this.px.iommu.interrupts.msiMessage(index);
    this.px.memWrite(hwEntry, 4, msg.address % 2 ** 32);
    this.px.memWrite(hwEntry + 4, 4, Math.floor(msg.address / 2 ** 32));
    this.px.memWrite(hwEntry + 8, 4, msg.data);
    this.px.memWrite(hwEntry + 12, 4, 0);
  }

  private releaseVector(i: number): void {
    const index = this.irte[i];
    if (index === undefined || index < 0) return;
    this.px.iommu.interrupts.clearIrte(index);
    this.irte[i] = -1;
  }
}
