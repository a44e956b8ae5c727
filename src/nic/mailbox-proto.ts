/**
 * The PF↔VF mailbox protocol: typed, versioned messages carried in the 16-dword mailbox buffer
 * (igb's E1000_VF_* / E1000_PF_* messages, with ixgbe's API negotiation and queue query; Linux
 * drivers/net/ethernet/intel/igb/e1000_mbx.h, ixgbe/ixgbe_mbx.h; anchors.md §2.3).
 *
 * Word 0 of every message:
 *
 *   31    30     29    28..24   23..16   15..0
 *   ACK   NACK   CTS   length   info     message id
 *
 * - id: E1000_VF_* (VF → PF request, < 0x100) or E1000_PF_* (PF → VF notification, ≥ 0x100).
 * - info (E1000_VT_MSGINFO): per-message detail (MAC filter op, VLAN add/remove, multicast count
 *   and chunk flags, NACK reason, control event).
 * - length: pciov addition, the message length in dwords including word 0 (1..16), so that a
 *   truncated or padded message is caught before any field is read.
 * - ACK / NACK: set by the PF on the reply to a request (same id); CTS ("clear to send"): set by the
 *   PF while the VF has completed its reset handshake.
 *
 * A MAC travels as six bytes in transmission order, packed little-endian from word 1 (as igb's
 * `(u8 *)&msgbuf[1]`); unused bytes of the last word must be zero.
 *
 * Versions: 1.0 (reset, MAC, multicast, VLAN, LPE), 1.1 (+ GET_QUEUES), 1.2 (+ SET_PROMISC
 * all-multicast and LINK_STATE notifications). A VF proposes a version with API_NEGOTIATE; the PF
 * answers ACK (agreed) or NACK (try an older one).
 *
 * Decoding never throws: malformed input yields `{ ok: false, error }` with a typed reason.
 */
import { MAX_FRAME } from "./frame.js";
import { E1000_VFMAILBOX_SIZE } from "./mailbox-hw.js";
import type { Mac } from "./port-config.js";
import { isMulticastMac } from "./port-config.js";

// ---- word 0 ----
export const E1000_VT_MSGTYPE_ACK = 0x80000000; // Messages below or'd with this are the ACK
export const E1000_VT_MSGTYPE_NACK = 0x40000000; // Messages below or'd with this are the NACK
export const E1000_VT_MSGTYPE_CTS = 0x20000000; // Indicates that VF is still clear to send requests
export const E1000_VT_MSGINFO_SHIFT = 16;
export const E1000_VT_MSGINFO_MASK = 0xff << E1000_VT_MSGINFO_SHIFT;
export const MBX_MSGLEN_SHIFT = 24;
export const MBX_MSGLEN_MASK = 0x1f << MBX_MSGLEN_SHIFT;
export const MBX_MSGID_MASK = 0xffff;
const FLAGS_MASK = (E1000_VT_MSGTYPE_ACK | E1000_VT_MSGTYPE_NACK | E1000_VT_MSGTYPE_CTS) >>> 0;

// ---- message ids ----
export const E1000_VF_RESET = 0x01; // VF requests reset
export const E1000_VF_SET_MAC_ADDR = 0x02; // VF requests to set MAC addr
export const E1000_VF_SET_MULTICAST = 0x03; // VF requests to set MC addr
export const E1000_VF_SET_VLAN = 0x04; // VF requests to set VLAN
export const E1000_VF_SET_LPE = 0x05; // VF requests to set VMOLR.LPE
export const E1000_VF_SET_PROMISC = 0x06; // VF requests to clear VMOLR.ROPE/MPME
export const MBX_VF_API_NEGOTIATE = 0x08; // ixgbe IXGBE_VF_API_NEGOTIATE
export const MBX_VF_GET_QUEUES = 0x09; // ixgbe IXGBE_VF_GET_QUEUES
export const E1000_PF_CONTROL_MSG = 0x0100; // PF control message
export const MBX_PF_LINK_STATE = 0x0101; // pciov: PF tells the VF its link state

// ---- info field values ----
export const E1000_VF_MAC_FILTER_CLR = 0x01; // clear the VF's extra unicast filters
export const E1000_VF_MAC_FILTER_ADD = 0x02; // add an extra unicast filter
export const E1000_VF_SET_PROMISC_MULTICAST = 0x02; // all-multicast on
/** SET_MULTICAST info: count of MACs in this chunk [3:0], first chunk [6], last chunk [7]. */
export const MBX_MC_COUNT_MASK = 0x0f;
export const MBX_MC_FIRST = 0x40;
export const MBX_MC_LAST = 0x80;
/** MACs per SET_MULTICAST message: 15 payload dwords hold 10 six-byte addresses. */
export const MBX_MC_PER_MSG = 10;
/** Most multicast MACs a VF may program (igbvf's limit of 30 per SET_MULTICAST). */
export const MBX_MAX_MULTICAST = 30;
/** Smallest frame SET_LPE may ask for (64-byte Ethernet minimum). */
export const MBX_MIN_FRAME = 64;
/** Largest link speed a LINK_STATE message may carry (Mbit/s). */
export const MBX_MAX_SPEED_MBPS = 800_000;

// ---- versions ----
export const MBX_API_VERSIONS = ["1.0", "1.1", "1.2"] as const;
export type MbxApiVersion = (typeof MBX_API_VERSIONS)[number];

export function apiVersionParts(v: MbxApiVersion): { readonly major: number; readonly minor: number } {
  const [major, minor] = v.split(".").map(Number);
  return { major: major ?? 0, minor: minor ?? 0 };
}

export function apiVersionOf(major: number, minor: number): MbxApiVersion | undefined {
  return MBX_API_VERSIONS.find((v) => {
    const p = apiVersionParts(v);
    return p.major === major && p.minor === minor;
  });
}

export const apiAtLeast = (v: MbxApiVersion, min: MbxApiVersion): boolean =>
  MBX_API_VERSIONS.indexOf(v) >= MBX_API_VERSIONS.indexOf(min);

// ---- messages ----

/** VF → PF requests. */
export type VfRequest =
  | { readonly type: "reset" }
  | { readonly type: "api-negotiate"; readonly major: number; readonly minor: number }
  | { readonly type: "set-mac"; readonly mac: Mac }
  | { readonly type: "add-mac-filter"; readonly mac: Mac }
  | { readonly type: "clear-mac-filters" }
  | { readonly type: "set-multicast"; readonly first: boolean; readonly last: boolean; readonly macs: readonly Mac[] }
  | { readonly type: "set-vlan"; readonly add: boolean; readonly vid: number }
  | { readonly type: "set-lpe"; readonly maxFrame: number }
  | { readonly type: "set-promisc"; readonly allMulti: boolean }
  | { readonly type: "get-queues" };
export type VfRequestType = VfRequest["type"];

/** Wire id of each request type. */
export const REQUEST_ID: { readonly [T in VfRequestType]: number } = {
  reset: E1000_VF_RESET,
  "api-negotiate": MBX_VF_API_NEGOTIATE,
  "set-mac": E1000_VF_SET_MAC_ADDR,
  "add-mac-filter": E1000_VF_SET_MAC_ADDR,
  "clear-mac-filters": E1000_VF_SET_MAC_ADDR,
  "set-multicast": E1000_VF_SET_MULTICAST,
  "set-vlan": E1000_VF_SET_VLAN,
  "set-lpe": E1000_VF_SET_LPE,
  "set-promisc": E1000_VF_SET_PROMISC,
  "get-queues": MBX_VF_GET_QUEUES,
};

/** Why the PF refused a request (carried in the info field of the NACK). */
export const NACK_REASONS = [
  "malformed", // bad length, bad flags or a field out of range
  "unknown-id", // not a message this PF knows
  "phase", // not allowed before reset / before API negotiation
  "version", // needs a newer negotiated API version
  "unsupported-version", // API_NEGOTIATE for a version this PF does not speak
  "rate-limited", // the VF sends faster than its mailbox budget
  "admin-mac", // the administrator fixed the MAC and the VF is not trusted
  "invalid-mac", // zero, multicast or broadcast where a unicast MAC is needed
  "mac-in-use", // another VF or the PF owns that MAC
  "mac-limit", // too many extra unicast filters
  "multicast-limit", // more multicast MACs than allowed
  "multicast-sequence", // a continuation chunk without a first chunk
  "port-vlan", // the administrator set a port VLAN
  "vlan-limit", // too many VLANs
  "not-trusted", // privileged request from an untrusted VF
] as const;
export type NackReason = (typeof NACK_REASONS)[number];

export type AckableType = Exclude<VfRequestType, "reset" | "get-queues">;

export interface VfQueueInfo {
  readonly txQueues: number;
  readonly rxQueues: number;
  readonly defaultQueue: number;
  /** A port VLAN is inserted/stripped by the PF (the VF must not add its own tag). */
  readonly portVlan: boolean;
}

/** PF → VF replies to a request. */
export type PfReply =
  | { readonly type: "ack"; readonly to: AckableType; readonly cts: boolean }
  | { readonly type: "nack"; readonly id: number; readonly reason: NackReason; readonly cts: boolean }
  | { readonly type: "reset-ack"; readonly mac: Mac; readonly cts: boolean }
  | { readonly type: "queues-ack"; readonly queues: VfQueueInfo; readonly cts: boolean };

export const PF_CONTROL_EVENTS = ["ping", "reset-required"] as const;
export type PfControlEvent = (typeof PF_CONTROL_EVENTS)[number];

/** PF → VF messages the VF did not ask for. */
export type PfNotification =
  | { readonly type: "control"; readonly event: PfControlEvent; readonly cts: boolean }
  | { readonly type: "link-state"; readonly up: boolean; readonly speedMbps: number; readonly cts: boolean };

export type PfMessage = PfReply | PfNotification;

export type MbxDecodeError =
  | { readonly kind: "unknown-id"; readonly id: number }
  | { readonly kind: "bad-length"; readonly id: number; readonly expected: number; readonly got: number }
  | { readonly kind: "bad-flags"; readonly id: number; readonly flags: number }
  | { readonly kind: "field-range"; readonly id: number; readonly field: string; readonly value: number };

export type MbxDecoded<T> = { readonly ok: true; readonly msg: T } | { readonly ok: false; readonly error: MbxDecodeError };

/** The wire id a reply answers (for matching a reply to its request). */
export function replyId(r: PfReply): number {
  switch (r.type) {
    case "ack":
      return REQUEST_ID[r.to];
    case "nack":
      return r.id;
    case "reset-ack":
      return E1000_VF_RESET;
    case "queues-ack":
      return MBX_VF_GET_QUEUES;
  }
}

/** Info field of a generic ACK: the MAC filter op for E1000_VF_SET_MAC_ADDR (as in the request), else 0. */
const ACK_INFO: { readonly [T in AckableType]: number } = {
  "api-negotiate": 0,
  "set-mac": 0,
  "add-mac-filter": E1000_VF_MAC_FILTER_ADD,
  "clear-mac-filters": E1000_VF_MAC_FILTER_CLR,
  "set-multicast": 0,
  "set-vlan": 0,
  "set-lpe": 0,
  "set-promisc": 0,
};
const ACK_IDS: ReadonlySet<number> = new Set((Object.keys(ACK_INFO) as AckableType[]).map((t) => REQUEST_ID[t]));

// ---- helpers ----

const header = (id: number, info: number, len: number, flags = 0): number =>
  ((id & MBX_MSGID_MASK) | ((info & 0xff) << E1000_VT_MSGINFO_SHIFT) | ((len & 0x1f) << MBX_MSGLEN_SHIFT) | flags) >>> 0;

const macByte = (mac: Mac, i: number): number => Math.floor(mac / 2 ** (8 * (5 - i))) & 0xff;

/** Dwords needed for `n` MACs after word 0. */
const macWords = (n: number): number => Math.ceil((6 * n) / 4);

function putMacs(words: number[], macs: readonly Mac[]): void {
  macs.forEach((mac, k) => {
    for (let i = 0; i < 6; i++) {
      const byte = 6 * k + i;
      const w = 1 + (byte >>> 2);
      words[w] = ((words[w] ?? 0) | (macByte(mac, i) << (8 * (byte & 3)))) >>> 0;
    }
  });
}

function byteAt(words: ArrayLike<number>, byte: number): number {
  return ((words[1 + (byte >>> 2)] ?? 0) >>> (8 * (byte & 3))) & 0xff;
}

function getMacs(words: ArrayLike<number>, n: number): Mac[] {
  const out: Mac[] = [];
  for (let k = 0; k < n; k++) {
    let m = 0;
    for (let i = 0; i < 6; i++) m = m * 256 + byteAt(words, 6 * k + i);
    out.push(m);
  }
  return out;
}

/** The bytes after the last MAC up to the end of the message must be zero. */
function paddingClear(words: ArrayLike<number>, n: number, len: number): boolean {
  for (let b = 6 * n; b < 4 * (len - 1); b++) if (byteAt(words, b) !== 0) return false;
  return true;
}

const isMac = (m: number): boolean => Number.isInteger(m) && m >= 0 && m < 2 ** 48;

// ---- encode ----

/** A VF request as the dwords the VF writes into the buffer (length = the message length). */
export function encodeVfRequest(req: VfRequest): number[] {
  switch (req.type) {
    case "reset":
      return [header(E1000_VF_RESET, 0, 1)];
    case "get-queues":
      return [header(MBX_VF_GET_QUEUES, 0, 1)];
    case "api-negotiate":
      return [header(MBX_VF_API_NEGOTIATE, 0, 2), (((req.major & 0xff) << 8) | (req.minor & 0xff)) >>> 0];
    case "set-mac":
    case "add-mac-filter": {
      const w = [header(E1000_VF_SET_MAC_ADDR, req.type === "set-mac" ? 0 : E1000_VF_MAC_FILTER_ADD, 3), 0, 0];
      putMacs(w, [req.mac]);
      return w;
    }
    case "clear-mac-filters":
      return [header(E1000_VF_SET_MAC_ADDR, E1000_VF_MAC_FILTER_CLR, 1)];
    case "set-multicast": {
      const n = req.macs.length;
      const info = (n & MBX_MC_COUNT_MASK) | (req.first ? MBX_MC_FIRST : 0) | (req.last ? MBX_MC_LAST : 0);
      const len = 1 + macWords(n);
      const w = [header(E1000_VF_SET_MULTICAST, info, len), ...new Array<number>(len - 1).fill(0)];
      putMacs(w, req.macs);
      return w;
    }
    case "set-vlan":
      return [header(E1000_VF_SET_VLAN, req.add ? 1 : 0, 2), req.vid & 0xffff];
    case "set-lpe":
      return [header(E1000_VF_SET_LPE, 0, 2), req.maxFrame >>> 0];
    case "set-promisc":
      return [header(E1000_VF_SET_PROMISC, req.allMulti ? E1000_VF_SET_PROMISC_MULTICAST : 0, 1)];
  }
}

const ctsFlag = (cts: boolean): number => (cts ? E1000_VT_MSGTYPE_CTS : 0);

/** A PF message (reply or notification) as the dwords the PF writes into the buffer. */
export function encodePfMessage(msg: PfMessage): number[] {
  const cts = ctsFlag(msg.cts);
  switch (msg.type) {
    case "ack":
      return [header(REQUEST_ID[msg.to], ACK_INFO[msg.to], 1, E1000_VT_MSGTYPE_ACK | cts)];
    case "nack":
      return [header(msg.id, NACK_REASONS.indexOf(msg.reason) + 1, 1, E1000_VT_MSGTYPE_NACK | cts)];
    case "reset-ack": {
      const w = [header(E1000_VF_RESET, 0, 3, E1000_VT_MSGTYPE_ACK | cts), 0, 0];
      putMacs(w, [msg.mac]);
      return w;
    }
    case "queues-ack": {
      const q = msg.queues;
      return [
        header(MBX_VF_GET_QUEUES, 0, 3, E1000_VT_MSGTYPE_ACK | cts),
        ((q.txQueues & 0xff) | ((q.rxQueues & 0xff) << 8) | ((q.defaultQueue & 0xff) << 16)) >>> 0,
        q.portVlan ? 1 : 0,
      ];
    }
    case "control":
      return [header(E1000_PF_CONTROL_MSG, PF_CONTROL_EVENTS.indexOf(msg.event), 1, cts)];
    case "link-state":
      return [header(MBX_PF_LINK_STATE, 0, 3, cts), msg.up ? 1 : 0, msg.speedMbps >>> 0];
  }
}

// ---- decode ----

interface Head {
  readonly id: number;
  readonly info: number;
  readonly len: number;
  readonly flags: number;
}

function head(words: ArrayLike<number>): Head {
  const w0 = (words[0] ?? 0) >>> 0;
  return {
    id: w0 & MBX_MSGID_MASK,
    info: (w0 & E1000_VT_MSGINFO_MASK) >>> E1000_VT_MSGINFO_SHIFT,
    len: (w0 & MBX_MSGLEN_MASK) >>> MBX_MSGLEN_SHIFT,
    flags: (w0 & FLAGS_MASK) >>> 0,
  };
}

const ok = <T>(msg: T): MbxDecoded<T> => ({ ok: true, msg });
const fail = <T>(error: MbxDecodeError): MbxDecoded<T> => ({ ok: false, error });
const range = <T>(id: number, field: string, value: number): MbxDecoded<T> => fail({ kind: "field-range", id, field, value });

/** The length a message must declare, checked before any field is read. */
function lengthOk<T>(h: Head, expected: number, available: number): MbxDecoded<T> | null {
  if (h.len !== expected || expected > available) return fail({ kind: "bad-length", id: h.id, expected, got: h.len });
  return null;
}

const word = (words: ArrayLike<number>, i: number): number => (words[i] ?? 0) >>> 0;

/** Decode what a VF left in its buffer (16 dwords, or fewer). */
export function decodeVfRequest(words: ArrayLike<number>): MbxDecoded<VfRequest> {
  const h = head(words);
  const avail = Math.min(words.length, E1000_VFMAILBOX_SIZE);
  const known = [
    E1000_VF_RESET,
    E1000_VF_SET_MAC_ADDR,
    E1000_VF_SET_MULTICAST,
    E1000_VF_SET_VLAN,
    E1000_VF_SET_LPE,
    E1000_VF_SET_PROMISC,
    MBX_VF_API_NEGOTIATE,
    MBX_VF_GET_QUEUES,
  ];
  if (!known.includes(h.id)) return fail({ kind: "unknown-id", id: h.id });
  if (h.flags !== 0) return fail({ kind: "bad-flags", id: h.id, flags: h.flags });
  const { id, info } = h;
  switch (id) {
    case E1000_VF_RESET:
    case MBX_VF_GET_QUEUES: {
      const bad = lengthOk<VfRequest>(h, 1, avail);
      if (bad) return bad;
      if (info !== 0) return range(id, "info", info);
      return ok(id === E1000_VF_RESET ? { type: "reset" } : { type: "get-queues" });
    }
    case MBX_VF_API_NEGOTIATE: {
      const bad = lengthOk<VfRequest>(h, 2, avail);
      if (bad) return bad;
      if (info !== 0) return range(id, "info", info);
      const v = word(words, 1);
      if (v > 0xffff) return range(id, "version", v);
      return ok({ type: "api-negotiate", major: v >>> 8, minor: v & 0xff });
    }
    case E1000_VF_SET_MAC_ADDR: {
      if (info === E1000_VF_MAC_FILTER_CLR) {
        const bad = lengthOk<VfRequest>(h, 1, avail);
        return bad ?? ok({ type: "clear-mac-filters" });
      }
      if (info !== 0 && info !== E1000_VF_MAC_FILTER_ADD) return range(id, "op", info);
      const bad = lengthOk<VfRequest>(h, 3, avail);
      if (bad) return bad;
      if (!paddingClear(words, 1, 3)) return range(id, "padding", word(words, 2) >>> 16);
      const mac = getMacs(words, 1)[0] ?? 0;
      return ok(info === 0 ? { type: "set-mac", mac } : { type: "add-mac-filter", mac });
    }
    case E1000_VF_SET_MULTICAST: {
      const n = info & MBX_MC_COUNT_MASK;
      if ((info & ~(MBX_MC_COUNT_MASK | MBX_MC_FIRST | MBX_MC_LAST)) !== 0) return range(id, "info", info);
      if (n > MBX_MC_PER_MSG) return range(id, "count", n);
      const len = 1 + macWords(n);
      const bad = lengthOk<VfRequest>(h, len, avail);
      if (bad) return bad;
      if (!paddingClear(words, n, len)) return range(id, "padding", word(words, len - 1));
      const macs = getMacs(words, n);
      const notMc = macs.find((m) => !isMulticastMac(m));
      if (notMc !== undefined) return range(id, "mac", notMc);
      return ok({ type: "set-multicast", first: (info & MBX_MC_FIRST) !== 0, last: (info & MBX_MC_LAST) !== 0, macs });
    }
    case E1000_VF_SET_VLAN: {
      const bad = lengthOk<VfRequest>(h, 2, avail);
      if (bad) return bad;
      if (info > 1) return range(id, "info", info);
      const vid = word(words, 1);
      if (vid < 1 || vid > 4094) return range(id, "vid", vid);
      return ok({ type: "set-vlan", add: info === 1, vid });
    }
    case E1000_VF_SET_LPE: {
      const bad = lengthOk<VfRequest>(h, 2, avail);
      if (bad) return bad;
      if (info !== 0) return range(id, "info", info);
      const maxFrame = word(words, 1);
      if (maxFrame < MBX_MIN_FRAME || maxFrame > MAX_FRAME) return range(id, "maxFrame", maxFrame);
      return ok({ type: "set-lpe", maxFrame });
    }
    case E1000_VF_SET_PROMISC: {
      const bad = lengthOk<VfRequest>(h, 1, avail);
      if (bad) return bad;
      if (info !== 0 && info !== E1000_VF_SET_PROMISC_MULTICAST) return range(id, "mode", info);
      return ok({ type: "set-promisc", allMulti: info === E1000_VF_SET_PROMISC_MULTICAST });
    }
    default:
      return fail({ kind: "unknown-id", id });
  }
}

/** (id, info) of a generic ACK → the request type it answers. */
const ackKey = (id: number, info: number): number => id * 256 + info;
const ACKABLE: ReadonlyMap<number, AckableType> = new Map<number, AckableType>(
  (Object.keys(ACK_INFO) as AckableType[]).map((t) => [ackKey(REQUEST_ID[t], ACK_INFO[t]), t]),
);

/** Decode what the PF left in the buffer. */
export function decodePfMessage(words: ArrayLike<number>): MbxDecoded<PfMessage> {
  const h = head(words);
  const avail = Math.min(words.length, E1000_VFMAILBOX_SIZE);
  const { id, info } = h;
  const cts = (h.flags & E1000_VT_MSGTYPE_CTS) !== 0;
  const ack = (h.flags & E1000_VT_MSGTYPE_ACK) !== 0;
  const nack = (h.flags & E1000_VT_MSGTYPE_NACK) !== 0;
  if (ack && nack) return fail({ kind: "bad-flags", id, flags: h.flags });
  if (nack) {
    const bad = lengthOk<PfMessage>(h, 1, avail);
    if (bad) return bad;
    const reason = NACK_REASONS[info - 1];
    if (reason === undefined) return range(id, "reason", info);
    return ok({ type: "nack", id, reason, cts });
  }
  if (ack) {
    if (id === E1000_VF_RESET) {
      const bad = lengthOk<PfMessage>(h, 3, avail);
      if (bad) return bad;
      if (info !== 0) return range(id, "info", info);
      if (!paddingClear(words, 1, 3)) return range(id, "padding", word(words, 2) >>> 16);
      return ok({ type: "reset-ack", mac: getMacs(words, 1)[0] ?? 0, cts });
    }
    if (id === MBX_VF_GET_QUEUES) {
      const bad = lengthOk<PfMessage>(h, 3, avail);
      if (bad) return bad;
      if (info !== 0) return range(id, "info", info);
      const q = word(words, 1);
      const pv = word(words, 2);
      if (q >>> 24 !== 0) return range(id, "queues", q);
      if (pv > 1) return range(id, "portVlan", pv);
      const txQueues = q & 0xff;
      const rxQueues = (q >>> 8) & 0xff;
      const defaultQueue = (q >>> 16) & 0xff;
      if (txQueues === 0 || rxQueues === 0) return range(id, "queues", q);
      if (defaultQueue >= rxQueues) return range(id, "defaultQueue", defaultQueue);
      return ok({ type: "queues-ack", queues: { txQueues, rxQueues, defaultQueue, portVlan: pv === 1 }, cts });
    }
    if (!ACK_IDS.has(id)) return fail({ kind: "unknown-id", id });
    const bad = lengthOk<PfMessage>(h, 1, avail);
    if (bad) return bad;
    const to = ACKABLE.get(ackKey(id, info));
    if (to === undefined) return range(id, "info", info);
    return ok({ type: "ack", to, cts });
  }
  if (id === E1000_PF_CONTROL_MSG) {
    const bad = lengthOk<PfMessage>(h, 1, avail);
    if (bad) return bad;
    const event = PF_CONTROL_EVENTS[info];
    if (event === undefined) return range(id, "event", info);
    return ok({ type: "control", event, cts });
  }
  if (id === MBX_PF_LINK_STATE) {
    const bad = lengthOk<PfMessage>(h, 3, avail);
    if (bad) return bad;
    if (info !== 0) return range(id, "info", info);
    const up = word(words, 1);
    const speed = word(words, 2);
    if (up > 1) return range(id, "up", up);
    if (speed > MBX_MAX_SPEED_MBPS) return range(id, "speedMbps", speed);
    return ok({ type: "link-state", up: up === 1, speedMbps: speed, cts });
  }
  return fail({ kind: "unknown-id", id });
}

/** True when `r` is a well-formed request a VF could send (host-side validation for encode callers). */
export function isEncodableRequest(r: VfRequest): boolean {
  switch (r.type) {
    case "api-negotiate":
      return Number.isInteger(r.major) && Number.isInteger(r.minor) && r.major >= 0 && r.major <= 0xff && r.minor >= 0 && r.minor <= 0xff;
    case "set-mac":
    case "add-mac-filter":
      return isMac(r.mac);
    case "set-multicast":
      return r.macs.length <= MBX_MC_PER_MSG && r.macs.every((m) => isMac(m) && isMulticastMac(m));
    case "set-vlan":
      return Number.isInteger(r.vid) && r.vid >= 1 && r.vid <= 4094;
    case "set-lpe":
      return Number.isInteger(r.maxFrame) && r.maxFrame >= MBX_MIN_FRAME && r.maxFrame <= MAX_FRAME;
    case "reset":
    case "clear-mac-filters":
    case "set-promisc":
    case "get-queues":
      return true;
  }
}
