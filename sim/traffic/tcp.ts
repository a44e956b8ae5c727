/**
 * A bulk TCP-like stream, simplified (and the simplifications are the documentation):
 *  - the sender sends full MSS segments whenever bytes in flight + MSS ≤ min(cwnd, window);
 *  - congestion control: slow start from 10 segments (RFC 6928), then +1 MSS per window acked
 *    (RFC 5681 congestion avoidance); on a retransmission timeout cwnd and ssthresh become half the
 *    flight size (no fall back to one segment);
 *  - the receiver ACKs every `ackEvery` segments (delayed ACKs, RFC 1122: at least every second
 *    full segment) and at once for a segment with PSH, which the sender sets on the segment that
 *    fills its window; ACKs are cumulative counts of bytes received;
 *  - loss: frames are never reordered by the model; a dropped segment is detected by the timeout
 *    only (no fast retransmit, no SACK). On timeout the sender writes the bytes in flight off as
 *    lost and goes on with new data: the stream's bytes are not retransmitted, so goodput counts
 *    only bytes that arrived, each once.
 */

export interface TcpParams {
  readonly mss: number;
  readonly windowBytes: number;
  readonly ackEvery: number;
  readonly rtoNs: number;
}

export class TcpSender {
  /** Bytes sent, acknowledged and written off as lost. */
  sent = 0;
  acked = 0;
  lost = 0;
  cwnd: number;
  ssthresh = Infinity;
  lastProgressNs = 0;
  timeouts = 0;

  constructor(readonly p: TcpParams) {
    this.cwnd = 10 * p.mss;
  }

  get inFlight(): number {
    const f = this.sent - this.acked - this.lost;
    return f > 0 ? f : 0;
  }

  canSend(): boolean {
    return this.inFlight + this.p.mss <= Math.min(this.cwnd, this.p.windowBytes);
  }

  /** Account one segment; returns its sequence number and whether it fills the window (PSH). */
  send(nowNs: number): number {
    const seq = this.sent;
    if (this.inFlight === 0) this.lastProgressNs = nowNs;
    this.sent += this.p.mss;
    return seq;
  }

  get fillsWindow(): boolean {
    return !this.canSend();
  }

  /** A cumulative ACK (32-bit, of bytes received). */
  onAck(ack32: number, nowNs: number): void {
    const base = this.acked % 2 ** 32;
    const delta = (ack32 - base + 2 ** 32) % 2 ** 32;
    if (delta === 0 || delta > this.sent - this.acked) return;
    this.acked += delta;
    if (this.acked + this.lost > this.sent) this.lost = this.sent - this.acked;
    this.lastProgressNs = nowNs;
    if (this.cwnd < this.ssthresh) this.cwnd += delta;
    else this.cwnd += (this.p.mss * delta) / this.cwnd;
    if (this.cwnd > this.p.windowBytes) this.cwnd = this.p.windowBytes;
  }

  /** Timer check: true when the flight timed out (and was written off). */
  checkTimeout(nowNs: number): boolean {
    const f = this.inFlight;
    if (f === 0 || nowNs - this.lastProgressNs < this.p.rtoNs) return false;
    this.timeouts++;
    this.lost += f;
    this.ssthresh = Math.max(2 * this.p.mss, f / 2);
    this.cwnd = this.ssthresh;
    this.lastProgressNs = nowNs;
    return true;
  }
}

export class TcpReceiver {
  received = 0;
  private unacked = 0;
  ackPending = false;

  constructor(readonly ackEvery: number) {}

  onData(bytes: number, psh: boolean): void {
    this.received += bytes;
    this.unacked++;
    if (this.unacked >= this.ackEvery || psh) {
      this.ackPending = true;
      this.unacked = 0;
    }
  }

  /** The ACK number to send now (clears the pending flag). */
  takeAck(): number {
    this.ackPending = false;
    return this.received % 2 ** 32;
  }
}
