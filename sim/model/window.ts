/**
 * What a run measures inside its measurement window [start, end): data frames and bytes delivered
 * to their sinks, goodput (transport payload), pure ACKs apart, end-to-end latency of tagged frames.
 * A frame counts when it reaches its sink inside the window, as a receiver-side tool (netperf,
 * iperf) counts: in a guest, when the stack has finished with it (the frames of one NAPI poll arrive
 * one after another over the poll's CPU time), at the peer when its last bit has crossed the wire.
 * Delivery is still bursty (a poll follows a throttled interrupt), so a window's count can be off by
 * about one batch per sink at each edge: windows of tens of milliseconds keep that below a per cent.
 * Frames outside the window still count for conservation (the Ledger) but not here.
 */
import { LatencyHistogram } from "./ledger.js";

export class WindowStats {
  start = 0;
  end = Infinity;
  /** Frames carrying data (or not parsed), their bytes as carried (no FCS, no preamble). */
  frames = 0;
  bytes = 0;
  /** Transport payload bytes (UDP/TCP data). */
  payloadBytes = 0;
  /** Pure TCP ACKs delivered. */
  acks = 0;
  /** Bytes of data frames (with the 4-byte FCS) per VM: the VM at the guest end of each frame. */
  perVmBytes = new Float64Array(0);
  readonly latency = new LatencyHistogram();

  /** Count per VM for `n` VMs. */
  setVms(n: number): void {
    this.perVmBytes = new Float64Array(n);
  }

  inWindow(t: number): boolean {
    return t >= this.start && t < this.end;
  }

  /**
   * A frame reached its sink at `t`; `bornNs` < 0 when the frame carries no timestamp tag (or its
   * latency is not one the run reports); `vm` is the VM at the guest end of the frame (the guest that
   * received it, or the guest that sent a frame the peer received), −1 when none is known; `ack`
   * for a pure TCP ACK.
   */
  deliver(t: number, frameLen: number, payloadLen: number, bornNs: number, vm: number, ack = false): void {
    if (t < this.start || t >= this.end) return;
    if (ack) {
      this.acks++;
      return;
    }
    this.frames++;
    this.bytes += frameLen;
    this.payloadBytes += payloadLen;
    if (vm >= 0 && vm < this.perVmBytes.length) this.perVmBytes[vm]! += frameLen + 4;
    if (bornNs >= 0) this.latency.record(t - bornNs);
  }

  get durationNs(): number {
    return this.end - this.start;
  }

  /**
   * Jain's fairness index of the VMs' data rates, (Σx)² / (n·Σx²): 1 when every VM got the same, 1/n
   * when one VM got everything; 1 when none got anything.
   */
  get jain(): number {
    const x = this.perVmBytes;
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < x.length; i++) {
      sum += x[i]!;
      sq += x[i]! * x[i]!;
    }
    return sq === 0 ? 1 : (sum * sum) / (x.length * sq);
  }
}
