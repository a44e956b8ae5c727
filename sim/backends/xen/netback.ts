/**
 * netback: one queue of a VIF in Dom0. Its TX work (the guest's requests) and RX work (frames for
 * the guest) are run by workers (NetbackGroup, below): the queue's own NAPI poll and kernel thread
 * (xenvif), or workers it shares with other VIFs. It consumes the guest's TX requests (the data
 * moves by grant copy — one GNTTABOP_copy hypercall per batch of up to 64 operations — or, with
 * persistent grants, by a plain copy from the guest page mapped once into Dom0), hands each frame to
 * the Dom0 switch, and answers with TX responses; it takes frames the switch queued for the guest and
 * copies each into a page the guest posted an RX request for.
 * The queue between the switch and netback is xenvif's: frames are queued while it holds at most
 * RX_QUEUE_BYTES (xenvif's rx_queue_max, XENVIF_RX_QUEUE_BYTES: half the RX ring's slots in pages,
 * 512 KiB); past that the VIF's transmit queue is stopped and frames wait in its qdisc
 * (VIF_QDISC_LEN, the VIF's tx_queue_len) until netback has taken the queue below the limit again;
 * a full qdisc drops (VifRxQueue). Frames are stored back to back in a byte ring in Dom0 memory.
 * A packet over one page comes as several requests (NETTXF_more_data) and goes to the guest in
 * several RX slots (NETRXF_more_data), a grant copy per slot; the TX requests are checked as
 * xenvif_count_requests does: a packet whose pieces exceed the size its first request gives, with
 * more than XEN_NETBK_LEGACY_SLOTS_MAX slots after the first, shorter than an Ethernet header or
 * longer than netback's buffers is answered with an error per slot and dropped; a chain running
 * past the requests published, with more than FATAL_SKB_SLOTS slots after the first, or with a
 * piece crossing its page, or a req_prod more than a ring ahead of netback, is a fatal error: the
 * VIF is disabled (xenvif_fatal_tx_err) and later frames for it are dropped.
 * A GSO packet (the frontend's feature-gso-tcpv4: NETTXF_extra_info and a GSO extra-info slot, each
 * extra answered with XEN_NETIF_RSP_NULL) of up to 64 KiB goes to the Dom0 switch whole, with its
 * segment size, for the PF's TSO; without GSO a packet longer than netback's buffers is refused.
 * The responses a step writes are pushed to the guest (rsp_prod) when the step ends, as the step's
 * work is done then; TX and RX steps notify the guest separately. Notifications follow the ring
 * protocol: a response batch notifies the guest (EVTCHNOP_send, a hypercall, charged with the
 * worker's next step) only if it asked; before sleeping netback re-arms req_event and checks again
 * (RING_FINAL_CHECK_FOR_REQUESTS).
 */
import { IovError } from "../../../src/errors.js";
import type { Guest } from "../../../src/hypervisor-glue/guest.js";
import { flowHash } from "../../../src/nic/queues.js";
import { CostMeter, type Worker, type WorkerBody } from "../../model/cpu.js";
import type { GuestKernel } from "../../model/guest-kernel.js";
import type { Ledger } from "../../model/ledger.js";
import type { GuestPort, HostCtx, HostNet, StagedQueue } from "../common/host-net.js";
import { GNTST_okay, GrantOps, XEN_PAGE } from "./grant.js";
import {
  ETH_HLEN,
  FATAL_SKB_SLOTS,
  LEGACY_SLOTS_MAX,
  NETIF_RSP_ERROR,
  NETIF_RSP_NULL,
  NETIF_RSP_OKAY,
  NETRXF_extra_info,
  NETRXF_more_data,
  NETTXF_extra_info,
  NETTXF_more_data,
  XEN_NETIF_EXTRA_FLAG_MORE,
  XEN_NETIF_EXTRA_TYPE_GSO,
  XEN_NETIF_GSO_TYPE_TCPV4,
  XEN_NETIF_MAX_TX_SIZE,
  type SharedRing,
  writeGsoExtra8,
  writeRxResponse,
  writeTxResponse,
} from "./netif.js";
import { tsoSegmentCount } from "../../traffic/packets.js";
import { DOM0_ID, slotsFor, type EventChannelPeer, type NetfrontQueue } from "./netfront.js";
import { VifRxQueue } from "./vif-queue.js";

/** xenvif's rx_queue_max (XENVIF_RX_QUEUE_BYTES = XEN_NETIF_RX_RING_SIZE / 2 × PAGE_SIZE). */
export const RX_QUEUE_BYTES = 128 * 4096;
/** The VIF's tx_queue_len (XENVIF_QUEUE_LENGTH, NETBK_QUEUE_LENGTH in the netback of 2010). */
export const VIF_QDISC_LEN = 32;
const BATCH = 64;

export interface NetbackCosts {
  readonly perPacketNs: number;
  readonly upcallNs: number;
  readonly evtchnSendNs: number;
  readonly grantCopyHypercallNs: number;
  readonly grantCopyPerOpNs: number;
  readonly grantCopyPerByteNs: number;
  readonly grantMapNs: number;
  readonly copyPerByteNs: number;
}

/** Bytes of a TX batch's staging: a buffer per packet, or with GSO the batch's bytes back to back (at most a page per slot). */
const txStageBytes = (bufSize: number, gso: boolean): number => (gso ? Math.max(BATCH * bufSize, BATCH * XEN_PAGE) : BATCH * bufSize);

/** Bytes of the RX byte ring: the xenvif queue (one frame may overrun it), the qdisc, and a tail left unused at a wrap. */
const rxRingBytes = (bufSize: number): number => RX_QUEUE_BYTES + (VIF_QDISC_LEN + 2) * bufSize;

/**
 * Dom0 memory a netback queue stages frames in (TX batch buffers and the RX byte ring): a 1 MiB
 * block (2 MiB for buffers over 4 KiB), placed at a multiple of its size so that it lies in one
 * 2 MiB chunk of Dom0 RAM (host-contiguous: a frame's grant copies have one address range).
 */
export const NETBACK_STAGING_BYTES = 1 << 20;
export function netbackQueueBytes(bufSize: number, gso = false): number {
  const need = txStageBytes(bufSize, gso) + rxRingBytes(bufSize);
  const block = need <= NETBACK_STAGING_BYTES ? NETBACK_STAGING_BYTES : 2 * NETBACK_STAGING_BYTES;
  if (need > block) throw new IovError("ERANGE", `netback: ${bufSize} B buffers need ${need} B of staging, more than ${block}`);
  return block;
}

/** What a VIF's queues share: a fatal protocol error from its frontend disables the whole VIF. */
export class VifStatus {
  disabled = false;
  fatalErrors = 0;
}

/** Room for a TX batch's requests: BATCH slots, and the longest chain read past them (with its extra-info slots) before it is refused. */
const TX_SLOTS = BATCH + 2 * FATAL_SKB_SLOTS + 2;
/** bFlags of a slot holding an extra-info segment (no data; answered with RSP_NULL). */
const EXTRA_SLOT = -1;

export class NetbackQueue implements HostCtx, GuestPort, EventChannelPeer, StagedQueue {
  /** CPU time of TX work (and of RX work unless `splitMeters` gave RX its own: one worker does both). */
  readonly meter = new CostMeter();
  /** CPU time of RX work. */
  rxMeter = this.meter;
  /** The worker running RX work (the switch's hand-offs wake it), and the one running TX work. */
  worker!: Worker;
  txWorker!: Worker;
  /** Host context of RX work (its meter), for the end-of-step flush. */
  private rxCtx: HostCtx = this;
  kernel!: GuestKernel;
  private txCons = 0;
  private txRspProd = 0;
  private rxCons = 0;
  private rxRspProd = 0;
  /** The TX batch's requests, slot by slot (a packet's slots are consecutive). */
  private readonly bRef = new Int32Array(TX_SLOTS);
  private readonly bOff = new Int32Array(TX_SLOTS);
  private readonly bId = new Int32Array(TX_SLOTS);
  private readonly bSize = new Int32Array(TX_SLOTS);
  private readonly bFlags = new Int32Array(TX_SLOTS);
  /** The TX batch's packets: first slot, slot count, whole size, and whether it is dropped as a bad request. */
  private readonly pFirst = new Int32Array(BATCH);
  private readonly pSlots = new Int32Array(BATCH);
  private readonly pLen = new Int32Array(BATCH);
  private readonly pBad = new Uint8Array(BATCH);
  /** Its GSO segment size (0: none), and (with GSO) where in the staging it goes. */
  private readonly pGso = new Int32Array(BATCH);
  private readonly pOff = new Int32Array(BATCH);
  /** Set by readTxPacket: the packet's whole size, whether it is to be dropped, its GSO segment size. */
  private packetLen = 0;
  private packetBad = false;
  private packetGso = 0;
  /** Shared by the VIF's queues (set by the backend). */
  vif = new VifStatus();
  /** Frames from the switch for the guest (xenvif's queue and the VIF's qdisc), in Dom0 memory. */
  private readonly rxq: VifRxQueue;
  /** Of those, frames netback may take (the rest were handed over by a host step still running). */
  private rxCount = 0;
  /** Responses written by the current step, published to the guest at its end. */
  private txRspPending = false;
  private rxRspPending = false;
  private readonly mapped: Float64Array;
  private notifyGuest = false;
  private readonly scratch: Uint8Array;
  private readonly dropRxFull: number;
  private readonly dropTxBad: number;
  private readonly dropTxBadRequest: number;
  private readonly dropRxBad: number;
  private readonly dropDisabled: number;
  /** Counters. */
  txPackets = 0;
  rxPackets = 0;
  grantCopies = 0;
  grantMaps = 0;
  copyHypercalls = 0;
  guestNotifications = 0;

  constructor(
    readonly vm: number,
    readonly txq: number,
    private readonly fe: NetfrontQueue,
    private readonly dom0: Guest,
    private readonly ops: GrantOps,
    private readonly staging: number,
    private readonly bufSize: number,
    private readonly net: HostNet,
    private readonly c: NetbackCosts,
    ledger: Ledger,
    grantEntries: number,
    /** The frontend sends GSO packets (feature-gso-tcpv4). */
    private readonly gso = false,
  ) {
    this.mapped = new Float64Array(grantEntries).fill(-1);
    this.scratch = new Uint8Array(gso ? Math.max(bufSize, XEN_NETIF_MAX_TX_SIZE) : bufSize);
    this.rxStaging = staging + txStageBytes(bufSize, gso);
    this.dropRxFull = ledger.reason("netback:vif-qdisc-full");
    this.rxq = new VifRxQueue(rxRingBytes(bufSize), RX_QUEUE_BYTES, VIF_QDISC_LEN, 60);
    this.dropTxBad = ledger.reason("netback:tx-grant-error");
    this.dropTxBadRequest = ledger.reason("netback:tx-bad-request");
    this.dropRxBad = ledger.reason("netback:rx-grant-error");
    this.dropDisabled = ledger.reason("netback:vif-disabled");
  }

  private txStage(k: number): number {
    return this.gso ? this.staging + this.pOff[k]! : this.staging + k * this.bufSize;
  }
  /** Where the RX byte ring starts in the staging block (after the TX batch's staging). */
  private readonly rxStaging: number;
  private rxStage(off: number): number {
    return this.rxStaging + off;
  }

  /**
   * TX and RX work run by different workers (xenvif's NAPI poll and thread, the two tasklets): each
   * charges its own meter, so that one's step never takes the other's CPU time.
   */
  splitMeters(): void {
    this.rxMeter = new CostMeter();
    this.rxCtx = { meter: this.rxMeter, txq: this.txq };
  }

  /** Event-channel upcall from the guest (its netfront notified): new TX requests, or RX slots. */
  upcall(): void {
    this.meter.ns += this.c.upcallNs;
    this.txWorker.wake();
    if (this.worker !== this.txWorker) this.worker.wake();
  }

  /** A frame (or with `gsoSize` > 0 a GSO packet, the frontend taking them) from the switch for this guest queue. */
  deliver(buf: Uint8Array, len: number, _from?: HostCtx, gsoSize = 0): boolean {
    const n = gsoSize > 0 ? Math.max(1, tsoSegmentCount(buf, len, gsoSize)) : 1; // what a drop loses
    if (this.vif.disabled) {
      this.net.dropCount(this.dropDisabled, n);
      return false;
    }
    const at = len > (gsoSize > 0 && this.gso ? XEN_NETIF_MAX_TX_SIZE : this.bufSize) ? -1 : this.rxq.push(len, gsoSize);
    if (at < 0) {
      this.net.dropCount(this.dropRxFull, n);
      return false;
    }
    this.dom0.writeBytes(this.rxStage(at), buf, 0, len);
    this.net.handOff(this);
    return true;
  }

  commit(): void {
    this.rxCount = this.rxq.frames;
  }

  /** Dom0 address of the guest page behind `ref`, mapped on first use (persistent grants). */
  private mapOnce(ref: number, write: boolean, meter: CostMeter): number {
    let h = this.mapped[ref]!;
    if (h < 0) {
      h = this.ops.map(DOM0_ID, ref, write);
      if (h < 0) return -1;
      this.mapped[ref] = h;
      this.grantMaps++;
      this.dom0.exits.hypercall++; // GNTTABOP_map_grant_ref
      meter.ns += this.c.grantMapNs;
    }
    return h;
  }

  private readTxSlot(g: Guest, at: number, i: number): void {
    this.bRef[i] = g.read32(at);
    this.bOff[i] = g.read16(at + 4);
    this.bFlags[i] = g.read16(at + 6);
    this.bId[i] = g.read16(at + 8);
    this.bSize[i] = g.read16(at + 10);
  }

  /**
   * Read the packet whose first request is at `cons` into the slot arrays from index `i`, checking it
   * as xenvif_count_requests does. Returns its slot count, with packetLen and packetBad set and the
   * first slot's size made its own piece's; or −1 for a fatal error.
   */
  private readTxPacket(g: Guest, tx: SharedRing, cons: number, prod: number, i: number): number {
    this.readTxSlot(g, tx.slotGpa(cons), i);
    const total = this.bSize[i]!;
    let rest = total;
    let bad = false;
    let s = 1;
    let more = (this.bFlags[i]! & NETTXF_more_data) !== 0;
    this.packetGso = 0;
    // extra-info slots (xenvif_get_extras): each takes a slot, answered with RSP_NULL; GSO's gives the segment size
    let extra = (this.bFlags[i]! & NETTXF_extra_info) !== 0;
    while (extra) {
      if (((cons + s) >>> 0) === prod || s > FATAL_SKB_SLOTS) return -1; // past req_prod
      const at = tx.slotGpa(cons + s);
      const type = g.read16(at) & 0xff;
      const eflags = g.read16(at) >>> 8;
      if (type === XEN_NETIF_EXTRA_TYPE_GSO) {
        const size = g.read16(at + 2);
        if (size === 0 || (g.read16(at + 4) & 0xff) !== XEN_NETIF_GSO_TYPE_TCPV4 || !this.gso) bad = true; // xenvif_set_skb_gso refuses it
        else this.packetGso = size;
      } else if (type === 0 || type > 4) return -1; // an unknown extra type is fatal (xenvif_get_extras)
      this.bFlags[i + s] = EXTRA_SLOT;
      this.bSize[i + s] = 0;
      s++;
      extra = (eflags & XEN_NETIF_EXTRA_FLAG_MORE) !== 0;
    }
    const first = s; // data slots follow the extras
    while (more) {
      const extra = s - first;
      if (((cons + s) >>> 0) === prod || extra >= FATAL_SKB_SLOTS) return -1; // past req_prod, or a malicious chain
      if (extra >= LEGACY_SLOTS_MAX) bad = true;
      const k = i + s;
      this.readTxSlot(g, tx.slotGpa(cons + s), k);
      const size = this.bSize[k]!;
      if (size > rest) bad = true; // the pieces exceed the size the first request gave
      rest = (rest - size) & 0xffff;
      if (this.bOff[k]! + size > XEN_PAGE) return -1; // a piece crossing its page
      more = (this.bFlags[k]! & NETTXF_more_data) !== 0;
      s++;
    }
    this.bSize[i] = rest; // the first slot's own piece
    if (!bad && rest < ETH_HLEN) bad = true;
    if (!bad && this.bOff[i]! + rest > XEN_PAGE) return -1;
    this.packetLen = total;
    this.packetBad = bad || total > (this.packetGso > 0 ? XEN_NETIF_MAX_TX_SIZE : this.bufSize);
    return s;
  }

  /** xenvif_fatal_tx_err: the VIF is disabled; netback takes nothing more from its rings. */
  private fatal(): void {
    this.vif.disabled = true;
    this.vif.fatalErrors++;
  }

  /** CPU time charged since the last take, of the work named (one meter unless split). */
  private takeCost(doTx: boolean, doRx: boolean): number {
    if (this.rxMeter === this.meter) return this.meter.take();
    return (doTx ? this.meter.take() : 0) + (doRx ? this.rxMeter.take() : 0);
  }

  /**
   * One step of this queue's TX work (guest → switch), RX work (switch → guest) or both: its CPU
   * time, or −1 when there was nothing to do.
   */
  work(doTx: boolean, doRx: boolean): number {
    let c = this.takeCost(doTx, doRx);
    const g = this.fe.g;
    const persistent = this.fe.persistent;
    const tx = this.fe.tx;
    const rx = this.fe.rx;
    if (this.vif.disabled) {
      // frames the switch queued for a disabled VIF are dropped
      while (doRx && this.rxCount > 0) {
        this.rxq.pop();
        this.rxCount--;
        this.net.dropCount(this.dropDisabled);
      }
      return c > 0 ? c : -1;
    }
    let worked = false;
    if (doTx) worked = this.txWork(g, persistent, tx);
    if (doRx && this.rxWork(g, persistent, rx)) worked = true;
    if (!worked) {
      // before sleeping: ask to be notified of new requests (on RX, of the slots the next frame needs), and look once more
      const more =
        (doTx && !this.vif.disabled && tx.finalCheckForRequests(this.txCons)) ||
        (doRx && this.rxCount > 0 && rx.finalCheckForRequests(this.rxCons, slotsFor(this.rxq.headLen) + (this.rxq.headGso > 0 ? 1 : 0)));
      c += this.takeCost(doTx, doRx);
      if (more) return c;
      return c > 0 ? c : -1;
    }
    return c + this.takeCost(doTx, doRx);
  }

  /** TX: guest → switch; whole packets, up to BATCH slots. Whether there was any. */
  private txWork(g: Guest, persistent: boolean, tx: SharedRing): boolean {
    const prod = tx.reqProd;
    let n = 0;
    let np = 0;
    // more requests than the ring holds: "Impossible number of requests", fatal in xenvif_tx_build_gops
    if (((prod - this.txCons) >>> 0) > tx.size) this.fatal();
    while (!this.vif.disabled && this.txCons !== prod && n < BATCH) {
      const s = this.readTxPacket(g, tx, this.txCons, prod, n);
      if (s < 0) {
        this.fatal();
        break;
      }
      if (n + s > BATCH) break; // the next batch takes it
      this.pFirst[np] = n;
      this.pSlots[np] = s;
      this.pLen[np] = this.packetLen;
      this.pBad[np] = this.packetBad ? 1 : 0;
      this.pGso[np] = this.packetGso;
      this.pOff[np] = np === 0 ? 0 : this.pOff[np - 1]! + (this.pBad[np - 1] === 1 ? 0 : this.pLen[np - 1]!);
      np++;
      n += s;
      this.txCons = (this.txCons + s) >>> 0;
    }
    if (np === 0) return false;
    if (!persistent) {
      this.copyHypercalls++;
      this.dom0.exits.hypercall++; // one GNTTABOP_copy for the batch (at most BATCH operations)
      this.meter.ns += this.c.grantCopyHypercallNs;
    }
    for (let k = 0; k < np; k++) {
      const first = this.pFirst[k]!;
      const slots = this.pSlots[k]!;
      const size = this.pLen[k]!;
      const dst = this.dom0.gpaToHpa(this.txStage(k));
      let ok = this.pBad[k] === 0;
      for (let j = 0, pos = 0; j < slots && ok; j++) {
        const i = first + j;
        if (this.bFlags[i] === EXTRA_SLOT) continue;
        const piece = this.bSize[i]!;
        if (!persistent) {
          ok = this.ops.copyFrom(DOM0_ID, this.bRef[i]!, this.bOff[i]!, piece, dst + pos) === GNTST_okay;
          this.grantCopies++;
          this.meter.ns += this.c.grantCopyPerOpNs + piece * this.c.grantCopyPerByteNs;
        } else {
          const h = this.mapOnce(this.bRef[i]!, false, this.meter);
          ok = h >= 0;
          if (ok) {
            this.dom0.mem.copy(dst + pos, h + this.bOff[i]!, piece);
            this.meter.ns += piece * this.c.copyPerByteNs;
          }
        }
        pos += piece;
      }
      this.meter.ns += this.c.perPacketNs;
      for (let j = 0; j < slots; j++) {
        const i = first + j;
        writeTxResponse(g, tx.slotGpa(this.txRspProd), this.bFlags[i] === EXTRA_SLOT ? 0 : this.bId[i]!, this.bFlags[i] === EXTRA_SLOT ? NETIF_RSP_NULL : ok ? NETIF_RSP_OKAY : NETIF_RSP_ERROR);
        this.txRspProd = (this.txRspProd + 1) >>> 0;
      }
      if (!ok) {
        this.net.dropCount(this.pBad[k] === 1 ? this.dropTxBadRequest : this.dropTxBad);
        continue;
      }
      this.txPackets++;
      this.dom0.readBytes(this.txStage(k), this.scratch, 0, size);
      this.net.fromGuest(this.vm, this.scratch, size, this, this.pGso[k]!);
    }
    this.txRspPending = true;
    return true;
  }

  /** RX: switch → guest; a frame waits until the guest has posted a slot per page of it. Whether any went. */
  private rxWork(g: Guest, persistent: boolean, rx: SharedRing): boolean {
    const meter = this.rxMeter;
    const rprod = rx.reqProd;
    let m = 0;
    let ops = 0;
    while (this.rxCount > 0 && m < BATCH) {
      const len = this.rxq.headLen;
      const gso = this.rxq.headGso;
      const slots = slotsFor(len);
      if (((rprod - this.rxCons) >>> 0) < slots + (gso > 0 ? 1 : 0)) break;
      const src = this.dom0.gpaToHpa(this.rxStage(this.rxq.headOff));
      this.rxq.pop(); // its bytes are copied below, before anything else can reach the queue
      this.rxCount--;
      let ok = true;
      for (let j = 0; j < slots; j++) {
        const at = rx.slotGpa(this.rxCons);
        const id = g.read16(at);
        const ref = g.read32(at + 4);
        this.rxCons = (this.rxCons + 1) >>> 0;
        const from = j * XEN_PAGE;
        const piece = Math.min(XEN_PAGE, len - from);
        if (ok && !persistent) {
          if (ops % BATCH === 0) {
            this.copyHypercalls++; // one GNTTABOP_copy per BATCH operations
            this.dom0.exits.hypercall++;
            meter.ns += this.c.grantCopyHypercallNs;
          }
          ok = this.ops.copyTo(DOM0_ID, ref, 0, piece, src + from) === GNTST_okay;
          this.grantCopies++;
          ops++;
          meter.ns += this.c.grantCopyPerOpNs + piece * this.c.grantCopyPerByteNs;
        } else if (ok) {
          const h = this.mapOnce(ref, true, meter);
          ok = h >= 0;
          if (ok) {
            this.dom0.mem.copy(h, src + from, piece);
            meter.ns += piece * this.c.copyPerByteNs;
          }
        }
        writeRxResponse(g, rx.slotGpa(this.rxRspProd), id, 0, (j + 1 < slots ? NETRXF_more_data : 0) | (j === 0 && gso > 0 ? NETRXF_extra_info : 0), ok ? piece : NETIF_RSP_ERROR);
        this.rxRspProd = (this.rxRspProd + 1) >>> 0;
        if (j === 0 && gso > 0) {
          // the GSO extra-info takes the next slot (its request's page goes unused)
          this.rxCons = (this.rxCons + 1) >>> 0;
          writeGsoExtra8(g, rx.slotGpa(this.rxRspProd), gso);
          this.rxRspProd = (this.rxRspProd + 1) >>> 0;
        }
      }
      meter.ns += this.c.perPacketNs;
      if (ok) this.rxPackets++;
      else this.net.dropCount(this.dropRxBad);
      m++;
    }
    if (m === 0) return false;
    this.rxRspPending = true;
    return true;
  }

  /** The end of a step of `work(doTx, doRx)`. */
  finishWork(doTx: boolean, doRx: boolean): void {
    // the responses the step wrote reach the guest at its end (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY)
    if (doTx && this.txRspPending) {
      this.txRspPending = false;
      if (this.fe.tx.pushResponses(this.txRspProd)) this.notifyGuest = true;
    }
    if (doRx && this.rxRspPending) {
      this.rxRspPending = false;
      if (this.fe.rx.pushResponses(this.rxRspProd)) this.notifyGuest = true;
    }
    const ctx = doTx ? this : this.rxCtx;
    if (this.notifyGuest) {
      this.notifyGuest = false;
      this.guestNotifications++;
      ctx.meter.ns += this.c.evtchnSendNs; // the hypercall, charged with the worker's next step
      this.dom0.exits.hypercall++; // EVTCHNOP_send
      this.kernel.onInterrupt(); // the upcall into the guest
    }
    this.net.flushTx(ctx);
  }

  /** Queue of a VIF with `n` queues for a frame: its flow hash (xenvif_select_queue). */
  static queueOf(buf: Uint8Array, len: number, n: number): number {
    return n === 1 ? 0 : flowHash(buf, 0, len) % n;
  }
}

/**
 * A worker's netback work: TX, RX or both, of one queue (xenvif: its NAPI poll does TX, its thread
 * RX) or of several VIFs, as Dom0 kernels before xenvif did: a kernel thread per Dom0 vCPU for the
 * VIFs assigned to it (per-cpu; Linux 3.0–3.11, whose xen_netbk_kthread does RX work, then TX work),
 * or one TX and one RX tasklet for every VIF (tasklet; the 2.6.18 netback's net_tx_action /
 * net_rx_action). Each step is one member's batch (up to BATCH frames), the members taken in turn
 * from the one after the last served; a worker whose members all have nothing to do sleeps. Simplified: the real TX tasklet builds one grant-copy
 * batch across VIFs, and the RX tasklet serves one queue of every VIF's frames in arrival order.
 */
export class NetbackGroup implements WorkerBody {
  readonly members: NetbackQueue[] = [];
  private next = 0;
  private current: NetbackQueue | undefined;

  constructor(
    private readonly tx: boolean,
    private readonly rx: boolean,
  ) {}

  step(): number {
    const n = this.members.length;
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n;
      const m = this.members[i]!;
      const c = m.work(this.tx, this.rx);
      if (c >= 0) {
        this.current = m;
        this.next = (i + 1) % n;
        return c;
      }
    }
    this.current = undefined;
    return -1;
  }

  finish(): void {
    this.current!.finishWork(this.tx, this.rx);
  }
}

/** The switch port of a VIF: spreads frames over its netback queues. */
export class VifPort implements GuestPort {
  constructor(private readonly queues: readonly NetbackQueue[]) {}
  deliver(buf: Uint8Array, len: number, from?: HostCtx, gsoSize = 0): boolean {
    return this.queues[NetbackQueue.queueOf(buf, len, this.queues.length)]!.deliver(buf, len, from, gsoSize);
  }
}
