/**
 * One PCI domain (one root complex): the host bridge at 00:00.0, root ports and root-complex
 * integrated endpoints on bus 0, switches, endpoints in slots, links; and the routing of configuration
 * requests (by ID), memory and I/O requests (by address) through it.
 *
 * The fabric is wiring: which function sits in which slot of which bus segment. Bus numbers are not
 * stored here: a segment's number is its bridge's Secondary Bus register, so whoever programs the
 * bridges through config writes (enumeration, a test, a hostile driver) renumbers the hierarchy, and
 * routing follows the registers. Functions added by routing ID (SR-IOV VFs) keep their RID.
 *
 * Lookups are O(1): a per-bus route memo (revalidated when a bridge's bus registers change) and, per
 * segment, a 256-entry slot array; VFs sit in a 65,536-entry array by RID. Memory routing uses a
 * decode table rebuilt lazily after any change of a Command, BAR, window or SR-IOV register.
 */
import { IovError } from "../errors.js";
import { formatBdf } from "./bdf.js";
import { PCI_EXP_DEVCTL2_ARI } from "./caps/pcie-regs.js";
import { PCI_EXT_CAP_SRIOV_SIZEOF } from "./caps/sriov.js";
import { PCI_STD_HEADER_SIZEOF } from "./decode.js";
import { FabricBus, FabricNode } from "./fabric-nodes.js";
import type { CplStatus, PciFunction } from "./function.js";
import {
  PCI_BASE_ADDRESS_0,
  PCI_COMMAND,
  PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_MFD,
  PCI_INTERRUPT_LINE,
  PCI_PRIMARY_BUS,
  PCI_SECONDARY_BUS,
  PCI_STATUS,
  PCI_SUBORDINATE_BUS,
} from "./header.js";
import { makeHostBridge } from "./factories.js";
import type { BridgeOptions } from "./factories.js";
import { makeBridge } from "./factories.js";
import { applyLink, linkDown } from "./link.js";
import type { LinkSpec } from "./link.js";
import type { AddrSpace, MmioTarget } from "./route.js";
import { DecodeTable, buildDecodeTable } from "./route.js";

export { FabricBus, FabricNode } from "./fabric-nodes.js";

/** A configuration or memory read completion. */
export interface Completion {
  readonly status: CplStatus;
  readonly value: number;
}

// Register byte ranges whose changes invalidate the routing caches.
const HEADER_END = PCI_STD_HEADER_SIZEOF;
const BUS_REGS_START = PCI_PRIMARY_BUS;
const BUS_REGS_END = PCI_SUBORDINATE_BUS + 1;
const COMMAND_START = PCI_COMMAND;
const COMMAND_END = PCI_STATUS;
/** BARs, bus numbers, windows and the expansion ROM of both header types. */
const BARS_TO_ROM_START = PCI_BASE_ADDRESS_0;
const BARS_TO_ROM_END = PCI_INTERRUPT_LINE;
const SRIOV_CAP_SIZE = PCI_EXT_CAP_SRIOV_SIZEOF;

/** Route memo: how a configuration request for a bus is delivered on the segment it reaches. */
const ROUTE_TYPE1 = 0; // only functions attached by RID on that bus can claim it
const ROUTE_TYPE0 = 1; // type 0 on the segment: any devfn
const ROUTE_TYPE0_DEV0 = 2; // type 0 below a PCIe port without ARI forwarding: device 0 only

const allOnes = (size: 1 | 2 | 4): number => (size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff);

export interface FabricOptions {
  /** PCI domain (segment group) number; default 0. */
  readonly domain?: number;
  /** The function at 00:00.0; default a generic host bridge. */
  readonly hostBridge?: PciFunction;
}

export interface RootPortOptions extends BridgeOptions {
  /** devfn on bus 0; default the next free device number from 1 (function 0). */
  readonly devfn?: number;
}

export interface SwitchOptions {
  /** Options of the upstream port (its link to the parent port). */
  readonly upstream?: BridgeOptions;
  /** Per-port options (index = port number), over `downstream`. */
  readonly downstreamPorts?: readonly BridgeOptions[];
  /** Options of every downstream port. */
  readonly downstream?: BridgeOptions;
  /** Link between the parent port and the upstream port. */
  readonly link?: LinkSpec;
}

export interface SwitchPorts {
  readonly upstream: PciFunction;
  readonly downstream: readonly PciFunction[];
}

export interface PlugOptions {
  /** Device number on the port's secondary bus (0 below a PCIe port). */
  readonly slot?: number;
  /** Link speed/width to train (each end's LNKCAP limits it); default the best both ends support. */
  readonly link?: LinkSpec;
}

export class Fabric {
  readonly domain: number;
  readonly root: FabricBus;
  readonly hostBridge: PciFunction;
  /** Status of the last `cfgRead`/`cfgWrite`/`memRead32`-style fast call. */
  lastStatus: CplStatus = "SC";

  private clock = 0;
  private readonly nodes = new Map<PciFunction, FabricNode>();
  private readonly byRid: Array<FabricNode | undefined> = new Array<FabricNode | undefined>(65536).fill(undefined);
  // Bus route memo: for bus b, the segment a config request for b reaches, and whether b is its own number.
  private busGen = 1;
  private readonly routeStamp = new Float64Array(256);
  private readonly routeSeg: Array<FabricBus | undefined> = new Array<FabricBus | undefined>(256).fill(undefined);
  private readonly routeHow = new Uint8Array(256);
  // Address decode, rebuilt on demand.
  private memGen = 1;
  private memTable: DecodeTable | undefined;
  private memTableGen = 0;
  private ioTable: DecodeTable | undefined;
  private ioTableGen = 0;

  constructor(opts: FabricOptions = {}) {
    this.domain = opts.domain ?? 0;
    this.root = new FabricBus(undefined, undefined);
    this.hostBridge = opts.hostBridge ?? makeHostBridge();
    this.place(this.hostBridge, this.root, 0);
  }

  // ---------------------------------------------------------------- clock

  /** Simulated time (ns) that CRS decisions use. */
  nowNs(): number {
    return this.clock;
  }
  setNowNs(t: number): void {
    if (!(t >= this.clock)) throw new IovError("EINVAL", `time cannot go back (${t} < ${this.clock})`);
    this.clock = t;
  }
  advanceNs(dt: number): void {
    if (!(dt >= 0)) throw new IovError("EINVAL", `cannot advance time by ${dt}`);
    this.clock += dt;
  }

  // ---------------------------------------------------------------- building

  /** A root port on bus 0 (type 1 header, PCIe root port, optional ACS). */
  addRootPort(opts: RootPortOptions = {}): PciFunction {
    const devfn = opts.devfn ?? this.freeSlot(this.root, 1);
    const port = makeBridge("root-port", { portNumber: devfn >> 3, ...opts });
    this.place(port, this.root, devfn);
    return port;
  }

  /** Root-complex integrated endpoint(s) on bus 0 at `slot` (functions numbered by their devfn). */
  addRciep(device: PciFunction | readonly PciFunction[], slot?: number): void {
    const fns = Array.isArray(device) ? (device as readonly PciFunction[]) : [device as PciFunction];
    this.plugInto(this.root, fns, slot ?? this.freeSlot(this.root, 1) >> 3);
  }

  /** A switch below `parentPort`: an upstream port, its internal bus and `nDown` downstream ports (device 0..n−1). */
  addSwitch(parentPort: PciFunction, nDown: number, opts: SwitchOptions = {}): SwitchPorts {
    if (!Number.isInteger(nDown) || nDown < 1 || nDown > 32) throw new IovError("ERANGE", `a switch has 1..32 downstream ports, not ${nDown}`);
    const up = makeBridge("upstream-port", opts.upstream ?? {});
    this.plug(parentPort, up, opts.link === undefined ? {} : { link: opts.link });
    const upNode = this.node(up);
    const down: PciFunction[] = [];
    for (let i = 0; i < nDown; i++) {
      const d = makeBridge("downstream-port", { portNumber: i, ...opts.downstream, ...opts.downstreamPorts?.[i] });
      this.place(d, upNode.secondary!, i << 3);
      down.push(d);
    }
    return { upstream: up, downstream: down };
  }

  /**
   * Plug a device (its functions; `devfn` of each is its function number) into the slot below `port`.
   * Function 0 gets the Multi-Function bit when there is more than one function. Below a PCIe port
   * the link is trained: LNKSTA of both ends reports the negotiated speed and width.
   */
  plug(port: PciFunction, device: PciFunction | readonly PciFunction[], opts: PlugOptions = {}): void {
    const pn = this.node(port);
    if (pn.secondary === undefined) throw new IovError("EINVAL", `${port.bdfString} is not a bridge`);
    const fns = Array.isArray(device) ? (device as readonly PciFunction[]) : [device as PciFunction];
    const slot = opts.slot ?? 0;
    if (pn.secondary.isLink && slot !== 0) throw new IovError("EINVAL", `${port.bdfString}: a PCIe link has one device (slot 0), not slot ${slot}`);
    this.plugInto(pn.secondary, fns, slot);
    if (pn.secondary.isLink) {
      const nodes = fns.map((f) => this.node(f));
      const link = applyLink(pn, nodes, opts.link);
      for (const n of nodes) n.link = link;
    }
  }

  /** Remove the device(s) below `port` (all functions on its secondary bus, with everything below them). */
  unplug(port: PciFunction): void {
    const pn = this.node(port);
    if (pn.secondary === undefined) throw new IovError("EINVAL", `${port.bdfString} is not a bridge`);
    for (const n of pn.secondary.functions()) this.removeFunction(n.fn);
    linkDown(pn);
  }

  private plugInto(bus: FabricBus, fns: readonly PciFunction[], slot: number): void {
    if (fns.length === 0) throw new IovError("EINVAL", "a device needs at least function 0");
    if (!Number.isInteger(slot) || slot < 0 || slot > 31) throw new IovError("ERANGE", `device number ${slot} outside 0..31`);
    const numbers = new Set<number>();
    for (const f of fns) {
      if (this.nodes.has(f)) throw new IovError("EEXIST", `${f.bdfString} (${f.label}) is already in the fabric`);
      if (!Number.isInteger(f.devfn) || f.devfn < 0 || f.devfn > 255) throw new IovError("ERANGE", `function number ${f.devfn} outside 0..255`);
      if (f.devfn > 7 && slot !== 0) throw new IovError("EINVAL", `function ${f.devfn} needs ARI (slot 0), not slot ${slot}`);
      if (numbers.has(f.devfn)) throw new IovError("EEXIST", `function ${f.devfn} given twice`);
      numbers.add(f.devfn);
    }
    const f0 = fns.find((f) => f.devfn === 0);
    if (f0 === undefined) throw new IovError("EINVAL", "a device must have function 0");
    for (const f of fns) {
      const devfn = f.devfn > 7 ? f.devfn : (slot << 3) | f.devfn;
      if (bus.slots[devfn] !== undefined) throw new IovError("EEXIST", `${this.bdfOf(bus.number, devfn)} is already occupied`);
    }
    if (fns.length > 1) f0.cfg.setHw(PCI_HEADER_TYPE, 1, f0.cfg.readRaw(PCI_HEADER_TYPE, 1) | PCI_HEADER_TYPE_MFD);
    for (const f of fns) this.place(f, bus, f.devfn > 7 ? f.devfn : (slot << 3) | f.devfn);
  }

  private freeSlot(bus: FabricBus, from: number): number {
    for (let d = from; d < 32; d++) {
      let free = true;
      for (let f = 0; f < 8; f++) if (bus.slots[(d << 3) | f] !== undefined) free = false;
      if (free) return d << 3;
    }
    throw new IovError("ENOSPC", `no free device number on bus ${bus.number.toString(16).padStart(2, "0")}`);
  }

  private place(fn: PciFunction, bus: FabricBus, devfn: number): FabricNode {
    if (this.nodes.has(fn)) throw new IovError("EEXIST", `${fn.bdfString} (${fn.label}) is already in the fabric`);
    if (fn.cfg.observer !== undefined) throw new IovError("EBUSY", `${fn.bdfString} (${fn.label}) belongs to another fabric`);
    if (bus.slots[devfn] !== undefined) throw new IovError("EEXIST", `${this.bdfOf(bus.number, devfn)} is already occupied`);
    fn.devfn = devfn;
    fn.bus = bus.number;
    fn.domain = this.domain;
    const node = new FabricNode(fn, bus, false);
    bus.slots[devfn] = node;
    if (node.secondary !== undefined) {
      bus.bridges.push(node);
      bus.bridges.sort((a, b) => a.fn.devfn - b.fn.devfn);
    }
    this.track(node);
    return node;
  }

  private track(node: FabricNode): void {
    this.nodes.set(node.fn, node);
    node.fn.cfg.observer = (off, size) => this.observe(node, off, size);
    // Only bridges steer configuration requests; any function may decode memory.
    if (node.secondary !== undefined) this.busGen++;
    this.memGen++;
    // A port with nothing plugged in has no link (until `plug` trains it).
    if (node.secondary?.isLink === true) linkDown(node);
  }

  // ---------------------------------------------------------------- runtime add/remove

  /**
   * Add a function at run time at (bus, devfn). A VF (`physfn` set) is attached by routing ID to its PF's
   * segment and keeps that RID; any other function goes into the slot of the segment whose number is `bus`.
   * Throws ENODEV when no segment answers for `bus`, EEXIST when the RID is taken.
   */
  addFunction(fn: PciFunction, bus: number, devfn: number): void {
    if (!Number.isInteger(bus) || bus < 0 || bus > 255 || !Number.isInteger(devfn) || devfn < 0 || devfn > 255)
      throw new IovError("ERANGE", `bus ${bus} devfn ${devfn} is not a routing ID`);
    if (fn.physfn !== undefined) {
      const pf = this.node(fn.physfn);
      const r = (bus << 8) | devfn;
      if (this.byRid[r] !== undefined) throw new IovError("EEXIST", `${this.bdfOf(bus, devfn)} is already taken by a VF`);
      if (this.nodes.has(fn)) throw new IovError("EEXIST", `${fn.bdfString} is already in the fabric`);
      if (fn.cfg.observer !== undefined) throw new IovError("EBUSY", `${fn.bdfString} belongs to another fabric`);
      fn.bus = bus;
      fn.devfn = devfn;
      fn.domain = this.domain;
      const node = new FabricNode(fn, pf.bus, true);
      this.byRid[r] = node;
      pf.bus.pinned.add(node);
      if (fn.vfIndex >= 0) pf.vfs[fn.vfIndex] = fn;
      this.track(node);
      return;
    }
    const seg = this.routeBus(bus);
    if (seg === undefined || this.routeHow[bus] === ROUTE_TYPE1) throw new IovError("ENODEV", `no bus ${this.bdfOf(bus, 0).slice(0, 7)} is reachable`);
    this.place(fn, seg, devfn);
  }

  /** Remove a function (a bridge takes everything below it; a PF takes its VFs). */
  removeFunction(fn: PciFunction): void {
    const node = this.node(fn);
    if (fn === this.hostBridge) throw new IovError("EPERM", "the host bridge cannot be removed");
    if (node.secondary !== undefined) {
      for (const n of node.secondary.functions()) this.removeFunction(n.fn);
      for (const n of node.secondary.attached()) if (this.nodes.has(n.fn)) this.removeFunction(n.fn);
    }
    for (const vf of node.vfs) if (vf !== undefined && this.nodes.has(vf)) this.removeFunction(vf);
    node.vfs.length = 0;
    const bus = node.bus;
    if (node.pinned) {
      this.byRid[fn.rid] = undefined;
      bus.pinned.delete(node);
      const pf = fn.physfn === undefined ? undefined : this.nodes.get(fn.physfn);
      if (pf !== undefined && fn.vfIndex >= 0 && pf.vfs[fn.vfIndex] === fn) pf.vfs[fn.vfIndex] = undefined;
    } else {
      bus.slots[fn.devfn] = undefined;
      const bi = bus.bridges.indexOf(node);
      if (bi >= 0) bus.bridges.splice(bi, 1);
      if (bus.isLink && bus.bridge !== undefined && bus.functions().length === 0) linkDown(bus.bridge);
    }
    fn.cfg.observer = undefined;
    this.nodes.delete(fn);
    this.busGen++;
    this.memGen++;
  }

  /** VfHost: attach a VF at its RID. False when the RID is beyond bus 255, taken, or not routed to its PF now. */
  attachVf(vf: PciFunction): boolean {
    if (vf.physfn === undefined || vf.bus > 255 || vf.bus < 0) return false;
    const r = (vf.bus << 8) | (vf.devfn & 0xff);
    if (this.byRid[r] !== undefined || !this.nodes.has(vf.physfn)) return false;
    this.addFunction(vf, vf.bus, vf.devfn & 0xff);
    return this.functionAt(vf.bus, vf.devfn) === vf;
  }

  /** VfHost: detach a VF (no-op when it was never attached). */
  detachVf(vf: PciFunction): void {
    if (this.nodes.has(vf)) this.removeFunction(vf);
  }

  // ---------------------------------------------------------------- lookup

  has(fn: PciFunction): boolean {
    return this.nodes.has(fn);
  }
  node(fn: PciFunction): FabricNode {
    const n = this.nodes.get(fn);
    if (n === undefined) throw new IovError("ENODEV", `${fn.bdfString} (${fn.label || fn.kind}) is not in this fabric`);
    return n;
  }
  get functionCount(): number {
    return this.nodes.size;
  }
  /** The bridge above `fn` (undefined on the root bus). */
  parentBridge(fn: PciFunction): PciFunction | undefined {
    return this.node(fn).bus.bridge?.fn;
  }
  /** Functions on the secondary bus of `bridge` (slot functions, then VFs). */
  childrenOf(bridge: PciFunction): PciFunction[] {
    const sec = this.node(bridge).secondary;
    if (sec === undefined) return [];
    return [...sec.functions(), ...sec.attached()].map((n) => n.fn);
  }
  /** Every function, depth first: each bus in devfn order, a bridge's subtree right after it, VFs after their bus. */
  functions(): PciFunction[] {
    const out: PciFunction[] = [];
    const visit = (bus: FabricBus): void => {
      for (const n of bus.slots) {
        if (n === undefined) continue;
        out.push(n.fn);
        if (n.secondary !== undefined) visit(n.secondary);
      }
      for (const n of bus.attached()) out.push(n.fn);
    };
    visit(this.root);
    return out;
  }
  /** The function a configuration request for (bus, devfn) reaches now, ignoring readiness. */
  functionAt(bus: number, devfn: number): PciFunction | undefined {
    const n = this.claim(bus, devfn);
    return n?.fn;
  }
  private bdfOf(bus: number, devfn: number): string {
    return formatBdf({ domain: this.domain, bus, dev: devfn >> 3, fn: devfn & 7 });
  }

  // ---------------------------------------------------------------- change tracking

  private observe(node: FabricNode, off: number, size: number): void {
    if (off < 0) {
      this.busGen++;
      this.memGen++;
      this.renumber(node);
      return;
    }
    const end = off + size;
    if (off < HEADER_END) {
      if (node.secondary !== undefined && off < BUS_REGS_END && end > BUS_REGS_START) {
        this.busGen++;
        this.renumber(node);
      }
      if ((off < COMMAND_END && end > COMMAND_START) || (off < BARS_TO_ROM_END && end > BARS_TO_ROM_START)) this.memGen++;
    } else if (off < node.ariCtlOff + 2 && end > node.ariCtlOff) {
      if (node.secondary !== undefined) this.busGen++; // ARI Forwarding Enable steers type 0 requests
    } else if (node.sriovCap !== 0 && off < node.sriovCap + SRIOV_CAP_SIZE && end > node.sriovCap) this.memGen++;
  }

  /** Slot functions below a renumbered bridge take the new bus number. */
  private renumber(node: FabricNode): void {
    const sec = node.secondary;
    if (sec === undefined) return;
    const n = sec.number;
    for (const c of sec.slots) if (c !== undefined) c.fn.bus = n;
  }

  /** Generation of the memory/I-O decode: changes whenever a cached MmioTarget may have become stale. */
  get decodeGeneration(): number {
    return this.memGen;
  }

  // ---------------------------------------------------------------- configuration routing

  /**
   * The segment a configuration request for `bus` reaches: a bridge forwards it when
   * secondary ≤ bus ≤ subordinate; at the segment whose number it is, it becomes type 0.
   * A type 1 request that no bridge forwards stays on the segment, where only a function
   * attached by RID on that bus (a VF past the PF's bus) can claim it.
   */
  private routeBus(bus: number): FabricBus | undefined {
    if (this.routeStamp[bus] === this.busGen) return this.routeSeg[bus];
    let seg: FabricBus = this.root;
    let how = ROUTE_TYPE1;
    for (;;) {
      if (seg.number === bus) {
        how = seg.isLink && !this.ariForwarding(seg.bridge!) ? ROUTE_TYPE0_DEV0 : ROUTE_TYPE0;
        break;
      }
      let next: FabricBus | undefined;
      for (const b of seg.bridges) {
        const cs = b.fn.cfg;
        const sec = cs.readRaw(PCI_SECONDARY_BUS, 1);
        if (sec <= bus && bus <= cs.readRaw(PCI_SUBORDINATE_BUS, 1) && sec !== 0) {
          next = b.secondary;
          break;
        }
      }
      if (next === undefined) break;
      seg = next;
    }
    this.routeSeg[bus] = seg;
    this.routeHow[bus] = how;
    this.routeStamp[bus] = this.busGen;
    return seg;
  }

  private ariForwarding(port: FabricNode): boolean {
    return port.ariCtlOff >= 0 && (port.fn.cfg.readRaw(port.ariCtlOff, 2) & PCI_EXP_DEVCTL2_ARI) !== 0;
  }

  /** The node a config request for (bus, devfn) reaches, or undefined (UR). */
  private claim(bus: number, devfn: number): FabricNode | undefined {
    if ((bus & 0xff) !== bus || (devfn & 0xff) !== devfn)
      throw new IovError("EINVAL", `bus ${bus} devfn ${devfn} is not a routing ID`);
    const seg = this.routeBus(bus);
    if (seg === undefined) return undefined;
    const how = this.routeHow[bus];
    if (how !== ROUTE_TYPE1) {
      // PCIe Base §7.3.1: below a root/downstream port, type 0 requests to device ≠ 0 are UR (ARI lifts it).
      if (devfn > 7 && how === ROUTE_TYPE0_DEV0) return undefined;
      const n = seg.slots[devfn];
      if (n !== undefined) return n;
    }
    const p = this.byRid[(bus << 8) | devfn];
    return p !== undefined && p.bus === seg ? p : undefined;
  }

  /** Configuration read (zero-allocation form): the value; `lastStatus` holds SC, UR or CRS. */
  cfgRead(bus: number, devfn: number, off: number, size: 1 | 2 | 4): number {
    const n = this.claim(bus, devfn);
    if (n === undefined) {
      this.lastStatus = "UR";
      return allOnes(size);
    }
    if (n.fn.readyAtNs > this.clock) {
      this.lastStatus = "CRS";
      // With CRS Software Visibility a Vendor ID read completes as 0x0001 (PCIe Base §2.3.2).
      if (off === 0 && size !== 1) return size === 2 ? 0x0001 : 0xffff0001;
      return allOnes(size);
    }
    this.lastStatus = "SC";
    return n.fn.cfg.read(off, size);
  }

  /** Configuration write (zero-allocation form): returns SC, UR or CRS (the write is dropped unless SC). */
  cfgWrite(bus: number, devfn: number, off: number, size: 1 | 2 | 4, value: number): CplStatus {
    const n = this.claim(bus, devfn);
    let st: CplStatus;
    if (n === undefined) st = "UR";
    else if (n.fn.readyAtNs > this.clock) st = "CRS";
    else {
      n.fn.cfg.write(off, size, value);
      st = "SC";
    }
    this.lastStatus = st;
    return st;
  }

  /** Configuration read by ID: `{status, value}`; a missing function is UR and reads all-ones. */
  configRead(bus: number, devfn: number, off: number, size: 1 | 2 | 4): Completion {
    const value = this.cfgRead(bus, devfn, off, size);
    return { status: this.lastStatus, value };
  }

  configWrite(bus: number, devfn: number, off: number, size: 1 | 2 | 4, value: number): { status: CplStatus } {
    return { status: this.cfgWrite(bus, devfn, off, size, value) };
  }

  // ---------------------------------------------------------------- memory / I-O routing

  private table(space: AddrSpace): DecodeTable {
    if (space === "mem") {
      if (this.memTable === undefined || this.memTableGen !== this.memGen) {
        this.memTable = buildDecodeTable(this.root, "mem");
        this.memTableGen = this.memGen;
      }
      return this.memTable;
    }
    if (this.ioTable === undefined || this.ioTableGen !== this.memGen) {
      this.ioTable = buildDecodeTable(this.root, "io");
      this.ioTableGen = this.memGen;
    }
    return this.ioTable;
  }

  /**
   * The BAR a memory address reaches, as a shared target (`offset = addr - target.base`), or undefined
   * (UR). Allocation-free; a caller may keep the target while `decodeGeneration` is unchanged.
   */
  resolveMmio(addr: number): MmioTarget | undefined {
    return this.table("mem").lookup(addr);
  }
  resolveIo(port: number): MmioTarget | undefined {
    return this.table("io").lookup(port);
  }
  /** Every decoded range (for tests and diagnostics). */
  decodeMap(space: AddrSpace = "mem"): readonly MmioTarget[] {
    return this.table(space).all();
  }

  /** Memory read (zero-allocation form); `lastStatus` holds SC or UR. A function without a device model reads 0. */
  memRead32(addr: number, size: 1 | 2 | 4 = 4): number {
    const t = this.table("mem").lookup(addr);
    if (t === undefined) {
      this.lastStatus = "UR";
      return allOnes(size);
    }
    this.lastStatus = "SC";
    const h = t.fn.mmio;
    return h === undefined ? 0 : h.mmioRead(t.bar, addr - t.base, size);
  }

  memRead(addr: number, size: 1 | 2 | 4 = 4): Completion {
    const value = this.memRead32(addr, size);
    return { status: this.lastStatus, value };
  }

  /** Memory write (posted; the status says whether anything claimed it). */
  memWrite(addr: number, size: 1 | 2 | 4, value: number): CplStatus {
    const t = this.table("mem").lookup(addr);
    if (t === undefined) return (this.lastStatus = "UR");
    t.fn.mmio?.mmioWrite(t.bar, addr - t.base, size, value);
    return (this.lastStatus = "SC");
  }

  ioRead(port: number, size: 1 | 2 | 4 = 4): Completion {
    const t = this.table("io").lookup(port);
    if (t === undefined) return { status: "UR", value: allOnes(size) };
    const h = t.fn.mmio;
    return { status: "SC", value: h === undefined ? 0 : h.mmioRead(t.bar, port - t.base, size) };
  }

  ioWrite(port: number, size: 1 | 2 | 4, value: number): CplStatus {
    const t = this.table("io").lookup(port);
    if (t === undefined) return "UR";
    t.fn.mmio?.mmioWrite(t.bar, port - t.base, size, value);
    return "SC";
  }
}
