/**
 * The PF driver's mailbox server: the host-side software that answers VF drivers (Linux igb's
 * igb_msg_task / igb_rcv_msg_from_vf, ixgbe's ixgbe_rcv_msg_from_vf).
 *
 * It reaches the hardware only through PF BAR0 MMIO (`pfRead` / `pfWrite`), as a driver does:
 * it reads the cause registers, takes the buffer (PFU, read back), reads the 16 dwords, acknowledges
 * and releases (P2VMAILBOX.ACK), decides, then takes the buffer again to write the reply and sets
 * STS.
 *
 * Every VF has a phase and an allowlist per phase: before a reset handshake only RESET is heard;
 * after it only RESET and API_NEGOTIATE; after negotiation the requests of the negotiated version.
 * Every request is charged to the VF's token bucket (simulated time from the caller) before it is
 * even decoded, so a VF flooding its mailbox gets NACKs and cannot starve the others; VFs with
 * pending requests are served round-robin.
 *
 * The effect of an ACKed request lands in that VF's `VfRuntimeState` and is pushed to the NIC
 * through `MailboxNicHooks` with that VF's index: no request can reach the PF's settings or another
 * VF's state. Administrative settings (`ip link set DEV vf N ...`) are read, never written.
 */
import { IovError, assertNever } from "../errors.js";
import { DEFAULT_MAX_RX_FRAME } from "../nic/frame.js";
import {
  E1000_MBVFICR_VFACK_VF1,
  E1000_MBVFICR_VFREQ_VF1,
  E1000_P2VMAILBOX_ACK,
  E1000_P2VMAILBOX_PFU,
  E1000_P2VMAILBOX_STS,
  E1000_VFMAILBOX_SIZE,
  MBX_VFACK_WIDE,
  MBX_VFIMR_WIDE,
  MBX_VFREQ_WIDE,
} from "../nic/mailbox-hw.js";
import type { MbxApiVersion, NackReason, PfMessage, PfNotification, PfReply, VfQueueInfo, VfRequest, VfRequestType } from "../nic/mailbox-proto.js";
import {
  MBX_API_VERSIONS,
  MBX_MAX_MULTICAST,
  NACK_REASONS,
  REQUEST_ID,
  apiAtLeast,
  apiVersionOf,
  decodeVfRequest,
  encodePfMessage,
} from "../nic/mailbox-proto.js";
import type { Mac, VfPortConfig } from "../nic/port-config.js";
import { isMulticastMac } from "../nic/port-config.js";
import {
  E1000_MBVFICR,
  E1000_MBVFIMR,
  E1000_P2VMAILBOX,
  E1000_VFLRE,
  E1000_VMBMEM,
  IGB_MAILBOX_VFS,
  PF_P2VMAILBOX_WIDE,
  PF_VMBMEM_WIDE,
} from "../nic/regs.js";

export type VfPhase = "down" | "reset-done" | "negotiated";

/** What a VF has asked for and been granted: the only thing its mailbox requests can change. */
export interface VfRuntimeState {
  apiVersion: MbxApiVersion | null;
  /** Primary unicast MAC (0 = none). */
  mac: Mac;
  /** Extra unicast filters (macvlan in the VF). */
  macFilters: Mac[];
  multicast: Mac[];
  allMulti: boolean;
  /** VLANs the VF joined (sorted), when no port VLAN is set. */
  vlans: number[];
  maxFrame: number;
}

/**
 * How the server tells the NIC to reprogram VF `vf`'s receive filters. Called only with the
 * sender's index, with values inside the server's MailboxLimits; an implementation must not throw.
 */
export interface MailboxNicHooks {
  /** The VF was reset (message or FLR): stop its queues and clear its filters. */
  resetVf(vf: number): void;
  /** Exact unicast filters: primary MAC first, then the extra filters. */
  setVfUnicast(vf: number, macs: readonly Mac[]): void;
  setVfMulticast(vf: number, macs: readonly Mac[], allMulti: boolean): void;
  setVfVlans(vf: number, vids: readonly number[]): void;
  setVfMaxFrame(vf: number, bytes: number): void;
}

/** The PF driver's BAR0 as the server uses it. */
export interface PfMailboxMmio {
  pfRead(off: number, size: number): number;
  pfWrite(off: number, size: number, value: number): void;
}

export interface MailboxLimits {
  /** Sustained messages per simulated second per VF. */
  readonly msgsPerSecond: number;
  /** Messages a VF may send back to back before the rate applies. */
  readonly burst: number;
  readonly maxMulticast: number;
  readonly maxMacFilters: number;
  readonly maxVlans: number;
}

/**
 * Defaults sized to the NIC's filter tables (src/nic/fn.ts: 17 exact unicast entries = the admin
 * MAC, the VF's primary and 15 extra filters; 64 multicast entries; the hooks must accept anything
 * within these limits).
 */
export const DEFAULT_MAILBOX_LIMITS: MailboxLimits = {
  msgsPerSecond: 1000,
  burst: 100,
  maxMulticast: MBX_MAX_MULTICAST,
  maxMacFilters: 15,
  maxVlans: 32,
};

export interface MailboxServerOptions {
  readonly numVfs: number;
  readonly nic: MailboxNicHooks;
  /** The administrator's settings for VF `vf`; read at every decision, never written. */
  readonly adminConfig: (vf: number) => Readonly<VfPortConfig>;
  /** MACs the PF itself uses; no VF may claim them. */
  readonly pfMacs?: () => readonly Mac[];
  /** Queues the PF gives VF `vf` (GET_QUEUES). */
  readonly queues?: (vf: number) => Omit<VfQueueInfo, "portVlan">;
  readonly limits?: Partial<MailboxLimits>;
  /** API versions this PF speaks (default: all). */
  readonly versions?: readonly MbxApiVersion[];
}

export interface VfMailboxCounters {
  received: number;
  acked: number;
  nacked: number;
  nackedBy: Record<NackReason, number>;
  /** Replies the VF made impossible to deliver by holding the buffer. */
  repliesDropped: number;
  notificationsSent: number;
  /** VF reset events (VFLRE) seen. */
  resets: number;
}

export interface VfMailboxSnapshot {
  readonly phase: VfPhase;
  readonly state: VfRuntimeState;
  readonly counters: VfMailboxCounters;
  readonly pendingMulticast: readonly Mac[] | null;
  readonly pendingNotifications: readonly PfNotification[];
  readonly awaitingAck: boolean;
}

/** Which phase may send what. */
const PHASE_ALLOWLIST: { readonly [P in VfPhase]: ReadonlySet<VfRequestType> } = {
  down: new Set<VfRequestType>(["reset"]),
  "reset-done": new Set<VfRequestType>(["reset", "api-negotiate"]),
  negotiated: new Set<VfRequestType>(Object.keys(REQUEST_ID) as VfRequestType[]),
};

/** The API version that introduced each request. */
const MIN_VERSION: { readonly [T in VfRequestType]: MbxApiVersion } = {
  reset: "1.0",
  "api-negotiate": "1.0",
  "set-mac": "1.0",
  "add-mac-filter": "1.0",
  "clear-mac-filters": "1.0",
  "set-multicast": "1.0",
  "set-vlan": "1.0",
  "set-lpe": "1.0",
  "set-promisc": "1.2",
  "get-queues": "1.1",
};

/** Notifications need this version; older VFs get none. */
const LINK_STATE_VERSION: MbxApiVersion = "1.2";

const NS_PER_S = 1e9;

function zeroReasons(): Record<NackReason, number> {
  const r = {} as Record<NackReason, number>;
  for (const k of NACK_REASONS) r[k] = 0;
  return r;
}

function initialState(mac: Mac): VfRuntimeState {
  return { apiVersion: null, mac, macFilters: [], multicast: [], allMulti: false, vlans: [], maxFrame: DEFAULT_MAX_RX_FRAME };
}

function copyState(s: VfRuntimeState): VfRuntimeState {
  return { ...s, macFilters: [...s.macFilters], multicast: [...s.multicast], vlans: [...s.vlans] };
}

const isUnicast = (m: Mac): boolean => m !== 0 && !isMulticastMac(m);

class MsgBucket {
  tokens: number;
  lastNs = 0;
  constructor(private readonly perSecond: number, private readonly burst: number) {
    this.tokens = burst;
  }
  take(nowNs: number): boolean {
    if (nowNs > this.lastNs) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowNs - this.lastNs) * this.perSecond) / NS_PER_S);
      this.lastNs = nowNs;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

interface VfSlot {
  phase: VfPhase;
  state: VfRuntimeState;
  counters: VfMailboxCounters;
  pendingMulticast: Mac[] | null;
  pending: PfNotification[];
  awaitingAck: boolean;
  readonly bucket: MsgBucket;
}

type Outcome = { readonly reply: PfReply } | { readonly nack: NackReason };

export class MailboxServer {
  readonly numVfs: number;
  private readonly limits: MailboxLimits;
  private readonly versions: ReadonlySet<MbxApiVersion>;
  private readonly slots: VfSlot[];
  private readonly words = new Uint32Array(E1000_VFMAILBOX_SIZE);
  private rr = 0;
  private polling = false;
  private again = false;

  constructor(private readonly mmio: PfMailboxMmio, private readonly opts: MailboxServerOptions) {
    const n = opts.numVfs;
    if (!Number.isInteger(n) || n < 1) throw new IovError("EINVAL", `mailbox server: bad VF count ${n}`, { numVfs: n });
    this.numVfs = n;
    this.limits = { ...DEFAULT_MAILBOX_LIMITS, ...opts.limits };
    if (!(this.limits.msgsPerSecond > 0) || !(this.limits.burst >= 1)) {
      throw new IovError("EINVAL", "mailbox server: rate limit needs msgsPerSecond > 0 and burst >= 1", { limits: this.limits });
    }
    if (this.limits.maxMulticast > MBX_MAX_MULTICAST) {
      throw new IovError("ERANGE", `mailbox server: maxMulticast above ${MBX_MAX_MULTICAST}`, { limits: this.limits });
    }
    this.versions = new Set(opts.versions ?? MBX_API_VERSIONS);
    this.slots = Array.from({ length: n }, (_, vf) => ({
      phase: "down" as VfPhase,
      state: initialState(opts.adminConfig(vf).mac),
      counters: { received: 0, acked: 0, nacked: 0, nackedBy: zeroReasons(), repliesDropped: 0, notificationsSent: 0, resets: 0 },
      pendingMulticast: null,
      pending: [],
      awaitingAck: false,
      bucket: new MsgBucket(this.limits.msgsPerSecond, this.limits.burst),
    }));
  }

  /** Enable the mailbox interrupts of every VF (MBVFIMR); all VFs start in phase "down". */
  start(): void {
    if (this.wide) {
      for (let w = 0; w < this.words32; w++) this.mmio.pfWrite(MBX_VFIMR_WIDE(w), 4, 0xffffffff);
    } else {
      this.mmio.pfWrite(E1000_MBVFIMR, 4, (2 ** this.numVfs - 1) >>> 0);
    }
  }

  /**
   * Service everything pending at simulated time `nowNs`: VF resets, VF acks, then one request per
   * VF in round-robin order, then queued notifications. Returns the number of requests answered.
   * Safe to call from the PF interrupt: a nested call only asks the running one for another pass.
   */
  poll(nowNs: number): number {
    if (this.polling) {
      this.again = true;
      return 0;
    }
    this.polling = true;
    let handled = 0;
    try {
      do {
        this.again = false;
        handled += this.pass(nowNs);
      } while (this.again);
    } finally {
      this.polling = false;
    }
    return handled;
  }

  phase(vf: number): VfPhase {
    return this.slot(vf).phase;
  }

  state(vf: number): Readonly<VfRuntimeState> {
    return copyState(this.slot(vf).state);
  }

  counters(vf: number): Readonly<VfMailboxCounters> {
    const c = this.slot(vf).counters;
    return { ...c, nackedBy: { ...c.nackedBy } };
  }

  snapshotVf(vf: number): VfMailboxSnapshot {
    const s = this.slot(vf);
    return {
      phase: s.phase,
      state: copyState(s.state),
      counters: this.counters(vf),
      pendingMulticast: s.pendingMulticast === null ? null : [...s.pendingMulticast],
      pendingNotifications: [...s.pending],
      awaitingAck: s.awaitingAck,
    };
  }

  snapshot(): readonly VfMailboxSnapshot[] {
    return this.slots.map((_, vf) => this.snapshotVf(vf));
  }

  /** Tell every VF that negotiated 1.2 or later the PF's link state. */
  notifyLinkState(up: boolean, speedMbps: number): void {
    this.slots.forEach((s, vf) => {
      if (s.phase !== "negotiated" || s.state.apiVersion === null || !apiAtLeast(s.state.apiVersion, LINK_STATE_VERSION)) return;
      s.pending = s.pending.filter((m) => m.type !== "link-state");
      s.pending.push({ type: "link-state", up, speedMbps, cts: true });
      this.flush(vf);
    });
  }

  /**
   * The PF lost or changed what VF `vf` was granted (e.g. the administrator changed its MAC or port
   * VLAN): the VF loses CTS and must reset; it hears so by a control message without CTS.
   */
  requestVfReset(vf: number): void {
    const s = this.slot(vf);
    s.phase = "down";
    s.pendingMulticast = null;
    s.pending = [{ type: "control", event: "reset-required", cts: false }];
    this.flush(vf);
  }

  // ------------------------------------------------------------------ the service loop

  private get wide(): boolean {
    return this.numVfs > IGB_MAILBOX_VFS;
  }

  private get words32(): number {
    return Math.ceil(this.numVfs / 32);
  }

  private slot(vf: number): VfSlot {
    const s = this.slots[vf];
    if (s === undefined) throw new IovError("ENODEV", `mailbox server: no VF ${vf}`, { vf, numVfs: this.numVfs });
    return s;
  }

  private p2vOff(vf: number): number {
    return vf < IGB_MAILBOX_VFS ? E1000_P2VMAILBOX(vf) : PF_P2VMAILBOX_WIDE(vf);
  }

  private memOff(vf: number): number {
    return vf < IGB_MAILBOX_VFS ? E1000_VMBMEM(vf) : PF_VMBMEM_WIDE(vf);
  }

  private pass(nowNs: number): number {
    // 1. VF resets (W1C, then forget the VF's state).
    for (let w = 0; w < this.words32; w++) {
      const v = this.mmio.pfRead(E1000_VFLRE(w), 4);
      if (v === 0) continue;
      this.mmio.pfWrite(E1000_VFLRE(w), 4, v);
      for (let b = 0; b < 32; b++) if ((v >>> b) & 1 && w * 32 + b < this.numVfs) this.onVfReset(w * 32 + b);
    }
    // 2. Acks: the VF consumed our last message.
    const acks = this.causeBits("ack");
    for (const vf of acks) {
      this.clearCause("ack", vf);
      this.slot(vf).awaitingAck = false;
    }
    // 3. Requests, one per VF, round-robin.
    const req = new Set(this.causeBits("req"));
    let handled = 0;
    for (let i = 0; i < this.numVfs; i++) {
      const vf = (this.rr + i) % this.numVfs;
      if (req.has(vf) && this.receive(vf, nowNs)) handled++;
    }
    this.rr = (this.rr + 1) % this.numVfs;
    // 4. Notifications for VFs that consumed their last message.
    for (let vf = 0; vf < this.numVfs; vf++) this.flush(vf);
    return handled;
  }

  private causeBits(which: "req" | "ack"): number[] {
    const out: number[] = [];
    if (this.wide) {
      for (let w = 0; w < this.words32; w++) {
        const v = this.mmio.pfRead(which === "req" ? MBX_VFREQ_WIDE(w) : MBX_VFACK_WIDE(w), 4);
        for (let b = 0; b < 32; b++) if ((v >>> b) & 1 && w * 32 + b < this.numVfs) out.push(w * 32 + b);
      }
    } else {
      const v = this.mmio.pfRead(E1000_MBVFICR, 4);
      for (let vf = 0; vf < this.numVfs; vf++) {
        const m = which === "req" ? E1000_MBVFICR_VFREQ_VF1 << vf : (E1000_MBVFICR_VFACK_VF1 << vf) >>> 0;
        if ((v & m) !== 0) out.push(vf);
      }
    }
    return out;
  }

  private clearCause(which: "req" | "ack", vf: number): void {
    if (this.wide) {
      this.mmio.pfWrite(which === "req" ? MBX_VFREQ_WIDE(vf >>> 5) : MBX_VFACK_WIDE(vf >>> 5), 4, (1 << (vf & 31)) >>> 0);
    } else {
      this.mmio.pfWrite(E1000_MBVFICR, 4, (which === "req" ? E1000_MBVFICR_VFREQ_VF1 << vf : E1000_MBVFICR_VFACK_VF1 << vf) >>> 0);
    }
  }

  /** Take the buffer (PFU, read back as e1000_obtain_mbx_lock_pf does). */
  private lock(vf: number): boolean {
    const off = this.p2vOff(vf);
    this.mmio.pfWrite(off, 4, E1000_P2VMAILBOX_PFU);
    return (this.mmio.pfRead(off, 4) & E1000_P2VMAILBOX_PFU) !== 0;
  }

  /** Read, acknowledge and answer one request. False when the VF holds the buffer (its REQ stays pending). */
  private receive(vf: number, nowNs: number): boolean {
    if (!this.lock(vf)) return false;
    this.clearCause("req", vf);
    const mem = this.memOff(vf);
    for (let i = 0; i < E1000_VFMAILBOX_SIZE; i++) this.words[i] = this.mmio.pfRead(mem + 4 * i, 4);
    // Acknowledge the message and release the buffer.
    this.mmio.pfWrite(this.p2vOff(vf), 4, E1000_P2VMAILBOX_ACK);
    const s = this.slot(vf);
    s.counters.received++;
    const rawId = this.words[0]! & 0xffff;
    const out = this.handle(vf, s, nowNs);
    const reply: PfReply = "reply" in out ? out.reply : { type: "nack", id: rawId, reason: out.nack, cts: s.phase !== "down" };
    if (reply.type === "nack") {
      s.counters.nacked++;
      s.counters.nackedBy[reply.reason]++;
    } else {
      s.counters.acked++;
    }
    if (!this.send(vf, reply)) s.counters.repliesDropped++;
    return true;
  }

  /** Write a message into VF `vf`'s buffer and raise STS. False when the VF holds the buffer. */
  private send(vf: number, msg: PfMessage): boolean {
    if (!this.lock(vf)) return false;
    const words = encodePfMessage(msg);
    const mem = this.memOff(vf);
    for (let i = 0; i < E1000_VFMAILBOX_SIZE; i++) this.mmio.pfWrite(mem + 4 * i, 4, words[i] ?? 0);
    // STS without PFU: interrupt the VF and release the buffer.
    this.mmio.pfWrite(this.p2vOff(vf), 4, E1000_P2VMAILBOX_STS);
    this.slot(vf).awaitingAck = true;
    return true;
  }

  private flush(vf: number): void {
    const s = this.slot(vf);
    const next = s.pending[0];
    if (next === undefined || s.awaitingAck) return;
    if (this.send(vf, next)) {
      s.pending.shift();
      s.counters.notificationsSent++;
    }
  }

  private onVfReset(vf: number): void {
    const s = this.slot(vf);
    s.counters.resets++;
    s.phase = "down";
    s.pendingMulticast = null;
    s.pending = [];
    s.awaitingAck = false;
    // An FLR forgets a MAC the VF chose; an administrative MAC stays (igb_vf_reset_event).
    s.state = initialState(this.opts.adminConfig(vf).mac);
    this.opts.nic.resetVf(vf);
    this.pushAll(vf, s.state);
  }

  private pushAll(vf: number, st: VfRuntimeState): void {
    const nic = this.opts.nic;
    nic.setVfUnicast(vf, this.unicastList(st));
    nic.setVfMulticast(vf, st.multicast, st.allMulti);
    nic.setVfVlans(vf, st.vlans);
    nic.setVfMaxFrame(vf, st.maxFrame);
  }

  private unicastList(st: VfRuntimeState): Mac[] {
    return st.mac !== 0 ? [st.mac, ...st.macFilters.filter((m) => m !== st.mac)] : [...st.macFilters];
  }

  // ------------------------------------------------------------------ policy

  private handle(vf: number, s: VfSlot, nowNs: number): Outcome {
    if (!s.bucket.take(nowNs)) return { nack: "rate-limited" };
    const d = decodeVfRequest(this.words);
    if (!d.ok) return { nack: d.error.kind === "unknown-id" ? "unknown-id" : "malformed" };
    const req = d.msg;
    if (!PHASE_ALLOWLIST[s.phase].has(req.type)) return { nack: "phase" };
    if (s.phase === "negotiated" && s.state.apiVersion !== null && !apiAtLeast(s.state.apiVersion, MIN_VERSION[req.type])) {
      return { nack: "version" };
    }
    return this.apply(vf, s, req);
  }

  private apply(vf: number, s: VfSlot, req: VfRequest): Outcome {
    const cfg = this.opts.adminConfig(vf);
    const st = s.state;
    const nic = this.opts.nic;
    const ack = (to: Exclude<VfRequestType, "reset" | "get-queues">): Outcome => ({ reply: { type: "ack", to, cts: true } });
    switch (req.type) {
      case "reset": {
        // igb_vf_reset_msg: as an FLR, but a MAC the VF set itself survives.
        const mac = cfg.mac !== 0 ? cfg.mac : st.mac;
        s.state = initialState(mac);
        s.pendingMulticast = null;
        s.phase = "reset-done";
        nic.resetVf(vf);
        this.pushAll(vf, s.state);
        return { reply: { type: "reset-ack", mac, cts: true } };
      }
      case "api-negotiate": {
        const v = apiVersionOf(req.major, req.minor);
        if (v === undefined || !this.versions.has(v)) return { nack: "unsupported-version" };
        st.apiVersion = v;
        s.phase = "negotiated";
        return ack("api-negotiate");
      }
      case "set-mac": {
        const denied = this.macDenied(vf, cfg, req.mac);
        if (denied !== null) return { nack: denied };
        if (req.mac !== st.mac) {
          st.mac = req.mac;
          st.macFilters = st.macFilters.filter((m) => m !== req.mac);
          nic.setVfUnicast(vf, this.unicastList(st));
        }
        return ack("set-mac");
      }
      case "add-mac-filter": {
        const denied = this.macDenied(vf, cfg, req.mac);
        if (denied !== null) return { nack: denied };
        if (req.mac === st.mac || st.macFilters.includes(req.mac)) return ack("add-mac-filter");
        if (st.macFilters.length >= this.limits.maxMacFilters) return { nack: "mac-limit" };
        st.macFilters = [...st.macFilters, req.mac];
        nic.setVfUnicast(vf, this.unicastList(st));
        return ack("add-mac-filter");
      }
      case "clear-mac-filters": {
        if (cfg.mac !== 0 && !cfg.trust) return { nack: "admin-mac" };
        if (st.macFilters.length > 0) {
          st.macFilters = [];
          nic.setVfUnicast(vf, this.unicastList(st));
        }
        return ack("clear-mac-filters");
      }
      case "set-multicast": {
        let list: Mac[];
        if (req.first) list = [];
        else if (s.pendingMulticast !== null) list = s.pendingMulticast;
        else return { nack: "multicast-sequence" };
        const next = [...list];
        for (const m of req.macs) if (!next.includes(m)) next.push(m);
        if (next.length > this.limits.maxMulticast) {
          s.pendingMulticast = null;
          return { nack: "multicast-limit" };
        }
        if (!req.last) {
          s.pendingMulticast = next;
          return ack("set-multicast");
        }
        s.pendingMulticast = null;
        st.multicast = next;
        nic.setVfMulticast(vf, st.multicast, st.allMulti);
        return ack("set-multicast");
      }
      case "set-promisc": {
        if (req.allMulti && !cfg.trust) return { nack: "not-trusted" };
        if (st.allMulti !== req.allMulti) {
          st.allMulti = req.allMulti;
          nic.setVfMulticast(vf, st.multicast, st.allMulti);
        }
        return ack("set-promisc");
      }
      case "set-vlan": {
        // igb: "VF %d attempted to override administratively set VLAN tag".
        if (cfg.vlan !== 0) return { nack: "port-vlan" };
        const has = st.vlans.includes(req.vid);
        if (req.add && !has) {
          if (st.vlans.length >= this.limits.maxVlans) return { nack: "vlan-limit" };
          st.vlans = [...st.vlans, req.vid].sort((a, b) => a - b);
          nic.setVfVlans(vf, st.vlans);
        } else if (!req.add && has) {
          st.vlans = st.vlans.filter((v) => v !== req.vid);
          nic.setVfVlans(vf, st.vlans);
        }
        return ack("set-vlan");
      }
      case "set-lpe": {
        if (st.maxFrame !== req.maxFrame) {
          st.maxFrame = req.maxFrame;
          nic.setVfMaxFrame(vf, st.maxFrame);
        }
        return ack("set-lpe");
      }
      case "get-queues": {
        const q = this.opts.queues?.(vf) ?? { txQueues: 1, rxQueues: 1, defaultQueue: 0 };
        return { reply: { type: "queues-ack", queues: { ...q, portVlan: cfg.vlan !== 0 }, cts: true } };
      }
      default:
        return assertNever(req);
    }
  }

  /** Why VF `vf` may not use `mac` as a unicast address, or null. */
  private macDenied(vf: number, cfg: Readonly<VfPortConfig>, mac: Mac): NackReason | null {
    // igb: "VF %d attempted to override administratively set MAC address" unless trusted.
    if (cfg.mac !== 0 && !cfg.trust && mac !== cfg.mac) return "admin-mac";
    if (!isUnicast(mac)) return "invalid-mac";
    if ((this.opts.pfMacs?.() ?? []).includes(mac)) return "mac-in-use";
    for (let u = 0; u < this.numVfs; u++) {
      if (u === vf) continue;
      const other = this.slots[u]!.state;
      if (other.mac === mac || other.macFilters.includes(mac) || this.opts.adminConfig(u).mac === mac) return "mac-in-use";
    }
    return null;
  }
}
