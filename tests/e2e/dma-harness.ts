/**
 * Harness for the DMA-isolation property tests (tests/e2e/dma-isolation.test.ts).
 *
 * A random host is generated as host-file text, booted with config/boot.ts, and then driven by
 * hypervisor actions (map/unmap/invalidate through `host.iommu`), honest VF drivers (the booted
 * `VfDriver`s) and hostile devices (direct `vtd.translate` + the write the DMA engine would do, and
 * hostile rings on the real NIC data path). A reference model kept here says, for every DMA, what
 * the IOMMU must do: which (domain, IOVA page) is mapped to which host page with which permissions,
 * which unmapped translations may still sit in the IOTLB (unmapped and not yet invalidated), which
 * requester IDs are attached where, and which host pages belong to which guest and to the IOMMU.
 *
 * Instrumentation (test-only, on the booted instances; no source file is changed):
 * - `vtd.translate` is wrapped on the instance so that every translation the NIC's DMA engine asks
 *   for is checked against the model as it happens (the direct hostile DMA calls the unwrapped
 *   method);
 * - `mem.pageForWrite` is wrapped on the instance so that every page written during a step is known
 *   (a dirty-page log): after every step the pages written must be ones the step was allowed to
 *   write. All PhysMem writers go through pageForWrite. A full byte comparison of every tracked
 *   page (guest pages DMA may reach, sentinels, the IOMMU's structures) backs the log up.
 */
import { boot, type AttachedNic, type BootState } from "../../src/config/boot.js";
import { SimHost, type PfPort } from "../../src/config/host.js";
import { parseHostFile } from "../../src/config/parse.js";
import { GUEST_MSI_VECTOR_BASE, GUEST_MSI_VECTOR_LIMIT } from "../../src/config/validate.js";
import type { Guest } from "../../src/hypervisor-glue/guest.js";
import { GUEST_CHUNK } from "../../src/hypervisor-glue/guest.js";
import { HOST_MAP } from "../../src/hypervisor-glue/hypervisor.js";
import {
  DMA_FRCD_F_HI,
  DMA_FRCD_T_HI,
  DMA_FSTS_PFO,
  DMA_FSTS_PPF,
  DMAR_CAP_REG,
  DMAR_FSTS_REG,
  DMAR_IQA_REG,
  DMAR_IRTA_REG,
  DMAR_RTADDR_REG,
  INTERRUPT_ADDR_FIRST,
  INTERRUPT_ADDR_LAST,
  PAGE_2M,
  PAGE_4K,
  QI_IWD_TYPE,
  VtdFault,
  type PageSize,
} from "../../src/hypervisor-glue/iommu/defs.js";
import type { DmaPerms } from "../../src/hypervisor-glue/iommu/host.js";
import { VtdIommu } from "../../src/hypervisor-glue/iommu/vtd.js";
import { PhysMem } from "../../src/memory/physmem.js";
import { E1000_TDWBAH, E1000_TDWBAL, E1000_TX_HEAD_WB_ENABLE } from "../../src/nic/regs.js";
import { DMA_FAULT } from "../../src/pcie/dma.js";
import { planDma, type DmaLayout } from "../../src/vf-driver/dma-layout.js";
import { IgbRings } from "../../src/vf-driver/rings.js";

export const KiB = 1024;
export const MiB = 1024 * KiB;
const PAGE = PAGE_4K;
const TWO32 = 2 ** 32;
/** boot.ts puts guest NIC i's driver DMA region (rings, buffers) at 16 MiB + i × 4 MiB (GPA). */
const DRIVER_REGION_GPA = 16 * MiB;
const DRIVER_REGION_BYTES = 4 * MiB;
/** GPAs below the driver regions: the "scratch" RAM the hypervisor may unmap, remap and alias. */
const SCRATCH_END = DRIVER_REGION_GPA;
const R = 1;
const W = 2;
const PERM_NAME: Record<number, DmaPerms> = { 1: "r", 2: "w", 3: "rw" };

export const TEMPLATES = ["intel-82599", "intel-e810", "intel-82576", "intel-x710", "mlx-cx5"] as const;

/* ================================================================ PRNG */

/** mulberry32: small, fast, seedable (fast-check draws the seeds, so runs replay). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = (seed ^ 0x5bd1e995) >>> 0;
  }
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : Math.floor((this.u32() / TWO32) * n);
  }
  /** Integer in [lo, hi) for ranges up to 2^52. */
  range(lo: number, hi: number): number {
    const f = (this.u32() * TWO32 + this.u32()) / 2 ** 64;
    return lo + Math.floor(f * (hi - lo));
  }
  chance(p: number): boolean {
    return this.u32() / TWO32 < p;
  }
  pick<T>(a: readonly T[]): T {
    if (a.length === 0) throw new Error("pick from an empty list");
    return a[this.int(a.length)]!;
  }
}

/* ================================================================ random hosts */

export interface HostSpec {
  /** 1..3 cards; each on its own root port, or behind a switch (ACS on) below it. */
  cards: Array<{ template: (typeof TEMPLATES)[number]; switched: boolean }>;
  pageSize: "4K" | "2M";
  addressWidth: 39 | 48;
  iotlbEntries: number;
  posted: boolean;
  /** 1..8 guests. */
  guests: number;
  /** NumVFs wanted per PF (taken modulo the list, clamped to TotalVFs; at most 64 VFs enabled in all). */
  numVfs: number[];
  /** Each entry gives one guest one more VF (PF and guest chosen modulo what exists). */
  assign: Array<{ pf: number; guest: number }>;
  spoofchk: boolean;
}

const fabricMemo = new Map<string, Array<{ bdf: string; totalVfs: number; vectors: number; template: string }>>();

function fabricText(spec: HostSpec): string {
  const lines = ["fabric:", "  rootPorts:"];
  spec.cards.forEach((c, i) => {
    lines.push(`    - slot: ${i + 1}`);
    if (c.switched) lines.push(`      switch: { acs: true, ports: [ { device: { template: ${c.template} } }, {} ] }`);
    else lines.push(`      device: { template: ${c.template} }`);
  });
  return lines.join("\n") + "\n";
}

/** The PFs enumeration gives a fabric (their BDFs depend on bus numbering): built once per fabric. */
function fabricPfs(fabric: string): Array<{ bdf: string; totalVfs: number; vectors: number; template: string }> {
  let got = fabricMemo.get(fabric);
  if (got === undefined) {
    const h = new SimHost(parseHostFile(`host: { name: probe, memory: 1GiB, cpus: 2 }\n${fabric}`, "probe.yaml"));
    h.enumerateAndProbe();
    got = h.pfs.map((p) => ({ bdf: p.fn.bdfString, totalVfs: p.template.totalVfs, vectors: p.template.vfMsixVectors, template: p.template.name }));
    fabricMemo.set(fabric, got);
  }
  return got;
}

export interface HostPlan {
  text: string;
  guestNics: number[];
  assigned: number;
  enabled: number;
}

/** Host-file text for a spec: fabric, PFs with NumVFs, guests with explicit `PF#n` NICs. */
export function hostFileFor(spec: HostSpec): HostPlan {
  const fabric = fabricText(spec);
  const pfs = fabricPfs(fabric);
  let budget = 64;
  const numVfs = pfs.map((p, i) => {
    const n = Math.max(0, Math.min(p.totalVfs, spec.numVfs[i % spec.numVfs.length]!, budget));
    budget -= n;
    return n;
  });
  const enabled = pfs.map((p, i) => ({ ...p, n: numVfs[i]!, used: 0 })).filter((p) => p.n > 0);
  const nics: string[][] = Array.from({ length: spec.guests }, () => []);
  // a guest's VFs must fit its interrupt vectors (validation refuses the file otherwise)
  const vectors = new Array<number>(spec.guests).fill(0);
  let assigned = 0;
  for (const a of spec.assign) {
    if (enabled.length === 0) break;
    const p = enabled[a.pf % enabled.length]!;
    const g = a.guest % spec.guests;
    if (p.used >= p.n || vectors[g]! + p.vectors > GUEST_MSI_VECTOR_LIMIT - GUEST_MSI_VECTOR_BASE) continue;
    vectors[g] = vectors[g]! + p.vectors;
    nics[g]!.push(`{ vf: "${p.bdf}#${p.used++}" }`);
    assigned++;
  }
  const mem = nics.map((n) => SCRATCH_END + Math.max(1, n.length) * DRIVER_REGION_BYTES + 4 * MiB);
  const hostMem = mem.reduce((a, b) => a + b, 0) + 512 * MiB;
  const out = [
    `host: { name: random, memory: ${hostMem / MiB}MiB, cpus: 16 }`,
    `iommu: { enabled: true, pageSize: ${spec.pageSize}, invalidation: deferred, postedInterrupts: ${spec.posted}, addressWidth: ${spec.addressWidth}, iotlbEntries: ${spec.iotlbEntries} }`,
    fabric.trimEnd(),
  ];
  if (enabled.length > 0) {
    out.push("pfs:");
    for (const p of enabled) out.push(`  - pf: ${p.bdf}`, `    numVfs: ${p.n}`, `    vfs: [ { vf: "0-${p.n - 1}", spoofchk: ${spec.spoofchk} } ]`);
  }
  out.push("guests:");
  nics.forEach((n, i) => {
    out.push(`  - { name: g${i}, memory: ${mem[i]! / MiB}MiB, vcpus: ${1 + (i % 2)}${n.length > 0 ? `, nics: [ ${n.join(", ")} ]` : ""} }`);
  });
  return { text: out.join("\n") + "\n", guestNics: nics.map((n) => n.length), assigned, enabled: numVfs.reduce((a, b) => a + b, 0) };
}

/* ================================================================ reference model */

interface Mapping {
  /** First IOVA and size (4 KiB or 2 MiB). */
  base: number;
  size: number;
  hpa: number;
  perm: number;
  kind: "identity" | "alias";
}

class DomainModel {
  /** Live mappings by 4 KiB page number and by 2 MiB page number. */
  readonly m4k = new Map<number, Mapping>();
  readonly m2m = new Map<number, Mapping>();
  /** Unmapped but not yet invalidated: the IOTLB may still hold them. */
  stale: Mapping[] = [];
  /** Mappings the hypervisor may unmap (aliases and identity mappings of scratch RAM). */
  readonly removable: Mapping[] = [];
  /** Former identity mappings of scratch RAM, now unmapped (the hypervisor may map them again). */
  readonly holes: Mapping[] = [];
  constructor(
    readonly did: number,
    readonly guest: GuestInfo,
    readonly levels: 3 | 4,
    /** First IOVA beyond the domain's address width. */
    readonly limit: number,
  ) {}
  lookup(iova: number): Mapping | undefined {
    return this.m4k.get(Math.floor(iova / PAGE)) ?? this.m2m.get(Math.floor(iova / PAGE_2M));
  }
  /** Whether any live mapping overlaps [iova, iova+size). */
  overlaps(iova: number, size: number): boolean {
    for (let a = iova; a < iova + size; a += PAGE) if (this.m4k.has(a / PAGE)) return true;
    for (let a = Math.floor(iova / PAGE_2M) * PAGE_2M; a < iova + size; a += PAGE_2M) if (this.m2m.has(a / PAGE_2M)) return true;
    return false;
  }
  add(m: Mapping): void {
    if (m.size === PAGE) this.m4k.set(m.base / PAGE, m);
    else this.m2m.set(m.base / PAGE_2M, m);
  }
  remove(m: Mapping): void {
    if (m.size === PAGE) this.m4k.delete(m.base / PAGE);
    else this.m2m.delete(m.base / PAGE_2M);
    const i = this.removable.indexOf(m);
    if (i >= 0) {
      this.removable[i] = this.removable[this.removable.length - 1]!;
      this.removable.pop();
    }
    this.stale.push(m);
  }
}

interface GuestInfo {
  readonly index: number;
  readonly guest: Guest;
  readonly chunks: readonly number[];
  readonly memBytes: number;
  /** [lo, hi) GPAs of its VF drivers' DMA regions. */
  readonly driverLo: number;
  readonly driverHi: number;
  domain: DomainModel | undefined;
  readonly nics: NicInfo[];
  /** GPAs of pages nothing may ever write (above the driver regions; never mapped by aliases). */
  readonly sentinels: number[];
}

interface NicInfo {
  readonly nic: AttachedNic;
  readonly rid: number;
  readonly guest: GuestInfo;
  readonly pf: PfPort;
  readonly bar0: number;
  /** Its honest driver was replaced by a hostile one (no honest traffic from/to it any more). */
  hostile: boolean;
}

export interface Counters {
  dmaOps: number;
  directOps: number;
  nicOps: number;
  refused: number;
  writes: number;
  reads: number;
  staleHits: number;
  /** Stale-window steps where the write after unmap (before invalidation) still went through the IOTLB. */
  staleWindowHits: number;
  postInvalidationFaults: number;
  hvMaps: number;
  hvUnmaps: number;
  hvInvalidations: number;
  honestFrames: number;
  hostileNicSteps: number;
  hostileNicFaults: number;
  fullChecks: number;
  byReason: Record<string, number>;
}

export function newCounters(): Counters {
  return {
    dmaOps: 0,
    directOps: 0,
    nicOps: 0,
    refused: 0,
    writes: 0,
    reads: 0,
    staleHits: 0,
    staleWindowHits: 0,
    postInvalidationFaults: 0,
    hvMaps: 0,
    hvUnmaps: 0,
    hvInvalidations: 0,
    honestFrames: 0,
    hostileNicSteps: 0,
    hostileNicFaults: 0,
    fullChecks: 0,
    byReason: {},
  };
}

export function addCounters(into: Counters, c: Counters): void {
  for (const k of Object.keys(c) as Array<keyof Counters>) {
    if (k === "byReason") {
      for (const [r, n] of Object.entries(c.byReason)) into.byReason[r] = (into.byReason[r] ?? 0) + n;
    } else into[k] += c[k];
  }
}

const hex = (n: number): string => `0x${n.toString(16)}`;

export class IsolationViolation extends Error {
  override name = "IsolationViolation";
}

const HOSTILE_KINDS = ["tx", "headwb", "rx", "txring", "rxring"] as const;
/** The hostile driver's ring size and buffer size. */
const HOSTILE_RING = 8;
const HOSTILE_BUF = 1024;
type HostileKind = (typeof HOSTILE_KINDS)[number];

type Translate = (rid: number, iova: number, len: number, write: boolean) => number;

/* ================================================================ the harness */

export class Harness {
  readonly st: BootState;
  readonly host: SimHost;
  readonly vtd: VtdIommu;
  readonly mem: PhysMem;
  readonly guests: GuestInfo[] = [];
  readonly nics: NicInfo[] = [];
  readonly domains: DomainModel[] = [];
  readonly c = newCounters();
  /** Scratch GPAs (page-aligned, below 16 MiB) that DMA targets: the same set in every guest. */
  readonly pool: number[] = [];
  private readonly ridDomain = new Map<number, DomainModel>();
  /** Buses whose root entry is present (a context table exists). */
  private readonly rootBuses = new Set<number>();
  private readonly unattachedRids: number[] = [];
  private readonly chunkGuest = new Map<number, GuestInfo>();
  private readonly chunkGpa = new Map<number, number>();
  /** Host pages of the remapping structures: root, context and page tables, IRT, PIDs, queue, wait status. */
  private tablePages = new Set<number>();
  private tablePageList: number[] = [];
  private readonly pidPages = new Set<number>();
  private tableSnap = new Map<number, Uint8Array>();
  /** Guest pages whose exact bytes the model knows. */
  private readonly shadow = new Map<number, Uint8Array>();
  private readonly fro: number;
  private readonly realTranslate: Translate;
  private readonly buf = new Uint8Array(PAGE);
  // prediction of the last DMA (allocation-free)
  private pReason = 0;
  private pHpa = -1;
  private pDom: DomainModel | undefined = undefined;
  private readonly pStale = new Float64Array(64);
  private pStaleN = 0;
  private lastStaleHit = false;
  // dirty-page log
  private dirty: number[] = [];
  private readonly nicWritePages = new Set<number>();
  private stepName = "boot";
  private hostileStep = false;

  constructor(
    readonly plan: HostPlan,
    readonly spec: HostSpec,
    seed: number,
  ) {
    this.st = boot(parseHostFile(plan.text, "random-host.yaml"), { smoke: false });
    this.host = this.st.host;
    this.vtd = this.host.vtd;
    this.mem = this.host.hv.mem;
    const rng = new Rng(seed);
    const cap = this.vtd.mmioRead(DMAR_CAP_REG, 8);
    this.fro = Number((cap >> 24n) & 0x3ffn) * 16;
    const levels: 3 | 4 = spec.addressWidth === 39 ? 3 : 4;
    const limit = 2 ** (levels === 3 ? 39 : 48);

    for (let p = 0; p < 48; p++) {
      let gpa: number;
      do gpa = rng.int(SCRATCH_END / PAGE) * PAGE;
      while (this.pool.includes(gpa));
      this.pool.push(gpa);
    }
    // guests and their RAM
    let gi = 0;
    for (const [, g] of this.st.guests) {
      const myNics = this.st.nics.filter((n) => n.guest === g.name);
      const maxNic = myNics.reduce((m, n) => Math.max(m, n.nicIndex + 1), 0);
      const info: GuestInfo = {
        index: gi++,
        guest: g,
        chunks: g.ramChunks,
        memBytes: g.memoryBytes,
        driverLo: DRIVER_REGION_GPA,
        driverHi: DRIVER_REGION_GPA + maxNic * DRIVER_REGION_BYTES,
        domain: undefined,
        nics: [],
        sentinels: [],
      };
      g.ramChunks.forEach((c, i) => {
        this.chunkGuest.set(c / GUEST_CHUNK, info);
        this.chunkGpa.set(c / GUEST_CHUNK, i * GUEST_CHUNK);
      });
      const top = Math.max(info.driverHi, SCRATCH_END);
      for (let s = 0; s < 6; s++) info.sentinels.push(top + rng.int((info.memBytes - top) / PAGE) * PAGE);
      this.guests.push(info);
    }
    // domains: as boot made them (guest RAM, IOVA = GPA), in the model
    for (const [name, dom] of this.st.domains) {
      const gInfo = this.guests.find((x) => x.guest.name === name)!;
      const d = new DomainModel(dom.did, gInfo, levels, limit);
      gInfo.domain = d;
      this.domains.push(d);
      const ps = spec.pageSize === "4K" ? PAGE : PAGE_2M;
      const inPool = new Set(this.pool);
      gInfo.chunks.forEach((hpa, i) => {
        const gpa = i * GUEST_CHUNK;
        if (ps === PAGE_2M) {
          const m: Mapping = { base: gpa, size: PAGE_2M, hpa, perm: R | W, kind: "identity" };
          d.add(m);
          if (gpa + PAGE_2M <= SCRATCH_END) d.removable.push(m);
        } else
          for (let o = 0; o < GUEST_CHUNK; o += PAGE) {
            const m: Mapping = { base: gpa + o, size: PAGE, hpa: hpa + o, perm: R | W, kind: "identity" };
            d.add(m);
            if (inPool.has(gpa + o)) d.removable.push(m);
          }
      });
    }
    for (const n of this.st.nics) {
      const g = this.guests.find((x) => x.guest.name === n.guest)!;
      const info: NicInfo = { nic: n, rid: n.vfio.info.vf.rid, guest: g, pf: this.host.pf(n.pf), bar0: n.vfio.barGpaOf(0), hostile: false };
      g.nics.push(info);
      this.nics.push(info);
      this.ridDomain.set(info.rid, g.domain!);
      this.rootBuses.add(info.rid >>> 8);
    }
    // requesters with no context entry: enabled but unassigned VFs, the PFs, and some random IDs
    for (const p of this.host.pfs) {
      if (!this.ridDomain.has(p.fn.rid)) this.unattachedRids.push(p.fn.rid);
      for (const vf of p.sriov.vfs) if (!this.ridDomain.has(vf.rid)) this.unattachedRids.push(vf.rid);
    }
    for (let i = 0; i < 8; i++) {
      const r = rng.int(0x10000);
      if (!this.ridDomain.has(r)) this.unattachedRids.push(r);
    }

    // instrumentation
    const vtd = this.vtd;
    const proto = VtdIommu.prototype.translate;
    this.realTranslate = (rid, iova, len, write) => proto.call(vtd, rid, iova, len, write);
    (vtd as { translate: Translate }).translate = (rid, iova, len, write) => {
      const h = proto.call(vtd, rid, iova, len, write);
      this.onDeviceTranslate(rid, iova, len, write, h);
      return h;
    };
    const mem = this.mem;
    const pfw = PhysMem.prototype.pageForWrite;
    (mem as { pageForWrite: (a: number) => Uint8Array }).pageForWrite = (addr: number) => {
      this.dirty.push(Math.floor(addr / PAGE));
      return pfw.call(mem, addr);
    };

    // boot left no faults, and the hardware's context entries say what the model says
    const pending = this.host.iommu.faults();
    if (pending.length > 0) throw new IsolationViolation(`boot left fault records: ${JSON.stringify(pending)}`);
    this.scanTables();
    this.collectPids();
    this.snapTables();
    // sentinels and pool pages get known bytes (the guest's CPU writes them)
    for (const g of this.guests) {
      for (const gpa of [...g.sentinels, ...this.pool]) {
        for (let i = 0; i < PAGE; i++) this.buf[i] = rng.u32() & 0xff;
        g.guest.writeBytes(gpa, this.buf, 0, PAGE);
        const hpa = g.guest.gpaToHpa(gpa);
        this.shadow.set(hpa / PAGE, this.buf.slice());
      }
    }
    this.dirty.length = 0;
  }

  /* ------------------------------------------------------------ model: prediction and checks */

  /** What the IOMMU must do with (rid, iova, len, write), from the model. */
  private predict(rid: number, iova: number, len: number, write: boolean): void {
    this.pStaleN = 0;
    this.pHpa = -1;
    this.pReason = 0;
    this.pDom = undefined;
    if (iova >= INTERRUPT_ADDR_FIRST && iova <= INTERRUPT_ADDR_LAST) {
      this.pReason = VtdFault.INTERRUPT_ADDR;
      return;
    }
    const d = this.ridDomain.get(rid);
    if (d === undefined) {
      this.pReason = this.rootBuses.has(rid >>> 8) ? VtdFault.CONTEXT_ENTRY_P : VtdFault.ROOT_ENTRY_P;
      return;
    }
    this.pDom = d;
    if (iova + len > d.limit) {
      this.pReason = VtdFault.ADDR_BEYOND_MGAW;
      return;
    }
    const need = write ? W : R;
    const m = d.lookup(iova);
    if (m === undefined) this.pReason = VtdFault.PAGING_ENTRY_INV;
    else if ((m.perm & need) === 0) this.pReason = write ? VtdFault.WRITE : VtdFault.READ;
    else this.pHpa = m.hpa + (iova - m.base);
    const st = d.stale;
    for (let i = 0; i < st.length; i++) {
      const s = st[i]!;
      if (iova >= s.base && iova < s.base + s.size && (s.perm & need) !== 0 && this.pStaleN < 64) this.pStale[this.pStaleN++] = s.hpa + (iova - s.base);
    }
  }

  private fail(msg: string): never {
    throw new IsolationViolation(`[${this.stepName}] ${msg}`);
  }

  private describe(rid: number, iova: number, len: number, write: boolean): string {
    return `${write ? "write" : "read"} rid ${hex(rid)} iova ${hex(iova)} len ${len}`;
  }

  /** Check one translation outcome against the prediction (invariants 1-4 for that access). */
  private verify(rid: number, iova: number, len: number, write: boolean, h: number): void {
    this.c.dmaOps++;
    this.lastStaleHit = false;
    if ((iova % PAGE) + len > PAGE) this.fail(`${this.describe(rid, iova, len, write)} crosses a page (the DMA engine splits at 4 KiB)`);
    if (h === DMA_FAULT) {
      if (this.pReason === 0) this.fail(`${this.describe(rid, iova, len, write)} refused, but the model maps it to ${hex(this.pHpa)}`);
      this.c.refused++;
      const name = `0x${this.pReason.toString(16)}`;
      this.c.byReason[name] = (this.c.byReason[name] ?? 0) + 1;
      this.checkFaultRecord(rid, iova, len, write, this.pReason);
      return;
    }
    let ok = this.pReason === 0 && h === this.pHpa;
    if (!ok)
      for (let i = 0; i < this.pStaleN; i++)
        if (this.pStale[i] === h) {
          ok = true;
          this.c.staleHits++;
          this.lastStaleHit = true;
          break;
        }
    if (!ok) {
      const stale = Array.from(this.pStale.subarray(0, this.pStaleN), hex).join(", ");
      this.fail(
        `${this.describe(rid, iova, len, write)} reached host ${hex(h)}; the model says ${this.pReason !== 0 ? `fault 0x${this.pReason.toString(16)}` : hex(this.pHpa)}` +
          (this.pStaleN > 0 ? ` (or a not-yet-invalidated ${stale})` : " (nothing stale: unmap and invalidation completed)"),
      );
    }
    // the isolation invariants, stated directly
    const owner = this.chunkGuest.get(Math.floor(h / GUEST_CHUNK));
    if (owner === undefined || owner !== this.pDom?.guest)
      this.fail(`${this.describe(rid, iova, len, write)} reached host ${hex(h)}, owned by ${owner === undefined ? "no guest" : owner.guest.name}, not by the requester's guest`);
    if (this.tablePages.has(Math.floor(h / PAGE))) this.fail(`${this.describe(rid, iova, len, write)} reached the IOMMU's own structures at ${hex(h)}`);
  }

  /** A refused DMA: FSTS names the record; it must hold this source ID, reason, address and type. */
  private checkFaultRecord(rid: number, iova: number, len: number, write: boolean, reason: number): void {
    const v = this.vtd;
    const fsts = v.mmioRead(DMAR_FSTS_REG, 4);
    if ((fsts & DMA_FSTS_PFO) !== 0) this.fail(`fault overflow (PFO) after ${this.describe(rid, iova, len, write)}`);
    if ((fsts & DMA_FSTS_PPF) === 0) this.fail(`${this.describe(rid, iova, len, write)} refused without a fault record (FSTS ${hex(fsts)})`);
    const fri = (fsts >>> 8) & 0xff;
    const o = this.fro + 16 * fri;
    const d0 = v.mmioRead(o, 4);
    const d1 = v.mmioRead(o + 4, 4);
    const d2 = v.mmioRead(o + 8, 4);
    const d3 = v.mmioRead(o + 12, 4);
    const got = { f: (d3 & DMA_FRCD_F_HI) !== 0, reason: d3 & 0xff, sid: d2 & 0xffff, read: (d3 & DMA_FRCD_T_HI) !== 0, addr: d1 * TWO32 + ((d0 & 0xffff_f000) >>> 0) };
    const page = Math.floor(iova / PAGE) * PAGE;
    if (!got.f || got.reason !== reason || got.sid !== rid || got.read === write || got.addr !== page)
      this.fail(
        `${this.describe(rid, iova, len, write)}: fault record ${fri} is ${JSON.stringify({ ...got, reason: hex(got.reason), sid: hex(got.sid), addr: hex(got.addr) })}, expected reason ${hex(reason)} sid ${hex(rid)} ${write ? "write" : "read"} addr ${hex(page)}`,
      );
    v.mmioWrite(o + 12, 4, DMA_FRCD_F_HI); // RW1C: serviced
    const after = v.mmioRead(DMAR_FSTS_REG, 4);
    if ((after & (DMA_FSTS_PPF | DMA_FSTS_PFO)) !== 0) this.fail(`other fault records pending after servicing record ${fri}: FSTS ${hex(after)} ${JSON.stringify(this.host.iommu.faults())}`);
  }

  /** No refused DMA since the last check went unserviced (every refusal was expected and checked). */
  private checkNoPendingFaults(): void {
    const fsts = this.vtd.mmioRead(DMAR_FSTS_REG, 4);
    if ((fsts & (DMA_FSTS_PPF | DMA_FSTS_PFO)) !== 0) this.fail(`unexpected fault records: FSTS ${hex(fsts)} ${JSON.stringify(this.host.iommu.faults())}`);
  }

  /** A translation the NIC's DMA engine asked for: checked as it happens. */
  private onDeviceTranslate(rid: number, iova: number, len: number, write: boolean, h: number): void {
    this.predict(rid, iova, len, write);
    this.verify(rid, iova, len, write, h);
    this.c.nicOps++;
    if (h !== DMA_FAULT && write) this.nicWritePages.add(Math.floor(h / PAGE));
  }

  /* ------------------------------------------------------------ the direct hostile/honest DMA */

  private isDriverRegion(hpa: number): boolean {
    const g = this.chunkGuest.get(Math.floor(hpa / GUEST_CHUNK));
    if (g === undefined) return false;
    const gpa = this.chunkGpa.get(Math.floor(hpa / GUEST_CHUNK))! + (hpa % GUEST_CHUNK);
    return gpa >= g.driverLo && gpa < g.driverHi;
  }

  /**
   * One DMA as the device issues it: translate, then (if translated) the memory access the DMA
   * engine would make. A write into a live driver ring/buffer region stores the bytes already there
   * (so the guest's honest data path stays usable); anywhere else it stores a fresh pattern.
   */
  dma(rid: number, iova: number, len: number, write: boolean): number {
    this.dirty.length = 0;
    this.predict(rid, iova, len, write);
    const h = this.realTranslate(rid, iova, len, write);
    this.verify(rid, iova, len, write, h);
    this.c.directOps++;
    const mem = this.mem;
    if (h === DMA_FAULT) {
      if (this.dirty.length > 0) this.fail(`a refused ${this.describe(rid, iova, len, write)} wrote host page ${hex(this.dirty[0]! * PAGE)}`);
      return h;
    }
    const pg = Math.floor(h / PAGE);
    const off = h % PAGE;
    const buf = this.buf;
    if (write) {
      this.c.writes++;
      if (this.isDriverRegion(h)) {
        mem.readInto(h, buf, 0, len);
        mem.writeFrom(h, buf, 0, len);
      } else {
        let sh = this.shadow.get(pg);
        if (sh === undefined) {
          sh = mem.read(pg * PAGE, PAGE);
          this.shadow.set(pg, sh);
        }
        const seed = (this.c.dmaOps * 131 + rid) & 0xff;
        for (let i = 0; i < len; i++) buf[i] = (seed + i * 7) & 0xff;
        mem.writeFrom(h, buf, 0, len);
        sh.set(buf.subarray(0, len), off);
      }
      const d = this.dirty;
      for (let i = 0; i < d.length; i++) if (d[i] !== pg) this.fail(`${this.describe(rid, iova, len, write)} to ${hex(h)} also wrote host page ${hex(d[i]! * PAGE)}`);
    } else {
      this.c.reads++;
      mem.readInto(h, buf, 0, len);
      const sh = this.shadow.get(pg);
      if (sh !== undefined)
        for (let i = 0; i < len; i++)
          if (buf[i] !== sh[off + i]) this.fail(`${this.describe(rid, iova, len, write)} at ${hex(h)} read byte ${i} = ${buf[i]}, memory should hold ${sh[off + i]}`);
      if (this.dirty.length > 0) this.fail(`a read ${this.describe(rid, iova, len, write)} wrote host page ${hex(this.dirty[0]! * PAGE)}`);
    }
    this.checkNoPendingFaults();
    return h;
  }

  private randomLen(rng: Rng, iova: number): number {
    const room = PAGE - (iova % PAGE);
    const r = rng.int(100);
    const want = r < 70 ? 1 + rng.int(64) : r < 95 ? 1 + rng.int(512) : room;
    return Math.min(want, room);
  }

  /** An IOVA a hostile (or honest) device of a guest with domain `d` may emit, by kind. */
  target(rng: Rng, d: DomainModel | undefined, kind?: number): number {
    const k = kind ?? rng.int(100);
    const off = rng.int(PAGE);
    const limit = d?.limit ?? 2 ** 48;
    const others = this.guests.filter((g) => g.domain !== d);
    if (k < 22) return rng.pick(this.pool) + off; // own scratch RAM (mapped, unmapped or with limited permissions)
    if (k < 34 && d !== undefined && d.removable.length > 0) {
      const m = rng.pick(d.removable); // an own alias / identity mapping
      return m.base + (m.size === PAGE ? off : rng.int(m.size));
    }
    if (k < 44 && d !== undefined && d.stale.length > 0) {
      const m = rng.pick(d.stale); // unmapped, maybe not yet invalidated
      return m.base + (m.size === PAGE ? off : rng.int(m.size));
    }
    if (k < 54 && others.length > 0) {
      const g = rng.pick(others); // another guest's GPA
      const r = rng.int(3);
      return (r === 0 ? rng.pick(g.sentinels) : r === 1 ? rng.pick(this.pool) : rng.int(g.memBytes / PAGE) * PAGE) + off;
    }
    if (k < 64 && others.length > 0) {
      const g = rng.pick(others); // another guest's host-physical address
      const gpa = rng.chance(0.5) ? rng.pick(g.sentinels) : rng.pick(this.pool);
      return g.guest.gpaToHpa(gpa) + off;
    }
    if (k < 72) return rng.pick(this.tablePageList) * PAGE + off; // the IOMMU's own tables, by their host address
    if (k < 80) return Math.floor(rng.range(2 ** 31, limit - PAGE) / PAGE) * PAGE + off; // unmapped (mostly)
    if (k < 86) return rng.range(limit, 2 ** 52 - PAGE); // beyond the address width
    if (k < 90) return INTERRUPT_ADDR_FIRST + rng.int(INTERRUPT_ADDR_LAST - INTERRUPT_ADDR_FIRST + 1 - PAGE); // the interrupt window
    if (d !== undefined && d.guest.driverHi > d.guest.driverLo) return d.guest.driverLo + rng.int(d.guest.driverHi - d.guest.driverLo); // own live rings/buffers
    return rng.pick(this.pool) + off;
  }

  /** `n` random DMAs by random requesters: attached VFs (honest and hostile targets) and unattached IDs. */
  burst(seed: number, n: number): void {
    this.stepName = `burst ${seed}`;
    const rng = new Rng(seed);
    for (let i = 0; i < n; i++) {
      let rid: number;
      let d: DomainModel | undefined;
      if (this.nics.length > 0 && rng.int(100) < 88) {
        const v = rng.pick(this.nics);
        rid = v.rid;
        d = v.guest.domain;
      } else {
        rid = rng.pick(this.unattachedRids);
        d = undefined;
      }
      const iova = this.target(rng, d);
      this.dma(rid, iova, this.randomLen(rng, iova), rng.chance(0.5));
    }
    this.checkAll();
  }

  /* ------------------------------------------------------------ hypervisor actions */

  private domainFor(pick: number): DomainModel | undefined {
    return this.domains.length === 0 ? undefined : this.domains[pick % this.domains.length];
  }

  private hv(what: string, fn: () => void): void {
    this.stepName = what;
    this.dirty.length = 0;
    fn();
    const lo = HOST_MAP.privateBase / PAGE;
    const hi = HOST_MAP.privateLimit / PAGE;
    for (const p of this.dirty) if (p < lo || p >= hi) this.fail(`the hypervisor's IOMMU driver wrote host page ${hex(p * PAGE)} outside its private memory`);
    this.checkNoPendingFaults();
    this.checkTracked();
    this.scanTables();
    this.snapTables();
  }

  private randomPerm(rng: Rng): number {
    const r = rng.int(4);
    return r === 0 ? R : r === 1 ? W : R | W;
  }

  /** A free IOVA for an alias: another guest's HPA (confusing on purpose), high IOVAs, or above RAM. */
  private aliasIova(rng: Rng, d: DomainModel, size: number): number | undefined {
    for (let tries = 0; tries < 20; tries++) {
      const r = rng.int(3);
      let iova: number;
      if (r === 0) {
        const others = this.guests.filter((g) => g !== d.guest);
        const g = others.length > 0 ? rng.pick(others) : d.guest;
        iova = g.guest.gpaToHpa(rng.pick(this.pool));
      } else if (r === 1) iova = rng.range(2 ** 36, Math.min(d.limit, 2 ** 38));
      else iova = rng.range(d.guest.memBytes, 2 ** 31);
      iova = Math.floor(iova / size) * size;
      if (iova + size > d.limit || iova < d.guest.memBytes) continue;
      if (iova <= INTERRUPT_ADDR_LAST && iova + size > INTERRUPT_ADDR_FIRST) continue;
      if (d.overlaps(iova, size)) continue;
      return iova;
    }
    return undefined;
  }

  /** Map `count` of the guest's own scratch pages (or a 2 MiB scratch chunk) at alias IOVAs. */
  mapAliases(pick: number, seed: number, count: number): void {
    const d = this.domainFor(pick);
    if (d === undefined) return;
    const rng = new Rng(seed);
    this.hv(`map ${count} alias(es) in domain ${d.did}`, () => {
      for (let i = 0; i < count; i++) {
        const big = rng.chance(0.15);
        const size = big ? PAGE_2M : PAGE;
        const iova = this.aliasIova(rng, d, size);
        if (iova === undefined) continue;
        const gpa = big ? rng.int(SCRATCH_END / PAGE_2M) * PAGE_2M : rng.pick(this.pool);
        const hpa = d.guest.guest.gpaToHpa(gpa);
        const perm = this.randomPerm(rng);
        this.host.iommu.map(d.did, iova, hpa, size, PERM_NAME[perm]!, size as PageSize);
        const m: Mapping = { base: iova, size, hpa, perm, kind: "alias" };
        d.add(m);
        d.removable.push(m);
        this.c.hvMaps++;
        const got = this.host.iommu.iovaToPhys(d.did, iova + 8);
        if (got === undefined || got.hpa !== hpa + 8) this.fail(`iovaToPhys(${d.did}, ${hex(iova + 8)}) = ${JSON.stringify(got)}, mapped to ${hex(hpa + 8)}`);
      }
    });
  }

  /** Unmap one removable mapping; then invalidate (or not: the stale window stays open). */
  unmapOne(pick: number, seed: number, inval: "none" | "page" | "domain" | "global" | "strict"): Mapping | undefined {
    const d = this.domainFor(pick);
    if (d === undefined || d.removable.length === 0) return undefined;
    const rng = new Rng(seed);
    const m = rng.pick(d.removable);
    this.hv(`unmap ${hex(m.base)}+${hex(m.size)} in domain ${d.did}, invalidate ${inval}`, () => {
      if (inval === "strict") this.host.iommu.unmapAndInvalidate(d.did, m.base, m.size);
      else this.host.iommu.unmap(d.did, m.base, m.size);
      this.c.hvUnmaps++;
      d.remove(m);
      if (m.kind === "identity") d.holes.push(m);
      if (inval === "strict") this.modelInvalidate({ kind: "page", did: d.did, iova: m.base, size: m.size });
      else if (inval !== "none") this.invalidateNow(d, inval, m.base, m.size);
      if (this.host.iommu.iovaToPhys(d.did, m.base) !== undefined) this.fail(`iovaToPhys still finds ${hex(m.base)} after unmap`);
    });
    return m;
  }

  private invalidateNow(d: DomainModel, scope: "page" | "domain" | "global", iova: number, size: number): void {
    const s = scope === "page" ? { kind: "page" as const, did: d.did, iova, size } : scope === "domain" ? { kind: "domain" as const, did: d.did } : { kind: "global" as const };
    this.host.iommu.invalidateIotlb(s);
    this.modelInvalidate(s);
  }

  private modelInvalidate(s: { kind: "page"; did: number; iova: number; size: number } | { kind: "domain"; did: number } | { kind: "global" }): void {
    this.c.hvInvalidations++;
    for (const d of this.domains) {
      if (s.kind === "global") d.stale = [];
      else if (d.did === s.did) {
        if (s.kind === "domain") d.stale = [];
        else d.stale = d.stale.filter((m) => m.base + m.size <= s.iova || m.base >= s.iova + s.size);
      }
    }
  }

  /** IOTLB invalidation on its own: a stale range of the domain (page), the domain, or everything. */
  invalidate(pick: number, seed: number, scope: "page" | "domain" | "global"): void {
    const d = this.domainFor(pick);
    if (d === undefined) return;
    const rng = new Rng(seed);
    const m = d.stale.length > 0 ? rng.pick(d.stale) : undefined;
    const iova = m?.base ?? rng.pick(this.pool);
    const size = m?.size ?? PAGE;
    this.hv(`invalidate ${scope} domain ${d.did} ${hex(iova)}+${hex(size)}`, () => this.invalidateNow(d, scope, iova, size));
  }

  /** Map a former identity mapping of scratch RAM again, with random permissions. */
  remapHole(pick: number, seed: number): void {
    const d = this.domainFor(pick);
    if (d === undefined || d.holes.length === 0) return;
    const rng = new Rng(seed);
    const i = rng.int(d.holes.length);
    const old = d.holes[i]!;
    if (d.overlaps(old.base, old.size)) return;
    d.holes.splice(i, 1);
    const perm = this.randomPerm(rng);
    this.hv(`remap ${hex(old.base)}+${hex(old.size)} ${PERM_NAME[perm]} in domain ${d.did}`, () => {
      this.host.iommu.map(d.did, old.base, old.hpa, old.size, PERM_NAME[perm]!, old.size as PageSize);
      const m: Mapping = { ...old, perm };
      d.add(m);
      d.removable.push(m);
      this.c.hvMaps++;
    });
  }

  /**
   * The hazard, step by step: DMA to a writable mapping (fills the IOTLB), unmap without
   * invalidation, DMA again (a stale hit may still land: allowed only now), invalidate, DMA again:
   * must fault "not present", and memory must be untouched.
   */
  staleWindow(pick: number, seed: number, scope: "page" | "domain" | "global"): void {
    const d = this.domainFor(pick);
    if (d === undefined) return;
    const v = this.nics.find((x) => x.guest.domain === d);
    if (v === undefined) return;
    const rng = new Rng(seed);
    let writable = d.removable.filter((m) => m.perm & W);
    if (writable.length === 0) {
      this.mapAliases(pick, seed, 3);
      writable = d.removable.filter((m) => m.perm & W);
      if (writable.length === 0) return;
    }
    const m = rng.pick(writable);
    const iova = m.base + (m.size === PAGE ? 0 : rng.int(m.size / PAGE) * PAGE) + rng.int(PAGE - 64);
    this.stepName = `stale window ${hex(iova)} domain ${d.did}`;
    this.dma(v.rid, iova, 16, true);
    this.hv(`stale window: unmap ${hex(m.base)}`, () => {
      this.host.iommu.unmap(d.did, m.base, m.size);
      this.c.hvUnmaps++;
      d.remove(m);
      if (m.kind === "identity") d.holes.push(m);
    });
    this.stepName = `stale window ${hex(iova)} domain ${d.did}, unmapped`;
    this.dma(v.rid, iova, 16, true);
    if (this.lastStaleHit) this.c.staleWindowHits++;
    this.dma(v.rid, iova, 16, false);
    this.hv(`stale window: invalidate ${scope}`, () => this.invalidateNow(d, scope, m.base, m.size));
    this.stepName = `stale window ${hex(iova)} domain ${d.did}, invalidated`;
    if (d.lookup(iova) !== undefined) return; // (an overlapping mapping exists: nothing to prove here)
    for (const write of [true, false]) {
      const h = this.dma(v.rid, iova, 16, write);
      if (h !== DMA_FAULT) this.fail(`DMA reached ${hex(h)} after unmap and invalidation of ${hex(iova)}`);
      this.c.postInvalidationFaults++;
    }
  }

  /* ------------------------------------------------------------ device steps (NIC data path) */

  /** Run `fn` as a step: afterwards every page written must be in one of `allowedGuests` or written by checked device DMA. */
  private deviceStep(what: string, allowedGuests: readonly GuestInfo[], fn: () => void): void {
    this.stepName = what;
    this.dirty.length = 0;
    this.nicWritePages.clear();
    fn();
    if (this.hostileStep) this.markOverwrittenDrivers();
    for (const p of this.dirty) {
      if (this.nicWritePages.has(p) || this.pidPages.has(p)) continue;
      const g = this.chunkGuest.get(Math.floor((p * PAGE) / GUEST_CHUNK));
      if (g !== undefined && allowedGuests.includes(g)) continue;
      this.fail(`host page ${hex(p * PAGE)} (${g === undefined ? "not guest RAM" : `guest ${g.guest.name}`}) was written, but no checked DMA of this step wrote it`);
    }
    // tracked pages a permitted write touched get their new bytes
    for (const p of this.dirty) {
      const sh = this.shadow.get(p);
      if (sh !== undefined) this.mem.readInto(p * PAGE, sh);
    }
    this.checkNoPendingFaults();
  }

  /**
   * A hostile device's permitted DMA may land in its own guest's live driver rings or buffers (its
   * own memory: allowed). The honest drivers whose regions it wrote are no longer trusted for
   * traffic checks.
   */
  private markOverwrittenDrivers(): void {
    for (const p of this.nicWritePages) {
      const hpa = p * PAGE;
      if (!this.isDriverRegion(hpa)) continue;
      const g = this.chunkGuest.get(Math.floor(hpa / GUEST_CHUNK))!;
      const gpa = this.chunkGpa.get(Math.floor(hpa / GUEST_CHUNK))! + (hpa % GUEST_CHUNK);
      const idx = Math.floor((gpa - DRIVER_REGION_GPA) / DRIVER_REGION_BYTES);
      for (const n of g.nics) if (n.nic.nicIndex === idx) n.hostile = true;
    }
  }

  private honestPairs(): Array<[NicInfo, NicInfo]> {
    const out: Array<[NicInfo, NicInfo]> = [];
    for (const a of this.nics) for (const b of this.nics) if (a !== b && !a.hostile && !b.hostile && a.pf === b.pf) out.push([a, b]);
    return out;
  }

  /** Honest VF drivers send `n` frames to each other (same PF: the embedded switch); every byte must arrive. */
  honest(seed: number, n: number): void {
    const pairs = this.honestPairs();
    if (pairs.length === 0) return;
    const rng = new Rng(seed);
    const frame = new Uint8Array(1514);
    const got = new Uint8Array(2048);
    for (let k = 0; k < n; k++) {
      const [s, r] = rng.pick(pairs);
      const len = 60 + rng.int(1455);
      for (let i = 0; i < 6; i++) {
        frame[i] = Math.floor(r.nic.driver.mac / 2 ** (8 * (5 - i))) & 0xff;
        frame[6 + i] = Math.floor(s.nic.driver.mac / 2 ** (8 * (5 - i))) & 0xff;
      }
      frame[12] = 0x88;
      frame[13] = 0xb5;
      for (let i = 14; i < len; i++) frame[i] = rng.u32() & 0xff;
      const sStats = s.pf.nic.stats(s.nic.vfIndex);
      const rStats = r.pf.nic.stats(r.nic.vfIndex);
      const what = `honest frame ${s.nic.bdf} (${s.guest.guest.name}) → ${r.nic.bdf} (${r.guest.guest.name}), ${len} B`;
      this.deviceStep(`${what}: xmit`, [s.guest], () => {
        if (!s.nic.driver.xmit(frame, len)) this.fail(`${what}: xmit refused`);
      });
      this.deviceStep(`${what}: kick`, [], () => s.nic.driver.kick());
      let frames = 0;
      let intact = false;
      this.deviceStep(`${what}: receive`, [r.guest, s.guest], () => {
        r.nic.driver.pollRx(64, (gpa, l) => {
          frames++;
          r.guest.guest.readBytes(gpa, got, 0, l);
          intact = l === len && got.subarray(0, l).every((x, i) => x === frame[i]);
        });
        s.nic.driver.reclaimTx();
      });
      if (frames !== 1 || !intact) this.fail(`${what}: ${frames} frame(s) arrived, intact: ${intact}`);
      const s2 = s.pf.nic.stats(s.nic.vfIndex);
      const r2 = r.pf.nic.stats(r.nic.vfIndex);
      if (s2.dmaFaults !== sStats.dmaFaults || r2.dmaFaults !== rStats.dmaFaults) this.fail(`${what}: the honest path took DMA faults`);
      this.c.honestFrames++;
      this.checkAll();
    }
  }

  private nicFaultCount(): number {
    let n = 0;
    for (const x of this.nics) n += x.pf.nic.stats(x.nic.vfIndex).dmaFaults;
    return n;
  }

  /** A frame from the wire for VF `v` (its MAC), 60..1059 bytes. */
  private wireFrame(v: NicInfo, rng: Rng): Uint8Array {
    const frame = new Uint8Array(60 + rng.int(1000));
    for (let i = 0; i < 6; i++) frame[i] = Math.floor(v.nic.driver.mac / 2 ** (8 * (5 - i))) & 0xff;
    frame.set([0x02, 0, 0, 0, 0, 0x01, 0x88, 0xb5], 6);
    for (let i = 14; i < frame.length; i++) frame[i] = rng.u32() & 0xff;
    return frame;
  }

  private vfRead(v: NicInfo, off: number): number {
    return v.guest.guest.mmioRead(v.bar0 + off, 4);
  }
  private vfWrite(v: NicInfo, off: number, val: number): void {
    v.guest.guest.mmioWrite(v.bar0 + off, 4, val >>> 0);
  }

  /**
   * VF drivers turn hostile on the real NIC data path, `n` times: TX descriptors with a bad buffer
   * address ("tx"), TX head write-back to a bad address ("headwb"), an RX descriptor with a bad
   * buffer address and a frame from the wire ("rx"), or the TX / RX descriptor ring itself placed
   * at a bad address ("txring", "rxring": the NIC then also follows whatever descriptors it finds
   * there). The NIC's own DMA engine issues the accesses; each is checked as it happens.
   */
  hostileNic(seed: number, n: number): void {
    if (this.nics.length === 0) return;
    const rng = new Rng(seed);
    for (let i = 0; i < n; i++) {
      const kind = rng.pick(HOSTILE_KINDS);
      const v = rng.pick(this.nics);
      v.hostile = true;
      const bad = this.target(rng, v.guest.domain);
      const faults0 = this.nicFaultCount();
      const refused0 = this.c.refused;
      const ops0 = this.c.nicOps;
      const what = `hostile ${kind} on ${v.nic.bdf} (${v.guest.guest.name}) at ${hex(bad)}`;
      this.c.hostileNicSteps++;
      this.hostileStep = true;
      try {
        this.runHostileNic(v, kind, bad, rng, what);
      } finally {
        this.hostileStep = false;
      }
      if (this.c.nicOps === ops0) this.fail(`${what}: the NIC issued no DMA at all`);
      // the device counts a DMA fault exactly when the IOMMU refused one of its requests
      const faults = this.nicFaultCount() - faults0;
      if (faults !== this.c.refused - refused0) this.fail(`${what}: the NICs counted ${faults} DMA fault(s), the IOMMU refused ${this.c.refused - refused0} request(s)`);
      this.c.hostileNicFaults += faults;
      this.checkAll();
    }
  }

  /**
   * The driver a hostile guest runs on VF `v`: the igb ring driver (one queue pair of 8 descriptors,
   * 1 KiB buffers) at the start of the VF's driver region, where the honest driver's rings were.
   * Its hostility is all in its DMA mapping: `map` decides the address the device is given for each
   * ring and buffer.
   */
  private hostileRings(v: NicInfo, map: (L: DmaLayout, addr: number) => number): { rings: IgbRings; L: DmaLayout } {
    const L = planDma(DRIVER_REGION_GPA + v.nic.nicIndex * DRIVER_REGION_BYTES, 1, HOSTILE_RING, HOSTILE_RING, HOSTILE_BUF);
    const regs = { read32: (off: number) => this.vfRead(v, off), write32: (off: number, val: number) => this.vfWrite(v, off, val) };
    const rings = new IgbRings(v.guest.guest, regs, { txCount: HOSTILE_RING, rxCount: HOSTILE_RING, bufSize: HOSTILE_BUF, dma: { map: (addr) => map(L, addr), unmap: () => undefined } });
    const err = rings.attach(L, 1);
    if (err !== null) this.fail(err);
    return { rings, L };
  }

  /** A frame of `len` bytes from VF `v`'s own MAC to a MAC nobody has (unknown unicast: the wire). */
  private toNowhere(v: NicInfo, len: number): Uint8Array {
    const f = new Uint8Array(len);
    f.set([0x02, 0x00, 0x5e, 0xde, 0xad, 0x01]);
    for (let i = 0; i < 6; i++) f[6 + i] = Math.floor(v.nic.driver.mac / 2 ** (8 * (5 - i))) & 0xff;
    f[12] = 0x88;
    f[13] = 0xb5;
    return f;
  }

  private runHostileNic(v: NicInfo, kind: HostileKind, bad: number, rng: Rng, what: string): void {
    const ringBase = Math.floor(bad / 128) * 128;
    const up = (err: string | null): void => {
      if (err !== null) this.fail(`${what}: ${err}`);
    };
    if (kind === "txring") {
      // the TX ring itself at a bad address: the NIC follows whatever descriptors it finds there
      const { rings } = this.hostileRings(v, (L, a) => (a === L.txRing[0] ? ringBase : a));
      this.deviceStep(`${what}: program`, [v.guest], () => {
        up(rings.setupTx(0));
        for (let n = 1 + rng.int(7); n > 0; n--) rings.xmit(this.toNowhere(v, 60), 60);
      });
      this.deviceStep(`${what}: doorbell`, [], () => rings.kickQueue(0));
      this.deviceStep(`${what}: stop`, [v.guest], () => rings.stop());
      return;
    }
    if (kind === "rxring") {
      const { rings } = this.hostileRings(v, (L, a) => (a === L.rxRing[0] ? ringBase : a));
      this.deviceStep(`${what}: program`, [v.guest], () => up(rings.setupRx(0)));
      this.deviceStep(`${what}: frame from the wire`, [], () => v.pf.nic.wireRx(this.wireFrame(v, rng)));
      this.deviceStep(`${what}: stop`, [v.guest], () => rings.stop());
      return;
    }
    if (kind === "rx") {
      // the first RX buffer posted at a bad address, and a frame from the wire for it
      const { rings } = this.hostileRings(v, (L, a) => (a === L.rxBufs[0] ? bad : a));
      this.deviceStep(`${what}: program`, [v.guest], () => up(rings.setupRx(0)));
      this.deviceStep(`${what}: frame from the wire`, [], () => v.pf.nic.wireRx(this.wireFrame(v, rng)));
      return;
    }
    // "tx": a frame over two buffers, the second mapped at a bad address (a sane header from the
    // first); "headwb": a sane frame, and TX head write-back to a bad address
    const { rings } = this.hostileRings(v, (L, a) => (kind === "tx" && a === L.txBufs[0]! + L.stride ? bad : a));
    this.deviceStep(`${what}: program`, [v.guest], () => {
      up(rings.setupTx(0));
      const len = kind === "tx" ? HOSTILE_BUF + 1 + rng.int(1400) : 60;
      if (!rings.xmit(this.toNowhere(v, len), len)) this.fail(`${what}: xmit refused`);
      if (kind === "headwb") {
        this.vfWrite(v, E1000_TDWBAH(0), Math.floor(bad / TWO32));
        this.vfWrite(v, E1000_TDWBAL(0), ((bad % TWO32) & ~3) | E1000_TX_HEAD_WB_ENABLE);
      }
    });
    this.deviceStep(`${what}: doorbell`, [], () => rings.kickQueue(0));
    this.deviceStep(`${what}: clean up`, [v.guest], () => {
      this.vfWrite(v, E1000_TDWBAL(0), 0);
      this.vfWrite(v, E1000_TDWBAH(0), 0);
    });
  }

  /* ------------------------------------------------------------ whole-state checks */

  /** Every tracked guest page holds exactly what the model says. */
  private checkTracked(): void {
    for (const [p, sh] of this.shadow) {
      const cur = this.mem.pageForRead(p * PAGE);
      if (!Buffer.from(cur.buffer, cur.byteOffset, PAGE).equals(Buffer.from(sh.buffer, sh.byteOffset, PAGE))) {
        let i = 0;
        while (cur[i] === sh[i]) i++;
        const g = this.chunkGuest.get(Math.floor((p * PAGE) / GUEST_CHUNK));
        this.fail(`guest ${g?.guest.name ?? "?"} page ${hex(p * PAGE)} changed at byte ${i} (${sh[i]} → ${cur[i]}) with no permitted DMA`);
      }
    }
  }

  /** The remapping structures are byte-for-byte what the hypervisor last wrote (posted descriptors excepted). */
  private checkTables(): void {
    for (const [p, snap] of this.tableSnap) {
      const cur = this.mem.pageForRead(p * PAGE);
      if (!Buffer.from(cur.buffer, cur.byteOffset, PAGE).equals(Buffer.from(snap.buffer, snap.byteOffset, PAGE)))
        this.fail(`IOMMU structure page ${hex(p * PAGE)} changed outside a hypervisor action`);
    }
  }

  checkAll(): void {
    this.c.fullChecks++;
    this.checkNoPendingFaults();
    this.checkTracked();
    this.checkTables();
  }

  private snapTables(): void {
    const snap = new Map<number, Uint8Array>();
    for (const p of this.tablePages) if (!this.pidPages.has(p)) snap.set(p, this.mem.read(p * PAGE, PAGE));
    this.tableSnap = snap;
  }

  /**
   * Find the remapping structures from the hardware's own state (RTADDR → root entries → context
   * entries → second-level tables; IQA; wait-descriptor status addresses; IRTA), and check the
   * context entries against the model: exactly the attached requesters, each in its guest's domain.
   */
  private scanTables(): void {
    const mem = this.mem;
    const v = this.vtd;
    const pages = new Set<number>(this.pidPages);
    const root = Math.floor(Number(v.mmioRead(DMAR_RTADDR_REG, 8)) / PAGE) * PAGE;
    pages.add(root / PAGE);
    const walked = new Set<number>();
    const walk = (table: number, level: number): void => {
      pages.add(table / PAGE);
      if (level === 1) return;
      for (let i = 0; i < 512; i++) {
        const lo = mem.read32(table + i * 8);
        if ((lo & 3) === 0 || (lo & 0x80) !== 0) continue;
        walk((mem.read32(table + i * 8 + 4) & 0xfffff) * TWO32 + ((lo & 0xffff_f000) >>> 0), level - 1);
      }
    };
    const seenRids = new Set<number>();
    const buses = new Set<number>();
    for (let bus = 0; bus < 256; bus++) {
      const r0 = mem.read32(root + bus * 16);
      if ((r0 & 1) === 0) continue;
      buses.add(bus);
      const ctp = (mem.read32(root + bus * 16 + 4) & 0xfffff) * TWO32 + ((r0 & 0xffff_f000) >>> 0);
      pages.add(ctp / PAGE);
      for (let devfn = 0; devfn < 256; devfn++) {
        const c0 = mem.read32(ctp + devfn * 16);
        if ((c0 & 1) === 0) continue;
        const rid = (bus << 8) | devfn;
        const c2 = mem.read32(ctp + devfn * 16 + 8);
        const slpt = (mem.read32(ctp + devfn * 16 + 4) & 0xfffff) * TWO32 + ((c0 & 0xffff_f000) >>> 0);
        const tt = (c0 >>> 2) & 3;
        const did = (c2 >>> 8) & 0xffff;
        const levels = (c2 & 7) + 2;
        const d = this.ridDomain.get(rid);
        if (d === undefined || tt !== 0 || did !== d.did || levels !== d.levels)
          this.fail(`context entry of ${hex(rid)}: tt ${tt} did ${did} levels ${levels}; the model has ${d === undefined ? "no attachment" : `domain ${d.did}, ${d.levels} levels`}`);
        seenRids.add(rid);
        if (!walked.has(slpt)) {
          walked.add(slpt);
          walk(slpt, levels);
        }
      }
    }
    for (const rid of this.ridDomain.keys()) if (!seenRids.has(rid)) this.fail(`attached requester ${hex(rid)} has no present context entry`);
    for (const b of buses) if (!this.rootBuses.has(b)) this.fail(`bus ${b} has a root entry the model does not expect`);
    for (const b of this.rootBuses) if (!buses.has(b)) this.fail(`bus ${b} has no root entry`);
    const iqa = v.mmioRead(DMAR_IQA_REG, 8);
    const iqBase = Math.floor(Number(iqa) / PAGE) * PAGE;
    if (iqBase !== 0) {
      const qpages = 2 ** Number(iqa & 7n);
      for (let i = 0; i < qpages; i++) pages.add(iqBase / PAGE + i);
      for (let i = 0; i < qpages * 256; i++) {
        const a = iqBase + i * 16;
        if ((mem.read32(a) & 0xf) === QI_IWD_TYPE) {
          const st = (mem.read32(a + 12) & 0xfffff) * TWO32 + ((mem.read32(a + 8) & ~3) >>> 0);
          if (st !== 0) pages.add(Math.floor(st / PAGE));
        }
      }
    }
    const irta = v.mmioRead(DMAR_IRTA_REG, 8);
    const irtBase = Math.floor(Number(irta) / PAGE) * PAGE;
    if (irtBase !== 0) {
      const bytes = 2 ** (Number(irta & 0xfn) + 1) * 16;
      for (let a = 0; a < bytes; a += PAGE) pages.add((irtBase + a) / PAGE);
    }
    this.tablePages = pages;
    this.tablePageList = [...pages];
  }

  /** Posted-interrupt descriptors, from the IRTEs. */
  private collectPids(): void {
    const ir = this.host.iommu.interrupts;
    for (let i = 0; i < ir.tableEntries; i++) {
      const e = ir.irte(i);
      if (e.present && e.mode === "posted") {
        this.pidPages.add(Math.floor(e.pda / PAGE));
        this.tablePages.add(Math.floor(e.pda / PAGE));
        this.tablePageList = [...this.tablePages];
      }
    }
  }

  /** Counts of structures, for the test's own sanity checks. */
  get structurePages(): number {
    return this.tablePages.size;
  }
  get trackedPages(): number {
    return this.shadow.size;
  }
}
