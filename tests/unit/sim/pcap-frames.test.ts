import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  ETH_MIN_FRAME_NO_FCS,
  IPPROTO_TCP,
  IPPROTO_UDP,
  TCP_FLAG,
  decodeFrame,
  foldChecksum,
  formatIpv4,
  formatMac,
  onesComplementSum,
  parseIpv4,
  parseMac,
  tcpFrameLength,
  udpFrameLength,
  writeTcpFrame,
  writeUdpFrame,
  type TcpFrameSpec,
  type UdpFrameSpec,
} from "../../../sim/pcap/frames.js";

const mac = fc.integer({ min: 0, max: 2 ** 48 - 1 });
const ip = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const port = fc.integer({ min: 0, max: 65535 });
const vlan = fc.option(fc.record({ vid: fc.integer({ min: 0, max: 4095 }), pcp: fc.integer({ min: 0, max: 7 }), dei: fc.boolean() }), { nil: undefined });

const udpSpec = fc.record({
  dstMac: mac,
  srcMac: mac,
  vlan,
  srcIp: ip,
  dstIp: ip,
  ttl: fc.integer({ min: 1, max: 255 }),
  ipId: fc.integer({ min: 0, max: 65535 }),
  srcPort: port,
  dstPort: port,
  payload: fc.uint8Array({ maxLength: 1472 }),
});

const tcpSpec = fc.record({
  dstMac: mac,
  srcMac: mac,
  vlan,
  srcIp: ip,
  dstIp: ip,
  srcPort: port,
  dstPort: port,
  seq: ip,
  ack: ip,
  flags: fc.integer({ min: 0, max: 0x3f }),
  window: port,
  timestamps: fc.option(fc.record({ value: ip, echo: ip }), { nil: undefined }),
  payloadLength: fc.integer({ min: 0, max: 1448 }),
  payloadSeed: fc.integer({ min: 0, max: 255 }),
});

describe("frame builders", () => {
  it("UDP frames decode to their spec with valid IPv4 and UDP checksums", () => {
    fc.assert(
      fc.property(udpSpec, fc.integer({ min: 0, max: 64 }), (spec: UdpFrameSpec, off) => {
        const buf = new Uint8Array(off + 1600);
        const n = writeUdpFrame(buf, off, spec);
        expect(n).toBe(udpFrameLength(spec));
        expect(n).toBeGreaterThanOrEqual(ETH_MIN_FRAME_NO_FCS);
        const d = decodeFrame(buf, off, n)!;
        expect(d.dstMac).toBe(spec.dstMac);
        expect(d.srcMac).toBe(spec.srcMac);
        expect(d.vlanId).toBe(spec.vlan?.vid ?? -1);
        expect(d.ipv4).toMatchObject({ srcIp: spec.srcIp, dstIp: spec.dstIp, protocol: IPPROTO_UDP, ttl: spec.ttl, headerChecksumOk: true });
        expect(d.l4).toMatchObject({ srcPort: spec.srcPort, dstPort: spec.dstPort, checksumOk: true, payloadLength: spec.payload!.length });
        expect(buf.subarray(d.l4!.payloadOffset, d.l4!.payloadOffset + spec.payload!.length)).toEqual(spec.payload);
        // The UDP checksum field is never 0 (0 means "no checksum"; RFC 768 sends 0xffff instead).
        const l4 = d.l4!.payloadOffset - 8;
        expect((buf[l4 + 6]! << 8) | buf[l4 + 7]!).not.toBe(0);
        // Nothing outside [off, off + n) was touched.
        expect(buf.subarray(0, off).every((b) => b === 0)).toBe(true);
      }),
    );
  });

  it("TCP segments decode with valid checksums, options and payload pattern", () => {
    fc.assert(
      fc.property(tcpSpec, (spec: TcpFrameSpec) => {
        const buf = new Uint8Array(1600);
        const n = writeTcpFrame(buf, 0, spec);
        expect(n).toBe(tcpFrameLength(spec));
        const d = decodeFrame(buf, 0, n)!;
        expect(d.ipv4).toMatchObject({ protocol: IPPROTO_TCP, headerChecksumOk: true });
        expect(d.l4).toMatchObject({ srcPort: spec.srcPort, dstPort: spec.dstPort, checksumOk: true, payloadLength: spec.payloadLength });
        const p = d.l4!.payloadOffset;
        for (let i = 0; i < spec.payloadLength!; i++) expect(buf[p + i]).toBe((spec.payloadSeed! + i) & 0xff);
        const t = p - (spec.timestamps ? 32 : 20);
        expect(buf[t + 12]! >> 4).toBe(spec.timestamps ? 8 : 5);
        expect(buf[t + 13]).toBe(spec.flags);
      }),
    );
  });

  it("any single-bit error in the IPv4 header or TCP segment is detected", () => {
    fc.assert(
      fc.property(tcpSpec, fc.nat(), fc.integer({ min: 0, max: 7 }), (spec: TcpFrameSpec, where, bit) => {
        const buf = new Uint8Array(1600);
        spec.vlan = undefined;
        const n = writeTcpFrame(buf, 0, spec);
        const ipLen = 20 + (spec.timestamps ? 32 : 20) + spec.payloadLength!;
        // Skip the IPv4 total-length field (changing it changes the framing rather than the sum).
        let at = 14 + (where % ipLen);
        if (at === 16 || at === 17) at = 18;
        buf[at]! ^= 1 << bit;
        const d = decodeFrame(buf, 0, n);
        const ok = d?.ipv4?.headerChecksumOk === true && d.l4?.checksumOk === true;
        expect(ok).toBe(false);
      }),
    );
  });

  it("reuses one spec object and one buffer: successive frames are independent", () => {
    const spec: UdpFrameSpec = { dstMac: 1, srcMac: 2, srcIp: 3, dstIp: 4, srcPort: 5, dstPort: 6, payloadLength: 100 };
    const buf = new Uint8Array(256);
    const n1 = writeUdpFrame(buf, 0, spec);
    const first = buf.slice(0, n1);
    spec.payloadLength = 10;
    spec.vlan = { vid: 7 };
    writeUdpFrame(buf, 0, spec);
    spec.payloadLength = 100;
    spec.vlan = undefined;
    expect(buf.subarray(0, writeUdpFrame(buf, 0, spec))).toEqual(first);
  });

  it("pads short frames to 60 bytes and refuses a buffer that is too small", () => {
    const buf = new Uint8Array(60).fill(0xee);
    const spec: UdpFrameSpec = { dstMac: 1, srcMac: 2, srcIp: 3, dstIp: 4, srcPort: 5, dstPort: 6 };
    expect(writeUdpFrame(buf, 0, spec)).toBe(60);
    expect(buf.subarray(42).every((b) => b === 0)).toBe(true);
    expect(() => writeUdpFrame(new Uint8Array(59), 0, spec)).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => writeUdpFrame(new Uint8Array(100), 0, { ...spec, srcPort: 70000 })).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => writeUdpFrame(new Uint8Array(100), 0, { ...spec, vlan: { vid: 4096 } })).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => writeTcpFrame(new Uint8Array(100), 0, { ...spec, seq: -1, ack: 0, flags: TCP_FLAG.SYN, window: 1 })).toThrow(
      expect.objectContaining({ code: "ERANGE" }),
    );
  });

  it("checksum primitives: RFC 1071 example", () => {
    // RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 (checksum 220d).
    const b = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
    expect(foldChecksum(onesComplementSum(b, 0, b.length))).toBe(0x220d);
  });

  it("MAC and IPv4 text forms round-trip", () => {
    fc.assert(fc.property(mac, (m) => parseMac(formatMac(m)) === m));
    fc.assert(fc.property(ip, (a) => parseIpv4(formatIpv4(a)) === a));
    expect(formatMac(parseMac("02:AB:cd:00:00:01"))).toBe("02:ab:cd:00:00:01");
    expect(formatIpv4(0x0a000001)).toBe("10.0.0.1");
    expect(() => parseIpv4("10.0.0.256")).toThrow(expect.objectContaining({ code: "EINVAL" }));
    expect(() => parseMac("02:00:00:00:00")).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });
});
