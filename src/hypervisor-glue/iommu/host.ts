/**
 * The hypervisor's IOMMU driver: what Linux's drivers/iommu/intel does for VFIO, reduced to the
 * calls a hypervisor needs. It reaches the remapping unit only as a driver does: MMIO registers,
 * and structures it writes into host memory it owns (root/context/page tables, the invalidation
 * queue, the interrupt remapping table, posted-interrupt descriptors).
 *
 * Changing tables and invalidating caches are separate steps, as on hardware: `unmap` edits the
 * page table only, and a translation the IOTLB already holds keeps working until an invalidation
 * (`invalidateIotlb`) — strict (unmap + invalidate each time) versus deferred (batched) invalidation
 * is the caller's policy. `detach` and `block` invalidate by default (like Linux's
 * domain_context_clear_one) unless told not to.
 *
 * Invalidations go through the queued-invalidation interface (descriptor + wait descriptor with a
 * status write that the driver checks), or through the register interface (CCMD / IVA+IOTLB,
 * checking the actual-granularity field), as chosen at construction (host-invalidate.ts).
 * Interrupt remapping (IRT, IRTEs, MSI messages, posted descriptors) is `interrupts`
 * (host-intremap.ts).
 */
import { IovError } from "../../errors.js";
import type { PhysMem } from "../../memory/physmem.js";
import {
  CONTEXT_ENTRY_SIZE,
  CONTEXT_TT_MULTI_LEVEL,
  CONTEXT_TT_PASS_THROUGH,
  DMA_FRCD_F_HI,
  DMA_FSTS_IQE,
  DMA_FSTS_PFO,
  DMA_FSTS_PPF,
  DMA_GCMD_PERSISTENT,
  DMA_GCMD_QIE,
  DMA_GCMD_SRTP,
  DMA_GCMD_TE,
  DMA_GSTS_RTPS,
  DMAR_CAP_REG,
  DMAR_ECAP_REG,
  DMAR_FSTS_REG,
  DMAR_GCMD_REG,
  DMAR_GSTS_REG,
  DMAR_RTADDR_REG,
  ECAP_PT,
  ECAP_QI,
  INTERRUPT_ADDR_FIRST,
  INTERRUPT_ADDR_LAST,
  PAGE_1G,
  PAGE_2M,
  PAGE_4K,
  ROOT_ENTRY_SIZE,
  agawToBits,
  faultReasonName,
  type PageSize,
} from "./defs.js";
import {
  decodeContextEntry,
  decodeFaultRecord,
  decodeRootEntry,
  encodeContextEntry,
  encodeRootEntry,
  readEntry128,
  writeEntry128,
  type ContextEntry,
  type FaultRecord,
} from "./formats.js";
import { HostInvalidator, type ContextScope, type IecScope, type IotlbScope, type InvalidatorStats } from "./host-invalidate.js";
import { InterruptRemapHost } from "./host-intremap.js";
import { SlPageTable, type TableAllocator } from "./pagetable.js";
import { hiMask } from "./regs.js";
import type { VtdIommu } from "./vtd.js";

export type { TableAllocator } from "./pagetable.js";
export type { ContextScope, IotlbScope, IecScope } from "./host-invalidate.js";

export interface IommuHostOptions {
  /** Host memory for the IOMMU's structures (RangeAllocator fits; e.g. the hypervisor's private pool). */
  tables: TableAllocator;
  /** Invalidate through the queued interface (default) or the register interface. */
  invalidation?: "queued" | "register";
  /** Invalidation queue: 2^n pages, 256 descriptors each (default 0). */
  queuePagesLog2?: number;
}

/** DMA permissions of a mapping. */
export type DmaPerms = "r" | "w" | "rw";

export interface IommuDomain {
  readonly did: number;
  readonly levels: 3 | 4;
  /** Host physical address of the top-level table. */
  readonly root: number;
  /** Requester IDs whose context entry points at this domain. */
  readonly rids: ReadonlySet<number>;
  /** Bytes currently mapped. */
  readonly mappedBytes: number;
  /** Page-table pages in use. */
  readonly tablePages: number;
}

export interface FaultStatus {
  /** Primary Fault Overflow: faults were lost. */
  pfo: boolean;
  /** Primary Pending Fault: at least one record holds a fault. */
  ppf: boolean;
  /** Invalidation Queue Error. */
  iqe: boolean;
  /** Fault Record Index: the record of the first pending fault. */
  fri: number;
}

export interface IommuHostStats extends InvalidatorStats {
  /** map / unmap calls that succeeded. */
  maps: number;
  unmaps: number;
}

interface DomainState {
  readonly did: number;
  readonly levels: 3 | 4;
  readonly pt: SlPageTable;
  readonly rids: Set<number>;
  mappedBytes: number;
}

const PERM_BITS: Readonly<Record<string, number>> = { r: 1, w: 2, rw: 3 };

function checkInt(what: string, v: number, min: number, max: number, code: "EINVAL" | "ERANGE" = "ERANGE"): void {
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new IovError(code, `${what} ${v} outside ${min}..${max}`, { [what]: v });
}

/** EINVAL unless `v` is a safe non-negative (positive, if `nonZero`) integer multiple of `align`. */
function checkAligned(what: string, v: number, align: number, nonZero: boolean): void {
  if (!Number.isSafeInteger(v) || v < 0 || (nonZero && v === 0) || v % align !== 0)
    throw new IovError("EINVAL", `${what} 0x${v.toString(16)} is not a ${nonZero ? "positive " : ""}multiple of 0x${align.toString(16)}`, { [what]: v });
}

export class IommuHost {
  readonly mem: PhysMem;
  private readonly alloc: TableAllocator;
  private readonly queued: boolean;
  private readonly qs: number;
  private readonly domains = new Map<number, DomainState>();
  /** rid → domain it is attached to (absent for pass-through and blocked entries). */
  private readonly attached = new Map<number, number>();
  private rootTable = -1;
  private cap = 0n;
  private ecap = 0n;
  private haw = 0;
  private nfr = 0;
  private fro = 0;
  private invalidator: HostInvalidator | undefined;
  private readonly s = { maps: 0, unmaps: 0 };
  /** Interrupt remapping: the IRT, IRTEs, MSI messages, posted-interrupt descriptors. */
  readonly interrupts: InterruptRemapHost;

  constructor(
    readonly hw: VtdIommu,
    opts: IommuHostOptions,
  ) {
    this.mem = hw.mem;
    this.alloc = opts.tables;
    this.queued = (opts.invalidation ?? "queued") === "queued";
    this.qs = opts.queuePagesLog2 ?? 0;
    checkInt("queuePagesLog2", this.qs, 0, 7, "EINVAL");
    this.interrupts = new InterruptRemapHost(hw, opts.tables, {
      ready: () => this.requireInit(),
      queued: () => this.queued,
      command: (bit, statusBit) => this.command(bit, statusBit),
      invalidateInterruptEntries: (scope) => this.invalidateInterruptEntries(scope),
    });
  }

  /* ================================ bring-up ================================ */

  /**
   * Bring the unit up as intel_iommu_init does: root table, SRTP, global context-cache and IOTLB
   * invalidation, queued invalidation (if chosen), then translation on (unless `translate` is false).
   */
  init(opts: { translate?: boolean } = {}): void {
    if (this.rootTable >= 0) throw new IovError("EEXIST", "IOMMU already initialised");
    this.cap = this.hw.mmioRead(DMAR_CAP_REG, 8);
    this.ecap = this.hw.mmioRead(DMAR_ECAP_REG, 8);
    this.nfr = Number((this.cap >> 40n) & 0xffn) + 1;
    this.fro = Number((this.cap >> 24n) & 0x3ffn) * 16;
    this.haw = this.hw.caps.haw; // from the ACPI DMAR table on real hardware
    if (this.queued && (this.ecap & BigInt(ECAP_QI)) === 0n) throw new IovError("ERANGE", "queued invalidation not supported (ECAP.QI = 0)");
    const root = this.newPage();
    try {
      this.rootTable = root;
      this.hw.mmioWrite(DMAR_RTADDR_REG, 8, BigInt(root));
      this.command(DMA_GCMD_SRTP, DMA_GSTS_RTPS);
      this.invalidator = new HostInvalidator(this.hw, this.mem, this.queued, this.cap);
      if (this.queued) {
        this.invalidator.setUpQueue(this.alloc, this.qs);
        this.command(DMA_GCMD_QIE, DMA_GCMD_QIE);
      }
      this.invalidateContext({ kind: "global" });
      this.invalidateIotlb({ kind: "global" });
      if (opts.translate !== false) this.command(DMA_GCMD_TE, DMA_GCMD_TE);
    } catch (e) {
      // Undo in reverse: every command off, the queue and the root table back to the allocator.
      this.hw.mmioWrite(DMAR_GCMD_REG, 4, 0);
      this.invalidator?.releaseQueue(this.alloc, this.qs);
      this.alloc.release(root, PAGE_4K);
      this.rootTable = -1;
      this.invalidator = undefined;
      throw e;
    }
  }

  /** Turn DMA remapping on or off (GCMD.TE). */
  setTranslation(on: boolean): void {
    this.requireInit();
    if (on) this.command(DMA_GCMD_TE, DMA_GCMD_TE);
    else this.commandClear(DMA_GCMD_TE);
  }

  private requireInit(): void {
    if (this.rootTable < 0) throw new IovError("EINVAL", "IOMMU not initialised (call init())");
  }

  private newPage(): number {
    const p = this.alloc.alloc(PAGE_4K, PAGE_4K);
    this.mem.fill(p, PAGE_4K, 0);
    return p;
  }

  /** GCMD write keeping the persistent commands in force (VT-d §10.4.4), then check GSTS. */
  private command(bit: number, statusBit: number): void {
    const cur = this.hw.mmioRead(DMAR_GSTS_REG, 4) & DMA_GCMD_PERSISTENT;
    this.hw.mmioWrite(DMAR_GCMD_REG, 4, (cur | bit) >>> 0);
    if ((this.hw.mmioRead(DMAR_GSTS_REG, 4) & statusBit) === 0)
      throw new IovError("EIO", `GSTS did not report command 0x${bit.toString(16)}`, { gsts: this.hw.mmioRead(DMAR_GSTS_REG, 4) });
  }
  private commandClear(bit: number): void {
    const cur = this.hw.mmioRead(DMAR_GSTS_REG, 4) & DMA_GCMD_PERSISTENT;
    this.hw.mmioWrite(DMAR_GCMD_REG, 4, (cur & ~bit) >>> 0);
    if ((this.hw.mmioRead(DMAR_GSTS_REG, 4) & bit) !== 0) throw new IovError("EIO", `GSTS still reports 0x${bit.toString(16)}`);
  }

  /* ================================ domains ================================ */

  /** A new, empty second-level address space with domain ID `did` and 3 or 4 table levels. */
  createDomain(did: number, levels: 3 | 4): IommuDomain {
    this.requireInit();
    checkInt("did", did, 0, 0xffff);
    if (levels !== 3 && levels !== 4) throw new IovError("EINVAL", `levels ${String(levels)} is not 3 or 4`);
    const sagaw = Number((this.cap >> 8n) & 0x1fn);
    if ((sagaw & (1 << (levels - 2))) === 0) throw new IovError("ERANGE", `${levels}-level tables not supported (SAGAW 0x${sagaw.toString(16)})`);
    if (this.domains.has(did)) throw new IovError("EEXIST", `domain ${did} already exists`);
    const pt = new SlPageTable(this.mem, this.alloc, levels, hiMask(this.haw));
    this.domains.set(did, { did, levels, pt, rids: new Set(), mappedBytes: 0 });
    return this.domain(did);
  }

  domain(did: number): IommuDomain {
    const d = this.dom(did);
    return { did: d.did, levels: d.levels, root: d.pt.root, rids: new Set(d.rids), mappedBytes: d.mappedBytes, tablePages: d.pt.tablePages };
  }
  get domainIds(): number[] {
    return [...this.domains.keys()];
  }

  private dom(did: number): DomainState {
    const d = this.domains.get(did);
    if (d === undefined) throw new IovError("ENOENT", `no IOMMU domain ${did}`);
    return d;
  }

  /** Free a domain's tables. EBUSY while a requester is attached. Flushes its IOTLB entries. */
  destroyDomain(did: number): void {
    const d = this.dom(did);
    if (d.rids.size > 0) throw new IovError("EBUSY", `domain ${did} still has ${d.rids.size} attached requester(s)`, { rids: [...d.rids] });
    this.invalidateIotlb({ kind: "domain", did });
    d.pt.destroy();
    this.domains.delete(did);
  }

  /**
   * Map [iova, iova+size) to host physical [hpa, hpa+size) with `perms`, in pages of `pageSize`
   * (4 KiB default, 2 MiB / 1 GiB if CAP.SLLPS allows). Tables only: nothing is invalidated (new
   * mappings need none: VT-d with CM = 0 caches no non-present entries).
   */
  map(did: number, iova: number, hpa: number, size: number, perms: DmaPerms, pageSize: PageSize = PAGE_4K): void {
    const d = this.dom(did);
    const perm = PERM_BITS[perms];
    if (perm === undefined) throw new IovError("EINVAL", `permissions ${String(perms)} are not r, w or rw`);
    if (pageSize !== PAGE_4K && pageSize !== PAGE_2M && pageSize !== PAGE_1G) throw new IovError("EINVAL", `page size ${String(pageSize)} is not 4K, 2M or 1G`);
    const sllps = Number((this.cap >> 34n) & 0xfn);
    if ((pageSize === PAGE_2M && (sllps & 1) === 0) || (pageSize === PAGE_1G && (sllps & 2) === 0))
      throw new IovError("ERANGE", `page size ${pageSize} not supported (SLLPS 0x${sllps.toString(16)})`);
    checkAligned("size", size, pageSize, true);
    checkAligned("IOVA", iova, pageSize, false);
    checkAligned("HPA", hpa, pageSize, false);
    const agaw = Math.min(agawToBits(d.levels - 2), this.hw.caps.mgaw);
    if (iova + size > 2 ** agaw) throw new IovError("ERANGE", `IOVA range ends beyond the domain's ${agaw}-bit address width`, { iova, size });
    if (hpa + size > Math.min(2 ** this.haw, this.mem.sizeLimit)) throw new IovError("ERANGE", `HPA range ends beyond host memory`, { hpa, size });
    if (iova <= INTERRUPT_ADDR_LAST && iova + size > INTERRUPT_ADDR_FIRST)
      throw new IovError("EINVAL", `IOVA range overlaps the interrupt address window 0xfee00000-0xfeefffff`, { iova, size });
    d.pt.map(iova, hpa, size, perm, pageSize);
    d.mappedBytes += size;
    this.s.maps++;
  }

  /** Clear the mappings of [iova, iova+size) from the page table. No invalidation: see invalidateIotlb. */
  unmap(did: number, iova: number, size: number): number {
    const d = this.dom(did);
    checkAligned("IOVA", iova, PAGE_4K, false);
    checkAligned("size", size, PAGE_4K, true);
    const n = d.pt.unmap(iova, size);
    d.mappedBytes -= n;
    this.s.unmaps++;
    return n;
  }

  /** The strict policy in one call: unmap, then page-selective IOTLB invalidation of the range. */
  unmapAndInvalidate(did: number, iova: number, size: number): number {
    const n = this.unmap(did, iova, size);
    this.invalidateIotlb({ kind: "page", did, iova, size });
    return n;
  }

  /** Software walk of a domain's table (iommu_iova_to_phys): the HPA and permissions now in the table. */
  iovaToPhys(did: number, iova: number): { hpa: number; perms: DmaPerms; pageSize: number } | undefined {
    const l = this.dom(did).pt.lookup(iova);
    if (l === undefined) return undefined;
    return { hpa: l.hpa + (iova - l.base), perms: l.perm === 3 ? "rw" : l.perm === 2 ? "w" : "r", pageSize: l.pageSize };
  }

  /* ================================ context entries ================================ */

  private contextEntryAddr(rid: number, create: boolean): number | undefined {
    this.requireInit();
    checkInt("rid", rid, 0, 0xffff);
    const ra = this.rootTable + (rid >>> 8) * ROOT_ENTRY_SIZE;
    let root = decodeRootEntry(readEntry128(this.mem, ra));
    if (!root.present) {
      if (!create) return undefined;
      root = { present: true, ctp: this.newPage() };
      writeEntry128(this.mem, ra, encodeRootEntry(root));
    }
    return root.ctp + (rid & 0xff) * CONTEXT_ENTRY_SIZE;
  }

  /** The context entry for `rid` as it is in memory (undefined if its bus has no context table). */
  contextOf(rid: number): ContextEntry | undefined {
    const a = this.contextEntryAddr(rid, false);
    return a === undefined ? undefined : decodeContextEntry(readEntry128(this.mem, a));
  }

  private presentContext(rid: number): ContextEntry | undefined {
    const c = this.contextOf(rid);
    return c?.present === true ? c : undefined;
  }

  /** Point `rid`'s context entry at domain `did` (multi-level translation). EEXIST if it has one. */
  attach(did: number, rid: number): void {
    const d = this.dom(did);
    if (this.presentContext(rid) !== undefined) throw new IovError("EEXIST", `requester 0x${rid.toString(16)} already has a context entry; detach first`, { rid });
    const a = this.contextEntryAddr(rid, true)!;
    writeEntry128(this.mem, a, encodeContextEntry({ present: true, fpd: false, tt: CONTEXT_TT_MULTI_LEVEL, slptptr: d.pt.root, aw: d.levels - 2, did }));
    d.rids.add(rid);
    this.attached.set(rid, did);
  }

  /** Give `rid` a pass-through context entry (DMA addresses are host physical). */
  setPassThrough(rid: number, opts: { did?: number } = {}): void {
    if ((this.ecap & BigInt(ECAP_PT)) === 0n) throw new IovError("ERANGE", "pass-through not supported (ECAP.PT = 0)");
    const did = opts.did ?? 0;
    checkInt("did", did, 0, 0xffff);
    if (this.presentContext(rid) !== undefined) throw new IovError("EEXIST", `requester 0x${rid.toString(16)} already has a context entry; detach first`, { rid });
    const a = this.contextEntryAddr(rid, true)!;
    const aw = this.hw.caps.mgaw >= 48 ? 2 : 1;
    writeEntry128(this.mem, a, encodeContextEntry({ present: true, fpd: false, tt: CONTEXT_TT_PASS_THROUGH, slptptr: 0, aw, did }));
  }

  /**
   * Remove `rid`'s context entry. With `flush` (default) also invalidate its context-cache entry and
   * its domain's IOTLB entries; without, a cached context keeps translating (the hazard).
   */
  detach(rid: number, opts: { flush?: boolean } = {}): void {
    const c = this.presentContext(rid);
    if (c === undefined) throw new IovError("ENOENT", `requester 0x${rid.toString(16)} has no context entry`, { rid });
    this.writeNonPresent(rid, false);
    this.afterContextRemoved(rid, c, opts.flush ?? true);
  }

  /**
   * Make `rid`'s context entry non-present so that its DMA is refused: faults are recorded (reason
   * 0x2), or with `silent` the entry's FPD bit suppresses them. Detaches first if attached.
   */
  block(rid: number, opts: { silent?: boolean; flush?: boolean } = {}): void {
    const c = this.presentContext(rid);
    this.writeNonPresent(rid, opts.silent ?? false);
    if (c !== undefined) this.afterContextRemoved(rid, c, opts.flush ?? true);
    else if (opts.flush ?? true) this.invalidateContext({ kind: "device", rid });
  }

  private writeNonPresent(rid: number, fpd: boolean): void {
    const a = this.contextEntryAddr(rid, true)!;
    this.mem.write64(a, fpd ? 2n : 0n); // P clears first
    this.mem.write64(a + 8, 0n);
  }

  private afterContextRemoved(rid: number, c: ContextEntry, flush: boolean): void {
    const did = this.attached.get(rid);
    if (did !== undefined) {
      this.domains.get(did)?.rids.delete(rid);
      this.attached.delete(rid);
    }
    if (!flush) return;
    this.invalidateContext({ kind: "device", rid, did: c.did });
    if (c.tt === CONTEXT_TT_MULTI_LEVEL) this.invalidateIotlb({ kind: "domain", did: c.did });
  }

  /** Domain a requester is attached to (undefined for none, pass-through or blocked). */
  attachedDomain(rid: number): number | undefined {
    return this.attached.get(rid);
  }

  /* ================================ invalidation ================================ */

  private get inval(): HostInvalidator {
    if (this.invalidator === undefined) throw new IovError("EINVAL", "IOMMU not initialised (call init())");
    return this.invalidator;
  }
  invalidateContext(scope: ContextScope): void {
    this.inval.context(scope);
  }
  invalidateIotlb(scope: IotlbScope): void {
    this.inval.iotlb(scope);
  }
  invalidateInterruptEntries(scope: IecScope): void {
    this.inval.interruptEntries(scope);
  }

  /* ================================ faults ================================ */

  faultStatus(): FaultStatus {
    const f = this.hw.mmioRead(DMAR_FSTS_REG, 4);
    return { pfo: (f & DMA_FSTS_PFO) !== 0, ppf: (f & DMA_FSTS_PPF) !== 0, iqe: (f & DMA_FSTS_IQE) !== 0, fri: (f >>> 8) & 0xff };
  }

  /** Parse the fault recording registers: every record with F set, in record order. */
  faults(): FaultRecord[] {
    this.requireInit();
    const out: FaultRecord[] = [];
    for (let i = 0; i < this.nfr; i++) {
      const o = this.fro + 16 * i;
      const r = decodeFaultRecord(
        i,
        [this.hw.mmioRead(o, 4), this.hw.mmioRead(o + 4, 4), this.hw.mmioRead(o + 8, 4), this.hw.mmioRead(o + 12, 4)],
        faultReasonName,
      );
      if (r !== undefined) out.push(r);
    }
    return out;
  }

  /** Service the faults: clear each record's F bit (RW1C) and PFO. Returns the records cleared. */
  clearFaults(): FaultRecord[] {
    const recs = this.faults();
    for (const r of recs) this.hw.mmioWrite(this.fro + 16 * r.index + 12, 4, DMA_FRCD_F_HI);
    this.hw.mmioWrite(DMAR_FSTS_REG, 4, DMA_FSTS_PFO);
    return recs;
  }


  stats(): IommuHostStats {
    return { ...this.s, ...(this.invalidator?.stats ?? { queuedInvalidations: 0, registerInvalidations: 0, waits: 0 }) };
  }
}
