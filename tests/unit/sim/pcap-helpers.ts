import { Prng } from "../../../sim/engine/prng.js";
import { TCP_FLAG, writeTcpFrame, writeUdpFrame, type TcpFrameSpec, type UdpFrameSpec } from "../../../sim/pcap/frames.js";

export interface TestPacket {
  readonly tsNs: number;
  readonly iface: number;
  readonly frame: Uint8Array;
  readonly vlanId: number;
  readonly proto: "udp" | "tcp";
  readonly srcPort: number;
  readonly dstPort: number;
  /** TCP SACK blocks [left, right) carried, if any. */
  readonly sack?: ReadonlyArray<readonly [number, number]>;
}

/**
 * Deterministic mixed traffic: UDP of many sizes (every third frame VLAN-tagged) and TCP segments
 * (every other one with timestamps), built through one reused spec object and one scratch buffer.
 * Ports avoid 4789 (tshark would decode VXLAN).
 */
export function makeTraffic(count: number, seed = 1, interfaces = 2): TestPacket[] {
  const rng = new Prng(seed);
  const scratch = new Uint8Array(2048);
  const udp: UdpFrameSpec = { dstMac: 0x02_00_00_00_00_02, srcMac: 0x02_00_00_00_00_01, srcIp: 0x0a000001, dstIp: 0x0a000002, srcPort: 40000, dstPort: 5555 };
  const tcp: TcpFrameSpec = { ...udp, srcPort: 40001, dstPort: 5201, seq: 1, ack: 1, flags: TCP_FLAG.ACK | TCP_FLAG.PSH, window: 65535 };
  const out: TestPacket[] = [];
  let t = 0;
  for (let i = 0; i < count; i++) {
    t += 1 + rng.nextInt(2000);
    const vlan = i % 3 === 0 ? { vid: 1 + (i % 4000), pcp: i % 8 } : undefined;
    let len: number;
    let proto: "udp" | "tcp";
    let srcPort: number;
    let dstPort: number;
    if (i % 4 === 3) {
      proto = "tcp";
      tcp.vlan = vlan;
      tcp.seq = (i * 1448) >>> 0;
      tcp.ipId = i & 0xffff;
      tcp.timestamps = i % 8 === 3 ? { value: i, echo: i >>> 1 } : undefined;
      // every fourth TCP segment carries SACK blocks: up to 4 alone, up to 3 next to timestamps
      const nSack = i % 16 === 7 || i % 16 === 11 ? 1 + ((i >>> 4) % (tcp.timestamps !== undefined ? 3 : 4)) : 0;
      tcp.sack = nSack > 0 ? Array.from({ length: nSack }, (_, k) => [(i * 7919 + k * 2 ** 20) >>> 0, (i * 7919 + k * 2 ** 20 + 1448 * (k + 1)) >>> 0] as const) : undefined;
      tcp.payloadLength = rng.nextInt(1449);
      tcp.payloadSeed = i;
      len = writeTcpFrame(scratch, 0, tcp);
      srcPort = tcp.srcPort;
      dstPort = tcp.dstPort;
    } else {
      proto = "udp";
      udp.vlan = vlan;
      udp.ipId = i & 0xffff;
      udp.srcPort = 40000 + (i % 1000);
      udp.payloadLength = rng.nextInt(1473);
      udp.payloadSeed = i * 7;
      len = writeUdpFrame(scratch, 0, udp);
      srcPort = udp.srcPort;
      dstPort = udp.dstPort;
    }
    const sack = proto === "tcp" ? tcp.sack : undefined;
    out.push({ tsNs: t, iface: i % interfaces, frame: scratch.slice(0, len), vlanId: vlan?.vid ?? -1, proto, srcPort, dstPort, ...(sack !== undefined ? { sack } : {}) });
  }
  return out;
}
