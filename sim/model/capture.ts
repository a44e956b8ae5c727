/**
 * Packet capture of simulated interfaces. A port is named by where it sits: "wire" (the physical
 * port, both directions), "vf0" … (a VF's guest side: frames the guest driver sends and receives),
 * "vif0" … (a Xen PV interface), "vnet0" … (a virtio-net device), "e1000-0" … (an emulated NIC),
 * "bridge" (the host/Dom0 software bridge). Each captured port writes one pcap file with
 * nanosecond timestamps of simulated time; frame counts and bytes are exact.
 */
import { IovError } from "../../src/errors.js";
import { PcapWriter } from "../pcap/writer.js";
import type { ByteSink } from "../pcap/sink.js";

export class CaptureSet {
  private readonly writers = new Map<string, PcapWriter>();

  /** Capture `port` into `sink` (a FileSink for a file, a BufferSink for tests). */
  add(port: string, sink: ByteSink): void {
    if (this.writers.has(port)) throw new IovError("EEXIST", `port ${port} is already captured`, { port });
    this.writers.set(port, new PcapWriter(sink, { nanos: true }));
  }

  get ports(): string[] {
    return [...this.writers.keys()];
  }

  wants(port: string): boolean {
    return this.writers.has(port);
  }

  frame(port: string, tNs: number, buf: Uint8Array, len: number, off = 0): void {
    const w = this.writers.get(port);
    if (w !== undefined) w.writePacket(tNs, buf, off, len);
  }

  counts(): Record<string, { packets: number; bytes: number }> {
    const out: Record<string, { packets: number; bytes: number }> = {};
    for (const [p, w] of this.writers) out[p] = { packets: w.packets, bytes: w.capturedBytes };
    return out;
  }

  close(): void {
    for (const w of this.writers.values()) w.close();
  }
}
