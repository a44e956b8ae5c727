/**
 * A bulk TCP stream with real sequence numbers, cumulative ACKs with SACK blocks, and Linux-like loss
 * recovery. What is simplified is written here:
 *  - the sender sends full MSS segments (every segment starts at a multiple of the MSS) whenever the
 *    data outstanding + MSS ≤ min(cwnd, window); the receive window is a constant (`windowBytes`)
 *    and the application always has data;
 *  - congestion control (RFC 5681): slow start from 10 segments (RFC 6928), then +1 MSS per window
 *    acked (Reno; Linux's CUBIC is not modelled);
 *  - loss recovery with SACK (RFC 2018, RFC 6675): the receiver reports its out-of-order data in up
 *    to 3 SACK blocks (4 without timestamps), the block holding the latest segment first; the sender
 *    keeps a per-segment scoreboard. A segment is lost when DUP_THRESH segments above it are SACKed;
 *    recovery starts at the third duplicate ACK or when snd_una is lost, with ssthresh = cwnd =
 *    max(flight / 2, 2 MSS) and `recover` = snd_max; while in it the sender sends when cwnd − pipe ≥
 *    MSS (pipe: segments not SACKed and not lost, plus those retransmitted), lost segments first
 *    (rules 1 and 2 of NextSeg, no rule 3/4 rescue); it ends when snd_una passes `recover`, with cwnd
 *    = ssthresh. Linux uses proportional rate reduction and RACK instead; the repair of a burst of
 *    losses in about one round trip is the same. No D-SACK, no reneging;
 *  - retransmission timeout (RFC 6298): RTO = max(`rtoNs`, SRTT + 4 RTTVAR) from one timed segment
 *    per round trip (Karn: none while a retransmission is outstanding), `rtoNs` before the first
 *    sample. `rtoNs` is the floor, as Linux's rto_min: 200 ms there; simulated runs last tens of
 *    milliseconds, so the default is 10 ms — above the queueing delays of several ms that a dozen
 *    window-limited flows build here, which a 1 ms floor turned into spurious timeouts. Doubled at
 *    each consecutive timeout (up to 64×), reset by an ACK of new data. On a timeout ssthresh =
 *    max(flight / 2, 2 MSS), cwnd = 1 MSS, and the sender resends from snd_una every segment not
 *    SACKed (Linux's loss state);
 *  - spurious timeouts are undone, as Linux does with F-RTO (RFC 5682): after a timeout the sender
 *    has one segment out, the retransmission of snd_una; if the next ACK of new data acknowledges
 *    more than that segment, the original transmissions arrived (frames are never reordered), so
 *    cwnd and ssthresh go back to what they were and the sender resumes after snd_max;
 *  - the receiver ACKs every `ackEvery` in-order segments (delayed ACKs, RFC 1122: at least every
 *    second full segment) and at once for a segment with PSH (set on the segment that fills the
 *    window), for an out-of-order or duplicate segment and for one that fills a hole (RFC 5681
 *    §4.2). Each of those ACKs is a frame of its own, numbered when it was decided: a host that
 *    sends them later (a guest's receive softirq, after its NAPI poll) sends every one, in order,
 *    not one ACK for the poll (up to ACK_QUEUE wait; more and the newest takes the last one's
 *    place). It keeps out-of-order data (up to MAX_OOO_RANGES ranges; beyond that a segment is
 *    dropped as a receiver out of buffer would);
 *  - a delayed-ACK timer (`delAckNs`, by default half the RTO floor) ACKs a lone in-order segment;
 *    the run checks the timers on a periodic tick (TICK_DIVISOR ticks per shortest timer period, the
 *    granularity of Linux's jiffy timers).
 * Goodput counts each byte of the stream once, when it first arrives (`onData` returns those bytes):
 * a retransmitted segment the receiver already had adds nothing.
 *
 * Sequence numbers on the wire are 32-bit and start at 0; both ends keep 53-bit counts and unwrap what
 * they read against them (`unwrap32`).
 */

export interface TcpParams {
  readonly mss: number;
  readonly windowBytes: number;
  readonly ackEvery: number;
  /** RTO floor (rto_min), ns. */
  readonly rtoNs: number;
  /** Delayed-ACK timeout, ns. */
  readonly delAckNs: number;
}

/** The default delayed-ACK time for an RTO floor: half of it. */
export const delAckFor = (rtoNs: number): number => rtoNs / 2;
/** Timer checks per shortest timer period. */
export const TICK_DIVISOR = 4;

const TWO32 = 2 ** 32;
const HALF32 = 2 ** 31;
/** Duplicate ACKs / SACKed segments above a hole that mark it lost (RFC 5681/6675 DupThresh). */
export const DUP_THRESH = 3;
/** Largest RTO multiplier from back-off. */
export const MAX_BACKOFF = 64;
/** Out-of-order ranges a receiver keeps. */
export const MAX_OOO_RANGES = 64;
/** ACKs a receiver holds for sending (two NAPI polls' worth of every-second-segment ACKs). */
export const ACK_QUEUE = 64;
/** SACK blocks an ACK carries: 4 fit in the 40 option bytes, 3 next to timestamps. */
export const MAX_SACK_BLOCKS = 4;
export const maxSackBlocks = (timestamps: boolean): number => (timestamps ? 3 : 4);

/** The count nearest `ref` whose low 32 bits are `x32`. */
export function unwrap32(x32: number, ref: number): number {
  const v = ref - (ref % TWO32) + x32;
  if (v - ref > HALF32) return v - TWO32;
  if (ref - v > HALF32) return v + TWO32;
  return v;
}

/** SACK blocks of one ACK, as 32-bit sequence numbers (a shared record: nothing is allocated per ACK). */
export interface SackBlocks {
  n: number;
  readonly left: Float64Array;
  readonly right: Float64Array;
}
export const newSackBlocks = (): SackBlocks => ({ n: 0, left: new Float64Array(MAX_SACK_BLOCKS), right: new Float64Array(MAX_SACK_BLOCKS) });
const NO_SACK: SackBlocks = newSackBlocks();

export class TcpSender {
  /** First unacknowledged byte (snd_una), next new-or-resent byte (snd_nxt), highest byte sent + 1 (snd_max). */
  una = 0;
  nxt = 0;
  high = 0;
  cwnd: number;
  ssthresh = Infinity;
  /** Consecutive duplicate ACKs; in SACK recovery; `recover` (snd_max when recovery began). */
  dupAcks = 0;
  inRecovery = false;
  recover = 0;
  /** When the retransmission timer was last (re)started; its back-off multiplier. */
  lastProgressNs = 0;
  backoff = 1;
  /** RTT estimator (RFC 6298): smoothed RTT and variation (ns, -1 before a sample). */
  srttNs = -1;
  rttvarNs = 0;
  /** Segments retransmitted (any cause), recoveries entered, timeouts, timeouts undone as spurious. */
  retransmits = 0;
  fastRetransmits = 0;
  timeouts = 0;
  spuriousTimeouts = 0;

  private readonly mss: number;
  /** Scoreboard per segment (index = seq / MSS, in a ring over the window): SACKed, retransmitted in this recovery. */
  private readonly sacked: Uint8Array;
  private readonly rtx: Uint8Array;
  private readonly mask: number;
  /** End of the highest SACKed segment (a byte count; una when none). */
  private highSacked = 0;
  /** In recovery: the highest segment retransmitted (its start), -1 for none yet; snd_una's segment is to be resent. */
  private highRxt = -1;
  private resendUna = false;
  /** The timed segment's end and send time (-1: none). */
  private timedEnd = -1;
  private timedAt = 0;
  /** After a timeout, until the next ACK of new data: what to restore if it proves the timeout spurious. */
  private undoPending = false;
  private undoCwnd = 0;
  private undoSsthresh = 0;
  private undoRecover = 0;
  private undoHigh = 0;

  constructor(readonly p: TcpParams) {
    this.mss = p.mss;
    this.cwnd = 10 * p.mss;
    let cap = 1;
    while (cap < Math.ceil(p.windowBytes / p.mss) + 2) cap *= 2;
    this.sacked = new Uint8Array(cap);
    this.rtx = new Uint8Array(cap);
    this.mask = cap - 1;
  }

  /** Bytes from snd_una to snd_nxt. */
  get inFlight(): number {
    return this.nxt - this.una;
  }

  /** Bytes sent at least once and not acknowledged (what the retransmission timer guards). */
  get outstanding(): number {
    return this.high - this.una;
  }

  private slot(seq: number): number {
    return (seq / this.mss) & this.mask;
  }

  /** Whether the segment at `seq` is SACKed. */
  isSacked(seq: number): boolean {
    return seq >= this.una && seq < this.high && this.sacked[this.slot(seq)] === 1;
  }

  /** RFC 6675 IsLost: at least DUP_THRESH SACKed segments above the segment at `seq`. */
  private isLost(seq: number): boolean {
    let n = 0;
    for (let s = seq + this.mss; s < this.highSacked; s += this.mss) if (this.sacked[this.slot(s)] === 1 && ++n >= DUP_THRESH) return true;
    return false;
  }

  /**
   * RFC 6675 SetPipe, per segment from snd_una to snd_max: a segment neither SACKed nor lost is in
   * the network; a retransmitted one is in it (again).
   */
  pipe(): number {
    let pipe = 0;
    let sackedAbove = 0;
    for (let s = this.high - this.mss; s >= this.una; s -= this.mss) {
      const k = this.slot(s);
      if (this.sacked[k] === 1) {
        sackedAbove++;
        continue;
      }
      if (sackedAbove < DUP_THRESH) pipe += this.mss;
      if (this.rtx[k] === 1) pipe += this.mss;
    }
    return pipe;
  }

  /**
   * In recovery, the next segment to resend, or -1: snd_una's when recovery has just begun or a
   * partial ACK left it the first hole (frames are never reordered, so it is lost), then the lowest
   * lost segment above the highest resent one (NextSeg rule 1). One pass down from the highest SACK.
   */
  private nextLost(): number {
    const u = this.slot(this.una);
    if (this.resendUna && this.sacked[u] === 0 && this.rtx[u] === 0) return this.una;
    const from = this.highRxt >= this.una ? this.highRxt + this.mss : this.una;
    let found = -1;
    let sackedAbove = 0;
    for (let s = this.highSacked - this.mss; s >= from; s -= this.mss) {
      const k = this.slot(s);
      if (this.sacked[k] === 1) sackedAbove++;
      else if (sackedAbove >= DUP_THRESH && this.rtx[k] === 0) found = s;
    }
    return found;
  }

  private newDataAllowed(limit: number): boolean {
    return this.nxt - this.una + this.mss <= Math.min(limit, this.p.windowBytes);
  }

  canSend(): boolean {
    if (this.inRecovery) {
      // snd_una's resend goes at once, whatever pipe says (RFC 6675 §5 step 4.2; NewReno's partial ACK)
      if (this.resendUna && this.sacked[this.slot(this.una)] === 0 && this.rtx[this.slot(this.una)] === 0) return true;
      if (this.cwnd - this.pipe() < this.mss) return false;
      return this.nextLost() >= 0 || this.nxt - this.una + this.mss <= this.p.windowBytes;
    }
    return this.newDataAllowed(this.cwnd);
  }

  /** Take the next segment to send (canSend() was true): its first byte's sequence number. */
  send(nowNs: number): number {
    if (this.high === this.una) {
      this.lastProgressNs = nowNs;
      this.backoff = 1;
    }
    if (this.inRecovery) {
      const s = this.nextLost();
      if (s >= 0) {
        this.rtx[this.slot(s)] = 1;
        if (s === this.una) this.resendUna = false;
        if (s > this.highRxt) this.highRxt = s;
        this.retransmits++;
        this.timedEnd = -1; // Karn: an ACK may now be for either copy
        return s;
      }
    }
    // after a timeout the sender goes over [snd_una, snd_max) again, skipping what was SACKed
    while (this.nxt < this.high && this.sacked[this.slot(this.nxt)] === 1) this.nxt += this.mss;
    const seq = this.nxt;
    this.nxt += this.mss;
    if (seq < this.high) {
      this.retransmits++;
      this.timedEnd = -1;
    } else {
      this.high = this.nxt;
      this.sacked[this.slot(seq)] = 0;
      this.rtx[this.slot(seq)] = 0;
      if (this.timedEnd < 0) {
        this.timedEnd = this.nxt;
        this.timedAt = nowNs;
      }
    }
    return seq;
  }

  /** Whether the segment just taken fills the window (the sender sets PSH on it). */
  get fillsWindow(): boolean {
    return !this.inRecovery && !this.canSend();
  }

  /** The retransmission timeout now (before back-off). */
  get rtoNs(): number {
    if (this.srttNs < 0) return this.p.rtoNs;
    const r = this.srttNs + 4 * this.rttvarNs;
    return r > this.p.rtoNs ? r : this.p.rtoNs;
  }

  private sampleRtt(r: number): void {
    if (this.srttNs < 0) {
      this.srttNs = r;
      this.rttvarNs = r / 2;
    } else {
      this.rttvarNs = 0.75 * this.rttvarNs + 0.25 * Math.abs(this.srttNs - r);
      this.srttNs = 0.875 * this.srttNs + 0.125 * r;
    }
  }

  /** Mark the segments a SACK block covers; true when it SACKed something new. */
  private markSacked(left32: number, right32: number): boolean {
    const l = unwrap32(left32, this.una);
    const r = unwrap32(right32, this.una);
    const mss = this.mss;
    let s = Math.ceil(Math.max(l, this.una) / mss) * mss;
    const end = Math.min(r, this.high);
    let fresh = false;
    for (; s + mss <= end; s += mss) {
      const k = this.slot(s);
      if (this.sacked[k] === 0) {
        this.sacked[k] = 1;
        fresh = true;
      }
      if (s + mss > this.highSacked) this.highSacked = s + mss;
    }
    return fresh;
  }

  /** An ACK: the 32-bit acknowledgment number and its SACK blocks. */
  onAck(ack32: number, nowNs: number, sack: SackBlocks = NO_SACK): void {
    const ack = unwrap32(ack32, this.una);
    if (ack > this.high || ack < this.una) return; // beyond what was sent, or older than snd_una
    const mss = this.mss;
    if (ack > this.una) {
      // the scoreboard below the new snd_una is history
      for (let s = this.una; s < ack; s += mss) {
        const k = this.slot(s);
        this.sacked[k] = 0;
        this.rtx[k] = 0;
      }
    }
    let sackedNew = false;
    for (let i = 0; i < sack.n; i++) if (this.markSacked(sack.left[i]!, sack.right[i]!)) sackedNew = true;
    if (ack === this.una) {
      if (this.high === this.una) return; // nothing outstanding: a window update, not a duplicate
      this.dupAcks++;
      if (!this.inRecovery && this.una >= this.recover && (this.dupAcks >= DUP_THRESH || (sackedNew && this.isLost(this.una)))) this.enterRecovery();
      return;
    }
    const delta = ack - this.una;
    this.una = ack;
    if (this.highSacked < ack) this.highSacked = ack;
    if (this.nxt < ack) this.nxt = ack;
    if (this.highRxt >= 0 && this.highRxt < ack) this.highRxt = -1;
    if (this.timedEnd >= 0 && ack >= this.timedEnd) {
      this.sampleRtt(nowNs - this.timedAt);
      this.timedEnd = -1;
    }
    this.dupAcks = 0;
    this.lastProgressNs = nowNs;
    this.backoff = 1;
    if (this.undoPending) {
      this.undoPending = false;
      if (delta > mss) {
        // more than the one retransmitted segment is acknowledged: the originals arrived
        this.spuriousTimeouts++;
        this.cwnd = this.undoCwnd;
        this.ssthresh = this.undoSsthresh;
        this.recover = this.undoRecover;
        if (this.nxt < this.undoHigh) this.nxt = this.undoHigh;
        return;
      }
    }
    if (this.inRecovery) {
      if (ack >= this.recover) {
        this.inRecovery = false;
        this.resendUna = false;
        this.cwnd = this.ssthresh;
      } else this.resendUna = true; // a partial ACK: the next hole is lost too
      return;
    }
    if (sackedNew && this.una >= this.recover && this.isLost(this.una)) {
      this.enterRecovery();
      return;
    }
    if (this.cwnd < this.ssthresh) this.cwnd += delta;
    else this.cwnd += (mss * delta) / this.cwnd;
    if (this.cwnd > this.p.windowBytes) this.cwnd = this.p.windowBytes;
  }

  private enterRecovery(): void {
    this.ssthresh = Math.max((this.nxt - this.una) / 2, 2 * this.mss);
    this.cwnd = this.ssthresh;
    this.recover = this.high;
    this.inRecovery = true;
    this.highRxt = -1;
    this.fastRetransmits++;
    // snd_una's segment goes first, whatever the SACK count above it (RFC 6675 §5 step 4.2)
    this.resendUna = true;
  }

  /** Timer check: true when the retransmission timer expired (the sender resends from snd_una). */
  checkTimeout(nowNs: number): boolean {
    if (this.high === this.una || nowNs - this.lastProgressNs < this.rtoNs * this.backoff) return false;
    this.timeouts++;
    this.timedEnd = -1;
    if (!this.undoPending) {
      // a second timeout before any ACK keeps the state from before the first
      this.undoPending = true;
      this.undoCwnd = this.cwnd;
      this.undoSsthresh = this.ssthresh;
      this.undoRecover = this.recover;
    }
    this.undoHigh = this.high;
    this.ssthresh = Math.max(this.inFlight / 2, 2 * this.mss);
    this.cwnd = this.mss;
    this.recover = this.high;
    this.inRecovery = false;
    this.resendUna = false;
    this.dupAcks = 0;
    this.highRxt = -1;
    for (let s = this.una; s < this.high; s += this.mss) this.rtx[this.slot(s)] = 0;
    this.nxt = this.una;
    this.lastProgressNs = nowNs;
    if (this.backoff < MAX_BACKOFF) this.backoff *= 2;
    return true;
  }
}

export class TcpReceiver {
  /** Next byte expected (rcv_nxt); bytes of the stream received, each counted once. */
  rcvNxt = 0;
  received = 0;
  /** ACKs decided and not yet sent: oldest at `ackHead`, each its ACK number and SACK blocks then. */
  private readonly ackNo = new Float64Array(ACK_QUEUE);
  private readonly ackSackN = new Uint8Array(ACK_QUEUE);
  private readonly ackSack = new Float64Array(ACK_QUEUE * 2 * MAX_SACK_BLOCKS);
  private ackHead = 0;
  private acks = 0;
  private readonly snap: SackBlocks = newSackBlocks();
  /** Segments that arrived out of order, or duplicated. */
  outOfOrder = 0;
  duplicates = 0;
  private unacked = 0;
  /** When the oldest in-order segment not yet ACKed arrived. */
  private firstUnackedNs = 0;
  /** Out-of-order data above rcv_nxt: sorted, disjoint, non-adjacent [start, end) ranges. */
  private readonly oooStart = new Float64Array(MAX_OOO_RANGES);
  private readonly oooEnd = new Float64Array(MAX_OOO_RANGES);
  private ooo = 0;
  /** A byte of the latest out-of-order segment (its range is the first SACK block), -1 for none. */
  private latest = -1;

  constructor(
    readonly ackEvery: number,
    readonly delAckNs: number,
    /** SACK blocks an ACK may carry (0: SACK off). */
    readonly sackBlocks: number,
  ) {}

  /**
   * A data segment [seq32, seq32 + bytes) arrived at `nowNs`; PSH as flagged; `segments` > 1 for a
   * GRO aggregate of that many segments, which count as many towards the next ACK. Returns the
   * bytes of the stream that arrived for the first time.
   */
  onData(seq32: number, bytes: number, psh: boolean, nowNs: number, segments = 1): number {
    const seq = unwrap32(seq32, this.rcvNxt);
    const end = seq + bytes;
    if (end <= this.rcvNxt) {
      this.duplicates++;
      this.ackNow();
      return 0;
    }
    if (seq > this.rcvNxt) {
      const fresh = this.addRange(seq, end);
      if (fresh === 0) this.duplicates++;
      else {
        this.outOfOrder++;
        this.latest = seq;
      }
      this.ackNow(); // a duplicate ACK, its SACK blocks telling the sender what is missing
      this.received += fresh;
      return fresh;
    }
    // in order (possibly overlapping what was already here)
    const hadHoles = this.ooo > 0;
    const fresh = end - this.rcvNxt - this.covered(this.rcvNxt, end);
    this.rcvNxt = end;
    this.absorb();
    this.received += fresh;
    if (hadHoles) this.ackNow();
    else {
      if (this.unacked === 0) this.firstUnackedNs = nowNs;
      this.unacked += segments;
      if (this.unacked >= this.ackEvery || psh) this.ackNow();
    }
    return fresh;
  }

  /** Delayed-ACK timer check: true when a held ACK is now due (it becomes pending). */
  delayedAckDue(nowNs: number): boolean {
    if (this.unacked === 0 || this.ackPending || nowNs - this.firstUnackedNs < this.delAckNs) return false;
    this.ackNow();
    return true;
  }

  /** An ACK is waiting to be sent. */
  get ackPending(): boolean {
    return this.acks > 0;
  }
  /** ACKs waiting to be sent. */
  get acksPending(): number {
    return this.acks;
  }

  /**
   * The oldest waiting ACK's number, as sent (32 bits); its SACK blocks go into `out`. With none
   * waiting, an ACK of the state now.
   */
  takeAck(out?: SackBlocks): number {
    if (this.acks === 0) {
      if (out !== undefined) this.fillSack(out);
      return this.rcvNxt % TWO32;
    }
    const k = this.ackHead;
    this.ackHead = (k + 1) % ACK_QUEUE;
    this.acks--;
    if (out !== undefined) {
      const n = this.ackSackN[k]!;
      const b = k * 2 * MAX_SACK_BLOCKS;
      for (let i = 0; i < n; i++) {
        out.left[i] = this.ackSack[b + 2 * i]!;
        out.right[i] = this.ackSack[b + 2 * i + 1]!;
      }
      out.n = n;
    }
    return this.ackNo[k]! % TWO32;
  }

  /** RFC 2018: the block holding the latest segment first, then the others from the highest down. */
  private fillSack(out: SackBlocks): void {
    const max = Math.min(this.sackBlocks, MAX_SACK_BLOCKS);
    let n = 0;
    let first = -1;
    for (let i = 0; i < this.ooo; i++) if (this.oooStart[i]! <= this.latest && this.latest < this.oooEnd[i]!) first = i;
    if (first >= 0 && n < max) {
      out.left[n] = this.oooStart[first]! % TWO32;
      out.right[n] = this.oooEnd[first]! % TWO32;
      n++;
    }
    for (let i = this.ooo - 1; i >= 0 && n < max; i--) {
      if (i === first) continue;
      out.left[n] = this.oooStart[i]! % TWO32;
      out.right[n] = this.oooEnd[i]! % TWO32;
      n++;
    }
    out.n = n;
  }

  /** Decide an ACK of the state now; it waits in the queue until sent (the newest replaced when full). */
  private ackNow(): void {
    this.unacked = 0;
    let k: number;
    if (this.acks < ACK_QUEUE) {
      k = (this.ackHead + this.acks) % ACK_QUEUE;
      this.acks++;
    } else k = (this.ackHead + ACK_QUEUE - 1) % ACK_QUEUE;
    this.ackNo[k] = this.rcvNxt;
    const sk = this.snap;
    this.fillSack(sk);
    this.ackSackN[k] = sk.n;
    const b = k * 2 * MAX_SACK_BLOCKS;
    for (let i = 0; i < sk.n; i++) {
      this.ackSack[b + 2 * i] = sk.left[i]!;
      this.ackSack[b + 2 * i + 1] = sk.right[i]!;
    }
  }

  /** Bytes of [a, b) already held out of order. */
  private covered(a: number, b: number): number {
    let n = 0;
    for (let i = 0; i < this.ooo; i++) {
      const s = Math.max(a, this.oooStart[i]!);
      const e = Math.min(b, this.oooEnd[i]!);
      if (e > s) n += e - s;
    }
    return n;
  }

  /** Drop the ranges rcv_nxt has reached, moving rcv_nxt past any it touches. */
  private absorb(): void {
    let k = 0;
    while (k < this.ooo && this.oooStart[k]! <= this.rcvNxt) {
      if (this.oooEnd[k]! > this.rcvNxt) this.rcvNxt = this.oooEnd[k]!;
      k++;
    }
    if (k === 0) return;
    this.oooStart.copyWithin(0, k, this.ooo);
    this.oooEnd.copyWithin(0, k, this.ooo);
    this.ooo -= k;
  }

  /** Hold [s, e) (s > rcv_nxt); returns the bytes not held before (0 when out of ranges to hold it). */
  private addRange(s: number, e: number): number {
    const fresh = e - s - this.covered(s, e);
    if (fresh === 0) return 0;
    // ranges that overlap or touch [s, e) merge into one
    let i = 0;
    while (i < this.ooo && this.oooEnd[i]! < s) i++;
    let j = i;
    let ns = s;
    let ne = e;
    while (j < this.ooo && this.oooStart[j]! <= e) {
      if (this.oooStart[j]! < ns) ns = this.oooStart[j]!;
      if (this.oooEnd[j]! > ne) ne = this.oooEnd[j]!;
      j++;
    }
    const merged = j - i;
    if (merged === 0 && this.ooo === MAX_OOO_RANGES) return 0; // no room: the segment is dropped
    if (merged !== 1) {
      this.oooStart.copyWithin(i + 1, j, this.ooo);
      this.oooEnd.copyWithin(i + 1, j, this.ooo);
      this.ooo += 1 - merged;
    }
    this.oooStart[i] = ns;
    this.oooEnd[i] = ne;
    return fresh;
  }
}
