/**
 * Per-VF TX rate limiter (`ip link set DEV vf N max_tx_rate MBPS`): a token bucket in simulated time.
 * Tokens are bytes; they refill at the rate and are capped at the burst. A frame is sent only when
 * the bucket holds its length; otherwise the queue waits (hardware shapes, it does not drop), so over
 * any interval T from configuration: bytes sent ≤ rate × T + burst.
 * The counted length is the frame as it enters the switch (VLAN tags included, no FCS/preamble/IFG).
 * min_tx_rate is validated and kept in the port settings but not enforced here: a guarantee only
 * means something when VFs contend for the wire, and the wire's time is the simulator's resource.
 */

/** Bytes per ns for a rate in Mbit/s. */
export const mbpsToBytesPerNs = (mbps: number): number => mbps / 8000;
/** Burst: the larger of one maximum frame (with two tags) and 1 ms at the rate. */
export const RATE_BURST_NS = 1_000_000;
export const RATE_MIN_BURST_BYTES = 9728 + 8;

export class TokenBucket {
  /** Bytes per ns; 0 = unlimited. */
  rate = 0;
  burst = 0;
  tokens = 0;
  lastNs = 0;

  configure(mbps: number, nowNs: number): void {
    this.rate = mbps > 0 ? mbpsToBytesPerNs(mbps) : 0;
    this.burst = this.rate > 0 ? Math.max(RATE_MIN_BURST_BYTES, this.rate * RATE_BURST_NS) : 0;
    this.tokens = this.burst;
    this.lastNs = nowNs;
  }

  get limited(): boolean {
    return this.rate > 0;
  }

  private refill(nowNs: number): void {
    if (nowNs > this.lastNs) {
      this.tokens = Math.min(this.burst, this.tokens + (nowNs - this.lastNs) * this.rate);
      this.lastNs = nowNs;
    }
  }

  /** Take `bytes` if the bucket holds them at `nowNs`. */
  tryTake(bytes: number, nowNs: number): boolean {
    if (this.rate === 0) return true;
    this.refill(nowNs);
    if (this.tokens < bytes) return false;
    this.tokens -= bytes;
    return true;
  }

  /** Simulated time at which `bytes` will be available (for a scheduler's next wake-up). */
  readyAtNs(bytes: number, nowNs: number): number {
    if (this.rate === 0) return nowNs;
    this.refill(nowNs);
    return this.tokens >= bytes ? nowNs : this.lastNs + Math.ceil((bytes - this.tokens) / this.rate);
  }
}
