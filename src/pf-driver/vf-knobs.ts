/**
 * `ip link set DEV vf N ...` and the per-VF part of `ip [-s] link show DEV`, on `VfPortConfig`.
 *
 * Two stages, as in Linux:
 * 1. iproute2 parses the arguments (ip/iplink.c iplink_parse / iplink_parse_vf /
 *    iplink_parse_vf_vlan_info, lib/utils.c, lib/ll_addr.c): its errors are iproute2's own text
 *    (`Error: argument "x" is wrong: Invalid "vlan" value`, `"zz" is invalid lladdr.`, ...).
 *    Keywords may be abbreviated as iproute2's matches() allows ("ma" = mac, "st" = state).
 * 2. The kernel applies the netlink attributes (net/core/rtnetlink.c do_setvfinfo and the driver's
 *    ndo_set_vf_*): its errors are `RTNETLINK answers: <strerror(errno)>`.
 * Errors throw one IovError (EINVAL, or ENOSYS for EOPNOTSUPP) whose `detail.stderr` is the exact
 * line Linux prints. Unlike the kernel, which stops at the first failing attribute with the
 * earlier ones applied, `applyVfKnobs` is all-or-nothing.
 *
 * The show renderer follows ip/ipaddress.c print_vfinfo / print_vf_stats64 and lib/utils.c
 * print_num (right-aligned counters, iproute2 ≥ 5.x).
 */
import { IovError } from "../errors.js";
import type { IovErrorCode } from "../errors.js";
import type { LinkState, Mac, VfPortConfig, VlanProto } from "../nic/port-config.js";
import { BROADCAST_MAC, ETH_P_8021AD, ETH_P_8021Q, formatMac, isMulticastMac } from "../nic/port-config.js";

// ------------------------------------------------------------------ parsed request

export interface VfVlanSpec {
  readonly vid: number;
  readonly qos: number;
  readonly proto: VlanProto;
}

/** One `vf N ...` group as the netlink attributes iproute2 would send (the last of a kind wins). */
export interface VfKnobRequest {
  /** As typed; range is the kernel's business. */
  readonly vf: number;
  readonly mac?: Mac;
  /** IFLA_VF_VLAN (802.1Q). */
  readonly vlan?: VfVlanSpec;
  /** IFLA_VF_VLAN_LIST (used when the protocol is 802.1ad). */
  readonly vlanList?: readonly VfVlanSpec[];
  /** IFLA_VF_TX_RATE: legacy `rate` when neither max_tx_rate nor min_tx_rate is given. */
  readonly txRate?: number;
  /** IFLA_VF_RATE, with the missing bound filled from the current setting. */
  readonly rate?: { readonly minTxRate: number; readonly maxTxRate: number };
  readonly spoofchk?: boolean;
  readonly linkState?: LinkState;
  readonly queryRss?: boolean;
  readonly trust?: boolean;
  readonly nodeGuid?: bigint;
  readonly portGuid?: bigint;
}

export interface VfKnobOptions {
  /** Link speed in Mbit/s; max_tx_rate above it is refused (0 = no check). */
  readonly linkSpeedMbps?: number;
}

// ------------------------------------------------------------------ errors

type Source = "iproute2" | "kernel";

function fail(source: Source, text: string, code: IovErrorCode = "EINVAL", extra: Record<string, unknown> = {}): never {
  throw new IovError(code, text, { source, stderr: text, ...extra });
}

/** lib/utils.c invarg(). */
const invarg = (msg: string, arg: string): never => fail("iproute2", `Error: argument "${arg}" is wrong: ${msg}`);
/** lib/utils.c incomplete_command(). */
const incomplete = (): never => fail("iproute2", 'Command line is not complete. Try option "help"');
/** lib/utils.c duparg2(). */
const duparg2 = (key: string, arg: string): never => fail("iproute2", `Error: either "${key}" is duplicate, or "${arg}" is a garbage.`);
/**
 * lib/utils.c parse_on_off_deprecated() (iproute2 ≥ 6.7 keeps matches() for these knobs, so "o" and
 * "of" mean off); the error text is __parse_one_of()'s.
 */
const notOnOff = (key: string, arg: string): never =>
  fail("iproute2", `Error: argument of "${key}" must be one of "off", "on", not "${arg}"`);

const RTNL_EINVAL = "RTNETLINK answers: Invalid argument";
const RTNL_EOPNOTSUPP = "RTNETLINK answers: Operation not supported";
const kernelEinval = (why: string): never => fail("kernel", RTNL_EINVAL, "EINVAL", { errno: "EINVAL", why });
const kernelEopnotsupp = (why: string): never => fail("kernel", RTNL_EOPNOTSUPP, "ENOSYS", { errno: "EOPNOTSUPP", why });

// ------------------------------------------------------------------ C number parsing

const C_SPACE = " \t\n\v\f\r";
const U32_MAX = 0xffffffffn;
const U64 = 1n << 64n;

/** strtol/strtoul with base 0 over the whole string: sign, magnitude; null if not entirely a number. */
function strtoFull(s: string): { neg: boolean; mag: bigint } | null {
  let i = 0;
  while (i < s.length && C_SPACE.includes(s[i]!)) i++;
  let neg = false;
  if (s[i] === "+" || s[i] === "-") {
    neg = s[i] === "-";
    i++;
  }
  let base = 10;
  let digits = "0123456789";
  if (s[i] === "0" && (s[i + 1] === "x" || s[i + 1] === "X") && /[0-9a-fA-F]/.test(s[i + 2] ?? "")) {
    base = 16;
    digits = "0123456789abcdef";
    i += 2;
  } else if (s[i] === "0") {
    base = 8;
    digits = "01234567";
  }
  const start = i;
  let mag = 0n;
  while (i < s.length && digits.includes(s[i]!.toLowerCase())) {
    mag = mag * BigInt(base) + BigInt(digits.indexOf(s[i]!.toLowerCase()));
    i++;
  }
  if (i === start || i !== s.length) return null;
  return { neg, mag };
}

/** lib/utils.c get_integer(): strtol, whole string, within int. */
function getInteger(s: string): number | null {
  const r = strtoFull(s);
  if (r === null) return null;
  const v = r.neg ? -r.mag : r.mag;
  return v >= -(2n ** 31n) && v <= 2n ** 31n - 1n ? Number(v) : null;
}

/** lib/utils.c get_unsigned(): strtoul (a minus sign wraps modulo 2^64), whole string, within unsigned int. */
function getUnsigned(s: string): number | null {
  const r = strtoFull(s);
  if (r === null || r.mag >= U64) return null;
  const v = r.neg ? (U64 - r.mag) % U64 : r.mag;
  return v <= U32_MAX ? Number(v) : null;
}

const int32 = (u: number): number => u | 0;

/** lib/utils.c matches(): `arg` is a non-empty prefix of `word`. */
const matches = (arg: string, word: string): boolean => arg.length > 0 && word.startsWith(arg);

// ------------------------------------------------------------------ lladdr (lib/ll_addr.c ll_addr_a2n)

/** sscanf("%x"): leading space, sign, optional 0x, hex digits; trailing characters ignored. */
function scanHex(s: string): number | null {
  const m = /^[ \t\n\v\f\r]*([+-]?)(?:0[xX](?=[0-9a-fA-F]))?([0-9a-fA-F]+)/.exec(s);
  if (m === null) return null;
  const v = parseInt(m[2]!, 16);
  return m[1] === "-" ? -v : v;
}

/** lib/utils.c get_addr_ipv4 (10.8 means 10.8.0.0). */
function ipv4Parts(s: string): boolean {
  let rest = s;
  for (let i = 0; i < 4; i++) {
    const m = /^[ \t\n\v\f\r]*[+-]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(rest);
    if (m === null) return false;
    const tok = m[1]!;
    const n = tok.startsWith("0x") || tok.startsWith("0X") ? parseInt(tok, 16) : tok.startsWith("0") ? parseInt(tok, 8) || 0 : parseInt(tok, 10);
    if (n > 255) return false;
    rest = rest.slice(m[0].length);
    if (rest === "") return true;
    if (i === 3 || rest[0] !== ".") return false;
    rest = rest.slice(1);
  }
  return false;
}

const LLADDR_MAX = 32;

/** Returns the bytes of a link-layer address, or throws iproute2's message. */
function llAddrA2n(arg: string): number[] {
  if (arg.includes(".")) {
    if (!ipv4Parts(arg)) fail("iproute2", `"${arg}" is invalid lladdr.`);
    return [0, 0, 0, 0];
  }
  const out: number[] = [];
  let rest: string | null = arg;
  for (let i = 0; i < LLADDR_MAX; i++) {
    const cur: string = rest ?? "";
    const colon = cur.indexOf(":");
    const part = colon >= 0 ? cur.slice(0, colon) : cur;
    rest = colon >= 0 ? cur.slice(colon + 1) : null;
    const v = scanHex(part);
    if (v === null || v < 0 || v > 255) fail("iproute2", `"${part}" is invalid lladdr.`);
    out.push(v ?? 0);
    if (rest === null) return out;
  }
  // ll_addr_a2n reports len + 1 when the address has more parts than fit.
  return [...out, 0];
}

// ------------------------------------------------------------------ ethertype names (lib/ll_proto.c)

const LL_PROTO_NAMES: ReadonlyArray<readonly [string, number]> = [
  ["loop", 0x0060],
  ["ip", 0x0800],
  ["arp", 0x0806],
  ["rarp", 0x8035],
  ["ipv6", 0x86dd],
  ["802.1Q", ETH_P_8021Q],
  ["802.1ad", ETH_P_8021AD],
  ["mpls_uc", 0x8847],
  ["mpls_mc", 0x8848],
];

/** ll_proto_a2n: a name (any case) or a number (get_be16, base 0); null if neither. */
function llProtoA2n(s: string): number | null {
  const named = LL_PROTO_NAMES.find(([n]) => n.toLowerCase() === s.toLowerCase());
  if (named !== undefined) return named[1];
  const r = strtoFull(s);
  if (r === null || r.mag >= U64) return null;
  const v = r.neg ? (U64 - r.mag) % U64 : r.mag;
  return v <= 0xffffn ? Number(v) : null;
}

/** lib/utils.c get_guid: eight colon-separated hex bytes. */
function getGuid(s: string): bigint | null {
  const parts = s.split(":");
  if (parts.length !== 8 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) return null;
  return parts.reduce((acc, p) => acc * 256n + BigInt(parseInt(p, 16)), 0n);
}

// ------------------------------------------------------------------ the parser

class Args {
  i = 0;
  constructor(readonly argv: readonly string[]) {}
  /** NEXT_ARG(): the next token, or "Command line is not complete". */
  next(): string {
    this.i++;
    const t = this.argv[this.i];
    return t === undefined ? incomplete() : t;
  }
  /** NEXT_ARG_OK(). */
  hasNext(): boolean {
    return this.i + 1 < this.argv.length;
  }
  get cur(): string {
    return this.argv[this.i] ?? "";
  }
}

function parseVlanInfo(a: Args): VfVlanSpec {
  const vidArg = a.next();
  const vid = getUnsigned(vidArg);
  if (vid === null || vid > 4095) invarg('Invalid "vlan" value', vidArg);
  let qos = 0;
  let proto = ETH_P_8021Q;
  if (a.hasNext()) {
    if (matches(a.next(), "qos")) {
      const q = a.next();
      const v = getUnsigned(q);
      if (v === null) invarg('Invalid "qos" value', q);
      qos = v ?? 0;
    } else {
      a.i--;
    }
  }
  if (a.hasNext()) {
    if (matches(a.next(), "proto")) {
      const p = a.next();
      const v = llProtoA2n(p);
      if (v === null) invarg("protocol is invalid", p);
      if (v !== ETH_P_8021AD && v !== ETH_P_8021Q) invarg('Invalid "vlan protocol" value - supported 802.1Q, 802.1ad', p);
      proto = v ?? ETH_P_8021Q;
    } else {
      a.i--;
    }
  }
  return { vid: vid ?? 0, qos, proto: proto === ETH_P_8021AD ? "802.1ad" : "802.1Q" };
}

function parseOnOff(a: Args, key: string): boolean {
  const v = a.next();
  if (matches(v, "off")) return false;
  if (matches(v, "on")) return true;
  return notOnOff(key, v);
}

type Mutable = { -readonly [K in keyof VfKnobRequest]: VfKnobRequest[K] };

/** iplink_parse_vf: `a.cur` is the VF number's token. */
function parseVf(a: Args, vf: number, current: readonly Readonly<VfPortConfig>[]): VfKnobRequest {
  // A first pass decides between the legacy rate attribute and IFLA_VF_RATE (it looks at every
  // remaining token, values included, exactly as iproute2 does).
  let newRateApi = false;
  let overrideLegacy = false;
  for (const t of a.argv.slice(a.i + 1)) {
    if (matches(t, "max_tx_rate")) {
      newRateApi = true;
      overrideLegacy = true;
    } else if (matches(t, "min_tx_rate")) {
      newRateApi = true;
    }
  }
  const start = a.i;
  const r: Mutable = { vf };
  let minTx: number | null = null;
  let maxTx: number | null = null;
  while (a.hasNext()) {
    const k = a.next();
    if (matches(k, "mac")) {
      const arg = a.next();
      const bytes = llAddrA2n(arg);
      if (bytes.length !== 6) fail("iproute2", `Invalid address length ${bytes.length} - must be 6 bytes`);
      r.mac = bytes.reduce((acc, b) => acc * 256 + b, 0);
    } else if (matches(k, "vlan")) {
      const first = parseVlanInfo(a);
      if (first.proto === "802.1Q") {
        r.vlan = first;
      } else {
        const list = [first];
        while (a.hasNext()) {
          if (!matches(a.next(), "vlan")) {
            a.i--;
            break;
          }
          list.push(parseVlanInfo(a));
        }
        r.vlanList = list;
      }
    } else if (matches(k, "rate")) {
      const arg = a.next();
      const v = getUnsigned(arg);
      if (v === null) invarg('Invalid "rate" value', arg);
      if (!newRateApi) r.txRate = v ?? 0;
      else if (!overrideLegacy) maxTx = v;
    } else if (matches(k, "max_tx_rate")) {
      const arg = a.next();
      const v = getUnsigned(arg);
      if (v === null) invarg('Invalid "max tx rate" value', arg);
      maxTx = v;
    } else if (matches(k, "min_tx_rate")) {
      const arg = a.next();
      const v = getUnsigned(arg);
      if (v === null) invarg('Invalid "min tx rate" value', arg);
      minTx = v;
    } else if (matches(k, "spoofchk")) {
      r.spoofchk = parseOnOff(a, "spoofchk");
    } else if (matches(k, "query_rss")) {
      r.queryRss = parseOnOff(a, "query_rss");
    } else if (matches(k, "trust")) {
      r.trust = parseOnOff(a, "trust");
    } else if (matches(k, "state")) {
      const arg = a.next();
      if (matches(arg, "auto")) r.linkState = "auto";
      else if (matches(arg, "enable")) r.linkState = "enable";
      else if (matches(arg, "disable")) r.linkState = "disable";
      else invarg('Invalid "state" value', arg);
    } else if (matches(k, "node_guid") || matches(k, "port_guid")) {
      const arg = a.next();
      const g = getGuid(arg);
      if (g === null) invarg("Invalid GUID format", arg);
      if (matches(k, "node_guid")) r.nodeGuid = g ?? 0n;
      else r.portGuid = g ?? 0n;
    } else {
      a.i--;
      break;
    }
  }
  if (newRateApi) {
    if (minTx === null || maxTx === null) {
      // ipaddr_get_vf_rate: the missing bound comes from the device.
      const cur = vf >= 0 ? current[vf] : undefined;
      if (cur === undefined) fail("iproute2", `Cannot find VF ${vf}`);
      minTx ??= cur?.minTxRate ?? 0;
      maxTx ??= cur?.maxTxRate ?? 0;
    }
    if (maxTx !== 0 && minTx > maxTx) {
      fail("iproute2", `Invalid min_tx_rate ${int32(minTx)} - must be <= max_tx_rate ${int32(maxTx)}`);
    }
    r.rate = { minTxRate: minTx, maxTxRate: maxTx };
  }
  if (a.i === start) incomplete();
  return r;
}

/**
 * Parse what follows `ip link set DEV`: one or more `vf N ...` groups. `current` supplies the rates
 * iproute2 reads back when only one of min_tx_rate / max_tx_rate is given.
 */
export function parseIpLinkVfArgs(argv: readonly string[], current: readonly Readonly<VfPortConfig>[]): VfKnobRequest[] {
  const a = new Args(argv);
  const out: VfKnobRequest[] = [];
  if (argv.length === 0) incomplete();
  for (; a.i < argv.length; a.i++) {
    const t = a.cur;
    if (t !== "vf") duparg2("dev", t);
    const n = a.next();
    const vf = getInteger(n);
    if (vf === null) invarg('Invalid "vf" value', n);
    out.push(parseVf(a, vf ?? 0, current));
  }
  return out;
}

// ------------------------------------------------------------------ the kernel side

function applyOne(cfgs: VfPortConfig[], r: VfKnobRequest, opts: VfKnobOptions): void {
  // do_setvfinfo → ndo_set_vf_*: every handler refuses a VF the device does not have.
  const cfg = Number.isInteger(r.vf) && r.vf >= 0 ? cfgs[r.vf] : undefined;
  if (cfg === undefined) return kernelEinval(`no VF ${r.vf} (device has ${cfgs.length})`);
  if (r.mac !== undefined) {
    // is_valid_ether_addr, with 00:00:00:00:00:00 meaning "remove the administrative MAC".
    if (isMulticastMac(r.mac)) kernelEinval("multicast MAC");
    cfg.mac = r.mac;
  }
  const setVlan = (v: VfVlanSpec): void => {
    if (v.vid > 4095 || v.qos > 7) kernelEinval("vlan > 4095 or qos > 7");
    cfg.vlan = v.vid;
    cfg.qos = v.qos;
    cfg.proto = v.proto;
  };
  if (r.vlan !== undefined) setVlan(r.vlan);
  if (r.vlanList !== undefined) {
    // MAX_VLAN_LIST_LEN is 1.
    if (r.vlanList.length > 1) kernelEopnotsupp("VLAN list longer than 1");
    const first = r.vlanList[0];
    if (first === undefined) return kernelEinval("empty VLAN list");
    setVlan(first);
  }
  const setRate = (min: number, max: number): void => {
    if (max !== 0 && min > max) kernelEinval("min_tx_rate > max_tx_rate");
    if (opts.linkSpeedMbps !== undefined && opts.linkSpeedMbps > 0 && max > opts.linkSpeedMbps) kernelEinval("max_tx_rate above link speed");
    cfg.minTxRate = min;
    cfg.maxTxRate = max;
  };
  // IFLA_VF_TX_RATE keeps the current minimum.
  if (r.txRate !== undefined) setRate(cfg.minTxRate, r.txRate);
  if (r.rate !== undefined) setRate(r.rate.minTxRate, r.rate.maxTxRate);
  if (r.spoofchk !== undefined) cfg.spoofchk = r.spoofchk;
  if (r.linkState !== undefined) cfg.linkState = r.linkState;
  if (r.queryRss !== undefined) cfg.queryRss = r.queryRss;
  if (r.trust !== undefined) cfg.trust = r.trust;
  // InfiniBand GUIDs on an Ethernet device.
  if (r.nodeGuid !== undefined || r.portGuid !== undefined) kernelEopnotsupp("GUIDs need an InfiniBand device");
}

/** Apply parsed requests to copies of `current`; all of them or none (throws). */
export function applyVfKnobs(
  current: readonly Readonly<VfPortConfig>[],
  requests: readonly VfKnobRequest[],
  opts: VfKnobOptions = {},
): VfPortConfig[] {
  const next = current.map((c) => ({ ...c }));
  for (const r of requests) applyOne(next, r, opts);
  return next;
}

/** `ip link set DEV <argv>` on the VF settings of one PF: parse, then apply. */
export function ipLinkSetVf(current: readonly Readonly<VfPortConfig>[], argv: readonly string[], opts: VfKnobOptions = {}): VfPortConfig[] {
  return applyVfKnobs(current, parseIpLinkVfArgs(argv, current), opts);
}

// ------------------------------------------------------------------ ip link show

/** IFLA_VF_STATS. */
export interface VfStats {
  readonly rxPackets: number;
  readonly txPackets: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly broadcast: number;
  readonly multicast: number;
  readonly rxDropped: number;
  readonly txDropped: number;
}

export interface VfShowEntry {
  readonly config: Readonly<VfPortConfig>;
  /** The MAC the VF uses now (the kernel reports the driver's copy); defaults to the admin MAC. */
  readonly mac?: Mac;
  readonly stats?: VfStats;
}

export interface ShowOptions {
  /** `-s`: print each VF's counters. */
  readonly stats?: boolean;
}

/** lib/utils.c print_num without -h: right-aligned in `width`, then a space. */
const num = (width: number, v: number): `${string} ` => `${String(v).padStart(width)} `;

/** The `vf N ...` line of print_vfinfo (without the leading newline and indent). */
export function formatVfLine(vf: number, e: VfShowEntry): string {
  const c = e.config;
  let s = `vf ${vf}     link/ether ${formatMac(e.mac ?? c.mac)} brd ${formatMac(BROADCAST_MAC)}`;
  if (c.vlan !== 0) s += `, vlan ${c.vlan}`;
  if (c.qos !== 0) s += `, qos ${c.qos}`;
  if (c.proto !== "802.1Q") s += `, vlan protocol ${c.proto}`;
  // The kernel fills IFLA_VF_TX_RATE with max_tx_rate.
  if (c.maxTxRate !== 0) s += `, tx rate ${c.maxTxRate} (Mbps)`;
  if (c.maxTxRate !== 0) s += `, max_tx_rate ${c.maxTxRate}Mbps`;
  if (c.minTxRate !== 0) s += `, min_tx_rate ${c.minTxRate}Mbps`;
  s += c.spoofchk ? ", spoof checking on" : ", spoof checking off";
  s += `, link-state ${c.linkState}`;
  s += c.trust ? ", trust on" : ", trust off";
  s += c.queryRss ? ", query_rss on" : ", query_rss off";
  return s;
}

/** print_vf_stats64: the four lines of `ip -s` counters under a VF (indented, with print_num's trailing spaces). */
export function formatVfStats(st: VfStats): string[] {
  return [
    "    RX: bytes  packets  mcast   bcast   dropped ",
    `    ${num(10, st.rxBytes)}${num(8, st.rxPackets)}${num(7, st.multicast)}${num(7, st.broadcast)}${num(8, st.rxDropped)}`,
    "    TX: bytes  packets   dropped ",
    `    ${num(10, st.txBytes)}${num(8, st.txPackets)}${num(8, st.txDropped)}`,
  ];
}

const ZERO_STATS: VfStats = { rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0, broadcast: 0, multicast: 0, rxDropped: 0, txDropped: 0 };

/** Every VF's lines, as they follow the PF's `link/ether` line. */
export function renderVfInfo(vfs: readonly VfShowEntry[], opts: ShowOptions = {}): string[] {
  const lines: string[] = [];
  vfs.forEach((e, vf) => {
    lines.push(`    ${formatVfLine(vf, e)}`);
    if (opts.stats) lines.push(...formatVfStats(e.stats ?? ZERO_STATS));
  });
  return lines;
}

/** What `ip link show` prints about the PF itself (its own counters are not rendered). */
export interface PfLinkInfo {
  readonly ifindex: number;
  readonly name: string;
  readonly flags: readonly string[];
  readonly mtu: number;
  readonly qdisc: string;
  readonly state: string;
  readonly mode?: string;
  readonly group?: string;
  readonly qlen?: number;
  readonly mac: Mac;
}

/** `ip [-s] link show DEV` for a PF with VFs (one string, newline-terminated). */
export function renderIpLinkShow(pf: PfLinkInfo, vfs: readonly VfShowEntry[], opts: ShowOptions = {}): string {
  let head = `${pf.ifindex}: ${pf.name}: <${pf.flags.join(",")}> mtu ${pf.mtu} qdisc ${pf.qdisc} state ${pf.state} mode ${pf.mode ?? "DEFAULT"} group ${pf.group ?? "default"}`;
  if (pf.qlen !== undefined) head += ` qlen ${pf.qlen}`;
  const lines = [head, `    link/ether ${formatMac(pf.mac)} brd ${formatMac(BROADCAST_MAC)}`, ...renderVfInfo(vfs, opts)];
  return `${lines.join("\n")}\n`;
}
