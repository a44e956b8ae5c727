/**
 * The driver's interrupt-remapping side (drivers/iommu/intel/irq_remapping.c): the interrupt
 * remapping table in host memory, IRTE updates with interrupt-entry-cache flushes (modify_irte +
 * qi_flush_iec), the MSI messages a device is programmed with, and posted-interrupt descriptors.
 */
import { IovError } from "../../errors.js";
import type { PhysMem } from "../../memory/physmem.js";
import {
  DMA_GCMD_CFI,
  DMA_GCMD_IRE,
  DMA_GCMD_SIRTP,
  DMA_GSTS_IRTPS,
  DMA_IRTA_EIME,
  DMAR_ECAP_REG,
  DMAR_IRTA_REG,
  ECAP_EIM,
  ECAP_IR,
  IRTE_SIZE,
  PAGE_4K,
  PID_SIZE,
} from "./defs.js";
import { readEntry128, writeEntry128 } from "./formats.js";
import type { IecScope } from "./host-invalidate.js";
import { decodeIrte, encodeIrte, pidInit, remappableMsi, type DecodedIrte, type IrteSpec } from "./intremap.js";
import type { TableAllocator } from "./pagetable.js";
import type { VtdIommu } from "./vtd.js";

/** What the interrupt side needs from the rest of the driver. */
export interface InterruptRemapDriver {
  /** Throws unless the unit was brought up. */
  ready(): void;
  /** Whether invalidation goes through the queue (the interrupt entry cache has no register interface). */
  queued(): boolean;
  /** GCMD write keeping the persistent commands; checks `statusBit` in GSTS. */
  command(bit: number, statusBit: number): void;
  invalidateInterruptEntries(scope: IecScope): void;
}

export class InterruptRemapHost {
  private entries = 0;
  private base = 0;
  private x2apicMode = false;
  private readonly pidPool: number[] = [];
  private readonly mem: PhysMem;

  constructor(
    private readonly hw: VtdIommu,
    private readonly alloc: TableAllocator,
    private readonly drv: InterruptRemapDriver,
  ) {
    this.mem = hw.mem;
  }

  /** Entries in the interrupt remapping table (0 before `enable`). */
  get tableEntries(): number {
    return this.entries;
  }
  /** Whether remapping runs in x2APIC mode (32-bit destinations). */
  get x2apic(): boolean {
    return this.x2apicMode;
  }

  /**
   * Allocate a table of `entries` (a power of two, 2..65536), program IRTA, SIRTP, flush the
   * interrupt entry cache, and enable remapping (IRE; CFI too if `allowCompat`).
   */
  enable(opts: { entries: number; x2apic?: boolean; allowCompat?: boolean }): void {
    this.drv.ready();
    const ecap = this.hw.mmioRead(DMAR_ECAP_REG, 8);
    if ((ecap & BigInt(ECAP_IR)) === 0n) throw new IovError("ERANGE", "interrupt remapping not supported (ECAP.IR = 0)");
    if (!this.drv.queued()) throw new IovError("EINVAL", "interrupt remapping needs queued invalidation (its cache has no register interface)");
    const n = opts.entries;
    if (!Number.isInteger(n) || n < 2 || n > 0x10000 || (n & (n - 1)) !== 0) throw new IovError("EINVAL", `IRT size ${n} is not a power of two in 2..65536`);
    const x2apic = opts.x2apic ?? (ecap & BigInt(ECAP_EIM)) !== 0n;
    if (x2apic && (ecap & BigInt(ECAP_EIM)) === 0n) throw new IovError("ERANGE", "x2APIC mode not supported (ECAP.EIM = 0)");
    if (this.entries > 0) throw new IovError("EEXIST", "interrupt remapping already enabled");
    const bytes = Math.max(PAGE_4K, n * IRTE_SIZE);
    this.base = this.alloc.alloc(bytes, PAGE_4K);
    this.mem.fill(this.base, bytes, 0);
    this.entries = n;
    this.x2apicMode = x2apic;
    this.hw.mmioWrite(DMAR_IRTA_REG, 8, BigInt(this.base) | (x2apic ? BigInt(DMA_IRTA_EIME) : 0n) | BigInt(Math.log2(n) - 1));
    this.drv.command(DMA_GCMD_SIRTP, DMA_GSTS_IRTPS);
    this.drv.invalidateInterruptEntries({ kind: "global" });
    if (opts.allowCompat === true) this.drv.command(DMA_GCMD_CFI, DMA_GCMD_CFI);
    this.drv.command(DMA_GCMD_IRE, DMA_GCMD_IRE);
  }

  private entryAddr(index: number): number {
    if (this.entries === 0) throw new IovError("EINVAL", "interrupt remapping not enabled");
    if (!Number.isInteger(index) || index < 0 || index >= this.entries) throw new IovError("ERANGE", `IRTE index ${index} outside 0..${this.entries - 1}`, { index });
    return this.base + index * IRTE_SIZE;
  }

  /** Write IRTE `index` and invalidate its interrupt-entry-cache entry. */
  setIrte(index: number, irte: IrteSpec): void {
    const a = this.entryAddr(index);
    writeEntry128(this.mem, a, encodeIrte(irte, this.x2apicMode));
    this.drv.invalidateInterruptEntries({ kind: "index", index });
  }
  clearIrte(index: number): void {
    const a = this.entryAddr(index);
    writeEntry128(this.mem, a, { lo: 0n, hi: 0n });
    this.drv.invalidateInterruptEntries({ kind: "index", index });
  }
  /** IRTE `index` as it is in memory. */
  irte(index: number): DecodedIrte {
    return decodeIrte(readEntry128(this.mem, this.entryAddr(index)), this.x2apicMode);
  }

  /** The remappable-format MSI message (address, data) that raises IRTE `index` (+ `subhandle`). */
  msiMessage(index: number, subhandle?: number): { address: number; data: number } {
    this.entryAddr(index);
    return remappableMsi(index, subhandle);
  }

  /** A zeroed posted-interrupt descriptor (64 bytes) with notification vector `nv` to APIC `ndst`. */
  allocPostedDescriptor(nv: number, ndst: number): number {
    if (this.entries === 0) throw new IovError("EINVAL", "interrupt remapping not enabled (NDST's format follows its x2APIC mode)");
    if (this.pidPool.length === 0) {
      const page = this.alloc.alloc(PAGE_4K, PAGE_4K);
      for (let o = PAGE_4K - PID_SIZE; o >= 0; o -= PID_SIZE) this.pidPool.push(page + o);
    }
    const pda = this.pidPool.pop()!;
    try {
      pidInit(this.mem, pda, nv, ndst, this.x2apicMode);
    } catch (e) {
      this.pidPool.push(pda);
      throw e;
    }
    return pda;
  }
  freePostedDescriptor(pda: number): void {
    this.pidPool.push(pda);
  }
}
