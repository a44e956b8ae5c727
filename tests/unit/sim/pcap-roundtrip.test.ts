import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { decodeFrame } from "../../../sim/pcap/frames.js";
import { openCaptureFile, parseCapture, readCaptureFile } from "../../../sim/pcap/reader.js";
import { BufferSink, FileSink } from "../../../sim/pcap/sink.js";
import { PcapngWriter, PcapWriter } from "../../../sim/pcap/writer.js";
import { isIovError } from "../../../src/errors.js";
import { makeTraffic } from "./pcap-helpers.js";

const dir = mkdtempSync(join(tmpdir(), "pciov-pcap-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const packet = fc.record({
  ts: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  data: fc.uint8Array({ maxLength: 300 }),
  iface: fc.nat({ max: 3 }),
});
const base = fc.bigInt({ min: 0n, max: 2n ** 62n });
/** Classic pcap has 32-bit seconds: keep base + 2^53 ns below 2^32 s. */
const classicBase = fc.bigInt({ min: 0n, max: 4_200_000_000_000_000_000n });

describe("pcap writer → own reader", () => {
  it("classic ns pcap round-trips frames and timestamps exactly", () => {
    fc.assert(
      fc.property(fc.array(packet, { maxLength: 40 }), classicBase, (pkts, baseNs) => {
        const sink = new BufferSink(64);
        const w = new PcapWriter(sink, { baseTimeNs: baseNs });
        for (const p of pkts) w.writePacket(p.ts, p.data);
        w.close();
        const cap = parseCapture(sink.toBytes());
        expect(cap.format).toBe("pcap");
        expect(cap.interfaces).toHaveLength(1);
        expect(cap.interfaces[0]).toMatchObject({ linktype: 1, snaplen: 262144, tsUnitsPerSecond: 1_000_000_000n });
        expect(cap.packets.map((p) => [p.tsNs, Array.from(p.data), p.originalLength])).toEqual(
          pkts.map((p) => [baseNs + BigInt(p.ts), Array.from(p.data), p.data.length]),
        );
        expect(w.packets).toBe(pkts.length);
      }),
    );
  });

  it("classic µs pcap truncates timestamps to microseconds", () => {
    fc.assert(
      fc.property(fc.array(packet, { maxLength: 20 }), (pkts) => {
        const sink = new BufferSink();
        const w = new PcapWriter(sink, { nanos: false });
        for (const p of pkts) w.writePacket(p.ts, p.data);
        const cap = parseCapture(sink.toBytes());
        expect(cap.interfaces[0]!.tsUnitsPerSecond).toBe(1_000_000n);
        expect(cap.packets.map((p) => p.tsNs)).toEqual(pkts.map((p) => (BigInt(p.ts) / 1000n) * 1000n));
      }),
    );
  });

  it("pcapng with several named interfaces round-trips interface, time and bytes", () => {
    fc.assert(
      fc.property(fc.array(packet, { maxLength: 40 }), base, (pkts, baseNs) => {
        const sink = new BufferSink(64);
        const w = new PcapngWriter(sink, { baseTimeNs: baseNs });
        const names = ["pf0", "vf0", "vif1.0", "tap-virtio0"];
        names.forEach((name, i) => expect(w.addInterface({ name, description: `port ${i}` })).toBe(i));
        for (const p of pkts) w.writePacket(p.iface, p.ts, p.data);
        w.close();
        const cap = parseCapture(sink.toBytes());
        expect(cap.format).toBe("pcapng");
        expect(cap.interfaces.map((i) => [i.name, i.description, i.tsUnitsPerSecond])).toEqual(
          names.map((n, i) => [n, `port ${i}`, 1_000_000_000n]),
        );
        expect(cap.packets.map((p) => [p.interfaceId, p.tsNs, Array.from(p.data)])).toEqual(
          pkts.map((p) => [p.iface, baseNs + BigInt(p.ts), Array.from(p.data)]),
        );
      }),
    );
  });

  it("snaplen truncates the captured bytes and keeps the original length", () => {
    const frame = new Uint8Array(200).map((_, i) => i);
    for (const fmt of ["pcap", "pcapng"] as const) {
      const sink = new BufferSink();
      if (fmt === "pcap") new PcapWriter(sink, { snaplen: 96 }).writePacket(5, frame);
      else {
        const w = new PcapngWriter(sink);
        w.addInterface({ name: "eth0", snaplen: 96 });
        w.writePacket(0, 5, frame, 10, 150);
      }
      const [p] = parseCapture(sink.toBytes()).packets;
      expect(p!.capturedLength).toBe(96);
      expect(p!.originalLength).toBe(fmt === "pcap" ? 200 : 150);
      expect(p!.data).toEqual(frame.subarray(fmt === "pcap" ? 0 : 10, fmt === "pcap" ? 96 : 106));
    }
  });

  it("refuses times that classic pcap cannot hold", () => {
    const w = new PcapWriter(new BufferSink(), { baseTimeNs: 2n ** 32n * 1_000_000_000n });
    expect(() => w.writePacket(0, new Uint8Array(60))).toThrow(expect.objectContaining({ code: "ERANGE" }));
  });

  it("rejects undeclared interfaces, bad slices and negative times", () => {
    const w = new PcapngWriter(new BufferSink());
    expect(() => w.writePacket(0, 0, new Uint8Array(60))).toThrow(expect.objectContaining({ code: "ENODEV" }));
    w.addInterface({ name: "a" });
    expect(() => w.addInterface({ name: "a" })).toThrow(expect.objectContaining({ code: "EEXIST" }));
    expect(() => w.writePacket(0, -1, new Uint8Array(60))).toThrow(expect.objectContaining({ code: "ERANGE" }));
    expect(() => w.writePacket(0, 0, new Uint8Array(60), 50, 20)).toThrow(expect.objectContaining({ code: "ERANGE" }));
    w.close();
    expect(() => w.writePacket(0, 0, new Uint8Array(60))).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });
});

describe("reader robustness", () => {
  const good = (() => {
    const sink = new BufferSink();
    const w = new PcapngWriter(sink);
    w.addInterface({ name: "x" });
    for (const p of makeTraffic(20, 3, 1)) w.writePacket(0, p.tsNs, p.frame);
    return sink.toBytes();
  })();
  const goodClassic = (() => {
    const sink = new BufferSink();
    const w = new PcapWriter(sink);
    for (const p of makeTraffic(20, 3, 1)) w.writePacket(p.tsNs, p.frame);
    return sink.toBytes();
  })();

  it("a truncated file either yields a prefix of the packets or fails with EINVAL naming the offset", () => {
    for (const bytes of [good, goodClassic]) {
      const all = parseCapture(bytes).packets;
      fc.assert(
        fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), (cut) => {
          try {
            const got = parseCapture(bytes.subarray(0, cut)).packets;
            expect(got.length).toBeLessThan(all.length);
            got.forEach((p, i) => expect(p.data).toEqual(all[i]!.data));
          } catch (e) {
            expect(isIovError(e, "EINVAL")).toBe(true);
            expect((e as Error).message).toMatch(/offset \d+|too short|not a pcap/);
          }
        }),
      );
    }
  });

  it("rejects an unknown magic and a block whose trailing length disagrees", () => {
    expect(() => parseCapture(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))).toThrow(/not a pcap or pcapng file/);
    const broken = good.slice();
    const dv = new DataView(broken.buffer);
    const shbLen = dv.getUint32(4, true);
    dv.setUint32(shbLen - 4, shbLen + 4, true);
    expect(() => parseCapture(broken)).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });

  it("reads big-endian files of both formats and skips unknown pcapng blocks", () => {
    // Classic pcap, big-endian, µs: one 4-byte packet at 1.000002 s.
    const be = new Uint8Array(24 + 16 + 4);
    const v = new DataView(be.buffer);
    v.setUint32(0, 0xa1b2c3d4);
    v.setUint16(4, 2);
    v.setUint16(6, 4);
    v.setUint32(16, 65535);
    v.setUint32(20, 1);
    v.setUint32(24, 1);
    v.setUint32(28, 2);
    v.setUint32(32, 4);
    v.setUint32(36, 4);
    be.set([9, 8, 7, 6], 40);
    const c = parseCapture(be);
    expect(c.byteOrder).toBe("big");
    expect(c.packets[0]).toMatchObject({ tsNs: 1_000_002_000n, capturedLength: 4 });
    expect(Array.from(c.packets[0]!.data)).toEqual([9, 8, 7, 6]);

    // pcapng, big-endian: SHB, a custom block (type 0x40000BAD), IDB with if_tsresol=3 (ms), EPB.
    const blocks: number[][] = [];
    const u32 = (x: number): number[] => [(x >>> 24) & 255, (x >>> 16) & 255, (x >>> 8) & 255, x & 255];
    const u16 = (x: number): number[] => [(x >>> 8) & 255, x & 255];
    const blk = (type: number, body: number[]): number[] => [...u32(type), ...u32(body.length + 12), ...body, ...u32(body.length + 12)];
    blocks.push(blk(0x0a0d0d0a, [...u32(0x1a2b3c4d), ...u16(1), ...u16(0), ...u32(0xffffffff), ...u32(0xffffffff)]));
    blocks.push(blk(0x40000bad, [1, 2, 3, 4]));
    blocks.push(blk(1, [...u16(1), ...u16(0), ...u32(0), ...u16(9), ...u16(1), 3, 0, 0, 0, ...u16(0), ...u16(0)]));
    blocks.push(blk(6, [...u32(0), ...u32(0), ...u32(1234), ...u32(3), ...u32(3), 0xaa, 0xbb, 0xcc, 0]));
    const ng = parseCapture(Uint8Array.from(blocks.flat()));
    expect(ng.byteOrder).toBe("big");
    expect(ng.interfaces[0]!.tsUnitsPerSecond).toBe(1000n);
    expect(ng.packets).toHaveLength(1);
    expect(ng.packets[0]).toMatchObject({ tsNs: 1_234_000_000n, capturedLength: 3 });
    expect(Array.from(ng.packets[0]!.data)).toEqual([0xaa, 0xbb, 0xcc]);
  });
});

describe("streaming to and from files", () => {
  it("a long capture goes through a fixed buffer and reads back packet by packet", () => {
    const path = join(dir, "long.pcapng");
    const sink = new FileSink(path, { chunkBytes: 4096 });
    const w = new PcapngWriter(sink);
    w.addInterface({ name: "vf0" });
    w.addInterface({ name: "vf1" });
    const traffic = makeTraffic(500, 11);
    const n = 40_000;
    let maxBuffered = 0;
    let expectedBytes = 0;
    for (let i = 0; i < n; i++) {
      const p = traffic[i % traffic.length]!;
      w.writePacket(i & 1, i * 100, p.frame);
      expectedBytes += 32 + p.frame.length + ((4 - (p.frame.length % 4)) % 4);
      if (sink.bufferedBytes > maxBuffered) maxBuffered = sink.bufferedBytes;
    }
    w.close();
    expect(maxBuffered).toBeLessThanOrEqual(sink.bufferCapacity);
    expect(sink.flushes).toBeGreaterThan(100);
    const headerBytes = statSync(path).size - expectedBytes;
    expect(headerBytes).toBeGreaterThan(0);
    expect(headerBytes).toBeLessThan(200); // SHB + two IDBs
    const r = openCaptureFile(path, 4096);
    let count = 0;
    for (let p = r.next(); p !== null; p = r.next()) {
      const want = traffic[count % traffic.length]!;
      if (p.interfaceId !== (count & 1) || p.tsNs !== BigInt(count * 100) || p.capturedLength !== want.frame.length) break;
      if (count % 997 === 0) expect(p.data).toEqual(want.frame);
      count++;
    }
    r.close();
    expect(count).toBe(n);
    expect(r.interfaces.map((i) => i.name)).toEqual(["vf0", "vf1"]);
  });

  it("file and memory readers agree; frames decode after the round trip", () => {
    const path = join(dir, "small.pcap");
    const w = new PcapWriter(new FileSink(path));
    const traffic = makeTraffic(200, 5);
    for (const p of traffic) w.writePacket(p.tsNs, p.frame);
    w.close();
    const fromFile = readCaptureFile(path);
    const fromMem = parseCapture(readFileSync(path));
    expect(fromFile.packets.map((p) => Array.from(p.data))).toEqual(fromMem.packets.map((p) => Array.from(p.data)));
    fromFile.packets.forEach((p, i) => {
      const d = decodeFrame(p.data)!;
      expect(d.vlanId).toBe(traffic[i]!.vlanId);
      expect(d.ipv4?.headerChecksumOk).toBe(true);
      expect(d.l4?.checksumOk).toBe(true);
    });
  });

  it("refuses missing files and writes after close", () => {
    expect(() => openCaptureFile(join(dir, "nope.pcap"))).toThrow(expect.objectContaining({ code: "ENOENT" }));
    const s = new FileSink(join(dir, "closed.pcap"));
    s.close();
    expect(() => s.write(new Uint8Array(4), 0, 4)).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });
});
