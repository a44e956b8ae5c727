/**
 * The host PF driver's SR-IOV control, with Linux's contract (drivers/pci/iov.c sriov_init,
 * sriov_enable/disable, sriov_numvfs_store): the driver reaches the hardware only through
 * configuration accesses, and undoes everything when a step fails.
 */
import { IovError } from "../errors.js";
import {
  PCI_EXT_CAP_ID_SRIOV,
  PCI_SRIOV_BAR,
  PCI_SRIOV_CTRL,
  PCI_SRIOV_CTRL_ARI,
  PCI_SRIOV_CTRL_MSE,
  PCI_SRIOV_CTRL_VFE,
  PCI_SRIOV_INITIAL_VF,
  PCI_SRIOV_NUM_VF,
  PCI_SRIOV_SUP_PGSIZE,
  PCI_SRIOV_SYS_PGSIZE,
  PCI_SRIOV_TOTAL_VF,
  PCI_SRIOV_VF_DID,
  PCI_SRIOV_VF_OFFSET,
  PCI_SRIOV_VF_STRIDE,
  VF_SETTLE_NS,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL_BCR_FLR,
} from "../sriov/regs.js";
import { checkOffsetStride, chooseSystemPageSize, lastVfBus, virtfnBus, virtfnDevfn } from "../sriov/rid.js";
import { sizeBarVia } from "../pcie/bars.js";
import type { ConfigAccess } from "../pcie/function.js";
import { findCapability, findExtCapability } from "../pcie/capwalk.js";


/** What the PCI core tells the PF driver about its place in the hierarchy. */
export interface PfEnvironment {
  /** The PF's own config space. */
  readonly cfg: ConfigAccess;
  readonly bdf: string;
  readonly bus: number;
  readonly devfn: number;
  /** Highest bus number routed below the PF's upstream bridge (the bridge's subordinate). */
  readonly maxBus: number;
  /** Whether the upstream port has ARI Forwarding enabled (pci_ari_enabled(bus)). */
  readonly ariForwarding: boolean;
  /** Whether this PF is the lowest-numbered PF of its device (only it owns ARI Capable Hierarchy). */
  readonly lowestPf: boolean;
  /** IOV resource assigned by enumeration for VF BAR i: start and size (TotalVFs × per-VF size), or undefined. */
  iovResource(i: number): { start: number; size: number } | undefined;
  /** Host page size (PAGE_SIZE). */
  readonly hostPageSize: number;
  /** Sleep in simulated time (msleep). */
  sleepNs(ns: number): void;
}

const PCI_CAP_ID_EXP = 0x10;

export interface SriovInfo {
  readonly pos: number;
  readonly totalVfs: number;
  readonly initialVfs: number;
  readonly vfDeviceId: number;
  readonly systemPageSize: number;
  /** Per-VF size of each VF BAR (0 = no such VF BAR). */
  readonly vfBarSizes: readonly number[];
}

/**
 * sysfs-like errors carry Linux's errno and the text `echo` would print
 * ("echo: write error: Device or resource busy").
 */
export const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EINVAL: "Invalid argument",
  ERANGE: "Numerical result out of range",
  EBUSY: "Device or resource busy",
  ENOMEM: "Cannot allocate memory",
  ENOENT: "No such file or directory",
  EIO: "Input/output error",
  EPERM: "Operation not permitted",
  ENODEV: "No such device",
};

export class PfSriovDriver {
  info: SriovInfo | undefined;
  private numVfs = 0;
  /** Kernel log lines (dmesg), as Linux prints them. */
  readonly log: string[] = [];

  constructor(readonly env: PfEnvironment) {}

  private say(s: string): void {
    this.log.push(`pci ${this.env.bdf}: ${s}`);
  }

  /** sriov_init: find the capability, clear a stale VF Enable, program ARI and page size, size VF BARs. */
  probe(): SriovInfo | undefined {
    const c = this.env.cfg;
    const pos = findExtCapability((o, sz) => c.read(o, sz), PCI_EXT_CAP_ID_SRIOV);
    if (pos === 0) return undefined;
    let ctrl = c.read(pos + PCI_SRIOV_CTRL, 2);
    if (ctrl & PCI_SRIOV_CTRL_VFE) {
      c.write(pos + PCI_SRIOV_CTRL, 2, 0);
      this.env.sleepNs(1_000_000_000); // ssleep(1)
    }
    ctrl = 0;
    if (this.env.ariForwarding && this.env.lowestPf) ctrl |= PCI_SRIOV_CTRL_ARI;
    c.write(pos + PCI_SRIOV_CTRL, 2, ctrl);
    const total = c.read(pos + PCI_SRIOV_TOTAL_VF, 2);
    if (total === 0) return undefined;
    const sup = c.read(pos + PCI_SRIOV_SUP_PGSIZE, 4);
    const pg = chooseSystemPageSize(sup, this.env.hostPageSize);
    c.write(pos + PCI_SRIOV_SYS_PGSIZE, 4, pg);
    const sizes: number[] = [0, 0, 0, 0, 0, 0];
    for (let i = 0; i < 6; i++) {
      const b = sizeBarVia(
        (o) => c.read(o, 4),
        (o, v) => c.write(o, 4, v),
        (k) => pos + PCI_SRIOV_BAR + 4 * k,
        i,
      );
      if (b === undefined) continue;
      if (b.size % this.env.hostPageSize !== 0) {
        this.say(`VF BAR${i}: size ${b.size} is not a multiple of the page size`);
        throw new IovError("EIO", `${this.env.bdf}: VF BAR${i} size ${b.size} not a page multiple`);
      }
      sizes[i] = b.size;
      if (b.kind === "mem64") i++;
    }
    for (let i = 0; i < 6; i++) {
      const r = this.env.iovResource(i);
      if (sizes[i]! > 0 && r !== undefined)
        this.say(`VF BAR${i}: [mem 0x${r.start.toString(16)}-0x${(r.start + r.size - 1).toString(16)}] (contains BAR${i} for ${total} VFs)`);
    }
    this.info = {
      pos,
      totalVfs: total,
      initialVfs: c.read(pos + PCI_SRIOV_INITIAL_VF, 2),
      vfDeviceId: c.read(pos + PCI_SRIOV_VF_DID, 2),
      systemPageSize: pg,
      vfBarSizes: sizes,
    };
    return this.info;
  }

  get enabledVfs(): number {
    return this.numVfs;
  }

  /** Offset/stride the device reports for NumVFs = n (writes NumVFs, re-reads, as pci_iov_set_numvfs). */
  private setNumVfs(n: number): { offset: number; stride: number } {
    const c = this.env.cfg;
    const pos = this.info!.pos;
    c.write(pos + PCI_SRIOV_NUM_VF, 2, n);
    return { offset: c.read(pos + PCI_SRIOV_VF_OFFSET, 2), stride: c.read(pos + PCI_SRIOV_VF_STRIDE, 2) };
  }

  /** Write to `sriov_numvfs` (sriov_numvfs_store): all-or-nothing. */
  writeNumVfs(text: string): void {
    const info = this.info;
    if (info === undefined) throw new IovError("ENOENT", `${this.env.bdf}: no SR-IOV capability`, { errno: "ENOENT" });
    const n = parseU16(text);
    if (n > info.totalVfs) throw new IovError("ERANGE", `${this.env.bdf}: ${n} VFs requested, TotalVFs is ${info.totalVfs}`, { errno: "ERANGE" });
    if (n === this.numVfs) return;
    if (n === 0) {
      this.disable();
      return;
    }
    if (this.numVfs !== 0) {
      this.say(`${this.numVfs} VFs already enabled. Disable before enabling ${n} VFs`);
      throw new IovError("EBUSY", `${this.env.bdf}: ${this.numVfs} VFs already enabled. Disable before enabling ${n} VFs`, { errno: "EBUSY" });
    }
    this.enable(n);
  }

  /** sriov_enable: program NumVFs, check offset/stride/bus range/MMIO, set VFE|MSE, wait 100 ms. */
  private enable(n: number): void {
    const info = this.info!;
    const c = this.env.cfg;
    const pos = info.pos;
    const undo: Array<() => void> = [];
    try {
      for (let i = 0; i < 6; i++) {
        const per = info.vfBarSizes[i]!;
        if (per === 0) continue;
        const r = this.env.iovResource(i);
        if (r === undefined || per * n > r.size) {
          this.say("not enough MMIO resources for SR-IOV");
          throw new IovError(
            "ENOMEM",
            `${this.env.bdf}: not enough MMIO resources for SR-IOV: VF BAR${i} needs ${per * n} B for ${n} VFs, the IOV window has ${r?.size ?? 0} B`,
            { errno: "ENOMEM" },
          );
        }
      }
      const oldNum = c.read(pos + PCI_SRIOV_NUM_VF, 2);
      undo.push(() => c.write(pos + PCI_SRIOV_NUM_VF, 2, oldNum));
      const { offset, stride } = this.setNumVfs(n);
      checkOffsetStride(offset, stride, n);
      const last = lastVfBus(this.env.bus, this.env.devfn, offset, stride, n);
      if (last > this.env.maxBus) {
        this.say("SR-IOV: bus number out of range");
        throw new IovError(
          "ENOMEM",
          `${this.env.bdf}: SR-IOV: bus number out of range: VF ${n - 1} would be on bus ${last.toString(16).padStart(2, "0")}, the bridge routes up to ${this.env.maxBus.toString(16).padStart(2, "0")}`,
          { errno: "ENOMEM" },
        );
      }
      const ctrl = c.read(pos + PCI_SRIOV_CTRL, 2);
      c.write(pos + PCI_SRIOV_CTRL, 2, ctrl | PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
      undo.push(() => c.write(pos + PCI_SRIOV_CTRL, 2, ctrl));
      if (!(c.read(pos + PCI_SRIOV_CTRL, 2) & PCI_SRIOV_CTRL_VFE))
        throw new IovError("EIO", `${this.env.bdf}: device refused VF Enable`, { errno: "EIO" });
      this.env.sleepNs(VF_SETTLE_NS); // msleep(100): VFs answer config requests only after this
      this.numVfs = n;
      const first = `${virtfnBus(this.env.bus, this.env.devfn, offset, stride, 0).toString(16).padStart(2, "0")}:${(virtfnDevfn(this.env.devfn, offset, stride, 0) >> 3).toString(16).padStart(2, "0")}.${virtfnDevfn(this.env.devfn, offset, stride, 0) & 7}`;
      this.say(`enabled ${n} VFs (offset ${offset}, stride ${stride}, first VF at ${first})`);
    } catch (e) {
      for (const u of undo.reverse()) u();
      throw e;
    }
  }

  /**
   * pci_reset_function on the PF: save the SR-IOV state, Function Level Reset through Device Control,
   * then sriov_restore_state in Linux's order (ARI bit first, VF BARs, System Page Size, NumVFs, then
   * VF Enable | MSE and the 100 ms wait). The VFs come back where they were.
   */
  resetFunction(): void {
    const info = this.info;
    const c = this.env.cfg;
    const exp = findCapability((o, sz) => c.read(o, sz), PCI_CAP_ID_EXP);
    if (exp === 0) throw new IovError("ENOSYS", `${this.env.bdf}: no PCI Express capability: no FLR`);
    const pos = info?.pos ?? 0;
    const saved =
      info === undefined
        ? undefined
        : {
            ctrl: c.read(pos + PCI_SRIOV_CTRL, 2),
            num: c.read(pos + PCI_SRIOV_NUM_VF, 2),
            pg: c.read(pos + PCI_SRIOV_SYS_PGSIZE, 4),
            bars: Array.from({ length: 6 }, (_, i) => c.read(pos + PCI_SRIOV_BAR + 4 * i, 4)),
          };
    const cmd = c.read(0x04, 2);
    const bars = Array.from({ length: 6 }, (_, i) => c.read(0x10 + 4 * i, 4));
    c.write(exp + PCI_EXP_DEVCTL, 2, c.read(exp + PCI_EXP_DEVCTL, 2) | PCI_EXP_DEVCTL_BCR_FLR);
    this.env.sleepNs(VF_SETTLE_NS); // pcie_flr: 100 ms before the function is touched again
    bars.forEach((v, i) => c.write(0x10 + 4 * i, 4, v));
    c.write(0x04, 2, cmd);
    if (saved === undefined) return;
    c.write(pos + PCI_SRIOV_CTRL, 2, saved.ctrl & PCI_SRIOV_CTRL_ARI);
    saved.bars.forEach((v, i) => c.write(pos + PCI_SRIOV_BAR + 4 * i, 4, v));
    c.write(pos + PCI_SRIOV_SYS_PGSIZE, 4, saved.pg);
    c.write(pos + PCI_SRIOV_NUM_VF, 2, saved.num);
    c.write(pos + PCI_SRIOV_CTRL, 2, saved.ctrl);
    if (saved.ctrl & PCI_SRIOV_CTRL_VFE) this.env.sleepNs(VF_SETTLE_NS);
    this.say("reset done (FLR), SR-IOV state restored");
  }

  /** sriov_disable: clear VFE|MSE, wait, NumVFs = 0. */
  disable(): void {
    const info = this.info;
    if (info === undefined || this.numVfs === 0) return;
    const c = this.env.cfg;
    const ctrl = c.read(info.pos + PCI_SRIOV_CTRL, 2);
    c.write(info.pos + PCI_SRIOV_CTRL, 2, ctrl & ~(PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE));
    this.env.sleepNs(1_000_000_000); // ssleep(1)
    c.write(info.pos + PCI_SRIOV_NUM_VF, 2, 0);
    this.numVfs = 0;
    this.say("disabled VFs");
  }
}

/** kstrtou16(buf, 0): decimal, 0x hex or 0 octal, optional trailing newline; EINVAL for junk, ERANGE above 65535. */
export function parseU16(text: string): number {
  const s = text.replace(/\n$/, "");
  let v: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) v = parseInt(s.slice(2), 16);
  else if (/^0[0-7]*$/.test(s)) v = parseInt(s, 8);
  else if (/^\+?[1-9][0-9]*$/.test(s)) v = parseInt(s, 10);
  else throw new IovError("EINVAL", `"${s}" is not a number`, { errno: "EINVAL" });
  if (v > 0xffff) throw new IovError("ERANGE", `${s} does not fit in 16 bits`, { errno: "ERANGE" });
  return v;
}
