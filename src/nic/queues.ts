/**
 * Descriptor rings: TX (the device walks head..tail, gathers each frame's buffers, applies the
 * port's TX rules, hands the frame to the switch, writes back STA.DD where CMD.RS asked) and RX
 * (the switch hands a frame; the device takes descriptors head..tail-1, writes the buffers and the
 * write-back, advances head). All memory access goes through the DMA engine with the function's RID.
 *
 * TX rules, in order: the VF's link (disable, or auto while the wire is down: "link-down"); length
 * (below 14 bytes "runt", above 9,728 "oversize"); anti-spoof when spoofchk is on (source MAC must be
 * one of the function's unicast filters, else "spoof"); with a port VLAN, a frame the driver already
 * tagged (802.1Q port VLAN: any tag or CMD.VLE; 802.1ad: an outer S-tag) is dropped as "spoof" when
 * spoofchk is on and "vlan" when off; then CMD.VLE inserts an 802.1Q tag from the descriptor and the
 * port VLAN inserts its tag (TPID by proto, PCP = qos) outside it; then the rate limiter.
 *
 * After a batch, a queue with TDWBAL.HEAD_WB_EN also stores its head index at TDWBAH:TDWBAL (head
 * write-back, the alternative to polling DD).
 *
 * A TX DMA fault (descriptor, buffer or head write-back) stops the queue as malicious-driver detection does: TXDCTL
 * ENABLE is cleared, the frame is dropped ("dma-fault") and nothing more is read until the driver
 * re-enables the queue. An RX DMA fault drops the frame ("dma-fault") with nothing written and the
 * ring unchanged. A TX frame that waits for rate tokens leaves the queue where it is (a "rate stall");
 * `poll(nowNs)` resumes it.
 */
import { DMA_FAULT } from "../pcie/dma.js";
import { PAGE_MASK } from "../memory/physmem.js";
import type { DmaEngine } from "./dma-engine.js";
import { copyBytes } from "../memory/bytes.js";
import {
  C_DMA_FAULTS,
  C_DROP_DMA_FAULT,
  C_DROP_LINK_DOWN,
  C_DROP_NO_BUFFER,
  C_DROP_OVERSIZE,
  C_DROP_RUNT,
  C_DROP_SPOOF,
  C_DROP_VLAN,
  C_RATE_STALLS,
  C_RX_BROADCAST,
  C_RX_BYTES,
  C_RX_DROPPED,
  C_RX_LB_BYTES,
  C_RX_LB_PACKETS,
  C_RX_MULTICAST,
  C_RX_PACKETS,
  C_TX_BROADCAST,
  C_TX_BYTES,
  C_TX_DROPPED,
  C_TX_LB_BYTES,
  C_TX_LB_PACKETS,
  C_TX_MULTICAST,
  C_TX_PACKETS,
  C_TX_QUEUE_STOPS,
} from "./counters.js";
import {
  DESC_SIZE,
  E1000_RXD_STAT_DD,
  E1000_RXD_STAT_EOP,
  E1000_RXD_STAT_VP,
  E1000_TXD_CMD_EOP,
  E1000_TXD_CMD_RS,
  E1000_TXD_CMD_VLE,
  E1000_TXD_STAT_DD,
  RXD_STATUS,
  TXD_CMD,
  TXD_SPECIAL,
  TXD_STA,
} from "./descriptors.js";
import type { NicFunction } from "./fn.js";
import { LINK_AUTO, LINK_DISABLE } from "./fn.js";
import { be16At, ETH_HLEN, ETH_TYPE_OFF, macHiAt, macLoAt, MAX_FRAME, VLAN_HLEN } from "./frame.js";
import type { InterruptUnit } from "./msix.js";
import { ETH_P_8021AD, ETH_P_8021Q } from "./port-config.js";
import { E1000_RXDCTL_QUEUE_ENABLE, E1000_SRRCTL_BSIZEPKT_MASK, E1000_TX_HEAD_WB_ENABLE, E1000_TXDCTL_QUEUE_ENABLE, RDLEN_MASK } from "./regs.js";
import type { RxSink, Veb } from "./veb.js";
import { W_RX_BYTES, W_RX_MALFORMED, W_RX_PACKETS, W_RX_UNMATCHED, W_LINK_DOWN, fwdLocal } from "./veb.js";

/** Room before the frame in the scratch buffer for two inserted tags. */
const HEADROOM = 16;
/** Descriptors one TX frame may use before the queue is stopped as malformed. */
export const MAX_TX_DESC_PER_FRAME = 64;
/** RX buffer size when SRRCTL.BSIZEPKT is 0. */
export const DEFAULT_RX_BUFFER = 2048;

const NO_DROP = -1;

export class DataPath implements RxSink {
  /** One frame in flight: TX gather, wire RX. */
  readonly scratch = new Uint8Array(HEADROOM + MAX_FRAME + 2 * VLAN_HLEN);
  private readonly txAddr = new Float64Array(MAX_TX_DESC_PER_FRAME);
  private readonly txLenA = new Int32Array(MAX_TX_DESC_PER_FRAME);
  private readonly txCmdA = new Uint8Array(MAX_TX_DESC_PER_FRAME);
  private readonly rxDescW = new Float64Array(16);
  private readonly rxSeg = new Int32Array(16);
  private fStart = 0;
  private fLen = 0;
  nowNs = 0;
  veb!: Veb;

  /** Set whenever a queue stalls on its rate limiter: `Nic.poll` has work (cleared there). */
  stalledAny = false;
  /** Earliest time a queue stalled since `Nic.takeNewWakeNs` can send again. */
  newWakeNs = Infinity;

  constructor(
    private readonly dma: DmaEngine,
    private readonly irq: InterruptUnit,
  ) {}

  // ---------------------------------------------------------------- TX

  /** Malicious-driver detection: disable the queue, drop the frame in hand (counter `drop`, if any). */
  private stopQueue(f: NicFunction, q: number, fault: boolean, drop: number): void {
    const v = f.regs.vals;
    v[f.txCtl[q]!] = v[f.txCtl[q]!]! & ~E1000_TXDCTL_QUEUE_ENABLE;
    f.ctr[C_TX_QUEUE_STOPS]!++;
    if (fault) f.ctr[C_DMA_FAULTS]!++;
    if (drop !== NO_DROP) {
      f.ctr[drop]!++;
      f.ctr[C_TX_DROPPED]!++;
    }
  }

  /** Process TX queue q of f from head to tail, or until it waits (rate tokens, an unfinished frame). */
  processTx(f: NicFunction, q: number): void {
    const v = f.regs.vals;
    f.txStalled[q] = 0;
    if ((v[f.txCtl[q]!]! & E1000_TXDCTL_QUEUE_ENABLE) === 0 || !f.busMaster || !f.active) return;
    const count = (v[f.txLen[q]!]! & RDLEN_MASK) >>> 4;
    if (count === 0) return;
    let head = v[f.txHead[q]!]!;
    const tail = v[f.txTail[q]!]!;
    if (tail >= count) return;
    if (head >= count) head = 0;
    const base = v[f.txBah[q]!]! * 0x1_0000_0000 + v[f.txBal[q]!]!;
    const dma = this.dma;
    const mem = dma.mem;
    const rid = f.rid;
    let done = 0;
    while (head !== tail) {
      // 1. the frame's descriptors, up to EOP
      let i = head;
      let nd = 0;
      let total = 0;
      let cmd = 0;
      let special = 0;
      let complete = false;
      while (i !== tail) {
        if (nd === MAX_TX_DESC_PER_FRAME) break;
        const h = dma.desc(rid, base + i * DESC_SIZE, false);
        if (h === DMA_FAULT) {
          this.stopQueue(f, q, true, C_DROP_DMA_FAULT);
          v[f.txHead[q]!] = head;
          if (done > 0) this.irq.raise(f, this.irq.txBit(f, q));
          return;
        }
        const p = mem.pageForRead(h);
        const o = h & PAGE_MASK;
        this.txAddr[nd] = ((p[o + 4]! | (p[o + 5]! << 8) | (p[o + 6]! << 16) | (p[o + 7]! << 24)) >>> 0) * 0x1_0000_0000 + ((p[o]! | (p[o + 1]! << 8) | (p[o + 2]! << 16) | (p[o + 3]! << 24)) >>> 0);
        const len = p[o + 8]! | (p[o + 9]! << 8);
        this.txLenA[nd] = len;
        cmd = p[o + TXD_CMD]!;
        this.txCmdA[nd] = cmd;
        total += len;
        nd++;
        i = i + 1 === count ? 0 : i + 1;
        if ((cmd & E1000_TXD_CMD_EOP) !== 0) {
          special = p[o + TXD_SPECIAL]! | (p[o + TXD_SPECIAL + 1]! << 8);
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (nd === MAX_TX_DESC_PER_FRAME) this.stopQueue(f, q, false, C_DROP_OVERSIZE);
        break; // wait for the rest of the frame
      }
      // 2. gather and check
      let drop = NO_DROP;
      if (total > MAX_FRAME) drop = C_DROP_OVERSIZE;
      else if (total < ETH_HLEN) drop = C_DROP_RUNT;
      else {
        let off = HEADROOM;
        for (let k = 0; k < nd; k++) {
          if (!dma.gather(rid, this.txAddr[k]!, this.txLenA[k]!, this.scratch, off)) {
            this.stopQueue(f, q, true, C_DROP_DMA_FAULT);
            v[f.txHead[q]!] = head;
            if (done > 0) this.irq.raise(f, this.irq.txBit(f, q));
            return;
          }
          off += this.txLenA[k]!;
        }
        drop = this.admit(f, cmd, special, total);
        if (drop === NO_DROP && f.bucket.rate > 0 && !f.bucket.tryTake(this.fLen, this.nowNs)) {
          f.ctr[C_RATE_STALLS]!++;
          f.txStalled[q] = 1;
          this.stalledAny = true;
          const ready = f.bucket.readyAtNs(this.fLen, this.nowNs);
          if (ready < this.newWakeNs) this.newWakeNs = ready;
          f.txNeed[q] = this.fLen;
          break;
        }
      }
      if (drop !== NO_DROP) {
        f.ctr[drop]!++;
        f.ctr[C_TX_DROPPED]!++;
      } else {
        const s = this.scratch;
        const st = this.fStart;
        const group = (s[st]! & 1) !== 0;
        const bcast = group && macHiAt(s, st) === 0xffff && macLoAt(s, st) === 0xffffffff;
        const r = this.veb.forward(f, s, st, this.fLen); // the scratch may be reused by the uplink from here on
        const c = f.ctr;
        if (r !== 0) {
          c[C_TX_PACKETS]!++;
          c[C_TX_BYTES]! += total;
          if (bcast) c[C_TX_BROADCAST]!++;
          else if (group) c[C_TX_MULTICAST]!++;
          if (fwdLocal(r) > 0) {
            c[C_TX_LB_PACKETS]!++;
            c[C_TX_LB_BYTES]! += total;
          }
        } else {
          // nobody local took it and the wire is down
          c[C_DROP_LINK_DOWN]!++;
          c[C_TX_DROPPED]!++;
        }
      }
      // 3. write back DD where RS asked
      let j = head;
      for (let k = 0; k < nd; k++) {
        if ((this.txCmdA[k]! & E1000_TXD_CMD_RS) !== 0) {
          const h = dma.desc(rid, base + j * DESC_SIZE, true);
          if (h === DMA_FAULT) {
            this.stopQueue(f, q, true, NO_DROP); // the frame itself was handled
            v[f.txHead[q]!] = i;
            this.irq.raise(f, this.irq.txBit(f, q));
            return;
          }
          const p = mem.pageForWrite(h);
          p[(h & PAGE_MASK) + TXD_STA] = p[(h & PAGE_MASK) + TXD_STA]! | E1000_TXD_STAT_DD;
        }
        j = j + 1 === count ? 0 : j + 1;
      }
      head = i;
      done++;
    }
    v[f.txHead[q]!] = head;
    if (done === 0) return;
    const wb = v[f.txWbal[q]!]!;
    if ((wb & E1000_TX_HEAD_WB_ENABLE) !== 0) {
      // head write-back: the head index as a little-endian dword
      const h = dma.word(rid, v[f.txWbah[q]!]! * 0x1_0000_0000 + ((wb & ~3) >>> 0), true);
      if (h === DMA_FAULT) this.stopQueue(f, q, true, NO_DROP);
      else {
        const p = mem.pageForWrite(h);
        const o = h & PAGE_MASK;
        p[o] = head & 0xff;
        p[o + 1] = head >>> 8;
        p[o + 2] = 0;
        p[o + 3] = 0;
      }
    }
    this.irq.raise(f, this.irq.txBit(f, q));
  }

  /** Port TX rules on the gathered frame; sets fStart/fLen. Returns a drop counter or NO_DROP. */
  private admit(f: NicFunction, cmd: number, special: number, total: number): number {
    const s = this.scratch;
    let start = HEADROOM;
    let len = total;
    if (!f.isPf && (f.link === LINK_DISABLE || (f.link === LINK_AUTO && !this.veb.wireUp))) return C_DROP_LINK_DOWN;
    if (!f.isPf && f.spoofchk && !f.ucHas(macHiAt(s, start + 6), macLoAt(s, start + 6))) return C_DROP_SPOOF;
    const t = be16At(s, start + ETH_TYPE_OFF);
    const vle = (cmd & E1000_TXD_CMD_VLE) !== 0;
    if (f.portVlan !== 0) {
      const bad = f.portTpid === ETH_P_8021AD ? t === ETH_P_8021AD : vle || t === ETH_P_8021Q || t === ETH_P_8021AD;
      if (bad) return f.spoofchk ? C_DROP_SPOOF : C_DROP_VLAN;
    }
    if (vle) {
      s.copyWithin(start - VLAN_HLEN, start, start + ETH_TYPE_OFF);
      start -= VLAN_HLEN;
      len += VLAN_HLEN;
      putTag(s, start + ETH_TYPE_OFF, ETH_P_8021Q, special);
    }
    if (f.portVlan !== 0) {
      s.copyWithin(start - VLAN_HLEN, start, start + ETH_TYPE_OFF);
      start -= VLAN_HLEN;
      len += VLAN_HLEN;
      putTag(s, start + ETH_TYPE_OFF, f.portTpid, f.portTci);
    }
    this.fStart = start;
    this.fLen = len;
    return NO_DROP;
  }

  // ---------------------------------------------------------------- RX

  private rxDrop(f: NicFunction, reason: number): boolean {
    f.ctr[reason]!++;
    f.ctr[C_RX_DROPPED]!++;
    return false;
  }

  /** RX queue for a frame: the only enabled one, or a flow hash over the enabled ones. */
  private pickQueue(f: NicFunction, buf: Uint8Array, start: number, len: number): number {
    const v = f.regs.vals;
    let n = 0;
    let first = -1;
    for (let q = 0; q < f.nq; q++) {
      if ((v[f.rxCtl[q]!]! & E1000_RXDCTL_QUEUE_ENABLE) !== 0) {
        if (first < 0) first = q;
        n++;
      }
    }
    if (n <= 1) return first;
    let k = flowHash(buf, start, len) % n;
    for (let q = 0; q < f.nq; q++) {
      if ((v[f.rxCtl[q]!]! & E1000_RXDCTL_QUEUE_ENABLE) !== 0 && k-- === 0) return q;
    }
    return first;
  }

  deliverRx(f: NicFunction, buf: Uint8Array, start: number, len: number, strip: number, tci: number, vp: boolean, loopback: boolean): boolean {
    const out = len - strip;
    if (!f.busMaster) return this.rxDrop(f, C_DROP_NO_BUFFER);
    if (out > f.maxFrame) return this.rxDrop(f, C_DROP_OVERSIZE);
    const q = this.pickQueue(f, buf, start, len);
    if (q < 0) return this.rxDrop(f, C_DROP_NO_BUFFER);
    const v = f.regs.vals;
    const count = (v[f.rxLen[q]!]! & RDLEN_MASK) >>> 4;
    const head = v[f.rxHead[q]!]!;
    const tail = v[f.rxTail[q]!]!;
    if (count === 0 || head >= count || tail >= count) return this.rxDrop(f, C_DROP_NO_BUFFER);
    const avail = tail >= head ? tail - head : tail + count - head;
    const bsize = (v[f.rxSrr[q]!]! & E1000_SRRCTL_BSIZEPKT_MASK) * 1024 || DEFAULT_RX_BUFFER;
    const nd = Math.ceil(out / bsize) || 1;
    if (nd > avail || nd > this.rxSeg.length) return this.rxDrop(f, C_DROP_NO_BUFFER);
    const base = v[f.rxBah[q]!]! * 0x1_0000_0000 + v[f.rxBal[q]!]!;
    const dma = this.dma;
    const rid = f.rid;
    // plan: every descriptor and buffer page translated before a byte is written
    dma.beginPlan();
    let idx = head;
    let rem = out;
    for (let k = 0; k < nd; k++) {
      const iova = base + idx * DESC_SIZE;
      const hr = dma.desc(rid, iova, false);
      const hw = hr === DMA_FAULT ? DMA_FAULT : dma.desc(rid, iova, true);
      const seg = rem < bsize ? rem : bsize;
      if (hw === DMA_FAULT || !dma.plan(rid, dma.read64(hr), seg)) {
        f.ctr[C_DMA_FAULTS]!++;
        return this.rxDrop(f, C_DROP_DMA_FAULT);
      }
      this.rxDescW[k] = hw;
      this.rxSeg[k] = seg;
      rem -= seg;
      idx = idx + 1 === count ? 0 : idx + 1;
    }
    const mem = dma.mem;
    const vpBit = vp ? E1000_RXD_STAT_VP : 0;
    for (let k = 0; k < nd; k++) {
      const h = this.rxDescW[k]!;
      const p = mem.pageForWrite(h);
      const o = h & PAGE_MASK;
      const seg = this.rxSeg[k]!;
      p[o + 8] = seg & 0xff;
      p[o + 9] = seg >>> 8;
      p[o + 10] = 0;
      p[o + 11] = 0;
      p[o + RXD_STATUS] = E1000_RXD_STAT_DD | vpBit | (k === nd - 1 ? E1000_RXD_STAT_EOP : 0);
      p[o + 13] = 0;
      p[o + 14] = vp ? tci & 0xff : 0;
      p[o + 15] = vp ? tci >>> 8 : 0;
    }
    dma.commit(buf, start, strip); // after the write-back: same step, and the ring page is still the cached one
    v[f.rxHead[q]!] = idx;
    const c = f.ctr;
    c[C_RX_PACKETS]!++;
    c[C_RX_BYTES]! += out;
    if ((buf[start]! & 1) !== 0) {
      if (macHiAt(buf, start) === 0xffff && macLoAt(buf, start) === 0xffffffff) c[C_RX_BROADCAST]!++;
      else c[C_RX_MULTICAST]!++;
    }
    if (loopback) {
      c[C_RX_LB_PACKETS]!++;
      c[C_RX_LB_BYTES]! += out;
    }
    this.irq.raise(f, this.irq.rxBit(f, q));
    return true;
  }

  /** A frame arriving from the wire. */
  wireRx(frame: Uint8Array, len: number): void {
    const w = this.veb.wire;
    if (len < ETH_HLEN || len > MAX_FRAME + 2 * VLAN_HLEN || len > frame.length) {
      w[W_RX_MALFORMED]!++;
      return;
    }
    if (!this.veb.wireUp) {
      w[W_LINK_DOWN]!++;
      return;
    }
    w[W_RX_PACKETS]!++;
    w[W_RX_BYTES]! += len;
    copyBytes(this.scratch, HEADROOM, frame, 0, len);
    if (fwdLocal(this.veb.forward(undefined, this.scratch, HEADROOM, len)) === 0) w[W_RX_UNMATCHED]!++;
  }
}

function putTag(s: Uint8Array, at: number, tpid: number, tci: number): void {
  s[at] = tpid >>> 8;
  s[at + 1] = tpid & 0xff;
  s[at + 2] = (tci >>> 8) & 0xff;
  s[at + 3] = tci & 0xff;
}

/** Flow hash for queue selection: IPv4 addresses and, for TCP/UDP, ports; else the MACs. Not Toeplitz. */
export function flowHash(b: Uint8Array, start: number, len: number): number {
  let o = start + ETH_TYPE_OFF;
  let et = be16At(b, o);
  while ((et === ETH_P_8021Q || et === ETH_P_8021AD) && o + 6 <= start + len) {
    o += VLAN_HLEN;
    et = be16At(b, o);
  }
  let h = 0x811c9dc5;
  if (et === 0x0800 && o + 2 + 20 <= start + len) {
    const ip = o + 2;
    for (let i = 12; i < 20; i++) h = Math.imul(h ^ b[ip + i]!, 0x01000193);
    const proto = b[ip + 9]!;
    const ihl = (b[ip]! & 0x0f) * 4;
    if ((proto === 6 || proto === 17) && ip + ihl + 4 <= start + len) {
      for (let i = 0; i < 4; i++) h = Math.imul(h ^ b[ip + ihl + i]!, 0x01000193);
    }
  } else {
    for (let i = 0; i < 12; i++) h = Math.imul(h ^ b[start + i]!, 0x01000193);
  }
  return (h ^ (h >>> 16)) >>> 0;
}
