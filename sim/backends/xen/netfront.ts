/**
 * netfront: the PV guest's network driver. Per queue: a TX and an RX shared ring page in guest
 * memory, a page-sized buffer per ring slot, grant references naming those pages to Dom0, one event
 * channel. Sending: copy the frame into a TX page, grant it (copy mode: one grant per packet, ended
 * when the response comes back; persistent mode: the page's grant is made once and kept), write a
 * request, and at the end of the step RING_PUSH_REQUESTS_AND_CHECK_NOTIFY: notify Dom0 (a hypercall)
 * only if netback asked for an event in the new range. Receiving (on the event-channel upcall):
 * responses name filled pages; each is handed up and its page re-posted as a new RX request.
 * A frame over one page takes a slot per page on either ring (NETTXF_more_data / NETRXF_more_data,
 * netif.ts); netfront sends only when it has the slots for its largest frame free (as Linux's
 * netfront stops its queue below MAX_SKB_FRAGS + 2 free slots).
 * Multi-queue: a frame's queue is its flow hash modulo the queue count.
 * With GSO (xen.gso: feature-gso-tcpv4) a TCP super-frame of up to 64 KiB goes as one packet: its
 * pages' requests with a GSO extra-info slot after the first (netif.ts).
 */
import type { Guest } from "../../../src/hypervisor-glue/guest.js";
import { flowHash } from "../../../src/nic/queues.js";
import { CostMeter } from "../../model/cpu.js";
import { TxMarks, type GuestNic, type RxConsumer } from "../../model/guest-kernel.js";
import type { CaptureSet } from "../../model/capture.js";
import { GrantTable, XEN_PAGE } from "./grant.js";
import { NETIF_RSP_NULL, NETRXF_extra_info, NETRXF_more_data, NETTXF_extra_info, XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_GSO_TYPE_TCPV4, NETTXF_more_data, RX_SLOT, SharedRing, TX_SLOT, ringSize, writeGsoExtra, writeRxRequest, writeTxRequest } from "./netif.js";

export const DOM0_ID = 0;

/** Ring slots (pages) a frame of `len` bytes takes. */
export const slotsFor = (len: number): number => (len <= XEN_PAGE ? 1 : Math.ceil(len / XEN_PAGE));

export interface NetfrontQueueLayout {
  readonly txRing: number;
  readonly rxRing: number;
  readonly txBufs: number;
  readonly rxBufs: number;
}

/** Guest memory a queue needs: two ring pages and a page per slot of each ring. */
export function netfrontQueueBytes(): number {
  return 2 * XEN_PAGE + (ringSize(TX_SLOT) + ringSize(RX_SLOT)) * XEN_PAGE;
}

export function netfrontQueueLayout(base: number): NetfrontQueueLayout {
  return { txRing: base, rxRing: base + XEN_PAGE, txBufs: base + 2 * XEN_PAGE, rxBufs: base + 2 * XEN_PAGE + ringSize(TX_SLOT) * XEN_PAGE };
}

/** Where netfront's notifications go (netback's queue; set by the backend). */
export interface EventChannelPeer {
  upcall(): void;
}

export class NetfrontQueue {
  readonly tx: SharedRing;
  readonly rx: SharedRing;
  private readonly freeIds: number[] = [];
  private readonly txRef: Int32Array;
  private readonly rxRef: Int32Array;
  private txProd = 0;
  private txCons = 0;
  private rxProd = 0;
  private rxCons = 0;
  private dirty = false;
  backend: EventChannelPeer | undefined;
  notifications = 0;

  constructor(
    readonly g: Guest,
    readonly L: NetfrontQueueLayout,
    private readonly gt: GrantTable,
    readonly persistent: boolean,
  ) {
    this.tx = new SharedRing(g, L.txRing, TX_SLOT);
    this.rx = new SharedRing(g, L.rxRing, RX_SLOT);
    this.tx.init();
    this.rx.init();
    const nt = this.tx.size;
    const nr = this.rx.size;
    this.txRef = new Int32Array(nt).fill(-1);
    this.rxRef = new Int32Array(nr).fill(-1);
    for (let id = nt - 1; id >= 0; id--) this.freeIds.push(id);
    if (persistent) {
      for (let id = 0; id < nt; id++) this.txRef[id] = gt.grant(DOM0_ID, L.txBufs + id * XEN_PAGE, true);
      for (let id = 0; id < nr; id++) this.rxRef[id] = gt.grant(DOM0_ID, L.rxBufs + id * XEN_PAGE, false);
    }
    for (let id = 0; id < nr; id++) this.postRx(id);
    this.rx.pushRequests(this.rxProd);
  }

  private postRx(id: number): void {
    if (!this.persistent) this.rxRef[id] = this.gt.grant(DOM0_ID, this.L.rxBufs + id * XEN_PAGE, false);
    writeRxRequest(this.g, this.rx.slotGpa(this.rxProd), id, this.rxRef[id]!);
    this.rxProd = (this.rxProd + 1) >>> 0;
  }

  /** Free TX slots: buffer ids, and ring slots (an extra-info slot takes a ring slot but no id). */
  get txFree(): number {
    return Math.min(this.freeIds.length, this.tx.size - ((this.txProd - this.txCons) >>> 0));
  }

  /**
   * Reclaim TX slots whose responses arrived (xennet_tx_buf_gc): then ask for an event when half of
   * the requests still outstanding have been answered, and look again in case they already were.
   */
  reclaimTx(): number {
    let n = 0;
    for (;;) {
      const prod = this.tx.rspProd;
      while (this.txCons !== prod) {
        const at = this.tx.slotGpa(this.txCons);
        this.txCons = (this.txCons + 1) >>> 0;
        if (((this.g.read16(at + 2) << 16) >> 16) === NETIF_RSP_NULL) continue; // an extra-info slot's
        const id = this.g.read16(at);
        if (!this.persistent) this.gt.endAccess(this.txRef[id]!);
        this.freeIds.push(id);
        n++;
      }
      const outstanding = (this.tx.reqProd - prod) >>> 0;
      this.tx.setRspEvent((prod + (outstanding >>> 1) + 1) >>> 0);
      if (this.tx.rspProd === prod) return n;
    }
  }

  /**
   * Write a frame as requests: a page per slot, the first request giving the whole size and each
   * further one its own piece's; with `gsoSize` > 0 a GSO packet, a GSO extra-info slot after the
   * first request. False (nothing written) when the free slots are too few.
   */
  xmit(frame: Uint8Array, len: number, gsoSize = 0): boolean {
    const slots = slotsFor(len);
    if (this.txFree < slots + (gsoSize > 0 ? 1 : 0)) return false;
    for (let k = 0; k < slots; k++) {
      const id = this.freeIds.pop()!;
      const from = k * XEN_PAGE;
      const piece = Math.min(XEN_PAGE, len - from);
      const buf = this.L.txBufs + id * XEN_PAGE;
      this.g.writeBytes(buf, frame, from, piece);
      if (!this.persistent) this.txRef[id] = this.gt.grant(DOM0_ID, buf, true);
      const flags = (k + 1 < slots ? NETTXF_more_data : 0) | (k === 0 && gsoSize > 0 ? NETTXF_extra_info : 0);
      writeTxRequest(this.g, this.tx.slotGpa(this.txProd), this.txRef[id]!, 0, flags, id, k === 0 ? len : piece);
      this.txProd = (this.txProd + 1) >>> 0;
      if (k === 0 && gsoSize > 0) {
        writeGsoExtra(this.g, this.tx.slotGpa(this.txProd), gsoSize);
        this.txProd = (this.txProd + 1) >>> 0;
      }
    }
    this.dirty = true;
    return true;
  }

  /** The requests queued since the last mark are one transmission: pushTx pushes them on their own. */
  private readonly marks = new TxMarks();
  mark(): void {
    if (this.dirty) this.marks.push(this.txProd);
  }

  /**
   * RING_PUSH_REQUESTS_AND_CHECK_NOTIFY on the TX ring for each transmission queued since the last
   * (what came after the last mark as one), in order; Dom0 notified each time it asked to be.
   * Returns whether it was notified.
   */
  pushTx(): boolean {
    this.mark();
    const m = this.marks;
    let notified = false;
    for (let i = 0; i < m.n; i++)
      if (this.tx.pushRequests(m.at(i))) {
        this.notify();
        notified = true;
      }
    m.clear();
    this.dirty = false;
    return notified;
  }

  /** Whether the last pollRx re-posted requests Dom0 asked to be notified of. */
  rxNotify = false;

  /** Frames whose responses were malformed (an error status, a piece past its page, a chain cut short or too long), not handed up. */
  rxErrors = 0;

  /**
   * Take up to `budget` received frames (a frame's responses run to the first without
   * NETRXF_more_data); re-post their pages; returns how many frames (see rxNotify). A frame with an
   * error or malformed response is not handed up (xennet_get_responses).
   */
  pollRx(budget: number, scratch: Uint8Array, onFrame: (buf: Uint8Array, len: number, gsoSize: number) => void): number {
    const prod = this.rx.rspProd;
    let n = 0;
    while (n < budget && this.rxCons !== prod) {
      let len = 0;
      let ok = true;
      let gso = 0;
      for (let first = true; ; first = false) {
        const at = this.rx.slotGpa(this.rxCons);
        const id = this.g.read16(at) % this.rx.size;
        const off = this.g.read16(at + 2);
        const flags = this.g.read16(at + 4);
        const status = (this.g.read16(at + 6) << 16) >> 16;
        this.rxCons = (this.rxCons + 1) >>> 0;
        if (!this.persistent) this.gt.endAccess(this.rxRef[id]!);
        if (ok && status > 0 && off + status <= XEN_PAGE && len + status <= scratch.length) {
          this.g.readBytes(this.L.rxBufs + id * XEN_PAGE + off, scratch, len, status);
          len += status;
        } else ok = false;
        this.postRx(id);
        if (first && (flags & NETRXF_extra_info) !== 0) {
          // xennet_get_extras: the next slot is a netif_extra_info; its request's page goes back as posted
          if (this.rxCons === prod) {
            ok = false;
            break;
          }
          const ex = this.rx.slotGpa(this.rxCons);
          const xid = this.rxCons % this.rx.size;
          const type = this.g.read16(ex) & 0xff;
          if (type === XEN_NETIF_EXTRA_TYPE_GSO && (this.g.read16(ex + 4) & 0xff) === XEN_NETIF_GSO_TYPE_TCPV4) gso = this.g.read16(ex + 2);
          else ok = false;
          this.rxCons = (this.rxCons + 1) >>> 0;
          if (!this.persistent) this.gt.endAccess(this.rxRef[xid]!);
          this.postRx(xid);
        }
        if (!(flags & NETRXF_more_data)) break;
        if (this.rxCons === prod) {
          ok = false; // the chain runs past the responses published
          break;
        }
      }
      if (ok) onFrame(scratch, len, gso);
      else this.rxErrors++;
      n++;
    }
    this.rxNotify = n > 0 && this.rx.pushRequests(this.rxProd);
    return n;
  }

  /** RING_FINAL_CHECK_FOR_RESPONSES on both rings: true if responses are already waiting. */
  finalCheck(): boolean {
    const t = this.tx.finalCheckForResponses(this.txCons);
    const r = this.rx.finalCheckForResponses(this.rxCons);
    return t || r;
  }

  notify(): void {
    this.notifications++;
    this.g.exits.hypercall++; // EVTCHNOP_send
    this.backend?.upcall();
  }
}

export interface NetfrontCosts {
  readonly perPacketNs: number;
}

export class Netfront implements GuestNic {
  readonly meter = new CostMeter();
  private rx: RxConsumer | undefined;
  private readonly scratch: Uint8Array;
  /** Slots the largest frame takes: sending waits until a queue has that many free. */
  private readonly maxSlots: number;
  private readonly onFrame = (buf: Uint8Array, len: number, gsoSize: number): void => {
    this.meter.ns += this.c.perPacketNs;
    this.capture?.frame(this.port, this.now(), buf, len);
    this.rx!.rx(buf, len, gsoSize);
  };
  private pollFrom = 0;

  constructor(
    readonly queues: readonly NetfrontQueue[],
    private readonly c: NetfrontCosts,
    private readonly now: () => number,
    private readonly capture: CaptureSet | undefined,
    private readonly port: string,
    maxFrame: number,
    /** With GSO, the largest super-frame (its slots and the extra-info slot are what sending waits for). */
    gsoMaxFrame = 0,
  ) {
    this.scratch = new Uint8Array(Math.max(XEN_PAGE, maxFrame, gsoMaxFrame));
    this.maxSlots = gsoMaxFrame > 0 ? Math.max(slotsFor(maxFrame), slotsFor(gsoMaxFrame) + 1) : slotsFor(maxFrame);
  }

  private queueOf(frame: Uint8Array, len: number): NetfrontQueue {
    const n = this.queues.length;
    return n === 1 ? this.queues[0]! : this.queues[flowHash(frame, 0, len) % n]!;
  }

  /**
   * Room for the next frame, whichever queue its flow hashes to: every queue has the slots for the
   * largest frame (one full queue holds back all flows, as a socket's send buffer does once that
   * queue's qdisc has filled).
   */
  canXmit(): boolean {
    const need = this.maxSlots;
    for (const q of this.queues) {
      if (q.txFree < need) q.reclaimTx();
      if (q.txFree < need) return false;
    }
    return true;
  }

  xmit(frame: Uint8Array, len: number, gsoSize = 0): boolean {
    const q = this.queueOf(frame, len);
    if (q.txFree < slotsFor(len) + (gsoSize > 0 ? 1 : 0)) q.reclaimTx();
    if (!q.xmit(frame, len, gsoSize)) return false;
    this.meter.ns += this.c.perPacketNs;
    this.capture?.frame(this.port, this.now(), frame, len);
    return true;
  }

  mark(): void {
    for (const q of this.queues) q.mark();
  }

  flush(): void {
    for (const q of this.queues) q.pushTx();
  }

  poll(budget: number, rx: RxConsumer): number {
    this.rx = rx;
    let total = 0;
    const n = this.queues.length;
    for (let k = 0; k < n && total < budget; k++) {
      const q = this.queues[(this.pollFrom + k) % n]!;
      q.reclaimTx();
      total += q.pollRx(budget - total, this.scratch, this.onFrame);
      if (q.rxNotify) q.notify();
    }
    this.pollFrom = (this.pollFrom + 1) % n;
    return total;
  }

  complete(): boolean {
    let more = false;
    for (const q of this.queues) if (q.finalCheck()) more = true;
    return more;
  }
}
