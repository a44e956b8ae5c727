/**
 * The host file's grammar: which keys each mapping has, what each value must be, and the defaults.
 * Reads a YAML document through a Reader into a HostFile; every problem is reported on the Reader
 * and a fallback stands in for the bad value, so one pass finds them all.
 * docs/host-file.md documents every key defined here; keep the two in step.
 */
import { dirname, isAbsolute, join, basename, extname } from "node:path";
import { isMulticastMac, parseMac, type LinkState, type VfPortConfig, type VlanProto } from "../nic/port-config.js";
import { Reader, type Fields, type Val } from "./schema.js";
import {
  canonicalBdf,
  formatVfSet,
  MAX_VF_INDEX,
  parseHexId,
  parsePfSelector,
  parseVfRef,
  parseVfSet,
} from "./values.js";
import {
  IOMMU_ADDRESS_WIDTHS,
  IOMMU_INVALIDATION_MODES,
  IOMMU_PAGE_SIZES,
  LINK_SPEEDS,
  LINK_WIDTHS,
  type DeviceSpec,
  type DownstreamPortConfig,
  type FabricConfig,
  type GuestConfig,
  type HostConfig,
  type HostFile,
  type IntegratedConfig,
  type IommuConfig,
  type LinkConfig,
  type NicRequest,
  type PfConfig,
  type PoolConfig,
  type PoolMatch,
  type PoolPfSelector,
  type RootPortConfig,
  type SwitchConfig,
  type VfSet,
  type VfSettings,
  type VfSettingsKey,
} from "./types.js";

/** Guest RAM is mapped into each VF's IOMMU domain page by page. */
export const GUEST_PAGE_BYTES = 4096;
/** Device numbers 1..31 on bus 0; device 0 is the host bridge. */
export const MIN_SLOT = 1;
export const MAX_SLOT = 31;
/** A switch's internal bus holds at most 32 downstream ports (device numbers 0..31). */
export const MAX_SWITCH_PORTS = 32;
export const MAX_HOST_CPUS = 4096;
export const MAX_GUEST_VCPUS = 1024;
export const MAX_IOTLB_ENTRIES = 65536;
/** 802.1Q VIDs are 12 bits; the kernel takes 0..4095 (VLAN_N_VID) and 0 means "no port VLAN". */
export const MAX_VLAN = 4095;
export const MAX_QOS = 7;
/** Mbit/s; 1 Tbit/s is far above any VF. */
export const MAX_TX_RATE = 1_000_000;

export const DEFAULT_LINK = { speed: "16GT/s", width: 16 } as const;
export const DEFAULT_IOMMU = {
  enabled: true,
  pageSize: "auto",
  invalidation: "strict",
  postedInterrupts: true,
  addressWidth: 48,
  iotlbEntries: 512,
} as const;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const NAME = "a name of letters, digits, '.', '_' or '-' (up to 64)";
const SIZE = "a size like 2GiB";
const BDF = "a PCI address like 0000:01:00.0";
const VF_SET = "VF indices like 3, 1-3 or 0,2-5";
const VLAN_PROTOS: readonly VlanProto[] = ["802.1Q", "802.1ad"];
const LINK_STATES: readonly LinkState[] = ["auto", "enable", "disable"];

export interface GrammarOptions {
  /** NIC template names accepted in `device.template`. */
  readonly templates: readonly string[];
}

export function readHostFile(r: Reader, fileName: string, opts: GrammarOptions): HostFile {
  const g = new Grammar(r, fileName, opts);
  return g.hostFile();
}

class Grammar {
  constructor(
    private readonly r: Reader,
    private readonly fileName: string,
    private readonly opts: GrammarOptions,
  ) {}

  hostFile(): HostFile {
    const root = this.r.root();
    if (root === undefined) {
      this.r.report(this.r.posAt(0), "", "expected a mapping with at least a host key, found an empty file");
      return this.emptyHostFile();
    }
    const f = this.r.mapping(root, "a mapping of host, iommu, fabric, pfs, pools, guests", TOP_KEYS);
    if (f === undefined) return this.emptyHostFile();
    const host = f.req("host", "a mapping with memory and cpus");
    const empty = this.emptyHostFile();
    return {
      file: this.fileName,
      host: host === undefined ? empty.host : this.host(host),
      iommu: this.optSection(f, "iommu", (v) => this.iommu(v), empty.iommu),
      fabric: this.optSection(f, "fabric", (v) => this.fabric(v), empty.fabric),
      pfs: this.optSection(f, "pfs", (v) => this.r.list(v, "a list of PFs", (i) => this.pf(i)), empty.pfs),
      pools: this.optSection(f, "pools", (v) => this.r.list(v, "a list of pools", (i) => this.pool(i)), empty.pools),
      guests: this.optSection(f, "guests", (v) => this.r.list(v, "a list of guests", (i) => this.guest(i)), empty.guests),
    };
  }

  private optSection<K extends string, T>(f: Fields<K>, key: K, read: (v: Val) => T, dflt: T): T {
    const v = f.opt(key);
    return v === undefined ? dflt : read(v);
  }

  private emptyHostFile(): HostFile {
    const at = this.r.posAt(0);
    return {
      file: this.fileName,
      host: this.fallbackHost(),
      iommu: this.iommuDefaults(),
      fabric: { rootPorts: [], integrated: [], src: { at, fields: {} } },
      pfs: [],
      pools: [],
      guests: [],
    };
  }

  private defaultHostName(): string {
    const base = basename(this.fileName, extname(this.fileName));
    return NAME_RE.test(base) ? base : "host";
  }

  private fallbackHost(): HostConfig {
    return { name: this.defaultHostName(), memoryBytes: 0, cpus: 1, src: { at: this.r.posAt(0), fields: {} } };
  }

  // ---- host and iommu --------------------------------------------------------------------------

  private host(v: Val): HostConfig {
    const f = this.r.mapping(v, "a mapping with memory and cpus", HOST_KEYS);
    if (f === undefined) return this.fallbackHost();
    return {
      name: f.optWith("name", (x) => this.r.str(x, NAME, NAME_RE), this.defaultHostName()),
      memoryBytes: f.reqWith("memory", SIZE, (x) => this.memory(x), 0),
      cpus: f.reqWith("cpus", `an integer from 1 to ${MAX_HOST_CPUS}`, (x) => this.r.int(x, 1, MAX_HOST_CPUS), 1),
      src: f.src(),
    };
  }

  /** A non-zero size in whole 4 KiB pages. */
  private memory(v: Val): number | undefined {
    const n = this.r.size(v, SIZE);
    if (n === undefined) return undefined;
    if (n === 0 || n % GUEST_PAGE_BYTES !== 0) {
      this.r.expected(v, "a non-zero multiple of 4KiB");
      return undefined;
    }
    return n;
  }

  private iommuDefaults(): IommuConfig {
    return { ...DEFAULT_IOMMU, src: { at: this.r.posAt(0), fields: {} } };
  }

  private iommu(v: Val): IommuConfig {
    const f = this.r.mapping(v, "a mapping of IOMMU settings", IOMMU_KEYS);
    if (f === undefined) return this.iommuDefaults();
    const d = DEFAULT_IOMMU;
    return {
      enabled: f.optWith("enabled", (x) => this.r.bool(x), d.enabled),
      pageSize: f.optWith("pageSize", (x) => this.r.oneOf(x, IOMMU_PAGE_SIZES), d.pageSize),
      invalidation: f.optWith("invalidation", (x) => this.r.oneOf(x, IOMMU_INVALIDATION_MODES), d.invalidation),
      postedInterrupts: f.optWith("postedInterrupts", (x) => this.r.bool(x), d.postedInterrupts),
      addressWidth: f.optWith("addressWidth", (x) => this.r.oneOf(x, IOMMU_ADDRESS_WIDTHS), d.addressWidth),
      iotlbEntries: f.optWith("iotlbEntries", (x) => this.r.int(x, 1, MAX_IOTLB_ENTRIES), d.iotlbEntries),
      src: f.src(),
    };
  }

  // ---- fabric ----------------------------------------------------------------------------------

  private fabric(v: Val): FabricConfig {
    const f = this.r.mapping(v, "a mapping with rootPorts and integrated", FABRIC_KEYS);
    if (f === undefined) return { rootPorts: [], integrated: [], src: { at: v.at, fields: {} } };
    return {
      rootPorts: f.optWith("rootPorts", (x) => this.r.list(x, "a list of root ports", (i) => this.rootPort(i)), []),
      integrated: f.optWith("integrated", (x) => this.r.list(x, "a list of integrated endpoints", (i) => this.integrated(i)), []),
      src: f.src(),
    };
  }

  private slot<K extends string>(f: Fields<K | "slot">): number {
    return f.reqWith("slot", `a device number from ${MIN_SLOT} to ${MAX_SLOT}`, (x) => this.r.int(x, MIN_SLOT, MAX_SLOT), 0);
  }

  private link<K extends string>(f: Fields<K | "link">): LinkConfig {
    const dflt: LinkConfig = { ...DEFAULT_LINK, src: { at: f.at, fields: {} } };
    const v = f.opt("link");
    if (v === undefined) return dflt;
    const lf = this.r.mapping(v, "a mapping with speed and width", LINK_KEYS);
    if (lf === undefined) return dflt;
    return {
      speed: lf.optWith("speed", (x) => this.r.oneOf(x, LINK_SPEEDS), DEFAULT_LINK.speed),
      width: lf.optWith("width", (x) => this.r.oneOf(x, LINK_WIDTHS), DEFAULT_LINK.width),
      src: lf.src(),
    };
  }

  private rootPort(v: Val): RootPortConfig | undefined {
    const f = this.r.mapping(v, "a root port mapping with slot", ROOT_PORT_KEYS);
    if (f === undefined) return undefined;
    const slot = this.slot(f);
    const acs = f.optWith("acs", (x) => this.r.bool(x), true);
    const link = this.link(f);
    const device = f.opt("device");
    const sw = f.opt("switch");
    if (device !== undefined && sw !== undefined) {
      this.r.report(sw.at, sw.path, `expected either device or switch below a root port, found both (device at line ${device.at.line})`);
    }
    return {
      slot,
      acs,
      link,
      device: device === undefined ? undefined : this.device(device),
      switch: sw === undefined ? undefined : this.switch(sw),
      src: f.src(),
    };
  }

  private switch(v: Val): SwitchConfig | undefined {
    const f = this.r.mapping(v, "a switch mapping with ports", SWITCH_KEYS);
    if (f === undefined) return undefined;
    const acs = f.optWith("acs", (x) => this.r.bool(x), true);
    const link = this.link(f);
    const expected = `a list of 1 to ${MAX_SWITCH_PORTS} downstream ports`;
    const portsVal = f.req("ports", expected);
    let ports: DownstreamPortConfig[] = [];
    if (portsVal !== undefined) {
      ports = this.r.list(portsVal, expected, (i) => this.downstreamPort(i, acs));
      const count = Reader.itemCount(portsVal);
      if (count !== undefined && (count < 1 || count > MAX_SWITCH_PORTS)) {
        this.r.report(portsVal.at, portsVal.path, `expected ${expected}, found ${count}`);
      }
    }
    return { acs, link, ports, src: f.src() };
  }

  private downstreamPort(v: Val, switchAcs: boolean): DownstreamPortConfig | undefined {
    const f = this.r.mapping(v, "a downstream port mapping (may be {})", DOWNSTREAM_KEYS);
    if (f === undefined) return undefined;
    const device = f.opt("device");
    return {
      acs: f.optWith("acs", (x) => this.r.bool(x), switchAcs),
      link: this.link(f),
      device: device === undefined ? undefined : this.device(device),
      src: f.src(),
    };
  }

  private integrated(v: Val): IntegratedConfig | undefined {
    const f = this.r.mapping(v, "an integrated endpoint mapping with slot and device", INTEGRATED_KEYS);
    if (f === undefined) return undefined;
    const slot = this.slot(f);
    const d = f.req("device", "a device mapping with template or dump");
    const device = d === undefined ? undefined : this.device(d);
    return device === undefined ? undefined : { slot, device, src: f.src() };
  }

  private device(v: Val): DeviceSpec | undefined {
    const f = this.r.mapping(v, "a device mapping with template or dump", DEVICE_KEYS);
    if (f === undefined) return undefined;
    const t = f.opt("template");
    const d = f.opt("dump");
    if ((t === undefined) === (d === undefined)) {
      this.r.report(f.at, v.path, `expected exactly one of template or dump, found ${t === undefined ? "neither" : "both"}`);
      return undefined;
    }
    if (t !== undefined) {
      const fn = f.opt("function");
      if (fn !== undefined) this.r.report(fn.at, fn.path, "expected function only together with dump, found it with template");
      const name = this.r.oneOf(t, this.opts.templates, `a NIC template (one of ${this.opts.templates.join(", ")})`);
      return name === undefined ? undefined : { kind: "template", template: name, src: f.src() };
    }
    const dump = d === undefined ? undefined : this.r.str(d, "the path of an lspci -xxxx dump file", /\S/);
    if (dump === undefined) return undefined;
    const fnVal = f.opt("function");
    const fn = fnVal === undefined ? undefined : this.r.notation(fnVal, `${BDF} naming a function in the dump`, canonicalBdf);
    const dumpPath = isAbsolute(dump) ? dump : join(dirname(this.fileName), dump);
    return { kind: "dump", dump, dumpPath, function: fn, src: f.src() };
  }

  // ---- PFs and their VFs -----------------------------------------------------------------------

  private pf(v: Val): PfConfig | undefined {
    const f = this.r.mapping(v, "a PF mapping with pf and numVfs", PF_KEYS);
    if (f === undefined) return undefined;
    const pf = f.reqWith("pf", BDF, (x) => this.r.notation(x, BDF, canonicalBdf), "");
    const numVfs = f.reqWith("numVfs", `an integer from 0 to ${MAX_VF_INDEX}`, (x) => this.r.int(x, 0, MAX_VF_INDEX), 0);
    const vfs = f.optWith("vfs", (x) => this.r.list(x, "a list of VF settings", (i) => this.vfSettings(i)), []);
    return { pf, numVfs, vfs, src: f.src() };
  }

  private vfSet(v: Val): VfSet | undefined {
    const indices = this.r.notation(v, VF_SET, parseVfSet);
    return indices === undefined ? undefined : { indices, text: this.r.text(v) ?? formatVfSet(indices) };
  }

  private vfSettings(v: Val): VfSettings | undefined {
    const f = this.r.mapping(v, "a mapping with vf and port settings", VF_SETTINGS_KEYS);
    if (f === undefined) return undefined;
    const vfs = f.reqWith("vf", VF_SET, (x) => this.vfSet(x), undefined);
    const port: Partial<VfPortConfig> = {};
    const macVal = f.opt("mac");
    if (macVal !== undefined) {
      const mac = this.r.notation(macVal, "a unicast MAC like 52:54:00:12:34:56", (s) => {
        const m = parseMac(s);
        if (m === undefined) return { ok: false };
        if (m === 0) return { ok: false, reason: "leave mac out to let the VF choose" };
        return isMulticastMac(m) ? { ok: false, reason: "multicast bit set" } : { ok: true, value: m };
      });
      if (mac !== undefined) port.mac = mac;
      if (mac !== undefined && vfs !== undefined && vfs.indices.length > 1) {
        this.r.report(macVal.at, macVal.path, `expected vf to name one VF when mac is given, found ${vfs.indices.length} VFs ("${vfs.text}")`);
      }
    }
    const set = <P extends keyof VfPortConfig>(key: VfSettingsKey, prop: P, read: (x: Val) => VfPortConfig[P] | undefined): void => {
      const x = f.opt(key);
      const value = x === undefined ? undefined : read(x);
      if (value !== undefined) port[prop] = value;
    };
    set("vlan", "vlan", (x) => this.r.int(x, 0, MAX_VLAN));
    set("qos", "qos", (x) => this.r.int(x, 0, MAX_QOS));
    set("proto", "proto", (x) => this.vlanProto(x));
    set("spoofchk", "spoofchk", (x) => this.r.bool(x));
    set("trust", "trust", (x) => this.r.bool(x));
    set("state", "linkState", (x) => this.r.oneOf(x, LINK_STATES));
    set("minTxRate", "minTxRate", (x) => this.r.int(x, 0, MAX_TX_RATE));
    set("maxTxRate", "maxTxRate", (x) => this.r.int(x, 0, MAX_TX_RATE));
    set("queryRss", "queryRss", (x) => this.r.bool(x));
    const qos = f.opt("qos");
    if (qos !== undefined && (port.qos ?? 0) !== 0 && (port.vlan ?? 0) === 0) {
      this.r.expected(qos, "0 without a vlan (qos is the priority of the inserted VLAN tag)");
    }
    const min = f.opt("minTxRate");
    if (min !== undefined && port.minTxRate !== undefined && port.maxTxRate !== undefined && port.maxTxRate !== 0 && port.minTxRate > port.maxTxRate) {
      this.r.expected(min, `at most maxTxRate (${port.maxTxRate})`);
    }
    return vfs === undefined ? undefined : { vfs, port, src: f.src() };
  }

  /** "802.1Q" or "802.1ad", in any case (iproute2 compares protocol names case-insensitively). */
  private vlanProto(v: Val): VlanProto | undefined {
    const s = this.r.text(v);
    const p = VLAN_PROTOS.find((x) => x.toLowerCase() === s?.toLowerCase());
    if (p === undefined) this.r.expected(v, `one of ${VLAN_PROTOS.join(", ")}`);
    return p;
  }

  // ---- pools -----------------------------------------------------------------------------------

  private pool(v: Val): PoolConfig | undefined {
    const f = this.r.mapping(v, "a pool mapping with name and match", POOL_KEYS);
    if (f === undefined) return undefined;
    const name = f.reqWith("name", NAME, (x) => this.r.str(x, NAME, NAME_RE), "");
    const m = f.opt("match");
    const all: PoolMatch = { vendors: undefined, devices: undefined, pfs: undefined, src: { at: f.at, fields: {} } };
    return { name, match: m === undefined ? all : this.poolMatch(m) ?? all, src: f.src() };
  }

  private poolMatch(v: Val): PoolMatch | undefined {
    const f = this.r.mapping(v, "a mapping of selectors vendor, device, pf", MATCH_KEYS);
    if (f === undefined) return undefined;
    const oneOrList = <T>(key: "vendor" | "device" | "pf", read: (x: Val) => T | undefined): T[] | undefined => {
      const x = f.opt(key);
      if (x === undefined) return undefined;
      if (Reader.itemCount(x) !== undefined) return this.r.list(x, "a list", read);
      const one = read(x);
      return one === undefined ? [] : [one];
    };
    const id = (x: Val): number | undefined => this.hexId(x);
    const sel = (x: Val): PoolPfSelector | undefined => {
      const s = this.r.notation(x, `${BDF}, optionally with VFs like 0000:01:00.0#0-3`, parsePfSelector);
      return s === undefined ? undefined : { pf: s.pf, vfs: s.vfs, at: x.at };
    };
    return { vendors: oneOrList("vendor", id), devices: oneOrList("device", id), pfs: oneOrList("pf", sel), src: f.src() };
  }

  /** A 16-bit ID written in hex: 0x8086 or "8086". A plain decimal 8086 is refused, not misread. */
  private hexId(v: Val): number | undefined {
    const expected = "a 16-bit ID in hex like 0x8086";
    if (typeof Reader.scalarValue(v) === "number") {
      const written = this.r.describe(v.node);
      const id = /^0x[0-9a-f]{1,4}$/i.test(written) ? parseHexId(written) : undefined;
      if (id?.ok === true) return id.value;
      this.r.expected(v, expected, /^\d{1,4}$/.test(written) ? `IDs are hex: write 0x${written}` : undefined);
      return undefined;
    }
    return this.r.notation(v, expected, parseHexId);
  }

  // ---- guests ----------------------------------------------------------------------------------

  private guest(v: Val): GuestConfig | undefined {
    const f = this.r.mapping(v, "a guest mapping with name and memory", GUEST_KEYS);
    if (f === undefined) return undefined;
    return {
      name: f.reqWith("name", NAME, (x) => this.r.str(x, NAME, NAME_RE), ""),
      memoryBytes: f.reqWith("memory", SIZE, (x) => this.memory(x), 0),
      vcpus: f.optWith("vcpus", (x) => this.r.int(x, 1, MAX_GUEST_VCPUS), 1),
      nics: f.optWith("nics", (x) => this.r.list(x, "a list of NICs", (i) => this.nic(i)), []),
      src: f.src(),
    };
  }

  private nic(v: Val): NicRequest | undefined {
    const f = this.r.mapping(v, "a NIC mapping with vf, pf or pool", NIC_KEYS);
    if (f === undefined) return undefined;
    const given = (["vf", "pf", "pool"] as const).filter((k) => f.has(k));
    if (given.length !== 1) {
      this.r.report(f.at, v.path, `expected exactly one of vf, pf or pool, found ${given.length === 0 ? "none" : given.join(" and ")}`);
      return undefined;
    }
    const vfs = f.opt("vfs");
    if (vfs !== undefined && given[0] !== "pf") this.r.report(vfs.at, vfs.path, `expected vfs only together with pf, found it with ${given[0]}`);
    switch (given[0]) {
      case "vf": {
        const x = f.opt("vf");
        const ref = x === undefined ? undefined : this.r.notation(x, "a VF like 0000:01:00.0#3", parseVfRef);
        return ref === undefined || x === undefined ? undefined : { kind: "vf", pf: ref.pf, vf: ref.vf, src: f.src() };
      }
      case "pf": {
        const x = f.opt("pf");
        const pf = x === undefined ? undefined : this.r.notation(x, BDF, canonicalBdf);
        const set = vfs === undefined ? undefined : this.vfSet(vfs);
        if (pf === undefined || (vfs !== undefined && set === undefined)) return undefined;
        return { kind: "range", pf, vfs: set, src: f.src() };
      }
      default: {
        const x = f.opt("pool");
        const pool = x === undefined ? undefined : this.r.str(x, NAME, NAME_RE);
        return pool === undefined ? undefined : { kind: "pool", pool, src: f.src() };
      }
    }
  }
}

const TOP_KEYS = ["host", "iommu", "fabric", "pfs", "pools", "guests"] as const;
const HOST_KEYS = ["name", "memory", "cpus"] as const;
const IOMMU_KEYS = ["enabled", "pageSize", "invalidation", "postedInterrupts", "addressWidth", "iotlbEntries"] as const;
const FABRIC_KEYS = ["rootPorts", "integrated"] as const;
const LINK_KEYS = ["speed", "width"] as const;
const ROOT_PORT_KEYS = ["slot", "acs", "link", "device", "switch"] as const;
const SWITCH_KEYS = ["acs", "link", "ports"] as const;
const DOWNSTREAM_KEYS = ["acs", "link", "device"] as const;
const INTEGRATED_KEYS = ["slot", "device"] as const;
const DEVICE_KEYS = ["template", "dump", "function"] as const;
const PF_KEYS = ["pf", "numVfs", "vfs"] as const;
const VF_SETTINGS_KEYS: readonly VfSettingsKey[] = ["vf", "mac", "vlan", "qos", "proto", "spoofchk", "trust", "state", "minTxRate", "maxTxRate", "queryRss"];
const POOL_KEYS = ["name", "match"] as const;
const MATCH_KEYS = ["vendor", "device", "pf"] as const;
const GUEST_KEYS = ["name", "memory", "vcpus", "nics"] as const;
const NIC_KEYS = ["vf", "pf", "vfs", "pool"] as const;

/** Every mapping of the host file and the keys it allows (docs/host-file.md documents each). */
export const HOST_FILE_KEYS: Readonly<Record<string, readonly string[]>> = {
  top: TOP_KEYS,
  host: HOST_KEYS,
  iommu: IOMMU_KEYS,
  fabric: FABRIC_KEYS,
  link: LINK_KEYS,
  rootPort: ROOT_PORT_KEYS,
  switch: SWITCH_KEYS,
  downstreamPort: DOWNSTREAM_KEYS,
  integrated: INTEGRATED_KEYS,
  device: DEVICE_KEYS,
  pf: PF_KEYS,
  vfSettings: VF_SETTINGS_KEYS,
  pool: POOL_KEYS,
  match: MATCH_KEYS,
  guest: GUEST_KEYS,
  nic: NIC_KEYS,
};
