/**
 * A VT-d DMA-remapping hardware unit (legacy root/context tables, second-level translation),
 * working on its structures in simulated host memory and driven through its MMIO registers.
 *
 * Translation of a request (source ID, IOVA): TE = 0 → untranslated. Otherwise the context cache
 * (or root entry → context entry in memory) gives the domain, translation type and page-table root;
 * pass-through returns the IOVA; multi-level translation hits the IOTLB or walks 3 or 4 levels of
 * second-level tables (4 KiB / 2 MiB / 1 GiB pages), accumulating R/W, checking reserved bits, and
 * fills the IOTLB. A request that fails is recorded in the fault recording registers with the VT-d
 * reason and source ID (FPD suppresses qualified reasons), and does not happen (DMA_FAULT).
 *
 * There is no special case for the remapping unit's own tables: a device reaches them only if some
 * page table maps them.
 *
 * Deviation from QEMU, following this project's brief: a second-level entry with R = W = 0 is "not
 * present" and reported as 0x7 (QEMU reports it as 0x5/0x6, a permission fault). Reserved bits are
 * checked before permissions.
 */
import { IovError } from "../../errors.js";
import type { PhysMem } from "../../memory/physmem.js";
import { DMA_FAULT, type DmaTranslator } from "../../pcie/dma.js";
import { ContextCache, Iotlb, LEVEL_BYTES, LEVEL_OFFSET_MASK } from "./caches.js";
import {
  CAP_SAGAW_39,
  CAP_SAGAW_48,
  CONTEXT_TT_MULTI_LEVEL,
  CONTEXT_TT_PASS_THROUGH,
  DMA_FSTS_IQE,
  DMA_GCMD_CFI,
  DMA_GCMD_IRE,
  DMA_GCMD_QIE,
  DMA_GCMD_SIRTP,
  DMA_GCMD_SRTP,
  DMA_GCMD_TE,
  DMA_GSTS_CFIS,
  DMA_GSTS_IRES,
  DMA_GSTS_IRTPS,
  DMA_GSTS_QIES,
  DMA_GSTS_RTPS,
  DMA_GSTS_TES,
  DMA_IRTA_EIME,
  DMAR_NFR_MAX,
  INTERRUPT_ADDR_FIRST,
  INTERRUPT_ADDR_LAST,
  POW2,
  TWO32,
  VtdFault,
  isQualifiedFault,
} from "./defs.js";
import { FaultUnit, type IommuEventSink } from "./faults.js";
import { InvalidationUnit, type InvalidationStats } from "./invalidation.js";
import { InterruptRemapper, NULL_INTERRUPT_TARGET, type InterruptTarget } from "./intremap.js";
import { MmioRegisterFile, hiMask, vtdRegisterTable, type VtdCaps, type VtdRegTable } from "./regs.js";

/*
 * Data-path constants as module-local bindings: under the TypeScript runners used for tests and
 * benchmarks (tsx/esbuild, vite) an imported binding can compile to an accessor call per use.
 */
const FAULT = DMA_FAULT;
const L_BYTES = LEVEL_BYTES;
const L_OFFSET = LEVEL_OFFSET_MASK;
const TT_MULTI = CONTEXT_TT_MULTI_LEVEL;
const TT_PT = CONTEXT_TT_PASS_THROUGH;
const IA_FIRST = INTERRUPT_ADDR_FIRST;
const IA_LAST = INTERRUPT_ADDR_LAST;
const P2 = POW2;
const T32 = TWO32;
const qualified = isQualifiedFault;
const FR_ADDR_BEYOND_MGAW = VtdFault.ADDR_BEYOND_MGAW;
const FR_CONTEXT_ENTRY_INV = VtdFault.CONTEXT_ENTRY_INV;
const FR_CONTEXT_ENTRY_P = VtdFault.CONTEXT_ENTRY_P;
const FR_CONTEXT_ENTRY_RSVD = VtdFault.CONTEXT_ENTRY_RSVD;
const FR_CONTEXT_ENTRY_TT = VtdFault.CONTEXT_ENTRY_TT;
const FR_CONTEXT_TABLE_INV = VtdFault.CONTEXT_TABLE_INV;
const FR_INTERRUPT_ADDR = VtdFault.INTERRUPT_ADDR;
const FR_PAGING_ENTRY_INV = VtdFault.PAGING_ENTRY_INV;
const FR_PAGING_ENTRY_RSVD = VtdFault.PAGING_ENTRY_RSVD;
const FR_READ = VtdFault.READ;
const FR_ROOT_ENTRY_P = VtdFault.ROOT_ENTRY_P;
const FR_ROOT_ENTRY_RSVD = VtdFault.ROOT_ENTRY_RSVD;
const FR_ROOT_TABLE_INV = VtdFault.ROOT_TABLE_INV;
const FR_WRITE = VtdFault.WRITE;

export interface VtdOptions {
  /** Host address width; default: what the memory's size needs, clamped to 39..52. */
  haw?: number;
  /** Maximum guest address width: 48 (3- and 4-level tables, default) or 39 (3-level only). */
  mgaw?: 39 | 48;
  /** Fault recording registers (default 8, at most DMAR_NFR_MAX). */
  nfr?: number;
  /** IOTLB entries (default 512; 0 disables the IOTLB so that every translation walks). */
  iotlbEntries?: number;
  /** Context-cache entries (default 64). */
  contextCacheEntries?: number;
  /** Second-level large pages (CAP.SLLPS): both supported by default. */
  sllps2M?: boolean;
  sllps1G?: boolean;
  /** ECAP.PT (default true). */
  passThrough?: boolean;
  /** ECAP.EIM: x2APIC destinations in interrupt remapping (default true). */
  x2apic?: boolean;
  /** Where remapped interrupts and posted notifications go. */
  interruptTarget?: InterruptTarget;
  /** The unit's own fault / invalidation-completion interrupts. */
  eventSink?: IommuEventSink;
}

export interface VtdStats extends InvalidationStats {
  /** translate() calls. */
  translations: number;
  /** Translations with TE = 0 (untranslated). */
  untranslated: number;
  /** Pass-through context entries. */
  passThrough: number;
  contextHits: number;
  contextMisses: number;
  iotlbHits: number;
  iotlbMisses: number;
  /** Second-level page walks started. */
  walks: number;
  /** Table entries read by walks and context fetches (root + context + paging entries). */
  walkReads: number;
  /** Requests refused (recorded, suppressed by FPD, or lost to overflow). */
  faults: number;
  faultsRecorded: number;
  faultsSuppressed: number;
  faultsOverflowed: number;
  faultEvents: number;
  iotlbEntries: number;
  iotlbEvictions: number;
  contextEntries: number;
  contextEvictions: number;
}

const C_TRANSLATIONS = 0;
const C_UNTRANSLATED = 1;
const C_PT = 2;
const C_CTX_HIT = 3;
const C_CTX_MISS = 4;
const C_HIT = 5;
const C_MISS = 6;
const C_WALKS = 7;
const C_WALK_READS = 8;
const C_FAULTS = 9;
const C_FAULTS_SUPPRESSED = 10;
const N_COUNTERS = 11;


export class VtdIommu implements DmaTranslator {
  readonly caps: VtdCaps;
  readonly regs: MmioRegisterFile<VtdRegTable>;
  /** The register table (for names, decode/encode of fields). */
  readonly R: VtdRegTable;
  readonly faults: FaultUnit;
  /** Interrupt remapping: the `MsiSink` devices deliver MSI writes to. */
  readonly ir: InterruptRemapper;
  readonly contextCache: ContextCache;
  readonly iotlb: Iotlb;
  /** Table entries the last translate() read from memory (0 on an IOTLB hit): for the cost model. */
  lastWalkReads = 0;

  private readonly c = new Float64Array(N_COUNTERS);
  private te = false;
  private root = 0;
  private readonly memLimit: number;
  private readonly hawHi: number;
  private readonly hawLimit: number;
  private readonly sagaw: number;
  private readonly rsvdLo = new Int32Array(5);
  private readonly rsvdLoLarge = new Int32Array(5);
  private readonly rsvdHi: number;
  /** Register-based and queued invalidation. */
  readonly inv: InvalidationUnit;

  constructor(
    readonly mem: PhysMem,
    opts: VtdOptions = {},
  ) {
    const haw = opts.haw ?? Math.min(52, Math.max(39, Math.ceil(Math.log2(mem.sizeLimit))));
    if (!Number.isInteger(haw) || haw < 32 || haw > 52) throw new IovError("ERANGE", `host address width ${haw} outside 32..52`);
    const mgaw = opts.mgaw ?? 48;
    if (mgaw !== 39 && mgaw !== 48) throw new IovError("ERANGE", `MGAW ${String(mgaw)} is not 39 or 48`);
    const nfr = opts.nfr ?? 8;
    if (!Number.isInteger(nfr) || nfr < 1 || nfr > DMAR_NFR_MAX) throw new IovError("ERANGE", `NFR ${nfr} outside 1..${DMAR_NFR_MAX}`);
    this.caps = {
      haw,
      mgaw,
      nfr,
      sllps2M: opts.sllps2M ?? true,
      sllps1G: opts.sllps1G ?? true,
      passThrough: opts.passThrough ?? true,
      x2apic: opts.x2apic ?? true,
      mamv: 18,
    };
    const def = vtdRegisterTable(this.caps);
    this.regs = new MmioRegisterFile(def);
    this.R = def.regs;
    this.memLimit = mem.sizeLimit;
    this.hawHi = hiMask(haw);
    this.hawLimit = P2[haw]!;
    this.sagaw = CAP_SAGAW_39 | (mgaw >= 48 ? CAP_SAGAW_48 : 0);
    // Reserved bits of second-level entries (QEMU's VTD_SPTE_*_RSVD_MASK without device-TLB or snoop control):
    // SNP (bit 11) everywhere, PS at level 4, the large-page frame's low bits, bits HAW..51 and TM (bit 62).
    this.rsvdLo.set([0, 0x800, 0x800, 0x800, 0x880]);
    this.rsvdLoLarge.set([0, 0x800, this.caps.sllps2M ? 0x1f_f800 : 0x880, this.caps.sllps1G ? 0x3fff_f800 : 0x880, 0x880]);
    this.rsvdHi = ((0x000f_ffff & ~this.hawHi) | 0x4000_0000) >>> 0;
    this.faults = new FaultUnit(this.regs.dw, nfr, opts.eventSink);
    this.ir = new InterruptRemapper(mem, this.faults, this.hawHi, opts.interruptTarget ?? NULL_INTERRUPT_TARGET);
    this.contextCache = new ContextCache(opts.contextCacheEntries ?? 64);
    this.iotlb = new Iotlb(opts.iotlbEntries ?? 512);
    this.inv = new InvalidationUnit(mem, this.regs, this.caps, this.hawHi, this, opts.eventSink);
    this.installHooks();
  }

  /* ================================ data path ================================ */

  translate(rid: number, iova: number, len: number, write: boolean): number {
    // The IOTLB-hit path, kept small so that a caller's optimizer can inline it (and keep the
    // returned address unboxed): a cached multi-level context and a cached translation that permits
    // the access. Everything else, including every fault, goes the long way.
    if (this.te) {
      const cc = this.contextCache;
      const s = cc.slotOf[rid & 0xffff]!;
      if (s >= 0 && cc.tt[s] === TT_MULTI && iova + len <= cc.limit[s]! && (iova < IA_FIRST || iova > IA_LAST)) {
        const tlb = this.iotlb;
        const e = tlb.lookup(cc.did[s]!, iova);
        if (e >= 0 && (tlb.perm[e]! & (write ? 2 : 1)) !== 0) {
          const c = this.c;
          c[C_TRANSLATIONS]!++;
          c[C_CTX_HIT]!++;
          c[C_HIT]!++;
          cc.ref[s] = 1;
          tlb.ref[e] = 1;
          this.lastWalkReads = 0;
          return tlb.base[e]! + (iova & L_OFFSET[tlb.key[e]! & 3]!);
        }
      }
    }
    // `+ 0` makes both returns plain float64 values, so an inlining caller need not box the address.
    return this.translateSlow(rid, iova, len, write) + 0;
  }

  private translateSlow(rid: number, iova: number, len: number, write: boolean): number {
    const c = this.c;
    c[C_TRANSLATIONS]!++;
    if (!this.te) {
      c[C_UNTRANSLATED]!++;
      return iova >= 0 && iova + len <= this.memLimit ? iova : FAULT;
    }
    this.lastWalkReads = 0;
    const sid = rid & 0xffff;
    if (iova >= IA_FIRST && iova <= IA_LAST) return this.dmaFault(sid, iova, write, FR_INTERRUPT_ADDR, 0);
    const cc = this.contextCache;
    let s = cc.slotOf[sid]!;
    if (s >= 0) {
      cc.ref[s] = 1;
      c[C_CTX_HIT]!++;
    } else {
      c[C_CTX_MISS]!++;
      s = this.fetchContext(sid, iova, write);
      if (s < 0) return FAULT;
    }
    if (cc.tt[s] === TT_PT) {
      if (iova + len > this.hawLimit) return this.dmaFault(sid, iova, write, FR_ADDR_BEYOND_MGAW, cc.fpd[s]!);
      c[C_PT]!++;
      return iova;
    }
    if (iova + len > cc.limit[s]!) return this.dmaFault(sid, iova, write, FR_ADDR_BEYOND_MGAW, cc.fpd[s]!);
    const tlb = this.iotlb;
    const e = tlb.lookup(cc.did[s]!, iova);
    if (e >= 0 && (tlb.perm[e]! & (write ? 2 : 1)) !== 0) {
      // Reached only when the fast path could not run (TE just enabled, context fetched now).
      tlb.ref[e] = 1;
      c[C_HIT]!++;
      return tlb.base[e]! + (iova & L_OFFSET[tlb.key[e]! & 3]!);
    }
    c[C_MISS]!++;
    return this.walk(s, sid, iova, write);
  }

  /** Root entry → context entry, checked, into the context cache. Returns the slot, or -1 after a fault. */
  private fetchContext(sid: number, iova: number, write: boolean): number {
    const mem = this.mem;
    const ra = this.root + (sid >>> 8) * 16;
    if (ra + 16 > this.memLimit) return this.fetchFault(sid, iova, write, FR_ROOT_TABLE_INV, 0);
    const r0 = mem.read32(ra);
    const r1 = mem.read32(ra + 4);
    const r2 = mem.read32(ra + 8);
    const r3 = mem.read32(ra + 12);
    this.lastWalkReads++;
    this.c[C_WALK_READS]!++;
    if ((r0 & 1) === 0) return this.fetchFault(sid, iova, write, FR_ROOT_ENTRY_P, 0);
    if ((r0 & 0xffe) !== 0 || (r1 & ~this.hawHi) !== 0 || r2 !== 0 || r3 !== 0) return this.fetchFault(sid, iova, write, FR_ROOT_ENTRY_RSVD, 0);
    const ca = r1 * T32 + ((r0 & 0xffff_f000) >>> 0) + (sid & 0xff) * 16;
    if (ca + 16 > this.memLimit) return this.fetchFault(sid, iova, write, FR_CONTEXT_TABLE_INV, 0);
    const c0 = mem.read32(ca);
    const c1 = mem.read32(ca + 4);
    const c2 = mem.read32(ca + 8);
    const c3 = mem.read32(ca + 12);
    this.lastWalkReads++;
    this.c[C_WALK_READS]!++;
    // FPD is honoured even in a non-present entry (VT-d §9.3): a "blocked" requester can be silent.
    const fpd = (c0 >>> 1) & 1;
    if ((c0 & 1) === 0) return this.fetchFault(sid, iova, write, FR_CONTEXT_ENTRY_P, fpd);
    if ((c0 & 0xff0) !== 0 || (c1 & ~this.hawHi) !== 0 || (c2 & 0xff00_0080) !== 0 || c3 !== 0)
      return this.fetchFault(sid, iova, write, FR_CONTEXT_ENTRY_RSVD, 0);
    const tt = (c0 >>> 2) & 3;
    if (tt !== TT_MULTI && !(tt === TT_PT && this.caps.passThrough))
      return this.fetchFault(sid, iova, write, FR_CONTEXT_ENTRY_TT, fpd);
    const aw = c2 & 7;
    const did = (c2 >>> 8) & 0xffff;
    let levels = 0;
    let limit = this.hawLimit;
    if (tt === TT_MULTI) {
      if (aw < 1 || aw > 2 || (this.sagaw & (1 << aw)) === 0) return this.fetchFault(sid, iova, write, FR_CONTEXT_ENTRY_INV, fpd);
      levels = aw + 2;
      limit = P2[Math.min(30 + 9 * aw, this.caps.mgaw)]!;
    }
    const slpt = c1 * T32 + ((c0 & 0xffff_f000) >>> 0);
    return this.contextCache.insert(sid, did, tt, levels, fpd, slpt, limit);
  }

  private fetchFault(sid: number, iova: number, write: boolean, reason: number, fpd: number): number {
    this.dmaFault(sid, iova, write, reason, fpd);
    return -1;
  }

  /** Second-level walk for context-cache slot `s`; fills the IOTLB on success. */
  private walk(s: number, sid: number, iova: number, write: boolean): number {
    const cc = this.contextCache;
    const mem = this.mem;
    const need = write ? 2 : 1;
    const fpd = cc.fpd[s]!;
    let level = cc.levels[s]!;
    let table = cc.root[s]!;
    let perm = 3;
    let reads = 0;
    this.c[C_WALKS]!++;
    for (;;) {
      const idx = Math.floor(iova / P2[3 + 9 * level]!) & 511;
      const ea = table + idx * 8;
      if (ea + 8 > this.memLimit) return this.walkFault(sid, iova, write, FR_PAGING_ENTRY_INV, fpd, reads);
      const p = mem.pageForRead(ea);
      const o = ea & 0xfff;
      const lo = (p[o]! | (p[o + 1]! << 8) | (p[o + 2]! << 16) | (p[o + 3]! << 24)) >>> 0;
      const hi = (p[o + 4]! | (p[o + 5]! << 8) | (p[o + 6]! << 16) | (p[o + 7]! << 24)) >>> 0;
      reads++;
      if ((lo & 3) === 0) return this.walkFault(sid, iova, write, FR_PAGING_ENTRY_INV, fpd, reads);
      const large = level > 1 && (lo & 0x80) !== 0;
      if ((lo & (large ? this.rsvdLoLarge[level]! : this.rsvdLo[level]!)) !== 0 || (hi & this.rsvdHi) !== 0)
        return this.walkFault(sid, iova, write, FR_PAGING_ENTRY_RSVD, fpd, reads);
      perm &= lo;
      if ((perm & need) === 0) return this.walkFault(sid, iova, write, write ? FR_WRITE : FR_READ, fpd, reads);
      const addr = (hi & this.hawHi) * T32 + ((lo & 0xffff_f000) >>> 0);
      if (level === 1 || large) {
        this.lastWalkReads += reads;
        this.c[C_WALK_READS]! += reads;
        this.iotlb.insert(cc.did[s]!, level, Math.floor(iova / L_BYTES[level]!), addr, perm & 3);
        return addr + (iova & L_OFFSET[level]!);
      }
      table = addr;
      level--;
    }
  }

  private walkFault(sid: number, iova: number, write: boolean, reason: number, fpd: number, reads: number): number {
    this.lastWalkReads += reads;
    this.c[C_WALK_READS]! += reads;
    return this.dmaFault(sid, iova, write, reason, fpd);
  }

  private dmaFault(sid: number, iova: number, write: boolean, reason: number, fpd: number): number {
    this.c[C_FAULTS]!++;
    if (fpd !== 0 && qualified(reason)) {
      this.c[C_FAULTS_SUPPRESSED]!++;
      return FAULT;
    }
    this.faults.record(sid, reason, (iova & 0xffff_f000) >>> 0, Math.floor(iova / T32), !write);
    return FAULT;
  }

  /* ================================ MMIO ================================ */

  /** Software read: size 4, or 8 as two 4-byte reads (low dword first). */
  mmioRead(off: number, size: 4): number;
  mmioRead(off: number, size: 8): bigint;
  mmioRead(off: number, size: 4 | 8): number | bigint {
    if (size === 4) return this.regs.read32(off);
    if (size !== 8 || (off & 7) !== 0) throw new IovError("EINVAL", `VT-d MMIO read of ${String(size)} bytes at 0x${off.toString(16)}`);
    const lo = this.regs.read32(off);
    const hi = this.regs.read32(off + 4);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** Software write: size 4, or 8 as two 4-byte writes, low dword first (the command bit is in the high one). */
  mmioWrite(off: number, size: 4, value: number): void;
  mmioWrite(off: number, size: 8, value: bigint): void;
  mmioWrite(off: number, size: 4 | 8, value: number | bigint): void {
    if (size === 4 && typeof value === "number") {
      this.regs.write32(off, value);
      return;
    }
    if (size !== 8 || typeof value !== "bigint" || (off & 7) !== 0)
      throw new IovError("EINVAL", `VT-d MMIO write of ${String(size)} bytes at 0x${off.toString(16)}`);
    this.regs.write32(off, Number(value & 0xffff_ffffn));
    this.regs.write32(off + 4, Number((value >> 32n) & 0xffff_ffffn));
  }

  private installHooks(): void {
    const R = this.R;
    const regs = this.regs;
    const inv = this.inv;
    regs.onWrite(R.GCMD, (_o, nv) => this.globalCommand(nv));
    regs.onWrite(R.CCMD_HI, (_o, nv) => inv.contextCommand(nv));
    regs.onWrite(R.IOTLB_HI, (_o, nv) => inv.iotlbCommand(nv));
    regs.onWrite(R.IQT, () => inv.processQueue());
    regs.onWrite(R.FSTS, (o, nv) => {
      this.faults.statusChanged();
      if ((o & DMA_FSTS_IQE) !== 0 && (nv & DMA_FSTS_IQE) === 0) inv.processQueue();
    });
    regs.onWrite(R.FECTL, (o, nv) => this.faults.fectlWritten(o, nv));
    for (let i = 0; i < this.caps.nfr; i++) regs.onWrite(R[`FRCD${i}_3`]!, () => this.faults.updatePpf());
    regs.onWrite(R.ICS, (_o, nv) => inv.icsWritten(nv));
    regs.onWrite(R.IECTL, (o, nv) => inv.iectlWritten(o, nv));
  }

  /** GCMD (VT-d §10.4.4): persistent commands set GSTS as written; one-shot commands latch and report. */
  private globalCommand(cmd: number): void {
    const R = this.R;
    const regs = this.regs;
    let sts = regs.get(R.GSTS);
    if ((cmd & DMA_GCMD_SRTP) !== 0) {
      this.root = (regs.get(R.RTADDR_HI) & this.hawHi) * T32 + ((regs.get(R.RTADDR) & 0xffff_f000) >>> 0);
      sts |= DMA_GSTS_RTPS;
    }
    if ((cmd & DMA_GCMD_SIRTP) !== 0) {
      const lo = regs.get(R.IRTA);
      this.ir.setTable((regs.get(R.IRTA_HI) & this.hawHi) * T32 + ((lo & 0xffff_f000) >>> 0), lo & 0xf, (lo & DMA_IRTA_EIME) !== 0);
      sts |= DMA_GSTS_IRTPS;
    }
    this.te = (cmd & DMA_GCMD_TE) !== 0;
    sts = this.te ? sts | DMA_GSTS_TES : sts & ~DMA_GSTS_TES;
    const qie = (cmd & DMA_GCMD_QIE) !== 0;
    sts = qie ? sts | DMA_GSTS_QIES : sts & ~DMA_GSTS_QIES;
    this.ir.enabled = (cmd & DMA_GCMD_IRE) !== 0;
    sts = this.ir.enabled ? sts | DMA_GSTS_IRES : sts & ~DMA_GSTS_IRES;
    this.ir.compatAllowed = (cmd & DMA_GCMD_CFI) !== 0;
    sts = this.ir.compatAllowed ? sts | DMA_GSTS_CFIS : sts & ~DMA_GSTS_CFIS;
    regs.set(R.GSTS, sts);
    regs.set(R.GCMD, 0); // write-only
    this.inv.setQueued(qie);
  }

  /* ============================ observation ============================ */

  /** Whether DMA remapping is on (GSTS.TES). */
  get translationEnabled(): boolean {
    return this.te;
  }

  stats(): VtdStats {
    const c = this.c;
    return {
      translations: c[C_TRANSLATIONS]!,
      untranslated: c[C_UNTRANSLATED]!,
      passThrough: c[C_PT]!,
      contextHits: c[C_CTX_HIT]!,
      contextMisses: c[C_CTX_MISS]!,
      iotlbHits: c[C_HIT]!,
      iotlbMisses: c[C_MISS]!,
      walks: c[C_WALKS]!,
      walkReads: c[C_WALK_READS]!,
      faults: c[C_FAULTS]!,
      faultsRecorded: this.faults.recorded,
      faultsSuppressed: c[C_FAULTS_SUPPRESSED]!,
      faultsOverflowed: this.faults.overflowed,
      faultEvents: this.faults.events,
      iotlbEntries: this.iotlb.size,
      iotlbEvictions: this.iotlb.evictions,
      contextEntries: this.contextCache.size,
      contextEvictions: this.contextCache.evictions,
      ...this.inv.counts,
    };
  }

  /** Zero the data-path counters (fault records and cache contents are untouched). */
  resetStats(): void {
    this.c.fill(0);
    this.faults.recorded = 0;
    this.faults.overflowed = 0;
    this.faults.events = 0;
    this.iotlb.evictions = 0;
    this.contextCache.evictions = 0;
    this.inv.resetCounts();
  }
}
