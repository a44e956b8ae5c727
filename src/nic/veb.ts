/**
 * The embedded switch (VEB): ports are the PF, each active VF, and the uplink (the wire).
 *
 * Steering (igb VMDq semantics, datasheet §7.10.3, anchors.md §2.3), for one frame from a port:
 * - membership by VLAN: a function with a port VLAN takes only frames whose outer tag has its TPID
 *   and VID (and gets them with that tag stripped); a function without one takes untagged and
 *   priority-tagged frames and 802.1Q frames whose VID is in its VLAN filter. So a frame for another
 *   VLAN never reaches a VF.
 * - unicast: the functions whose exact filters (admin MAC + MACs added through the mailbox) hold the
 *   destination; when none does, the frame goes to the uplink (unknown unicast), or, from the wire,
 *   to the PF if its RCTL.UPE (unicast promiscuous) is set, else it is dropped and counted as unmatched.
 * - broadcast: every member function; multicast: members whose multicast list holds the address or
 *   that are in all-multicast mode (the PF also with RCTL.MPE). Both also go to the uplink when they
 *   came from a function.
 * - never back to the sender; function-to-function frames never touch the wire (VMDq loopback is
 *   always on: DTXSWC.VMDQ_LOOPBACK_EN).
 * - a VF whose link is down (state disable, or auto while the wire is down) drops what it would
 *   receive (counted "link-down"); frames to a wire that is down are counted on the wire.
 */
import type { NicFunction } from "./fn.js";
import { LINK_AUTO, LINK_DISABLE } from "./fn.js";
import { C_DROP_LINK_DOWN, C_RX_DROPPED } from "./counters.js";
import { be16At, macHiAt, macLoAt, ETH_TYPE_OFF, VLAN_HLEN, VLAN_VID_MASK } from "./frame.js";
import { ETH_P_8021AD, ETH_P_8021Q } from "./port-config.js";
import { E1000_CTRL_VME, E1000_RCTL_MPE, E1000_RCTL_UPE } from "./regs.js";

/** Frames leaving on the wire: bytes buf[off..off+len) are valid only during the call. */
export type UplinkFn = (buf: Uint8Array, off: number, len: number) => void;

/** Where the switch hands a frame for a function (the RX rings). */
export interface RxSink {
  /**
   * Deliver buf[start..start+len) to `f`, leaving out `strip` tag bytes after the MACs; report
   * `tci` with status VP when `vp`. `loopback`: the frame came from another function. False = dropped.
   */
  deliverRx(f: NicFunction, buf: Uint8Array, start: number, len: number, strip: number, tci: number, vp: boolean, loopback: boolean): boolean;
}

export const W_RX_PACKETS = 0;
export const W_RX_BYTES = 1;
export const W_TX_PACKETS = 2;
export const W_TX_BYTES = 3;
export const W_RX_UNMATCHED = 4;
export const W_LINK_DOWN = 5;
export const W_RX_MALFORMED = 6;
export const W_COUNT = 7;

/** Functions a forwarded frame was offered to, from `forward`'s result. */
export const fwdLocal = (r: number): number => r >>> 1;

/** Open-addressing table of exact unicast filters: (MAC high 16, MAC low 32) → function index. */
class MacTable {
  private hi = new Int32Array(16).fill(-1);
  private lo = new Uint32Array(16);
  private fn = new Int32Array(16);
  mask = 15;

  rebuild(fns: readonly NicFunction[]): void {
    let n = 0;
    for (const f of fns) n += f.ucCount;
    let cap = 16;
    while (cap < 2 * n + 16) cap *= 2;
    this.hi = new Int32Array(cap).fill(-1);
    this.lo = new Uint32Array(cap);
    this.fn = new Int32Array(cap);
    this.mask = cap - 1;
    for (const f of fns) {
      for (let i = 0; i < f.ucCount; i++) {
        let s = this.home(f.ucHi[i]!, f.ucLo[i]!);
        while (this.hi[s] !== -1) s = (s + 1) & this.mask;
        this.hi[s] = f.ucHi[i]!;
        this.lo[s] = f.ucLo[i]!;
        this.fn[s] = f.index;
      }
    }
  }

  home(hi: number, lo: number): number {
    return (Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b) >>> 12) & this.mask;
  }

  /** From slot `s`, the next slot holding (hi, lo), or -1 at the end of the probe chain. */
  find(hi: number, lo: number, s: number): number {
    for (;;) {
      const h = this.hi[s]!;
      if (h === -1) return -1;
      if (h === hi && this.lo[s] === lo) return s;
      s = (s + 1) & this.mask;
    }
  }
  next(s: number): number {
    return (s + 1) & this.mask;
  }
  fnAt(s: number): number {
    return this.fn[s]!;
  }
}

export class Veb {
  wireUp = true;
  uplink: UplinkFn | undefined;
  readonly wire = new Float64Array(W_COUNT);
  private readonly table = new MacTable();
  /** Number of functions taking part (PF + enabled VFs). */
  ports = 1;

  constructor(
    private readonly fns: readonly NicFunction[],
    private readonly rx: RxSink,
  ) {}

  rebuild(): void {
    this.table.rebuild(this.fns.filter((f) => f.active));
  }

  private linkUp(f: NicFunction): boolean {
    return f.link !== LINK_DISABLE && (f.link !== LINK_AUTO || this.wireUp || f.isPf);
  }

  /** Offer buf[start..start+len) to `f`, which is a VLAN member and whose filter matched. */
  private offer(f: NicFunction, buf: Uint8Array, start: number, len: number, tpid: number, loopback: boolean): boolean {
    if (!f.isPf && !this.linkUp(f)) {
      f.ctr[C_DROP_LINK_DOWN]!++;
      f.ctr[C_RX_DROPPED]!++;
      return false;
    }
    let strip = 0;
    let inner = tpid;
    if (f.portVlan !== 0) {
      strip = VLAN_HLEN;
      inner = len >= ETH_TYPE_OFF + 2 * VLAN_HLEN + 2 ? be16At(buf, start + ETH_TYPE_OFF + VLAN_HLEN) : 0;
    }
    if (inner === ETH_P_8021Q && (f.regs.vals[f.sCtrl]! & E1000_CTRL_VME) !== 0) {
      const tci = be16At(buf, start + ETH_TYPE_OFF + strip + 2);
      return this.rx.deliverRx(f, buf, start, len, strip + VLAN_HLEN, tci, true, loopback);
    }
    return this.rx.deliverRx(f, buf, start, len, strip, 0, false, loopback);
  }

  /**
   * Steer one frame; `src` is the sending function or undefined for the wire. Returns
   * (functions offered the frame) × 2 + (1 if it went out on the wire): see fwdLocal / fwdWire.
   * The uplink is called last, so the caller's buffer is no longer needed after it (the uplink may
   * re-enter the NIC, e.g. loop a frame back through wireRx).
   */
  forward(src: NicFunction | undefined, buf: Uint8Array, start: number, len: number): number {
    const dHi = macHiAt(buf, start);
    const dLo = macLoAt(buf, start);
    const group = (buf[start]! & 1) !== 0;
    const bcast = group && dHi === 0xffff && dLo === 0xffffffff;
    const t = be16At(buf, start + ETH_TYPE_OFF);
    let tpid = 0;
    let vid = 0;
    if ((t === ETH_P_8021Q || t === ETH_P_8021AD) && len >= ETH_TYPE_OFF + VLAN_HLEN + 2) {
      tpid = t;
      vid = be16At(buf, start + ETH_TYPE_OFF + 2) & VLAN_VID_MASK;
    }
    const loopback = src !== undefined;
    let local = 0;
    const fns = this.fns;
    if (!group) {
      const tb = this.table;
      for (let s = tb.find(dHi, dLo, tb.home(dHi, dLo)); s >= 0; s = tb.find(dHi, dLo, tb.next(s))) {
        const f = fns[tb.fnAt(s)]!;
        if (f === src || !f.active || !member(f, tpid, vid)) continue;
        local++;
        this.offer(f, buf, start, len, tpid, loopback);
      }
      if (local === 0 && src === undefined) {
        const pf = fns[0]!;
        if ((pf.regs.vals[pf.sRctl]! & E1000_RCTL_UPE) !== 0 && member(pf, tpid, vid)) {
          local++;
          this.offer(pf, buf, start, len, tpid, loopback);
        }
      }
    } else {
      const n = this.ports;
      for (let i = 0; i < n; i++) {
        const f = fns[i]!;
        if (f === src || !f.active || !member(f, tpid, vid)) continue;
        if (!bcast && !f.allMulti && !f.mcHas(dHi, dLo) && !(i === 0 && (f.regs.vals[f.sRctl]! & E1000_RCTL_MPE) !== 0)) continue;
        local++;
        this.offer(f, buf, start, len, tpid, loopback);
      }
    }
    if (src === undefined || (!group && local > 0)) return local * 2;
    if (!this.wireUp) {
      this.wire[W_LINK_DOWN]!++;
      return local * 2;
    }
    this.wire[W_TX_PACKETS]!++;
    this.wire[W_TX_BYTES]! += len;
    if (this.uplink !== undefined) this.uplink(buf, start, len);
    return local * 2 + 1;
  }
}

/** VLAN membership of `f` for a frame whose outer tag is (tpid, vid), tpid 0 = untagged. */
export function member(f: NicFunction, tpid: number, vid: number): boolean {
  if (f.portVlan !== 0) return tpid === f.portTpid && vid === f.portVlan;
  if (tpid === 0) return true;
  if (tpid !== ETH_P_8021Q) return false;
  return vid === 0 || f.vlanMember(vid);
}
