/**
 * A TCP sender's segments as the simulator's stack sends them one by one (a template patched per
 * segment: sequence number, IPv4 ID, tag, PSH on the last when asked), and the TSO packet made of
 * them (the first segment's headers, every segment's payload, the last one's flags) — what the
 * segmentation tests compare the devices' segments with.
 */
import { Template } from "../../../sim/traffic/packets.js";

export interface TcpStreamSpec {
  readonly mss: number;
  readonly n: number;
  readonly seq: number;
  readonly ipId: number;
  readonly psh: boolean;
  readonly ts?: boolean;
  /** The first segment's tag sequence number (each next one + 1). */
  readonly tagBase?: number;
  readonly srcMac?: number;
  readonly dstMac?: number;
}

export function tcpStream(o: TcpStreamSpec): { frames: Uint8Array[]; pkt: Uint8Array; tpl: Template } {
  const tpl = Template.tcp(o.mss, o.ts ?? false, o.srcMac ?? 0x020000000100, o.dstMac ?? 0x029900000001, 0x0a010001, 0x0a000001, 10000, 5001);
  const frames: Uint8Array[] = [];
  const pkt = new Uint8Array(tpl.payOff + o.n * o.mss);
  for (let k = 0; k < o.n; k++) {
    tpl.setTcp((o.seq + k * o.mss) % 2 ** 32, 0, 0x10 | (o.psh && k === o.n - 1 ? 0x08 : 0));
    tpl.setTag(1, (o.tagBase ?? 0) + k);
    tpl.setIpId(o.ipId + k);
    const f = new Uint8Array(tpl.len);
    tpl.copyTo(f);
    frames.push(f);
    if (k === 0) pkt.set(f);
    else pkt.set(f.subarray(tpl.payOff), tpl.payOff + k * o.mss);
  }
  pkt[tpl.l4Off + 13] = 0x10 | (o.psh ? 0x08 : 0);
  return { frames, pkt, tpl };
}
