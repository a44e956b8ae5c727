/**
 * The driver's invalidation path (drivers/iommu/intel/dmar.c qi_submit_sync, iommu.c
 * __iommu_flush_context / __iommu_flush_iotlb): either queued — descriptors plus an invalidation
 * wait whose status write the driver checks in memory — or register-based — CCMD, IVA + IOTLB,
 * checking that the command bit cleared and the actual granularity is not 0.
 */
import { IovError } from "../../errors.js";
import type { PhysMem } from "../../memory/physmem.js";
import {
  DMA_CCMD_DEVICE_INVL,
  DMA_CCMD_DID,
  DMA_CCMD_DOMAIN_INVL,
  DMA_CCMD_FM,
  DMA_CCMD_GLOBAL_INVL,
  DMA_CCMD_ICC,
  DMA_CCMD_SID,
  DMA_FSTS_IQE,
  DMA_IQ_SHIFT,
  DMA_TLB_DID,
  DMA_TLB_DSI_FLUSH,
  DMA_TLB_GLOBAL_FLUSH,
  DMA_TLB_IVT,
  DMA_TLB_PSI_FLUSH,
  DMAR_CCMD_REG,
  DMAR_FSTS_REG,
  DMAR_IOTLB_REG,
  DMAR_IQA_REG,
  DMAR_IQH_REG,
  DMAR_IQT_REG,
  DMAR_IVA_REG,
  PAGE_4K,
  QI_DESC_SIZE,
} from "./defs.js";
import { qiContextCacheDesc, qiIecDesc, qiIotlbDesc, qiWaitDesc, writeEntry128, type Entry128 } from "./formats.js";
import type { TableAllocator } from "./pagetable.js";
import type { VtdIommu } from "./vtd.js";

export type ContextScope = { kind: "global" } | { kind: "domain"; did: number } | { kind: "device"; rid: number; did?: number; fm?: number };
export type IotlbScope = { kind: "global" } | { kind: "domain"; did: number } | { kind: "page"; did: number; iova: number; size: number };
export type IecScope = { kind: "global" } | { kind: "index"; index: number; count?: number };

export interface InvalidatorStats {
  /** Invalidation requests issued, by interface. */
  queuedInvalidations: number;
  registerInvalidations: number;
  /** Invalidation wait descriptors issued (each with a status write the driver checked). */
  waits: number;
}

export class HostInvalidator {
  readonly stats: InvalidatorStats = { queuedInvalidations: 0, registerInvalidations: 0, waits: 0 };
  private queueBase = 0;
  private queueSize = 0;
  private statusAddr = -1;
  private waitSeq = 0;

  constructor(
    private readonly hw: VtdIommu,
    private readonly mem: PhysMem,
    readonly queued: boolean,
    /** The CAP register (PSI, MAMV). */
    private readonly cap: bigint,
  ) {}

  /** Allocate the queue (2^qs pages) and the wait-status slot, program IQA and IQT (then set GCMD.QIE). */
  setUpQueue(alloc: TableAllocator, qs: number): void {
    const bytes = PAGE_4K << qs;
    this.queueBase = alloc.alloc(bytes, PAGE_4K);
    this.mem.fill(this.queueBase, bytes, 0);
    this.queueSize = 256 << qs;
    this.statusAddr = alloc.alloc(16, 16);
    this.mem.write32(this.statusAddr, 0);
    this.hw.mmioWrite(DMAR_IQT_REG, 8, 0n);
    this.hw.mmioWrite(DMAR_IQA_REG, 8, BigInt(this.queueBase) | BigInt(qs));
  }

  /** Give the queue and status slot back (bring-up failed part-way). */
  releaseQueue(alloc: TableAllocator, qs: number): void {
    if (this.queueSize > 0) alloc.release(this.queueBase, PAGE_4K << qs);
    if (this.statusAddr >= 0) alloc.release(this.statusAddr, 16);
    this.queueSize = 0;
    this.statusAddr = -1;
  }

  context(scope: ContextScope): void {
    if (this.queued) {
      const desc =
        scope.kind === "device"
          ? qiContextCacheDesc({ kind: "device", did: scope.did ?? 0, sid: scope.rid, ...(scope.fm === undefined ? {} : { fm: scope.fm }) })
          : qiContextCacheDesc(scope);
      this.submit([desc]);
      return;
    }
    let cmd = DMA_CCMD_ICC;
    switch (scope.kind) {
      case "global":
        cmd |= DMA_CCMD_GLOBAL_INVL;
        break;
      case "domain":
        cmd |= DMA_CCMD_DOMAIN_INVL | DMA_CCMD_DID(scope.did);
        break;
      case "device":
        cmd |= DMA_CCMD_DEVICE_INVL | DMA_CCMD_DID(scope.did ?? 0) | DMA_CCMD_SID(scope.rid) | DMA_CCMD_FM(scope.fm ?? 0);
        break;
    }
    this.hw.mmioWrite(DMAR_CCMD_REG, 8, cmd);
    const r = this.hw.mmioRead(DMAR_CCMD_REG, 8);
    this.stats.registerInvalidations++;
    if ((r & DMA_CCMD_ICC) !== 0n || ((r >> 59n) & 3n) === 0n) throw new IovError("EIO", "context-cache invalidation not performed", { ccmd: r });
  }

  iotlb(scope: IotlbScope): void {
    let s: { kind: "global" } | { kind: "domain"; did: number } | { kind: "page"; did: number; addr: number; am: number };
    if (scope.kind === "page") {
      const psi = this.pageSelective(scope.iova, scope.size);
      s = psi === undefined ? { kind: "domain", did: scope.did } : { kind: "page", did: scope.did, addr: psi.addr, am: psi.am };
    } else s = scope;
    if (this.queued) {
      this.submit([qiIotlbDesc(s)]);
      return;
    }
    let cmd = DMA_TLB_IVT;
    let iva = 0n;
    switch (s.kind) {
      case "global":
        cmd |= DMA_TLB_GLOBAL_FLUSH;
        break;
      case "domain":
        cmd |= DMA_TLB_DSI_FLUSH | DMA_TLB_DID(s.did);
        break;
      case "page":
        cmd |= DMA_TLB_PSI_FLUSH | DMA_TLB_DID(s.did);
        iva = BigInt(s.addr) | BigInt(s.am);
        break;
    }
    this.hw.mmioWrite(DMAR_IVA_REG, 8, iva);
    this.hw.mmioWrite(DMAR_IOTLB_REG, 8, cmd);
    const r = this.hw.mmioRead(DMAR_IOTLB_REG, 8);
    this.stats.registerInvalidations++;
    if ((r & DMA_TLB_IVT) !== 0n || ((r >> 57n) & 3n) === 0n) throw new IovError("EIO", "IOTLB invalidation not performed", { iotlb: r });
  }

  /** Interrupt entry cache invalidation: only the queued interface has one (VT-d §6.5.2.7). */
  interruptEntries(scope: IecScope): void {
    if (!this.queued) throw new IovError("EINVAL", "interrupt entry cache invalidation needs queued invalidation");
    if (scope.kind === "global") {
      this.submit([qiIecDesc({ kind: "global" })]);
      return;
    }
    const count = scope.count ?? 1;
    let im = 0;
    while (2 ** im < count || Math.floor(scope.index / 2 ** im) !== Math.floor((scope.index + count - 1) / 2 ** im)) im++;
    this.submit([qiIecDesc({ kind: "index", index: scope.index, im })]);
  }

  /** Smallest aligned 2^am-page block covering [iova, iova+size), or undefined beyond CAP.MAMV (or without PSI). */
  private pageSelective(iova: number, size: number): { addr: number; am: number } | undefined {
    if (!Number.isSafeInteger(iova) || iova < 0 || !Number.isSafeInteger(size) || size <= 0)
      throw new IovError("EINVAL", `bad invalidation range 0x${iova.toString(16)}+${size}`);
    if ((this.cap & (1n << 39n)) === 0n) return undefined;
    const mamv = Number((this.cap >> 48n) & 0x3fn);
    const end = iova + size;
    for (let am = 0; am <= mamv; am++) {
      const span = 2 ** (12 + am);
      const start = Math.floor(iova / span) * span;
      if (start + span >= end) return { addr: start, am };
    }
    return undefined;
  }

  /**
   * Queue descriptors plus an invalidation wait with status write, ring the tail, and check that the
   * status landed in memory. On an invalidation queue error the bad descriptor is replaced by a
   * no-op wait so that the queue can run on (as Linux's qi_check_fault does), IQE is cleared, and
   * EIO thrown.
   */
  private submit(descs: Entry128[]): void {
    if (descs.length + 1 >= this.queueSize) throw new IovError("ENOSPC", `${descs.length} descriptors do not fit the invalidation queue`);
    const seq = (this.waitSeq = (this.waitSeq + 1) >>> 0 || 1);
    const all = [...descs, qiWaitDesc({ statusWrite: { addr: this.statusAddr, data: seq }, fence: true })];
    let tail = Number((this.hw.mmioRead(DMAR_IQT_REG, 8) >> BigInt(DMA_IQ_SHIFT)) & 0x7fffn);
    for (const d of all) {
      writeEntry128(this.mem, this.queueBase + tail * QI_DESC_SIZE, d);
      tail = (tail + 1) % this.queueSize;
    }
    this.hw.mmioWrite(DMAR_IQT_REG, 8, BigInt(tail << DMA_IQ_SHIFT));
    this.stats.queuedInvalidations += descs.length;
    this.stats.waits++;
    if (this.mem.read32(this.statusAddr) === seq) return;
    const fsts = this.hw.mmioRead(DMAR_FSTS_REG, 4);
    if ((fsts & DMA_FSTS_IQE) !== 0) {
      const head = Number((this.hw.mmioRead(DMAR_IQH_REG, 8) >> BigInt(DMA_IQ_SHIFT)) & 0x7fffn);
      writeEntry128(this.mem, this.queueBase + head * QI_DESC_SIZE, qiWaitDesc({}));
      this.hw.mmioWrite(DMAR_FSTS_REG, 4, DMA_FSTS_IQE);
    }
    throw new IovError("EIO", "invalidation wait did not complete", { fsts, status: this.mem.read32(this.statusAddr), expected: seq });
  }
}
