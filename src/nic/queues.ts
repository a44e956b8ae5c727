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
 * Advanced TX descriptors (DEXT, descriptors.ts) are taken as the 82576 and QEMU's igb take them: a
 * context descriptor moves no data and latches its dwords into one of the queue's two context slots;
 * of a packet's data descriptors the first one's DCMD (TSE, VLE) and olinfo_status (context slot,
 * POPTS) count. With TSE the packet is gathered whole and cut into segments by its context (tso.ts),
 * each segment then going through the TX rules, the rate limiter (a stall resumes at the segment
 * it stopped on) and the switch as a frame of its own; without, POPTS asks for the IPv4 header and
 * TCP/UDP checksums (computed from scratch). DD is written back wherever RS is set, as on legacy
 * descriptors (Linux's igb sets it on a packet's last descriptor only).
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
import { foldChecksum, onesComplementSum } from "./checksum.js";
import { tsoSegmentInto, tsoSegments } from "./tso.js";
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
  E1000_ADVTXD_DCMD_TSE,
  E1000_ADVTXD_DTYP_CTXT,
  E1000_ADVTXD_DTYP_DATA,
  E1000_ADVTXD_IDX_SHIFT,
  E1000_ADVTXD_L4LEN_SHIFT,
  E1000_ADVTXD_L4T_MASK,
  E1000_ADVTXD_MACLEN_SHIFT,
  E1000_ADVTXD_MSS_SHIFT,
  E1000_ADVTXD_POPTS_IXSM,
  E1000_ADVTXD_POPTS_TXSM,
  E1000_ADVTXD_TUCMD_IPV4,
  E1000_ADVTXD_TUCMD_L4T_TCP,
  E1000_ADVTXD_VLAN_SHIFT,
  E1000_RXD_STAT_DD,
  E1000_RXD_STAT_EOP,
  E1000_RXD_STAT_VP,
  E1000_TXD_CMD_DEXT,
  E1000_TXD_CMD_EOP,
  E1000_TXD_CMD_RS,
  E1000_TXD_CMD_VLE,
  E1000_TXD_STAT_DD,
  RXD_STATUS,
  TXD_CMD,
  TXD_DTYP,
  TXD_OLINFO,
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
/** What sending a packet from the ring came to: done (sent, or dropped and counted), waiting for rate tokens, a DMA fault. */
const TX_SENT = 0;
const TX_STALLED = 1;
const TX_FAULT = 2;
/** Largest TSO packet the model takes: PAYLEN's 18 bits of payload and 512 bytes of headers. */
const TSO_MAX_BYTES = (1 << 18) + 512;

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
  /** A TSO packet gathered whole (allocated at the first one). */
  private tsoBuf: Uint8Array | undefined;
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
      // advanced data descriptors: the first one's DCMD and olinfo_status (-1: a legacy packet)
      let advCmd = -1;
      let advOlinfo = 0;
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
        cmd = p[o + TXD_CMD]!;
        this.txCmdA[nd] = cmd;
        if ((cmd & E1000_TXD_CMD_DEXT) !== 0 && p[o + TXD_DTYP]! >>> 4 !== E1000_ADVTXD_DTYP_DATA) {
          if (p[o + TXD_DTYP]! >>> 4 === E1000_ADVTXD_DTYP_CTXT) this.latchContext(f, q, p, o);
          // a context descriptor (or one of an unknown type) moves no data
          this.txAddr[nd] = 0;
          this.txLenA[nd] = 0;
          nd++;
          i = i + 1 === count ? 0 : i + 1;
          continue;
        }
        this.txAddr[nd] = ((p[o + 4]! | (p[o + 5]! << 8) | (p[o + 6]! << 16) | (p[o + 7]! << 24)) >>> 0) * 0x1_0000_0000 + ((p[o]! | (p[o + 1]! << 8) | (p[o + 2]! << 16) | (p[o + 3]! << 24)) >>> 0);
        const len = p[o + 8]! | (p[o + 9]! << 8);
        this.txLenA[nd] = len;
        if ((cmd & E1000_TXD_CMD_DEXT) !== 0 && advCmd < 0) {
          advCmd = cmd;
          advOlinfo = (p[o + TXD_OLINFO]! | (p[o + TXD_OLINFO + 1]! << 8) | (p[o + TXD_OLINFO + 2]! << 16) | (p[o + TXD_OLINFO + 3]! << 24)) >>> 0;
        }
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
      // 2. the packet: gathered, checked and sent (a TSO packet segment by segment)
      let r: number;
      if (advCmd >= 0) {
        // advanced: TSE and VLE from the first data descriptor, the tag and offloads from its context slot
        const slot = q * 6 + ((advOlinfo >>> E1000_ADVTXD_IDX_SHIFT) & 1) * 3;
        cmd = (cmd & ~E1000_TXD_CMD_VLE) | (advCmd & E1000_TXD_CMD_VLE);
        special = f.txCtx[slot]! >>> E1000_ADVTXD_VLAN_SHIFT;
        if ((advCmd & E1000_ADVTXD_DCMD_TSE) !== 0) r = this.sendTso(f, q, nd, total, cmd, special, slot);
        else r = this.sendPacket(f, q, nd, total, cmd, special, slot, (advOlinfo >>> 8) & 0x3f);
      } else r = this.sendPacket(f, q, nd, total, cmd, special, -1, 0);
      if (r === TX_FAULT) {
        v[f.txHead[q]!] = head;
        if (done > 0) this.irq.raise(f, this.irq.txBit(f, q));
        return;
      }
      if (r === TX_STALLED) break;
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

  /** The packet's descriptors' bytes into `dst` from `off`; false after a DMA fault (the queue stopped). */
  private gatherAll(f: NicFunction, q: number, nd: number, dst: Uint8Array, off: number): boolean {
    for (let k = 0; k < nd; k++) {
      if (!this.dma.gather(f.rid, this.txAddr[k]!, this.txLenA[k]!, dst, off)) {
        this.stopQueue(f, q, true, C_DROP_DMA_FAULT);
        return false;
      }
      off += this.txLenA[k]!;
    }
    return true;
  }

  /** The rate limiter refused the frame in hand: queue q waits for its bytes. */
  private stall(f: NicFunction, q: number): void {
    f.ctr[C_RATE_STALLS]!++;
    f.txStalled[q] = 1;
    this.stalledAny = true;
    const ready = f.bucket.readyAtNs(this.fLen, this.nowNs);
    if (ready < this.newWakeNs) this.newWakeNs = ready;
    f.txNeed[q] = this.fLen;
  }

  /**
   * One packet of `total` bytes from the queue's descriptors: size checks, gather, for an advanced
   * packet the checksums its POPTS ask for (context slot `slot`), the port's TX rules, the rate
   * limiter, the switch. TX_SENT (sent or dropped and counted), TX_STALLED or TX_FAULT.
   */
  private sendPacket(f: NicFunction, q: number, nd: number, total: number, cmd: number, special: number, slot: number, popts: number): number {
    let drop = NO_DROP;
    if (total > MAX_FRAME) drop = C_DROP_OVERSIZE;
    else if (total < ETH_HLEN) drop = C_DROP_RUNT;
    else {
      if (!this.gatherAll(f, q, nd, this.scratch, HEADROOM)) return TX_FAULT;
      if (popts !== 0) insertChecksums(this.scratch, HEADROOM, total, f.txCtx[slot]!, f.txCtx[slot + 1]!, popts);
      drop = this.admit(f, cmd, special, total);
      if (drop === NO_DROP && f.bucket.rate > 0 && !f.bucket.tryTake(this.fLen, this.nowNs)) {
        this.stall(f, q);
        return TX_STALLED;
      }
    }
    if (drop !== NO_DROP) {
      f.ctr[drop]!++;
      f.ctr[C_TX_DROPPED]!++;
    } else this.send(f, total);
    return TX_SENT;
  }

  /**
   * A TSO packet (TSE): gathered whole, then cut by its context (MACLEN + IPLEN + L4LEN bytes of
   * headers, MSS; IPv4 or IPv6 by TUCMD.IPV4; TCP only) into segments (tso.ts), each through the
   * port's TX rules, the rate limiter and the switch as a frame of its own. A stall on the rate
   * limiter keeps the segment to send next (tsoNext) and the packet at the head. A context that
   * cannot describe the packet (headers under 14 + 20 + 20 or over 512 bytes or past its end, MSS
   * 0, a segment over the largest frame, L4T not TCP, over 256 KiB) drops it as malformed: "runt"
   * when the headers do not fit, else "oversize".
   */
  private sendTso(f: NicFunction, q: number, nd: number, total: number, cmd: number, special: number, slot: number): number {
    const c = f.txCtx;
    const vml = c[slot]!;
    const tucmd = c[slot + 1]!;
    const mssl4 = c[slot + 2]!;
    const ipLen = vml & 0x1ff;
    const macLen = (vml >>> E1000_ADVTXD_MACLEN_SHIFT) & 0x7f;
    const l4Len = (mssl4 >>> E1000_ADVTXD_L4LEN_SHIFT) & 0xff;
    const mss = mssl4 >>> E1000_ADVTXD_MSS_SHIFT;
    const hdr = macLen + ipLen + l4Len;
    let drop = NO_DROP;
    if (macLen < ETH_HLEN || ipLen < 20 || l4Len < 20 || hdr > 512 || hdr >= total) drop = C_DROP_RUNT;
    else if (mss === 0 || hdr + mss > MAX_FRAME || (tucmd & E1000_ADVTXD_L4T_MASK) !== E1000_ADVTXD_TUCMD_L4T_TCP || total > TSO_MAX_BYTES) drop = C_DROP_OVERSIZE;
    if (drop !== NO_DROP) {
      f.ctr[drop]!++;
      f.ctr[C_TX_DROPPED]!++;
      return TX_SENT;
    }
    const buf = (this.tsoBuf ??= new Uint8Array(TSO_MAX_BYTES));
    if (!this.gatherAll(f, q, nd, buf, 0)) return TX_FAULT;
    const ipv4 = (tucmd & E1000_ADVTXD_TUCMD_IPV4) !== 0;
    const n = tsoSegments(total, hdr, mss);
    for (let k = f.tsoNext[q]!; k < n; k++) {
      const len = tsoSegmentInto(buf, 0, total, macLen, macLen + ipLen, hdr, ipv4, mss, k, this.scratch, HEADROOM);
      const d = this.admit(f, cmd, special, len);
      if (d !== NO_DROP) {
        f.ctr[d]!++;
        f.ctr[C_TX_DROPPED]!++;
        continue;
      }
      if (f.bucket.rate > 0 && !f.bucket.tryTake(this.fLen, this.nowNs)) {
        f.tsoNext[q] = k;
        this.stall(f, q);
        return TX_STALLED;
      }
      this.send(f, len);
    }
    f.tsoNext[q] = 0;
    return TX_SENT;
  }

  /** Hand the admitted frame (scratch at fStart, fLen bytes; `bytes` from the descriptors) to the switch, counting it. */
  private send(f: NicFunction, bytes: number): void {
    const s = this.scratch;
    const st = this.fStart;
    const group = (s[st]! & 1) !== 0;
    const bcast = group && macHiAt(s, st) === 0xffff && macLoAt(s, st) === 0xffffffff;
    const r = this.veb.forward(f, s, st, this.fLen); // the scratch may be reused by the uplink from here on
    const c = f.ctr;
    if (r !== 0) {
      c[C_TX_PACKETS]!++;
      c[C_TX_BYTES]! += bytes;
      if (bcast) c[C_TX_BROADCAST]!++;
      else if (group) c[C_TX_MULTICAST]!++;
      if (fwdLocal(r) > 0) {
        c[C_TX_LB_PACKETS]!++;
        c[C_TX_LB_BYTES]! += bytes;
      }
    } else {
      // nobody local took it and the wire is down
      c[C_DROP_LINK_DOWN]!++;
      c[C_TX_DROPPED]!++;
    }
  }

  /** An advanced context descriptor at p[o..o+16): its dwords into the queue's slot (IDX bit 4). */
  private latchContext(f: NicFunction, q: number, p: Uint8Array, o: number): void {
    const dw = (x: number): number => (p[x]! | (p[x + 1]! << 8) | (p[x + 2]! << 16) | (p[x + 3]! << 24)) >>> 0;
    const mssl4 = dw(o + 12);
    const slot = q * 6 + ((mssl4 >>> E1000_ADVTXD_IDX_SHIFT) & 1) * 3;
    f.txCtx[slot] = dw(o);
    f.txCtx[slot + 1] = dw(o + 8);
    f.txCtx[slot + 2] = mssl4;
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

/**
 * The checksum offloads of a non-TSO advanced packet s[start, start + len) (POPTS, with its context's
 * lengths): IXSM — the IPv4 header checksum at MACLEN; TXSM — the TCP or UDP checksum (TUCMD.L4T)
 * over the pseudo-header (IPv4 or IPv6 by TUCMD.IPV4), the transport header and the payload from
 * MACLEN + IPLEN to the end (UDP's 0 sent as 0xffff). Computed from scratch, as QEMU's igb does; a
 * field the lengths put outside the packet is left alone, and SCTP's CRC is not modelled.
 */
function insertChecksums(s: Uint8Array, start: number, len: number, vml: number, tucmd: number, popts: number): void {
  const ipLen = vml & 0x1ff;
  const ip = start + ((vml >>> E1000_ADVTXD_MACLEN_SHIFT) & 0x7f);
  const l4 = ip + ipLen;
  const end = start + len;
  const ipv4 = (tucmd & E1000_ADVTXD_TUCMD_IPV4) !== 0;
  if ((popts & E1000_ADVTXD_POPTS_IXSM) !== 0 && ipv4 && ipLen >= 20 && l4 <= end) {
    putBe16(s, ip + 10, 0);
    putBe16(s, ip + 10, foldChecksum(onesComplementSum(s, ip, ipLen)));
  }
  if ((popts & E1000_ADVTXD_POPTS_TXSM) === 0) return;
  const l4t = tucmd & E1000_ADVTXD_L4T_MASK;
  const tcp = l4t === E1000_ADVTXD_TUCMD_L4T_TCP;
  if (!tcp && l4t !== 0) return;
  const at = l4 + (tcp ? 16 : 6);
  if (at + 2 > end || ipLen < (ipv4 ? 20 : 40)) return;
  const l4len = end - l4;
  const proto = tcp ? 6 : 17;
  const pseudo = ipv4 ? onesComplementSum(s, ip + 12, 8, proto + l4len) : onesComplementSum(s, ip + 8, 32, proto + l4len);
  putBe16(s, at, 0);
  let c = foldChecksum(onesComplementSum(s, l4, l4len, pseudo));
  if (!tcp && c === 0) c = 0xffff;
  putBe16(s, at, c);
}

function putBe16(s: Uint8Array, at: number, v: number): void {
  s[at] = v >>> 8;
  s[at + 1] = v & 0xff;
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
