/**
 * Xen netif shared rings (xen/include/public/io/netif.h, io/ring.h) in the frontend guest's memory:
 * a 64-byte header {req_prod, req_event, rsp_prod, rsp_event, pad} then power-of-two slots.
 * TX request 12 B {gref u32, offset u16, flags u16, id u16, size u16}; TX response {id u16, status i16};
 * RX request 8 B {id u16, pad u16, gref u32}; RX response {id u16, offset u16, flags u16, status i16}.
 * Notification follows RING_PUSH_*_AND_CHECK_NOTIFY with the event counters.
 *
 * A packet larger than a page takes several slots (frontend and backend both advertise feature-sg):
 * on TX the first request carries the whole packet's size and NETTXF_more_data, each further request
 * the size of its own piece, the last without the flag; on RX each response's status is the size of
 * its own piece and all but the last carry NETRXF_more_data.
 *
 * GSO (the frontend's feature-gso-tcpv4): a TCP packet of up to 64 KiB goes as one packet whose first
 * request carries NETTXF_extra_info; the slot after it holds a netif_extra_info {type u8
 * (XEN_NETIF_EXTRA_TYPE_GSO), flags u8 (XEN_NETIF_EXTRA_FLAG_MORE: another extra follows), gso.size
 * u16, gso.type u8 (XEN_NETIF_GSO_TYPE_TCPV4), pad u8, gso.features u16} instead of a request, and
 * netback answers that slot with XEN_NETIF_RSP_NULL. Towards the guest a GSO packet's first RX
 * response carries NETRXF_extra_info and the response slot after it holds the extra info; the
 * request posted for that slot is used up, its page not written.
 */
import type { Guest } from "../../../src/hypervisor-glue/guest.js";

export const RING_HDR = 64;
export const TX_SLOT = 12;
export const RX_SLOT = 8;
export const NETTXF_more_data = 1 << 2;
export const NETTXF_extra_info = 1 << 3;
export const XEN_NETIF_EXTRA_TYPE_GSO = 1;
export const XEN_NETIF_EXTRA_FLAG_MORE = 1;
export const XEN_NETIF_GSO_TYPE_TCPV4 = 1;
export const NETIF_RSP_NULL = 1;
export const NETRXF_more_data = 1 << 2;
export const NETRXF_extra_info = 1 << 3;
/** XEN_NETIF_MAX_TX_SIZE: a TX request's size field is 16 bits. */
export const XEN_NETIF_MAX_TX_SIZE = 0xffff;
/** XEN_NETBK_LEGACY_SLOTS_MAX: a packet of more slots is dropped (netback answers each with an error). */
export const LEGACY_SLOTS_MAX = 18;
/** netback's fatal_skb_slots default: a frontend using this many slots after the first is malicious. */
export const FATAL_SKB_SLOTS = 20;
/** Smallest packet netback accepts: an Ethernet header (ETH_HLEN). */
export const ETH_HLEN = 14;
export const NETIF_RSP_OKAY = 0;
export const NETIF_RSP_ERROR = -1;

/** Largest power of two of `slot`-byte entries fitting in one 4 KiB page after the header. */
export const ringSize = (slot: number): number => 2 ** Math.floor(Math.log2((4096 - RING_HDR) / slot));

const REQ_PROD = 0;
const REQ_EVENT = 4;
const RSP_PROD = 8;
const RSP_EVENT = 12;

/** Whether the other end must be notified: it asked for an event in (old, new] (RING_PUSH_*_CHECK_NOTIFY). */
export const needNotify = (event: number, nw: number, old: number): boolean => ((nw - event) >>> 0) < ((nw - old) >>> 0);

/** One shared ring page; both ends use the same object shape but keep private producer/consumer indexes. */
export class SharedRing {
  readonly size: number;
  constructor(readonly g: Guest, readonly gpa: number, readonly slot: number) {
    this.size = ringSize(slot);
  }
  init(): void {
    for (let o = 0; o < RING_HDR; o += 4) this.g.write32(this.gpa + o, 0);
    this.g.write32(this.gpa + REQ_EVENT, 1);
    this.g.write32(this.gpa + RSP_EVENT, 1);
  }
  slotGpa(idx: number): number {
    return this.gpa + RING_HDR + (idx % this.size) * this.slot;
  }
  get reqProd(): number {
    return this.g.read32(this.gpa + REQ_PROD);
  }
  get rspProd(): number {
    return this.g.read32(this.gpa + RSP_PROD);
  }
  /** Frontend: publish requests up to `nw`; returns whether the backend must be notified. */
  pushRequests(nw: number): boolean {
    const old = this.reqProd;
    this.g.write32(this.gpa + REQ_PROD, nw >>> 0);
    return needNotify(this.g.read32(this.gpa + REQ_EVENT), nw, old);
  }
  /** Backend: publish responses up to `nw`; returns whether the frontend must be notified. */
  pushResponses(nw: number): boolean {
    const old = this.rspProd;
    this.g.write32(this.gpa + RSP_PROD, nw >>> 0);
    return needNotify(this.g.read32(this.gpa + RSP_EVENT), nw, old);
  }
  /**
   * Backend: RING_FINAL_CHECK_FOR_REQUESTS — ask for an event once `need` requests are past `cons`
   * (1: any new request; netback's RX side asks for the slots its next packet needs), then re-check.
   */
  finalCheckForRequests(cons: number, need = 1): boolean {
    this.g.write32(this.gpa + REQ_EVENT, (cons + need) >>> 0);
    return ((this.reqProd - cons) >>> 0) >= need;
  }
  /** Frontend: ask to be notified when responses reach index `at`. */
  setRspEvent(at: number): void {
    this.g.write32(this.gpa + RSP_EVENT, at >>> 0);
  }
  /** Frontend: RING_FINAL_CHECK_FOR_RESPONSES. */
  finalCheckForResponses(cons: number): boolean {
    this.g.write32(this.gpa + RSP_EVENT, (cons + 1) >>> 0);
    return this.rspProd !== cons;
  }
}

export function writeTxRequest(g: Guest, at: number, gref: number, offset: number, flags: number, id: number, size: number): void {
  g.write32(at, gref);
  g.write16(at + 4, offset);
  g.write16(at + 6, flags);
  g.write16(at + 8, id);
  g.write16(at + 10, size);
}
/** A netif_extra_info of type GSO (8 bytes: segments of `size` payload bytes, TCPv4), as it fills an RX response slot. */
export function writeGsoExtra8(g: Guest, at: number, size: number): void {
  g.write16(at, XEN_NETIF_EXTRA_TYPE_GSO); // type, flags 0 (no further extra)
  g.write16(at + 2, size);
  g.write16(at + 4, XEN_NETIF_GSO_TYPE_TCPV4);
  g.write16(at + 6, 0);
}
/** The same in a TX request slot (12 bytes, the rest zero). */
export function writeGsoExtra(g: Guest, at: number, size: number): void {
  writeGsoExtra8(g, at, size);
  g.write32(at + 8, 0);
}
export function writeTxResponse(g: Guest, at: number, id: number, status: number): void {
  g.write16(at, id);
  g.write16(at + 2, status & 0xffff);
}
export function writeRxRequest(g: Guest, at: number, id: number, gref: number): void {
  g.write16(at, id);
  g.write16(at + 2, 0);
  g.write32(at + 4, gref);
}
export function writeRxResponse(g: Guest, at: number, id: number, offset: number, flags: number, status: number): void {
  g.write16(at, id);
  g.write16(at + 2, offset);
  g.write16(at + 4, flags);
  g.write16(at + 6, status & 0xffff);
}
