/**
 * DMA mapping policies of the software that programs a VF's DMA (the DMA API under the driver):
 *
 * - static: the guest's RAM is mapped once (VFIO maps all guest memory at start); IOVA = GPA; no
 *   per-packet IOMMU work (IDENTITY_DMA in src/vf-driver/rings.ts).
 * - strict: every buffer is mapped right before its DMA and unmapped right after, and each unmap
 *   invalidates the IOTLB through the queued-invalidation interface (a page-selective IOTLB
 *   descriptor plus a wait descriptor whose status write the CPU spins on) before the IOVA is reused
 *   (Linux intel_iommu=strict; "strict intra-OS protection", Malka et al. FAST'15).
 * - deferred: unmaps clear the page table at once but the invalidation is batched: IOVAs wait in a
 *   list, and every `batch` unmaps one domain-wide invalidation (descriptor + wait) is issued and the
 *   waiting IOVAs become reusable (Linux's deferred flushing: a high-water mark of 250 entries or
 *   10 ms, whichever comes first; the model uses the count only).
 *
 * Mappings are 4 KiB pages (streaming DMA mappings are page-granular). IOVAs come from a simple
 * allocator (a stack of freed IOVA pages above a bump pointer): its own cost is part of
 * `iommuMapPerBuffer`, not modelled in detail. For a guest this presumes the driver reaches an IOMMU
 * domain directly (as a host driver does); a virtual IOMMU's trap per map/unmap is not modelled.
 */
import type { IommuHost } from "../../../src/hypervisor-glue/iommu/host.js";
import { PAGE_4K } from "../../../src/hypervisor-glue/iommu/defs.js";
import type { Guest } from "../../../src/hypervisor-glue/guest.js";
import type { CostMeter } from "../../model/cpu.js";
import type { DmaMapper } from "../../../src/vf-driver/rings.js";

export type MappingPolicy = "static" | "strict" | "deferred";
export const MAPPING_POLICIES: readonly MappingPolicy[] = ["static", "strict", "deferred"];

export interface MapperCosts {
  readonly mapNs: number;
  readonly unmapNs: number;
  readonly invalidateNs: number;
}

/** IOVA space for per-DMA mappings: starts above the guest's RAM so that IOVAs never alias a GPA. */
const IOVA_BASE = 2 ** 32;

export class PerDmaMapper implements DmaMapper {
  private bump = IOVA_BASE;
  private readonly free: number[] = [];
  private readonly pendingIova: number[] = [];
  maps = 0;
  unmaps = 0;
  invalidations = 0;

  constructor(
    private readonly iommu: IommuHost,
    private readonly did: number,
    private readonly g: Guest,
    private readonly meter: CostMeter,
    private readonly c: MapperCosts,
    /** 1 = strict (invalidate on every unmap); N > 1 = deferred, flush every N unmaps. */
    readonly batch: number,
  ) {}

  map(gpa: number, len: number): number {
    const page = gpa - (gpa % PAGE_4K);
    const pages = Math.ceil((gpa + len - page) / PAGE_4K);
    let iova: number;
    if (pages === 1 && this.free.length > 0) iova = this.free.pop()!;
    else {
      iova = this.bump;
      this.bump += pages * PAGE_4K;
    }
    for (let i = 0; i < pages; i++) this.iommu.map(this.did, iova + i * PAGE_4K, this.g.gpaToHpa(page + i * PAGE_4K), PAGE_4K, "rw", PAGE_4K);
    this.maps++;
    this.meter.ns += this.c.mapNs;
    return iova + (gpa - page);
  }

  unmap(iova: number, len: number): void {
    if (iova < 0) return;
    const page = iova - (iova % PAGE_4K);
    const size = Math.ceil((iova + len - page) / PAGE_4K) * PAGE_4K;
    this.iommu.unmap(this.did, page, size);
    this.unmaps++;
    this.meter.ns += this.c.unmapNs;
    if (this.batch <= 1) {
      this.iommu.invalidateIotlb({ kind: "page", did: this.did, iova: page, size });
      this.invalidations++;
      this.meter.ns += this.c.invalidateNs;
      if (size === PAGE_4K) this.free.push(page);
      return;
    }
    if (size === PAGE_4K) this.pendingIova.push(page);
    if (this.unmaps % this.batch === 0) {
      this.iommu.invalidateIotlb({ kind: "domain", did: this.did });
      this.invalidations++;
      this.meter.ns += this.c.invalidateNs;
      for (const p of this.pendingIova) this.free.push(p);
      this.pendingIova.length = 0;
    }
  }
}
