/**
 * The guest VF driver's side of the PF↔VF mailbox (Linux igbvf's e1000_mbx.c and
 * e1000_reset_hw_vf, ixgbevf's API negotiation).
 *
 * It uses only the VF's BAR0: CTRL.RST to reset the function, V2PMAILBOX at 0xC40 and the buffer at
 * 0x800. A request: take the buffer (VFU, read back), write the message, set REQ (which also
 * releases the buffer), poll until PFACK, poll until PFSTS, take the buffer, read the reply, set ACK
 * (releasing it). PFSTS, PFACK and RSTD clear on read, so every read of V2PMAILBOX folds them into a
 * local copy the way e1000_read_v2p_mailbox does.
 *
 * Waiting is polling with `env.delay(ns)` between reads; the environment lets simulated time pass
 * (and the PF run). A PF that never answers yields `{ ok: false, error: { kind: "timeout" } }`
 * after `timeoutNs`, never an exception, so a guest can model a dead PF.
 */
import type { MbxApiVersion, MbxDecodeError, NackReason, PfMessage, PfNotification, PfReply, VfQueueInfo, VfRequest } from "../nic/mailbox-proto.js";
import {
  MBX_API_VERSIONS,
  MBX_MC_PER_MSG,
  REQUEST_ID,
  apiVersionParts,
  decodePfMessage,
  encodeVfRequest,
  isEncodableRequest,
  replyId,
} from "../nic/mailbox-proto.js";
import {
  E1000_V2PMAILBOX_ACK,
  E1000_V2PMAILBOX_PFACK,
  E1000_V2PMAILBOX_PFSTS,
  E1000_V2PMAILBOX_R2C_BITS,
  E1000_V2PMAILBOX_REQ,
  E1000_V2PMAILBOX_RSTD,
  E1000_V2PMAILBOX_VFU,
  E1000_VFMAILBOX_SIZE,
} from "../nic/mailbox-hw.js";
import type { Mac } from "../nic/port-config.js";
import { E1000_CTRL, E1000_CTRL_RST, E1000_V2PMAILBOX, E1000_VMBMEM } from "../nic/regs.js";

/** The VF's BAR0 as the driver sees it. */
export interface VfMailboxMmio {
  read(off: number, size: number): number;
  write(off: number, size: number, value: number): void;
}

export interface MailboxClientEnv {
  readonly mmio: VfMailboxMmio;
  /** Let `ns` of simulated time pass while the driver waits (the PF may run meanwhile). */
  delay(ns: number): void;
}

/** igbvf: E1000_VF_MBX_INIT_DELAY 500 µs between polls, E1000_VF_MBX_INIT_TIMEOUT 2000 polls (1 s). */
export const E1000_VF_MBX_INIT_DELAY_NS = 500_000;
export const E1000_VF_MBX_INIT_TIMEOUT = 2000;

export interface MailboxClientOptions {
  readonly pollNs?: number;
  readonly timeoutNs?: number;
}

export type MbxClientError =
  | { readonly kind: "timeout"; readonly stage: "reset" | "lock" | "ack" | "reply" }
  | { readonly kind: "nack"; readonly reason: NackReason; readonly cts: boolean }
  | { readonly kind: "bad-reply"; readonly error: MbxDecodeError }
  | { readonly kind: "unexpected-reply"; readonly expectedId: number; readonly reply: PfReply }
  | { readonly kind: "invalid-argument"; readonly request: VfRequest }
  | { readonly kind: "no-version" };

export type MbxResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: MbxClientError };

const okR = <T>(value: T): MbxResult<T> => ({ ok: true, value });
const errR = <T>(error: MbxClientError): MbxResult<T> => ({ ok: false, error });

const V2P = E1000_V2PMAILBOX(0);
const MEM = E1000_VMBMEM(0);

export class MailboxClient {
  /** Notifications the PF sent (link state, control), oldest first; the caller drains it. */
  readonly notifications: PfNotification[] = [];
  /** The version agreed with the PF, null before negotiation. */
  apiVersion: MbxApiVersion | null = null;
  /** The PF's last CTS flag: false means the VF must reset before it is heard again. */
  cts = false;
  /** MAC the PF handed out at reset (0 = none). */
  permMac: Mac = 0;

  private readonly pollNs: number;
  private readonly timeoutNs: number;
  private r2c = 0;

  constructor(private readonly env: MailboxClientEnv, opts: MailboxClientOptions = {}) {
    this.pollNs = opts.pollNs ?? E1000_VF_MBX_INIT_DELAY_NS;
    this.timeoutNs = opts.timeoutNs ?? E1000_VF_MBX_INIT_DELAY_NS * E1000_VF_MBX_INIT_TIMEOUT;
  }

  // ------------------------------------------------------------------ handshakes

  /** e1000_reset_hw_vf: reset the function, wait for RSTD, send RESET, learn the MAC. */
  reset(): MbxResult<{ readonly mac: Mac }> {
    this.apiVersion = null;
    this.cts = false;
    this.r2c = 0;
    this.env.mmio.write(E1000_CTRL, 4, E1000_CTRL_RST);
    if (!this.waitFor(E1000_V2PMAILBOX_RSTD)) return errR({ kind: "timeout", stage: "reset" });
    const r = this.request({ type: "reset" });
    if (!r.ok) return r;
    if (r.value.type !== "reset-ack") return errR({ kind: "unexpected-reply", expectedId: REQUEST_ID.reset, reply: r.value });
    this.permMac = r.value.mac;
    return okR({ mac: r.value.mac });
  }

  /** Propose versions newest first until the PF agrees (ixgbevf_negotiate_api). */
  negotiate(prefer: readonly MbxApiVersion[] = [...MBX_API_VERSIONS].reverse()): MbxResult<MbxApiVersion> {
    for (const v of prefer) {
      const r = this.request({ type: "api-negotiate", ...apiVersionParts(v) });
      if (r.ok) {
        this.apiVersion = v;
        return okR(v);
      }
      if (r.error.kind !== "nack" || r.error.reason !== "unsupported-version") return errR(r.error);
    }
    return errR({ kind: "no-version" });
  }

  /** Reset and negotiate: what a VF driver does at probe. */
  init(prefer?: readonly MbxApiVersion[]): MbxResult<{ readonly mac: Mac; readonly version: MbxApiVersion }> {
    const r = this.reset();
    if (!r.ok) return r;
    const v = this.negotiate(prefer);
    if (!v.ok) return v;
    return okR({ mac: r.value.mac, version: v.value });
  }

  // ------------------------------------------------------------------ requests

  setMac(mac: Mac): MbxResult<void> {
    return this.acked({ type: "set-mac", mac });
  }
  addMacFilter(mac: Mac): MbxResult<void> {
    return this.acked({ type: "add-mac-filter", mac });
  }
  clearMacFilters(): MbxResult<void> {
    return this.acked({ type: "clear-mac-filters" });
  }
  /** Program the whole multicast list, in chunks of MBX_MC_PER_MSG. */
  setMulticast(macs: readonly Mac[]): MbxResult<void> {
    const chunks = Math.max(1, Math.ceil(macs.length / MBX_MC_PER_MSG));
    for (let c = 0; c < chunks; c++) {
      const part = macs.slice(c * MBX_MC_PER_MSG, (c + 1) * MBX_MC_PER_MSG);
      const r = this.acked({ type: "set-multicast", first: c === 0, last: c === chunks - 1, macs: part });
      if (!r.ok) return r;
    }
    return okR(undefined);
  }
  setAllMulti(on: boolean): MbxResult<void> {
    return this.acked({ type: "set-promisc", allMulti: on });
  }
  addVlan(vid: number): MbxResult<void> {
    return this.acked({ type: "set-vlan", add: true, vid });
  }
  removeVlan(vid: number): MbxResult<void> {
    return this.acked({ type: "set-vlan", add: false, vid });
  }
  setMaxFrame(bytes: number): MbxResult<void> {
    return this.acked({ type: "set-lpe", maxFrame: bytes });
  }
  getQueues(): MbxResult<VfQueueInfo> {
    const r = this.request({ type: "get-queues" });
    if (!r.ok) return r;
    if (r.value.type !== "queues-ack") return errR({ kind: "unexpected-reply", expectedId: REQUEST_ID["get-queues"], reply: r.value });
    return okR(r.value.queues);
  }

  /** Pick up a message the PF sent on its own (the VF's mailbox interrupt handler). */
  checkForMessages(): readonly PfNotification[] {
    if (this.testBit(E1000_V2PMAILBOX_PFSTS)) this.readMessage();
    return this.notifications;
  }

  /**
   * Send one request and wait for its reply. A NACK is returned as an error with the PF's reason;
   * notifications arriving meanwhile are queued in `notifications`.
   */
  request(req: VfRequest): MbxResult<PfReply> {
    if (!isEncodableRequest(req)) return errR({ kind: "invalid-argument", request: req });
    // A message the PF left for us would be overwritten by ours: read it first.
    this.checkForMessages();
    if (!this.lock()) return errR({ kind: "timeout", stage: "lock" });
    // Forget stale PFSTS/PFACK (e1000_check_for_msg_vf / e1000_check_for_ack_vf).
    this.testBit(E1000_V2PMAILBOX_PFSTS);
    this.testBit(E1000_V2PMAILBOX_PFACK);
    const words = encodeVfRequest(req);
    for (let i = 0; i < E1000_VFMAILBOX_SIZE; i++) this.env.mmio.write(MEM + 4 * i, 4, words[i] ?? 0);
    // REQ without VFU: interrupt the PF and release the buffer.
    this.env.mmio.write(V2P, 4, E1000_V2PMAILBOX_REQ);
    if (!this.waitFor(E1000_V2PMAILBOX_PFACK)) return errR({ kind: "timeout", stage: "ack" });
    const expectedId = REQUEST_ID[req.type];
    const deadline = this.timeoutNs;
    let waited = 0;
    for (;;) {
      if (this.testBit(E1000_V2PMAILBOX_PFSTS)) {
        const m = this.readMessage();
        if (m === null) return errR({ kind: "timeout", stage: "lock" });
        if (!m.ok) return errR({ kind: "bad-reply", error: m.error });
        const msg = m.msg;
        if (msg.type === "control" || msg.type === "link-state") continue;
        this.cts = msg.cts;
        if (replyId(msg) !== expectedId) return errR({ kind: "unexpected-reply", expectedId, reply: msg });
        if (msg.type === "nack") return errR({ kind: "nack", reason: msg.reason, cts: msg.cts });
        return okR(msg);
      }
      if (waited >= deadline) return errR({ kind: "timeout", stage: "reply" });
      this.env.delay(this.pollNs);
      waited += this.pollNs;
    }
  }

  // ------------------------------------------------------------------ internals

  private acked(req: VfRequest): MbxResult<void> {
    const r = this.request(req);
    return r.ok ? okR(undefined) : r;
  }

  /** e1000_read_v2p_mailbox: keep the read-to-clear bits until they are consumed. */
  private readV2p(): number {
    const v = this.env.mmio.read(V2P, 4);
    this.r2c |= v & E1000_V2PMAILBOX_R2C_BITS;
    return v | this.r2c;
  }

  /** e1000_check_for_bit_vf: true (and consumed) when any bit of `mask` is set. */
  private testBit(mask: number): boolean {
    if ((this.readV2p() & mask) === 0) return false;
    this.r2c &= ~mask;
    return true;
  }

  private waitFor(mask: number): boolean {
    for (let waited = 0; ; waited += this.pollNs) {
      if (this.testBit(mask)) return true;
      if (waited >= this.timeoutNs) return false;
      this.env.delay(this.pollNs);
    }
  }

  /** e1000_obtain_mbx_lock_vf, retried until the timeout. */
  private lock(): boolean {
    for (let waited = 0; ; waited += this.pollNs) {
      this.env.mmio.write(V2P, 4, E1000_V2PMAILBOX_VFU);
      if ((this.readV2p() & E1000_V2PMAILBOX_VFU) !== 0) return true;
      if (waited >= this.timeoutNs) return false;
      this.env.delay(this.pollNs);
    }
  }

  /** Read the PF's message, acknowledge it (ACK releases the buffer); notifications are queued. */
  private readMessage(): ReturnType<typeof decodePfMessage> | null {
    if (!this.lock()) return null;
    const words: number[] = [];
    for (let i = 0; i < E1000_VFMAILBOX_SIZE; i++) words.push(this.env.mmio.read(MEM + 4 * i, 4));
    this.env.mmio.write(V2P, 4, E1000_V2PMAILBOX_ACK);
    const m = decodePfMessage(words);
    if (m.ok) this.noteMessage(m.msg);
    return m;
  }

  private noteMessage(msg: PfMessage): void {
    if (msg.type === "control" || msg.type === "link-state") {
      this.notifications.push(msg);
      this.cts = msg.cts;
    }
  }
}
