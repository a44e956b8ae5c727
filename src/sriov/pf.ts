/**
 * The SR-IOV capability's behaviour in a physical function (SR-IOV 1.1 §3.3), as post-write hooks
 * on the capability's registers:
 * - NumVFs is writable only while VF Enable is 0; First VF Offset / VF Stride are recomputed by the
 *   device (its template's rule) whenever NumVFs or ARI Capable Hierarchy change (§3.3.10–3.3.11).
 * - ARI Capable Hierarchy is honoured only in the lowest-numbered PF of the device (§3.3.3.5);
 *   elsewhere it reads 0.
 * - System Page Size takes only a single supported bit (§3.3.13); VF BARs decode at least one system
 *   page (§3.3.14: VF BARs are aligned to the System Page Size).
 * - VF Enable 0→1 instantiates NumVFs VFs at PF RID + First VF Offset + k × VF Stride (bus carry
 *   included); they answer configuration requests only after 100 ms (CRS before); 1→0 removes them.
 * - VF BAR k of VF n lies at VF BARk base + n × per-VF size, decoded while VF MSE is set.
 * - Function Level Reset of a VF resets its config space; FLR of the PF disables its VFs.
 * A bad write never throws: read-only values simply do not change.
 */
import type { BarSpec } from "../pcie/bars.js";
import { barMasks } from "../pcie/bars.js";
import type { ConfigLayout } from "../pcie/layout.js";
import { ConfigSpace } from "../pcie/configspace.js";
import type { MmioHandler } from "../pcie/function.js";
import { PciFunction } from "../pcie/function.js";
import type { SriovGeometry } from "./geometry.js";
import {
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL_BCR_FLR,
  PCI_SRIOV_BAR,
  PCI_SRIOV_CTRL,
  PCI_SRIOV_CTRL_ARI,
  PCI_SRIOV_CTRL_MSE,
  PCI_SRIOV_CTRL_VFE,
  PCI_SRIOV_NUM_VF,
  PCI_SRIOV_SUP_PGSIZE,
  PCI_SRIOV_SYS_PGSIZE,
  PCI_SRIOV_TOTAL_VF,
  PCI_SRIOV_VF_OFFSET,
  PCI_SRIOV_VF_STRIDE,
  VF_SETTLE_NS,
} from "./regs.js";
import { isSingleBit, pageSizeFromMask, virtfnRid } from "./rid.js";

/** What the PF needs from the fabric it sits in (implemented in pcie/ by the fabric). */
export interface VfHost {
  nowNs(): number;
  /** Make `vf` answer at its (bus, devfn). Returns false if nothing routes there (left unreachable). */
  attachVf(vf: PciFunction): boolean;
  detachVf(vf: PciFunction): void;
}

/** What the PF's device model (the NIC) wants to know about its VFs. */
export interface VfDeviceModel {
  /** MMIO handler of VF `index` (0-based), attached to the VF function. */
  vfMmio(index: number): MmioHandler | undefined;
  vfsEnabled(numVfs: number): void;
  vfsDisabled(): void;
  vfReset(index: number): void;
  pfReset(): void;
}

/** Shared per-device state: the lowest-numbered PF's ARI Capable Hierarchy bit rules all PFs. */
export interface SriovDevice {
  readonly pfs: SriovPf[];
}

export interface SriovPfOptions {
  readonly pf: PciFunction;
  readonly capOffset: number;
  readonly geometry: SriovGeometry;
  readonly vfLayout: ConfigLayout;
  readonly vfBars: readonly BarSpec[];
  readonly host: VfHost;
  readonly device?: SriovDevice;
  readonly model?: VfDeviceModel;
  /** Offset of the PCI Express capability of the VFs' config space (for VF FLR), if any. */
  readonly vfPcieCapOffset?: number;
  readonly pfPcieCapOffset?: number;
}

export class SriovPf {
  readonly pf: PciFunction;
  readonly cap: number;
  readonly geometry: SriovGeometry;
  private readonly vfLayout: ConfigLayout;
  private readonly vfBarSpecs: readonly BarSpec[];
  private readonly host: VfHost;
  readonly device: SriovDevice;
  model: VfDeviceModel | undefined;
  private readonly vfPcieCap: number | undefined;
  /** VFs currently instantiated (index = VF number − 1). */
  readonly vfs: PciFunction[] = [];
  /** VFs whose RID fell outside what the fabric routes (for diagnostics). */
  unreachable = 0;

  constructor(o: SriovPfOptions) {
    this.pf = o.pf;
    this.cap = o.capOffset;
    this.geometry = o.geometry;
    this.vfLayout = o.vfLayout;
    this.vfBarSpecs = o.vfBars;
    this.host = o.host;
    this.device = o.device ?? { pfs: [] };
    this.device.pfs.push(this);
    this.model = o.model;
    this.vfPcieCap = o.vfPcieCapOffset;
    const cs = this.pf.cfg;
    cs.onWrite(this.cap + PCI_SRIOV_CTRL, (c, _r, old, nv) => this.onCtrl(c, old, nv));
    cs.onWrite(this.cap + PCI_SRIOV_NUM_VF, (c, _r, old, nv) => this.onNumVfs(c, old, nv));
    cs.onWrite(this.cap + PCI_SRIOV_SYS_PGSIZE, (c, _r, old, nv) => this.onSysPgsize(c, old, nv));
    for (let i = 0; i < 6; i++) {
      const off = this.cap + PCI_SRIOV_BAR + 4 * i;
      cs.onWrite(off, (c, _r, _old, nv) => this.onVfBar(c, i, nv));
    }
    if (o.pfPcieCapOffset !== undefined)
      cs.onWrite(o.pfPcieCapOffset + PCI_EXP_DEVCTL, (c, _r, _old, nv) => {
        if (nv & PCI_EXP_DEVCTL_BCR_FLR) {
          c.setHw(o.pfPcieCapOffset! + PCI_EXP_DEVCTL, 2, nv & ~PCI_EXP_DEVCTL_BCR_FLR);
          this.flrPf();
        }
      });
    this.recomputeOffsetStride();
    this.applyVfBarMasks();
  }

  // ---- register views ----
  private r16(off: number): number {
    return this.pf.cfg.readRaw(this.cap + off, 2);
  }
  get ctrl(): number {
    return this.r16(PCI_SRIOV_CTRL);
  }
  get vfEnabled(): boolean {
    return (this.ctrl & PCI_SRIOV_CTRL_VFE) !== 0;
  }
  get vfMse(): boolean {
    return (this.ctrl & PCI_SRIOV_CTRL_MSE) !== 0;
  }
  get numVfs(): number {
    return this.r16(PCI_SRIOV_NUM_VF);
  }
  get totalVfs(): number {
    return this.r16(PCI_SRIOV_TOTAL_VF);
  }
  get offset(): number {
    return this.r16(PCI_SRIOV_VF_OFFSET);
  }
  get stride(): number {
    return this.r16(PCI_SRIOV_VF_STRIDE);
  }
  get systemPageSize(): number {
    return pageSizeFromMask(this.pf.cfg.readRaw(this.cap + PCI_SRIOV_SYS_PGSIZE, 4) || 1);
  }
  /** The ARI Capable Hierarchy the device acts on: the lowest-numbered PF's bit. */
  get ariHierarchy(): boolean {
    const lowest = this.lowestPf();
    return (lowest.ctrl & PCI_SRIOV_CTRL_ARI) !== 0;
  }
  private lowestPf(): SriovPf {
    return this.device.pfs.reduce((a, b) => (b.pf.devfn < a.pf.devfn ? b : a));
  }

  /** Per-VF size of VF BAR `i` (at least one system page), 0 when the device has no such VF BAR. */
  vfBarSize(i: number): number {
    const s = this.vfBarSpecs.find((b) => b.index === i);
    return s === undefined ? 0 : Math.max(s.size, this.systemPageSize);
  }
  /** Base programmed in VF BAR `i` (64-bit BARs combine two registers). */
  vfBarBase(i: number): number {
    const s = this.vfBarSpecs.find((b) => b.index === i);
    if (s === undefined) return 0;
    const lo = this.pf.cfg.readRaw(this.cap + PCI_SRIOV_BAR + 4 * i, 4) & ~0xf;
    const hi = s.kind === "mem64" ? this.pf.cfg.readRaw(this.cap + PCI_SRIOV_BAR + 4 * (i + 1), 4) : 0;
    return hi * 2 ** 32 + (lo >>> 0);
  }
  /** Address of BAR `i` of VF `vfIndex` (0-based): VF BARi base + vfIndex × per-VF size. */
  vfBarAddress(vfIndex: number, i: number): number {
    return this.vfBarBase(i) + vfIndex * this.vfBarSize(i);
  }

  /**
   * Resolve a memory address against the VF BAR apertures (decoded only with VF Enable and VF MSE).
   * Returns the VF index, BAR and offset; -1 in `vf` when no VF claims it. Allocation-free via `out`.
   */
  resolveVfMmio(addr: number, out: { vf: number; bar: number; offset: number }): boolean {
    if (!this.vfEnabled || !this.vfMse) return false;
    const n = this.vfs.length;
    for (const s of this.vfBarSpecs) {
      const base = this.vfBarBase(s.index);
      if (base === 0) continue;
      const size = this.vfBarSize(s.index);
      if (addr >= base && addr < base + size * n) {
        const k = Math.floor((addr - base) / size);
        out.vf = k;
        out.bar = s.index;
        out.offset = addr - base - k * size;
        return true;
      }
    }
    return false;
  }

  // ---- hooks ----
  private onCtrl(cs: ConfigSpace, old: number, nv: number): void {
    const isLowest = this.lowestPf() === this;
    let v = nv;
    // ARI Capable Hierarchy: only the lowest-numbered PF has it; never changes while VFs are enabled.
    if (!isLowest) v &= ~PCI_SRIOV_CTRL_ARI;
    else if (old & PCI_SRIOV_CTRL_VFE && (old ^ v) & PCI_SRIOV_CTRL_ARI) v = (v & ~PCI_SRIOV_CTRL_ARI) | (old & PCI_SRIOV_CTRL_ARI);
    // VF Enable needs 1 ≤ NumVFs ≤ TotalVFs: otherwise the enable does not take.
    const n = this.numVfs;
    if (!(old & PCI_SRIOV_CTRL_VFE) && v & PCI_SRIOV_CTRL_VFE && (n === 0 || n > this.totalVfs)) v &= ~PCI_SRIOV_CTRL_VFE;
    if (v !== nv) cs.setHw(this.cap + PCI_SRIOV_CTRL, 2, v);
    if ((old ^ v) & PCI_SRIOV_CTRL_ARI) for (const p of this.device.pfs) p.recomputeOffsetStride();
    if (!(old & PCI_SRIOV_CTRL_VFE) && v & PCI_SRIOV_CTRL_VFE) this.instantiateVfs();
    else if (old & PCI_SRIOV_CTRL_VFE && !(v & PCI_SRIOV_CTRL_VFE)) this.removeVfs();
  }

  private onNumVfs(cs: ConfigSpace, old: number, nv: number): void {
    if (this.vfEnabled) {
      cs.setHw(this.cap + PCI_SRIOV_NUM_VF, 2, old); // RO while VF Enable is set
      return;
    }
    if (nv !== old) this.recomputeOffsetStride();
  }

  private onSysPgsize(cs: ConfigSpace, old: number, nv: number): void {
    const sup = cs.readRaw(this.cap + PCI_SRIOV_SUP_PGSIZE, 4);
    if (this.vfEnabled || !isSingleBit(nv) || (nv & sup) !== nv) {
      cs.setHw(this.cap + PCI_SRIOV_SYS_PGSIZE, 4, old);
      return;
    }
    this.applyVfBarMasks();
  }

  /** VF BAR registers decode per-VF size rounded up to the system page: mask the low bits. */
  private onVfBar(cs: ConfigSpace, i: number, nv: number): void {
    const masked = this.vfBarRegValue(i, nv);
    if (masked !== nv) cs.setHw(this.cap + PCI_SRIOV_BAR + 4 * i, 4, masked);
  }
  private vfBarRegValue(i: number, v: number): number {
    const spec = this.vfBarSpecs.find((b) => b.index === i);
    const upper = this.vfBarSpecs.find((b) => b.kind === "mem64" && b.index + 1 === i);
    if (spec !== undefined) {
      const eff = { ...spec, size: this.vfBarSize(i) };
      const m = barMasks(eff);
      const flags = (spec.kind === "mem64" ? 0x4 : 0) | (spec.prefetchable ? 0x8 : 0);
      return ((v & m.lo) | flags) >>> 0;
    }
    if (upper !== undefined) return (v & barMasks({ ...upper, size: this.vfBarSize(upper.index) }).hi) >>> 0;
    return 0;
  }
  private applyVfBarMasks(): void {
    for (let i = 0; i < 6; i++) {
      const off = this.cap + PCI_SRIOV_BAR + 4 * i;
      const cur = this.pf.cfg.readRaw(off, 4);
      const v = this.vfBarRegValue(i, cur);
      if (v !== cur) this.pf.cfg.setHw(off, 4, v);
    }
  }

  /** The device's rule: offset/stride for the current NumVFs and ARI hierarchy. */
  recomputeOffsetStride(): void {
    const n = this.numVfs;
    const os = this.geometry.offsetStride(n, this.ariHierarchy);
    this.pf.cfg.setHw(this.cap + PCI_SRIOV_VF_OFFSET, 2, os.offset);
    this.pf.cfg.setHw(this.cap + PCI_SRIOV_VF_STRIDE, 2, os.stride);
  }

  private instantiateVfs(): void {
    const n = this.numVfs;
    const off = this.offset;
    const stride = this.stride;
    const ready = this.host.nowNs() + VF_SETTLE_NS;
    const pfRid = this.pf.rid;
    for (let k = 0; k < n; k++) {
      const r = virtfnRid(pfRid, off, stride, k);
      const vf = new PciFunction(new ConfigSpace(this.vfLayout), this.pf.kind, r & 0xff, [], `VF ${k} of ${this.pf.bdfString}`);
      vf.bus = r < 0 ? 256 : r >> 8;
      vf.domain = this.pf.domain;
      vf.physfn = this.pf;
      vf.vfIndex = k;
      vf.readyAtNs = ready;
      vf.mmio = this.model?.vfMmio(k);
      this.installVfFlrHook(vf);
      this.vfs.push(vf);
      if (r < 0 || !this.host.attachVf(vf)) this.unreachable++;
    }
    this.model?.vfsEnabled(n);
  }

  private removeVfs(): void {
    for (const vf of this.vfs) this.host.detachVf(vf);
    this.vfs.length = 0;
    this.unreachable = 0;
    this.model?.vfsDisabled();
  }

  /** Function Level Reset of VF `index`: its config space back to reset (sticky bits kept), device state reset. */
  flrVf(index: number): void {
    const vf = this.vfs[index];
    if (vf === undefined) return;
    vf.cfg.reset(true);
    vf.readyAtNs = this.host.nowNs() + VF_SETTLE_NS;
    this.model?.vfReset(index);
  }

  /** Function Level Reset of the PF: its whole config space (SR-IOV capability included) resets, so its VFs go away. */
  flrPf(): void {
    if (this.vfEnabled) this.removeVfs();
    this.pf.cfg.reset(true);
    this.recomputeOffsetStride();
    this.applyVfBarMasks();
    this.pf.readyAtNs = this.host.nowNs() + VF_SETTLE_NS;
    this.model?.pfReset();
  }

  /** Hook for VF FLR through the VF's PCIe DEVCTL (installed per VF on demand). */
  installVfFlrHook(vf: PciFunction): void {
    if (this.vfPcieCap === undefined) return;
    const off = this.vfPcieCap + PCI_EXP_DEVCTL;
    vf.cfg.onWrite(off, (c, _r, _o, nv) => {
      if (nv & PCI_EXP_DEVCTL_BCR_FLR) {
        c.setHw(off, 2, nv & ~PCI_EXP_DEVCTL_BCR_FLR);
        this.flrVf(vf.vfIndex);
      }
    });
  }
}
