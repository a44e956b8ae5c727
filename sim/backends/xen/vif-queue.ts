/**
 * The queue between Dom0's switch and one netback queue, as xenvif keeps it: frames are queued while
 * the queue holds at most `maxBytes` (xenvif's rx_queue_max, XENVIF_RX_QUEUE_BYTES); the frame that
 * takes it past the limit stops the VIF's transmit queue, and later frames wait in the VIF's qdisc
 * (`qdiscLen` frames, its tx_queue_len) until netback has taken the queue below the limit again,
 * when the qdisc drains into it in order (netif_tx_wake_queue); a full qdisc drops.
 *
 * Storage: frames lie back to back in a byte ring of `ringBytes` (the tail is skipped when a frame
 * does not fit before the end), described by a FIFO of (offset, length). Nothing is allocated per
 * frame.
 */
export class VifRxQueue {
  private readonly off: Int32Array;
  private readonly len: Int32Array;
  private head = 0;
  /** Frames held: in xenvif's queue (the FIFO's head) and in the qdisc behind them. */
  private n = 0;
  private qFrames = 0;
  private qBytes = 0;
  private qdisc = 0;
  private stop = false;
  private wPos = 0;
  private rPos = 0;
  private used = 0;

  constructor(
    readonly ringBytes: number,
    readonly maxBytes: number,
    readonly qdiscLen: number,
    minFrame: number,
  ) {
    const cap = Math.ceil(maxBytes / minFrame) + qdiscLen + 1;
    this.off = new Int32Array(cap);
    this.len = new Int32Array(cap);
    this.gso = new Int32Array(cap);
  }

  /** Each frame's GSO segment size (0: a plain frame). */
  private readonly gso: Int32Array;

  /** Frames held (queue and qdisc). */
  get frames(): number {
    return this.n;
  }
  /** Frames in xenvif's queue, their bytes, frames in the qdisc, whether the VIF's queue is stopped. */
  get queuedFrames(): number {
    return this.qFrames;
  }
  get queuedBytes(): number {
    return this.qBytes;
  }
  get qdiscFrames(): number {
    return this.qdisc;
  }
  get stopped(): boolean {
    return this.stop;
  }
  /** Bytes of the ring in use (frames and skipped tails). */
  get ringUsed(): number {
    return this.used;
  }

  /** Offset in the ring for a new frame of `len` bytes, or −1 when it is dropped (qdisc full, or no room). */
  push(len: number, gsoSize = 0): number {
    const wrap = this.wPos + len > this.ringBytes;
    const need = len + (wrap ? this.ringBytes - this.wPos : 0);
    const cap = this.off.length;
    if ((this.stop && this.qdisc === this.qdiscLen) || this.used + need > this.ringBytes || this.n === cap) return -1;
    if (!this.stop) this.enter(len);
    else this.qdisc++;
    if (wrap) this.wPos = 0;
    this.used += need;
    const k = (this.head + this.n) % cap;
    const at = this.wPos;
    this.off[k] = at;
    this.len[k] = len;
    this.gso[k] = gsoSize;
    this.wPos += len;
    this.n++;
    return at;
  }

  /** The oldest frame's offset and length (the queue must not be empty). */
  get headOff(): number {
    return this.off[this.head]!;
  }
  get headLen(): number {
    return this.len[this.head]!;
  }
  get headGso(): number {
    return this.gso[this.head]!;
  }

  /** Netback takes the oldest frame: its bytes are freed; below the limit the qdisc drains into the queue. */
  pop(): void {
    const o = this.off[this.head]!;
    const l = this.len[this.head]!;
    this.used -= o >= this.rPos ? o + l - this.rPos : this.ringBytes - this.rPos + o + l;
    this.rPos = o + l;
    this.head = (this.head + 1) % this.off.length;
    this.n--;
    this.qFrames--;
    this.qBytes -= l;
    if (this.stop && this.qBytes < this.maxBytes) {
      this.stop = false;
      while (this.qdisc > 0 && !this.stop) {
        this.qdisc--;
        this.enter(this.len[(this.head + this.qFrames) % this.off.length]!);
      }
    }
  }

  private enter(len: number): void {
    this.qFrames++;
    this.qBytes += len;
    if (this.qBytes > this.maxBytes) this.stop = true;
  }
}
