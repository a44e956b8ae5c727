/**
 * The fabric as a tree, the way lspci sees it: from the registers only. Each bridge owns the bus
 * numbers in [secondary, subordinate] not owned by a narrower bridge; every function sits on the bus
 * its number says, under the narrowest bridge whose range holds that number (so VFs on extra bus
 * numbers appear as further buses of their PF's bridge). Rendered as `lspci -t` text or as JSON.
 *
 * `lspci -t` format (pciutils ls-tree.c): a bus with one device is joined by "--", with several by
 * "+-" and, for the last, "\-"; a device is "dd.f", a bridge adds "-[ss]-" or "-[ss-uu]-" and then
 * its buses; buses of the host bridge, or several buses under one bridge, are labelled "[dddd:bb]".
 * Continuation lines keep "|" under every "+" and "|" of the line above.
 */
import type { Fabric } from "./fabric.js";
import type { FunctionKind, PciFunction } from "./function.js";
import { hwBars } from "./route.js";
import type { HwBar } from "./route.js";
import { currentLink } from "./link.js";
import type { LinkSpec } from "./link.js";
import {
  PCI_BASE_ADDRESS_0,
  PCI_CLASS_REVISION,
  PCI_DEVICE_ID,
  PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_BRIDGE,
  PCI_HEADER_TYPE_MASK,
  PCI_HEADER_TYPE_MFD,
  PCI_SECONDARY_BUS,
  PCI_SUBORDINATE_BUS,
  PCI_VENDOR_ID,
} from "./header.js";
import { PCI_SRIOV_CTRL, PCI_SRIOV_CTRL_VFE, PCI_SRIOV_NUM_VF, PCI_SRIOV_TOTAL_VF } from "./caps/sriov.js";

interface TBridge {
  readonly fn: PciFunction | undefined; // undefined: the host bridge
  readonly secondary: number;
  readonly subordinate: number;
  readonly buses: Map<number, PciFunction[]>;
  readonly children: TBridge[];
}

const hex2 = (n: number): string => n.toString(16).padStart(2, "0");
const hex4 = (n: number): string => n.toString(16).padStart(4, "0");

function isBridge(fn: PciFunction): boolean {
  return (fn.cfg.readRaw(PCI_HEADER_TYPE, 1) & PCI_HEADER_TYPE_MASK) === PCI_HEADER_TYPE_BRIDGE;
}

/** The bridge tree built from bus-number registers, as lspci's grow_tree does. */
function buildTree(fabric: Fabric): TBridge {
  const host: TBridge = { fn: undefined, secondary: 0, subordinate: 0xff, buses: new Map(), children: [] };
  // What a scan sees: functions that answer configuration requests at their own address.
  const fns = fabric.functions().filter((fn) => fabric.functionAt(fn.bus, fn.devfn) === fn);
  const bridges: TBridge[] = [host];
  for (const fn of fns) {
    if (!isBridge(fn)) continue;
    const sec = fn.cfg.readRaw(PCI_SECONDARY_BUS, 1);
    const sub = fn.cfg.readRaw(PCI_SUBORDINATE_BUS, 1);
    // A bridge whose secondary bus is 0 is unconfigured: it owns no bus.
    bridges.push({ fn, secondary: sec, subordinate: sub, buses: sec === 0 ? new Map() : new Map([[sec, []]]), children: [] });
  }
  const narrowest = (bus: number, not: TBridge | undefined): TBridge => {
    let best = host;
    for (const b of bridges) {
      if (b === not || b.fn === undefined || b.secondary === 0 || bus < b.secondary || bus > b.subordinate) continue;
      if (b.subordinate - b.secondary < best.subordinate - best.secondary) best = b;
    }
    return best;
  };
  for (const b of bridges) if (b.fn !== undefined) narrowest(b.fn.bus, b).children.push(b);
  for (const fn of fns) {
    const owner = narrowest(fn.bus, undefined);
    const list = owner.buses.get(fn.bus) ?? [];
    list.push(fn);
    owner.buses.set(fn.bus, list);
  }
  for (const b of bridges) for (const list of b.buses.values()) list.sort((x, y) => x.devfn - y.devfn);
  return host;
}

/** The bridge tree of the fabric and an index from each bridge's function to its node. */
function indexedTree(fabric: Fabric): { host: TBridge; byFn: Map<PciFunction, TBridge> } {
  const host = buildTree(fabric);
  const byFn = new Map<PciFunction, TBridge>();
  const index = (b: TBridge): void => {
    if (b.fn !== undefined) byFn.set(b.fn, b);
    for (const c of b.children) index(c);
  };
  index(host);
  return { host, byFn };
}

/** `lspci -t` text of the fabric (one line per leaf, "\n"-terminated). */
export function renderTree(fabric: Fabric): string {
  const { host, byFn } = indexedTree(fabric);
  const dom = hex4(fabric.domain);
  const out: string[] = [];
  const buf: string[] = [];
  const put = (p: number, s: string): number => {
    for (let i = 0; i < s.length; i++) buf[p + i] = s[i]!;
    return p + s.length;
  };
  const flush = (p: number): void => {
    out.push(buf.slice(0, p).join(""));
    for (let i = 0; i < p; i++) buf[i] = buf[i] === "+" || buf[i] === "|" ? "|" : " ";
  };
  const busOut = (devs: readonly PciFunction[], p: number): void => {
    if (devs.length === 0) return flush(p);
    if (devs.length === 1) return devOut(devs[0]!, put(p, "--"));
    devs.forEach((d, i) => devOut(d, put(p, i === devs.length - 1 ? "\\-" : "+-")));
  };
  const devOut = (fn: PciFunction, p0: number): void => {
    let p = put(p0, `${hex2(fn.devfn >> 3)}.${(fn.devfn & 7).toString(16)}`);
    const br = byFn.get(fn);
    if (br === undefined) return flush(p);
    p = put(p, br.secondary === br.subordinate ? `-[${hex2(br.secondary)}]-` : `-[${hex2(br.secondary)}-${hex2(br.subordinate)}]-`);
    bridgeOut(br, p);
  };
  const bridgeOut = (br: TBridge, p0: number): void => {
    const p = put(p0, "-");
    const buses = [...br.buses.entries()].sort((a, b) => a[0] - b[0]);
    if (buses.length === 0) return flush(p);
    if (buses.length === 1) {
      const [num, devs] = buses[0]!;
      busOut(devs, br.fn === undefined ? put(p, `[${dom}:${hex2(num)}]-`) : p);
      return;
    }
    buses.forEach(([num, devs], i) => busOut(devs, put(p, `${i === buses.length - 1 ? "\\-" : "+-"}[${dom}:${hex2(num)}]-`)));
  };
  bridgeOut(host, 0);
  return out.map((l) => `${l}\n`).join("");
}

export interface TopologyBar {
  readonly index: number;
  readonly kind: HwBar["kind"];
  readonly prefetchable: boolean;
  readonly base: number;
  readonly size: number;
}

export interface TopologyFunction {
  readonly bdf: string;
  readonly kind: FunctionKind;
  readonly label: string;
  readonly vendorId: number;
  readonly deviceId: number;
  readonly classCode: number;
  readonly multifunction: boolean;
  readonly bars: readonly TopologyBar[];
  readonly link?: LinkSpec;
  readonly physfn?: string;
  readonly vfIndex?: number;
  readonly sriov?: { readonly totalVfs: number; readonly numVfs: number; readonly vfEnable: boolean };
  readonly secondary?: number;
  readonly subordinate?: number;
  /** Bridges: the buses below, each with its functions. */
  readonly buses?: readonly TopologyBus[];
}

export interface TopologyBus {
  readonly bus: number;
  readonly functions: readonly TopologyFunction[];
}

export interface TopologyJson {
  readonly domain: number;
  readonly buses: readonly TopologyBus[];
}

/** Plain JSON of the hierarchy (the same tree as `renderTree`). */
export function topologyJson(fabric: Fabric): TopologyJson {
  const { host, byFn } = indexedTree(fabric);
  const fnJson = (fn: PciFunction): TopologyFunction => {
    const cs = fn.cfg;
    const br = byFn.get(fn);
    const node = fabric.node(fn);
    const link = node.link === undefined ? undefined : currentLink(node);
    const bars = hwBars(fn, PCI_BASE_ADDRESS_0, br === undefined ? 6 : 2).map((b) => ({ index: b.index, kind: b.kind, prefetchable: b.prefetchable, base: b.base, size: b.size }));
    const sc = node.sriovCap;
    return {
      bdf: fn.bdfString,
      kind: fn.kind,
      label: fn.label,
      vendorId: cs.readRaw(PCI_VENDOR_ID, 2),
      deviceId: cs.readRaw(PCI_DEVICE_ID, 2),
      classCode: cs.readRaw(PCI_CLASS_REVISION, 4) >>> 8,
      multifunction: (cs.readRaw(PCI_HEADER_TYPE, 1) & PCI_HEADER_TYPE_MFD) !== 0,
      bars,
      ...(link === undefined ? {} : { link }),
      ...(fn.physfn === undefined ? {} : { physfn: fn.physfn.bdfString, vfIndex: fn.vfIndex }),
      ...(sc === 0
        ? {}
        : {
            sriov: {
              totalVfs: cs.readRaw(sc + PCI_SRIOV_TOTAL_VF, 2),
              numVfs: cs.readRaw(sc + PCI_SRIOV_NUM_VF, 2),
              vfEnable: (cs.readRaw(sc + PCI_SRIOV_CTRL, 2) & PCI_SRIOV_CTRL_VFE) !== 0,
            },
          }),
      ...(br === undefined ? {} : { secondary: br.secondary, subordinate: br.subordinate, buses: busesJson(br) }),
    };
  };
  const busesJson = (br: TBridge): TopologyBus[] =>
    [...br.buses.entries()].sort((a, b) => a[0] - b[0]).map(([bus, fns]) => ({ bus, functions: fns.map(fnJson) }));
  return { domain: fabric.domain, buses: busesJson(host) };
}
