/**
 * Boot-time assignment: the ordered steps from a host file to running guests with VFs, each step
 * idempotent (it looks at the host's state first and does nothing when it is already there) and
 * undoable (a failing step undoes the finished ones in reverse). `planBoot` runs the same checks on a
 * scratch host and reports the steps and every warning without booting anything.
 */
import { IovError, isIovError } from "../errors.js";
import type { PciFunction } from "../pcie/function.js";
import { renderTree } from "../pcie/topology.js";
import { formatMac } from "../nic/port-config.js";
import { computeGroups, checkViability, type Binding, type GroupNode } from "../hypervisor-glue/groups.js";
import type { Guest } from "../hypervisor-glue/guest.js";
import { GuestDomain, VfioDevice, type PassthroughHost } from "../hypervisor-glue/passthrough.js";
import { PAGE_2M, PAGE_4K } from "../hypervisor-glue/iommu/defs.js";
import { totalExits, type ExitCounters } from "../hypervisor-glue/exits.js";
import { VfDriver } from "../vf-driver/vf-driver.js";
import { vfMsixPlacement } from "../nic/templates/layout.js";
import { resolveAssignments, type Assignment } from "./assign.js";
import { GUEST_MSI_VECTOR_BASE, GUEST_MSI_VECTOR_LIMIT, validateHostFile } from "./validate.js";
import { ConfigError } from "./issues.js";
import type { HostFile } from "./types.js";
import { SimHost, type PfPort } from "./host.js";

export interface BootStep {
  readonly n: number;
  readonly what: string;
  /** Whether the step changed anything (false: the host was already in that state). */
  changed: boolean;
}

export interface AttachedNic {
  readonly guest: string;
  readonly nicIndex: number;
  readonly pf: string;
  readonly vfIndex: number;
  readonly bdf: string;
  readonly mac: string;
  readonly vlan: number;
  readonly group: number;
  readonly driver: VfDriver;
  readonly vfio: VfioDevice;
  /** One past the last guest vector this NIC's MSI-X entries use. */
  readonly vectorEnd: number;
}

export interface GroupReport {
  readonly id: number;
  readonly members: string[];
  readonly reasons: string[];
}

export interface BootState {
  readonly host: SimHost;
  readonly guests: Map<string, Guest>;
  readonly domains: Map<string, GuestDomain>;
  readonly nics: AttachedNic[];
  groups: GroupReport[];
  readonly steps: BootStep[];
  smoke: { pairs: number; frames: number; bytesVerified: number; wireFrames: number } | undefined;
}

/** A guest NIC's DMA region and BAR window in guest-physical space. */
const DMA_REGION_GPA = 0x0100_0000; // 16 MiB
const DMA_REGION_BYTES = 0x0040_0000; // 4 MiB per NIC
const BAR_WINDOW = 0x0100_0000; // 16 MiB of guest-physical space per NIC

export function vfBdf(p: PfPort, vfIndex: number): PciFunction | undefined {
  return p.sriov.vfs[vfIndex];
}

/** Group inputs for every function the fabric has, in Linux's device-add order (VFs after their PF). */
export function groupNodes(host: SimHost): { nodes: GroupNode[]; byFn: Map<PciFunction, GroupNode> } {
  const byFn = new Map<PciFunction, GroupNode>();
  const nodes: GroupNode[] = [];
  const add = (fn: PciFunction): GroupNode => {
    const got = byFn.get(fn);
    if (got !== undefined) return got;
    const parent = host.fabric.parentBridge(fn) ?? (fn.physfn !== undefined ? host.fabric.parentBridge(fn.physfn) : undefined);
    const up = parent === undefined || parent.kind === "host-bridge" ? undefined : add(parent);
    const n: GroupNode = {
      bdf: fn.bdfString,
      bus: fn.bus,
      devfn: fn.devfn,
      kind: fn.kind,
      multifunction: fn.physfn === undefined && (fn.cfg.read(0x0e, 1) & 0x80) !== 0,
      acs: host.acsOf(fn),
      upstream: up,
      isVirtfn: fn.physfn !== undefined,
    };
    byFn.set(fn, n);
    nodes.push(n);
    return n;
  };
  for (const fn of host.fabric.functions()) if (fn.kind !== "host-bridge" && fn.physfn === undefined) add(fn);
  for (const p of host.pfs) for (const vf of p.sriov.vfs) add(vf);
  return { nodes, byFn };
}

/** Validate against the built host; throws ConfigError (file:line:col) when anything is wrong. */
function checkAgainstHost(hf: HostFile, host: SimHost): Assignment[] {
  const issues = validateHostFile(hf, host.inventory());
  if (issues.length > 0) throw new ConfigError(issues);
  return resolveAssignments(hf, host.inventory());
}

/** Build and boot `hf`. With `state`, apply to an already-booted host (idempotent: nothing changes). */
export function boot(hf: HostFile, opts: { smoke?: boolean; state?: BootState } = {}): BootState {
  const host = opts.state?.host ?? new SimHost(hf);
  const st: BootState = opts.state ?? { host, guests: new Map(), domains: new Map(), nics: [], groups: [], steps: [], smoke: undefined };
  st.steps.length = 0;
  const undo: Array<() => void> = [];
  let n = 0;
  const step = (what: string, fn: () => boolean): void => {
    const s: BootStep = { n: ++n, what, changed: false };
    st.steps.push(s);
    s.changed = fn();
  };
  try {
    step("enumerate the fabric and probe the PF drivers", () => {
      if (host.enumeration !== undefined) return false;
      host.enumerateAndProbe();
      return true;
    });
    const assignments = checkAgainstHost(hf, host);
    for (const pc of hf.pfs) {
      const p = host.pf(pc.pf);
      step(`echo ${pc.numVfs} > /sys/bus/pci/devices/${pc.pf}/sriov_numvfs`, () => {
        if (p.driver.enabledVfs === pc.numVfs) return false;
        p.driver.writeNumVfs(String(pc.numVfs));
        undo.push(() => p.driver.writeNumVfs("0"));
        host.log.push(...p.driver.log.splice(0));
        if (p.sriov.unreachable > 0)
          throw new IovError("EIO", `${pc.pf}: ${p.sriov.unreachable} of its ${pc.numVfs} VFs landed on routing IDs that another function already answers or no bridge routes; nothing can reach them`);
        return true;
      });
      for (const vs of pc.vfs) {
        const keys = Object.keys(vs.port);
        if (keys.length === 0) continue;
        step(`ip link set ${p.netdev} vf ${vs.vfs.text} ${keys.map((k) => `${k} ${String(vs.port[k as keyof typeof vs.port])}`).join(" ")}`, () => {
          let changed = false;
          for (const k of vs.vfs.indices) {
            const cur = p.vfConfig[k]!;
            const next = { ...cur, ...vs.port };
            if (JSON.stringify(next) === JSON.stringify(cur)) continue;
            const before = { ...cur };
            p.vfConfig[k] = next;
            p.nic.setVfConfig(k, next);
            undo.push(() => {
              p.vfConfig[k] = before;
              p.nic.setVfConfig(k, before);
            });
            changed = true;
          }
          return changed;
        });
      }
    }
    // IOMMU groups and viability: every assignment checked before any guest exists.
    const { nodes, byFn } = groupNodes(host);
    const groups = computeGroups(nodes);
    st.groups = groups.groups.map((g) => ({ id: g.id, members: g.members.map((m) => m.bdf), reasons: g.reasons }));
    const assigned = new Map<GroupNode, string>();
    for (const a of assignments) {
      const vf = vfBdf(host.pf(a.pf), a.vfIndex);
      if (vf !== undefined) assigned.set(byFn.get(vf)!, a.guest);
    }
    const binding = (nd: GroupNode): Binding => {
      const g = assigned.get(nd);
      if (g !== undefined) return { kind: "vfio", guest: g };
      const pf = host.pfs.find((p) => p.fn.bdfString === nd.bdf);
      if (pf !== undefined) return { kind: "host", driver: pf.driverName };
      const owner = host.pfs.find((p) => p.sriov.vfs.some((v) => v.bdfString === nd.bdf));
      if (owner !== undefined) return { kind: "host", driver: owner.vfDriverName };
      return { kind: "none" };
    };
    step("compute IOMMU groups and check that every assignment is viable", () => {
      const refusals: string[] = [];
      for (const [nd, guest] of assigned) {
        const v = checkViability(nd, guest, groups, binding);
        if (!v.ok) refusals.push(v.message);
      }
      if (refusals.length > 0) throw new IovError("EPERM", `unsafe assignment refused:\n  ${refusals.join("\n  ")}`, { refusals });
      return false;
    });
    if (!hf.iommu.enabled && assignments.length > 0) throw new IovError("EPERM", "VFs can be assigned only behind an IOMMU (iommu.enabled: false)");
    for (const gc of hf.guests) {
      step(`create guest ${gc.name} (${gc.memoryBytes / 2 ** 20} MiB, ${gc.vcpus} vCPU)`, () => {
        if (st.guests.has(gc.name)) return false;
        const g = host.hv.createGuest(gc.name, gc.memoryBytes, gc.vcpus);
        st.guests.set(gc.name, g);
        undo.push(() => {
          host.hv.destroyGuest(g);
          host.router.releaseGuest(g);
          st.guests.delete(gc.name);
        });
        return true;
      });
    }
    const px: PassthroughHost = {
      iommu: host.iommu,
      router: host.router,
      config: (fn) => ({
        read: (o, s) => host.fabric.cfgRead(fn.bus, fn.devfn, o, s),
        write: (o, s, v) => void host.fabric.cfgWrite(fn.bus, fn.devfn, o, s, v),
      }),
      memWrite: (a, s, v) => void host.fabric.memWrite(a, s, v),
      allocIrte: (() => {
        let next = 0;
        return () => next++;
      })(),
    };
    const nextVector = new Map<string, number>();
    for (const x of st.nics) nextVector.set(x.guest, Math.max(nextVector.get(x.guest) ?? GUEST_MSI_VECTOR_BASE, x.vectorEnd));
    const allocVectors = (guest: string, n: number): number => {
      const v = nextVector.get(guest) ?? GUEST_MSI_VECTOR_BASE;
      if (v + n > GUEST_MSI_VECTOR_LIMIT) throw new IovError("ENOSPC", `guest ${guest}: out of interrupt vectors (0x40..0xef) for another NIC with ${n} MSI-X vectors`);
      nextVector.set(guest, v + n);
      return v;
    };
    const levels = hf.iommu.addressWidth === 39 ? 3 : 4;
    const pageSize = hf.iommu.pageSize === "4K" ? PAGE_4K : PAGE_2M;
    for (const a of assignments) {
      const p = host.pf(a.pf);
      const vf = vfBdf(p, a.vfIndex);
      if (vf === undefined) throw new IovError("ENODEV", `${a.pf} has no VF ${a.vfIndex} (NumVFs ${p.driver.enabledVfs})`);
      const g = st.guests.get(a.guest)!;
      step(`attach ${vf.bdfString} (${a.pf} VF ${a.vfIndex}) to ${a.guest}`, () => {
        if (st.nics.some((x) => x.bdf === vf.bdfString)) return false;
        let dom = st.domains.get(a.guest);
        if (dom === undefined) {
          dom = new GuestDomain(g, host.iommu, levels, pageSize);
          st.domains.set(a.guest, dom);
          const d = dom;
          undo.push(() => {
            d.destroy();
            st.domains.delete(a.guest);
          });
        }
        const t = p.template;
        const m = vfMsixPlacement(t);
        const barGpaBase = Math.max(2 ** 32, Math.ceil(g.memoryBytes / 2 ** 30) * 2 ** 30) + a.nicIndex * BAR_WINDOW;
        const vfio = new VfioDevice(px, g, dom, {
          vf,
          vendorId: t.vendorId,
          deviceId: t.vfDeviceId,
          bars: t.vfBars.map((spec) => ({ spec: { ...spec, size: p.sriov.vfBarSize(spec.index) }, hpa: p.sriov.vfBarAddress(a.vfIndex, spec.index) })),
          msix: { bar: m.bar, table: m.table, vectors: t.vfMsixVectors },
        }, { posted: hf.iommu.postedInterrupts, pageSize, barGpaBase });
        undo.push(() => vfio.detach());
        const vcfg = p.vfConfig[a.vfIndex]!;
        const driver = new VfDriver({
          guest: g,
          cfg: vfio,
          bar0Gpa: vfio.barGpaOf(0),
          msixBarGpa: vfio.barGpaOf(m.bar),
          dmaBaseGpa: DMA_REGION_GPA + a.nicIndex * DMA_REGION_BYTES,
          dmaBytes: DMA_REGION_BYTES,
          msiAddress: 0xfee00000,
          msiDataBase: allocVectors(a.guest, t.vfMsixVectors),
          options: { txRing: 256, rxRing: 256, bufSize: 2048, queues: 1 },
          delay: (ns) => host.tick(ns),
        });
        const r = driver.probe();
        if (!r.ok) throw new IovError("EIO", `${a.guest}: VF driver probe of ${vf.bdfString} failed at ${r.step}: ${r.reason}`);
        undo.push(() => driver.remove());
        st.nics.push({
          guest: a.guest,
          nicIndex: a.nicIndex,
          pf: a.pf,
          vfIndex: a.vfIndex,
          bdf: vf.bdfString,
          mac: formatMac(r.info.mac),
          vlan: vcfg.vlan,
          group: groups.groupOf.get(byFn.get(vf)!)?.id ?? -1,
          driver,
          vfio,
          vectorEnd: nextVector.get(a.guest)!,
        });
        undo.push(() => st.nics.pop());
        return true;
      });
    }
    if (opts.smoke !== false) step("smoke test: frames between guests through the embedded switch", () => {
      st.smoke = smokeTest(st);
      return false;
    });
  } catch (e) {
    while (undo.length > 0) {
      try {
        undo.pop()!();
      } catch {
        // undo continues with the remaining steps
      }
    }
    throw e;
  }
  return st;
}

/** Every pair of guest NICs on the same PF and VLAN exchanges a frame; the bytes must arrive intact. */
function smokeTest(st: BootState): { pairs: number; frames: number; bytesVerified: number; wireFrames: number } {
  let pairs = 0;
  let frames = 0;
  let bytes = 0;
  const frame = new Uint8Array(128);
  const got = new Uint8Array(2048);
  for (const a of st.nics)
    for (const b of st.nics) {
      if (a === b || a.guest === b.guest || a.pf !== b.pf || a.vlan !== b.vlan) continue;
      pairs++;
      const dst = b.driver.mac;
      const src = a.driver.mac;
      for (let i = 0; i < 6; i++) {
        frame[i] = Math.floor(dst / 2 ** (8 * (5 - i))) & 0xff;
        frame[6 + i] = Math.floor(src / 2 ** (8 * (5 - i))) & 0xff;
      }
      frame[12] = 0x88;
      frame[13] = 0xb5; // IEEE local experimental ethertype
      for (let i = 14; i < frame.length; i++) frame[i] = (i * 7 + pairs) & 0xff;
      if (!a.driver.xmit(frame, frame.length)) continue;
      a.driver.kick();
      st.host.tick(1000);
      const gb = st.guests.get(b.guest)!;
      let ok = false;
      b.driver.pollRx(64, (gpa, len) => {
        gb.readBytes(gpa, got, 0, len);
        ok = len === frame.length && got.subarray(0, len).every((x, i) => x === frame[i]);
      });
      a.driver.reclaimTx();
      if (!ok) throw new IovError("EIO", `smoke test: a frame from ${a.guest} (${a.bdf}) did not reach ${b.guest} (${b.bdf}) intact`);
      frames++;
      bytes += frame.length;
    }
  return { pairs, frames, bytesVerified: bytes, wireFrames: st.host.wireFrames };
}

export interface BootReport {
  readonly host: string;
  readonly tree: string;
  readonly steps: ReadonlyArray<{ n: number; what: string; changed: boolean }>;
  readonly changes: number;
  readonly vfs: ReadonlyArray<{ guest: string; nic: number; bdf: string; pf: string; vf: number; mac: string; vlan: number; group: number }>;
  readonly groups: readonly GroupReport[];
  readonly faults: ReadonlyArray<{ sid: string; reason: string; address: string; write: boolean }>;
  readonly exits: Readonly<Record<string, ExitCounters & { total: number }>>;
  readonly smoke: BootState["smoke"];
  readonly log: readonly string[];
}

export function report(st: BootState): BootReport {
  const exits: Record<string, ExitCounters & { total: number }> = {};
  for (const [name, g] of st.guests) exits[name] = { ...g.exits, total: totalExits(g.exits) };
  return {
    host: st.host.file.host.name,
    tree: renderTree(st.host.fabric),
    steps: st.steps.map((s) => ({ ...s })),
    changes: st.steps.filter((s) => s.changed).length,
    vfs: st.nics.map((x) => ({ guest: x.guest, nic: x.nicIndex, bdf: x.bdf, pf: x.pf, vf: x.vfIndex, mac: x.mac, vlan: x.vlan, group: x.group })),
    groups: st.groups,
    faults: st.host.iommu.faults().map((f) => ({
      sid: `${(f.sid >> 8).toString(16).padStart(2, "0")}:${((f.sid >> 3) & 0x1f).toString(16).padStart(2, "0")}.${f.sid & 7}`,
      reason: f.reasonName,
      address: `0x${f.address.toString(16)}`,
      write: f.write,
    })),
    exits,
    smoke: st.smoke,
    log: st.host.log,
  };
}

export interface PlanReport {
  readonly steps: string[];
  readonly warnings: string[];
  readonly ok: boolean;
}

/** The ordered steps boot would take, and every warning, without leaving anything booted. */
export function planBoot(hf: HostFile): PlanReport {
  const warnings: string[] = [];
  const host = new SimHost(hf);
  const st: BootState = { host, guests: new Map(), domains: new Map(), nics: [], groups: [], steps: [], smoke: undefined };
  let ok = true;
  try {
    boot(hf, { smoke: false, state: st });
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    if (!isIovError(e)) throw e;
    ok = false;
    const refusals = (e.detail as { refusals?: string[] }).refusals;
    if (refusals !== undefined) warnings.push(...refusals.map((r) => `viability: ${r}`));
    else warnings.push(`${e.code}: ${e.message.replace(/^[A-Z]+: /, "")}`);
  }
  for (const p of host.enumeration?.problems ?? []) warnings.push(`MMIO: ${p.message}`);
  for (const c of host.cards) for (const note of c.notes) warnings.push(`${c.name}: ${note}`);
  for (const pc of hf.pfs) {
    const p = host.pfs.find((x) => x.fn.bdfString === pc.pf);
    if (p !== undefined && p.driverName === "igb" && pc.numVfs > 7) warnings.push(`VF limit: ${pc.pf}: Linux igb enables at most 7 VFs per port (max_vfs=7)`);
  }
  // the steps taken, the last one being where boot would stop when it is refused
  const steps = st.steps.map((s, i) => (!ok && i === st.steps.length - 1 ? `${s.what}  <- refused here` : s.what));
  return { steps, warnings, ok };
}
