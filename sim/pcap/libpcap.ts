import { createRequire } from "node:module";
import { IovError } from "../../src/errors.js";

/**
 * Optional adapter for the npm package `pcap` (node_pcap, libpcap bindings). It is an optional
 * dependency: it needs a native build against libpcap-dev. When it is missing, `nodePcapStatus()`
 * says why and the readers throw IovError ENOSYS; nothing else in pciov depends on it.
 *
 * libpcap opens capture files at microsecond precision: nanosecond timestamps come back truncated.
 */

/** The part of node_pcap this adapter uses (its own typings leave `decode` as `any`). */
interface NodePcapRawPacket {
  readonly buf: Uint8Array;
  readonly header: Uint8Array;
  readonly link_type: string;
}
interface NodePcapSession {
  on(event: "packet", cb: (raw: NodePcapRawPacket) => void): unknown;
  on(event: "complete", cb: () => void): unknown;
  close(): void;
  readonly link_type: string;
  /** node_pcap 3.x internals the synchronous reader drives: the binding's session and its buffers. */
  readonly session?: { dispatch(buf: Uint8Array, header: Uint8Array): number };
  readonly buf?: Uint8Array;
  readonly header?: Uint8Array;
}
interface NodePcapModule {
  readonly lib_version: string;
  createOfflineSession(path: string, options?: { filter?: string }): NodePcapSession;
  readonly decode: { packet(raw: NodePcapRawPacket): unknown };
}

export type NodePcapStatus = { readonly available: true; readonly libVersion: string } | { readonly available: false; readonly reason: string };

const INSTALL_HINT = "install it with `npm install --save-optional pcap@3.1.0` (needs libpcap-dev and a C++ toolchain)";

let loaded: { mod: NodePcapModule | undefined; status: NodePcapStatus } | undefined;

function tryLoad(moduleId: string): { mod: NodePcapModule | undefined; status: NodePcapStatus } {
  try {
    const mod = createRequire(import.meta.url)(moduleId) as NodePcapModule;
    if (typeof mod.createOfflineSession !== "function") throw new Error("module has no createOfflineSession()");
    return { mod, status: { available: true, libVersion: String(mod.lib_version) } };
  } catch (e) {
    const msg = e instanceof Error ? e.message.split("\n")[0]! : String(e);
    return { mod: undefined, status: { available: false, reason: `npm package "${moduleId}" cannot be loaded (${msg}); ${INSTALL_HINT}` } };
  }
}

function load(): { mod: NodePcapModule | undefined; status: NodePcapStatus } {
  loaded ??= tryLoad("pcap");
  return loaded;
}

/** Probes a module id without caching (the adapter itself always uses "pcap"). */
export function probeNodePcap(moduleId: string): NodePcapStatus {
  return tryLoad(moduleId).status;
}

/** Whether node_pcap can be used here, with libpcap's version or the reason it cannot. */
export function nodePcapStatus(): NodePcapStatus {
  return load().status;
}

function requireModule(): NodePcapModule {
  const l = load();
  if (l.mod === undefined) throw new IovError("ENOSYS", l.status.available ? "node_pcap unavailable" : l.status.reason);
  return l.mod;
}

export interface LibpcapPacket {
  readonly tsSec: number;
  /** Microseconds (libpcap truncates nanosecond files to µs). */
  readonly tsUsec: number;
  readonly capturedLength: number;
  readonly originalLength: number;
  /** A copy of the captured bytes. */
  readonly data: Uint8Array;
  /** libpcap's link type name, e.g. "LINKTYPE_ETHERNET". */
  readonly linkType: string;
  /** A copy of node_pcap's 16-byte header (tv_sec, tv_usec, caplen, len), for `decodeWithNodePcap`. */
  readonly rawHeader: Uint8Array;
}

function openOffline(path: string, opts: { filter?: string }): NodePcapSession {
  const pcap = requireModule();
  try {
    return pcap.createOfflineSession(path, opts.filter === undefined ? {} : { filter: opts.filter });
  } catch (e) {
    throw new IovError("EINVAL", `libpcap cannot read ${path}: ${(e as Error).message}`, { path, input: true });
  }
}

/** Collects the session's packets (copies: node_pcap reuses its buffers for every packet). */
function collect(session: NodePcapSession): LibpcapPacket[] {
  const out: LibpcapPacket[] = [];
  session.on("packet", (raw) => {
    const h = new DataView(raw.header.buffer, raw.header.byteOffset, 16);
    const caplen = h.getUint32(8, true);
    out.push({
      tsSec: h.getUint32(0, true),
      tsUsec: h.getUint32(4, true),
      capturedLength: caplen,
      originalLength: h.getUint32(12, true),
      data: new Uint8Array(raw.buf.subarray(0, caplen)),
      linkType: raw.link_type,
      rawHeader: new Uint8Array(raw.header.subarray(0, 16)),
    });
  });
  return out;
}

/** Reads every packet of a pcap/pcapng file through libpcap (optionally with a BPF filter). */
export function readWithNodePcap(path: string, opts: { filter?: string } = {}): Promise<LibpcapPacket[]> {
  let session: NodePcapSession;
  try {
    session = openOffline(path, opts);
  } catch (e) {
    return Promise.reject(e as Error);
  }
  const out = collect(session);
  return new Promise((resolve) => {
    session.on("complete", () => {
      session.close();
      resolve(out);
    });
  });
}

/**
 * The same, synchronously, for a simulation run that loads its traffic source before it starts.
 * node_pcap reads an offline file by calling its binding's dispatch() until it returns 0, from a
 * setImmediate; this calls it at once, the same way (the packets arrive through the same 'packet'
 * events), and the queued setImmediate then finds the file at its end, emits 'complete' and the
 * session is closed. Relies on node_pcap 3.x's PcapSession fields (session, buf, header).
 */
export function readWithNodePcapSync(path: string, opts: { filter?: string } = {}): LibpcapPacket[] {
  const session = openOffline(path, opts);
  const out = collect(session);
  session.on("complete", () => session.close());
  const binding = session.session;
  const buf = session.buf;
  const header = session.header;
  if (binding === undefined || buf === undefined || header === undefined)
    throw new IovError("ENOSYS", "this version of the npm package pcap has no offline dispatch to read a file synchronously (pciov uses pcap 3.x)", { path });
  while (binding.dispatch(buf, header) > 0);
  return out;
}

export interface NodePcapUdpView {
  readonly vlanId: number | null;
  readonly saddr: string;
  readonly daddr: string;
  readonly sport: number;
  readonly dport: number;
  /** UDP length field (header + payload). */
  readonly length: number;
}

interface DecodedShape {
  payload?: {
    vlan?: { id?: number } | null;
    ethertype?: number;
    payload?: { saddr?: unknown; daddr?: unknown; protocol?: number; payload?: { sport?: number; dport?: number; length?: number } };
  };
}

/** Decodes a packet with node_pcap's own decoder and returns its UDP view, or null if it is not UDP/IPv4. */
export function decodeUdpWithNodePcap(p: LibpcapPacket): NodePcapUdpView | null {
  const pcap = requireModule();
  const decoded = pcap.decode.packet({ buf: Buffer.from(p.data), header: Buffer.from(p.rawHeader), link_type: p.linkType }) as DecodedShape;
  const eth = decoded.payload;
  const ip = eth?.payload;
  const udp = ip?.payload;
  if (eth === undefined || ip === undefined || udp === undefined || ip.protocol !== 17) return null;
  return {
    vlanId: eth.vlan?.id ?? null,
    saddr: String(ip.saddr),
    daddr: String(ip.daddr),
    sport: udp.sport ?? -1,
    dport: udp.dport ?? -1,
    length: udp.length ?? -1,
  };
}
