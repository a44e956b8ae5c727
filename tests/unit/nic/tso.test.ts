/**
 * The NIC's advanced TX descriptors: TSO (an advanced context descriptor and data descriptors with
 * TSE, cut into segments by the device) and the checksum offloads of a plain advanced packet, as the
 * igb ring driver queues them (xmitTso) or as raw descriptors written here.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PhysMem } from "../../../src/memory/physmem.js";
import { DMA_FAULT, IDENTITY_TRANSLATOR } from "../../../src/pcie/dma.js";
import { Nic } from "../../../src/nic/nic.js";
import { defaultVfPortConfig } from "../../../src/nic/port-config.js";
import { foldChecksum, onesComplementSum } from "../../../src/nic/checksum.js";
import { tsoSegmentInto, tsoSegments } from "../../../src/nic/tso.js";
import { TXD_STA } from "../../../src/nic/descriptors.js";
import { E1000_TDT } from "../../../src/nic/regs.js";
import { Template } from "../../../sim/traffic/packets.js";
import { tcpStream } from "../sim/tcp-stream.js";
import { RecordingMsi, TinyDriver } from "./tiny-driver.js";

const MAC_A = 0x0200_0000_0001;
const REMOTE = 0x0299_0000_0001;

/** A VF whose frames to the wire are recorded. */
function vf(opts: { mbps?: number; vlan?: number; count?: number } = {}): { nic: Nic; d: TinyDriver; mem: PhysMem; wire: Uint8Array[] } {
  const mem = new PhysMem();
  const wire: Uint8Array[] = [];
  const nic = new Nic({ mem, translator: IDENTITY_TRANSLATOR, msiSink: new RecordingMsi(), template: { maxVfs: 1, queuesPerVf: 1 }, uplink: (b, o, l) => void wire.push(b.slice(o, o + l)) });
  nic.setNumVfs(1);
  nic.poll(5_000);
  nic.setVfConfig(0, { ...defaultVfPortConfig(), mac: MAC_A, maxTxRate: opts.mbps ?? 0, vlan: opts.vlan ?? 0 });
  const d = new TinyDriver(nic.vfMmio(0), mem, 0x100_0000, opts.count ?? 256);
  d.upTx();
  return { nic, d, mem, wire };
}

/** The frames a sender sends one by one, and the TSO packet made of them (tcp-stream.ts), from this VF's MAC. */
const stream = (mss: number, n: number, ts: boolean, seq: number, ipId: number, psh: boolean) => tcpStream({ mss, n, ts, seq, ipId, psh, srcMac: MAC_A, dstMac: REMOTE });

const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.from(a).equals(Buffer.from(b));

describe("TSO in the NIC (advanced context and data descriptors)", () => {
  it("the device's segments are byte for byte the frames the stack would have sent one by one (IPv4 ID, sequence, flags, both checksums)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 64, max: 1448 }),
        fc.integer({ min: 1, max: 45 }),
        fc.boolean(),
        fc.nat({ max: 0xffff_ffff }),
        fc.nat({ max: 0xffff }),
        fc.boolean(),
        (mss, n0, ts, seq, ipId, psh) => {
          const hdr = ts ? 66 : 54;
          const n = Math.min(n0, Math.floor((0xffff - hdr + 14) / mss));
          const { frames, pkt } = stream(mss, n, ts, seq, ipId, psh);
          const { nic, d, wire } = vf();
          expect(d.rings.xmitTso(pkt, pkt.length, mss, 0)).toBe(true);
          d.bump();
          expect(wire.length).toBe(n);
          for (let k = 0; k < n; k++) expect(same(wire[k]!, frames[k]!)).toBe(true);
          const st = nic.stats(0);
          expect(st.txPackets).toBe(n); // the wire's packets: one per segment
          expect(st.txBytes).toBe(frames.reduce((a, f) => a + f.length, 0));
          expect(d.rings.counters.txPackets).toBe(1); // the driver's: one TSO packet completed
          expect(d.rings.txInFlight(0)).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("the driver's descriptors: a context descriptor (0x20200C00), then data descriptors with TSE; DD written back only where RS asked (the last)", () => {
    const { frames, pkt } = stream(1448, 10, true, 1, 1, false);
    const { d, mem, wire } = vf();
    const first = d.txTail;
    expect(d.rings.xmitTso(pkt, pkt.length, 1448, 0)).toBe(true);
    const nd = d.rings.tsoDescriptors(pkt.length);
    expect(nd).toBe(1 + Math.ceil(pkt.length / 2048));
    const desc = (i: number): number => d.txRing + ((first + i) % 256) * 16;
    expect(mem.read32(desc(0) + 8)).toBe(0x20200c00);
    expect(mem.read32(desc(0) + 12)).toBe(((1448 << 16) | (32 << 8)) >>> 0);
    expect(mem.read32(desc(0)) & 0xffff).toBe(20 | (14 << 9));
    for (let i = 1; i < nd; i++) expect(mem.read32(desc(i) + 8) >>> 20).toBe(i === nd - 1 ? 0xa23 | 0x090 : 0xa23);
    // the first data descriptor's olinfo: PAYLEN, IXSM, TXSM
    expect(mem.read32(desc(1) + 12)).toBe((((pkt.length - 66) << 14) | 0x300) >>> 0);
    d.rings.kickQueue(0);
    for (let i = 0; i < nd; i++) expect(mem.read8(desc(i) + TXD_STA) & 1, `descriptor ${i}`).toBe(i === nd - 1 ? 1 : 0);
    expect(wire.length).toBe(frames.length);
    expect(d.rings.reclaimQueue(0)).toBe(1);
  });

  it("a VF rate limiter cuts a TSO packet's sending between segments and resumes where it stopped: every segment once, in order", () => {
    const { frames, pkt } = stream(1448, 45, false, 7, 9, true);
    const { nic, d, wire } = vf({ mbps: 100 });
    expect(d.rings.xmitTso(pkt, pkt.length, 1448, 0)).toBe(true);
    d.bump();
    expect(wire.length).toBeGreaterThan(0);
    expect(wire.length).toBeLessThan(45);
    let now = 5_000;
    for (let guard = 0; guard < 200 && wire.length < 45; guard++) {
      now = Math.max(now, nic.nextWakeNs());
      nic.poll(now);
    }
    expect(wire.length).toBe(45);
    for (let k = 0; k < 45; k++) expect(same(wire[k]!, frames[k]!)).toBe(true);
    expect(nic.stats(0).rateStalls).toBeGreaterThan(0);
  });

  it("with the VF's port VLAN every segment carries the tag", () => {
    const { frames, pkt } = stream(1000, 5, false, 0, 0, false);
    const { d, wire } = vf({ vlan: 42 });
    expect(d.rings.xmitTso(pkt, pkt.length, 1000, 0)).toBe(true);
    d.bump();
    expect(wire.length).toBe(5);
    for (let k = 0; k < 5; k++) {
      const w = wire[k]!;
      expect(((w[12]! << 8) | w[13]!) >>> 0).toBe(0x8100);
      expect(((w[14]! << 8) | w[15]!) & 0xfff).toBe(42);
      expect(same(new Uint8Array([...w.subarray(0, 12), ...w.subarray(16)]), frames[k]!)).toBe(true);
    }
  });

  it("a DMA fault on one of a TSO packet's buffers sends none of its segments: the queue stops as for any faulting packet", () => {
    const { pkt } = stream(1448, 20, false, 0, 0, false);
    const mem = new PhysMem();
    const wire: Uint8Array[] = [];
    let refuseFrom = Infinity;
    const translator = { translate: (_rid: number, iova: number, len: number) => (iova >= refuseFrom ? DMA_FAULT : iova + 0 * len) };
    const nic = new Nic({ mem, translator, msiSink: new RecordingMsi(), template: { maxVfs: 1, queuesPerVf: 1 }, uplink: (b, o, l) => void wire.push(b.slice(o, o + l)) });
    nic.setNumVfs(1);
    nic.setVfConfig(0, { ...defaultVfPortConfig(), mac: MAC_A });
    const d = new TinyDriver(nic.vfMmio(0), mem, 0x100_0000, 256);
    d.upTx();
    const first = d.txTail;
    expect(d.rings.xmitTso(pkt, pkt.length, 1448, 0)).toBe(true);
    refuseFrom = d.txBufs + (first + 5) * 2048; // the packet's fifth data buffer and beyond
    d.bump();
    expect(wire.length).toBe(0);
    const st = nic.stats(0);
    expect(st.dmaFaults).toBe(1);
    expect(st.txQueueStops).toBe(1);
    expect(st.drops["dma-fault"]).toBe(1);
  });

  it("a context that cannot describe the packet drops it as malformed, and the ring goes on", () => {
    const { pkt } = stream(1000, 3, false, 0, 0, false);
    const { nic, d, mem, wire } = vf();
    const first = d.txTail;
    expect(d.rings.xmitTso(pkt, pkt.length, 1000, 0)).toBe(true);
    // the driver's context says MSS 0
    const ctx = d.txRing + first * 16;
    mem.write32(ctx + 12, mem.read32(ctx + 12) & 0xffff);
    d.bump();
    expect(wire.length).toBe(0);
    expect(nic.stats(0).txDropped).toBe(1);
    // the next packet goes
    const ok = stream(500, 2, false, 0, 0, false);
    expect(d.rings.xmitTso(ok.pkt, ok.pkt.length, 500, 0)).toBe(true);
    d.bump();
    expect(wire.length).toBe(2);
  });
});

describe("checksum offload of a plain advanced packet (POPTS IXSM, TXSM)", () => {
  it("the device writes valid IPv4 header and TCP or UDP checksums whatever the fields held", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 60, max: 1500 }), fc.nat({ max: 0xffff }), fc.nat({ max: 0xffff }), (tcp, size, junkIp, junkL4) => {
        const tpl = tcp ? Template.tcp(size - 54, false, MAC_A, REMOTE, 0x0a010001, 0x0a000001, 1, 2) : Template.udp(size, MAC_A, REMOTE, 0x0a010001, 0x0a000001, 1, 2);
        const f = new Uint8Array(tpl.len);
        tpl.copyTo(f);
        const l4 = 34;
        const at = l4 + (tcp ? 16 : 6);
        f[24] = junkIp >>> 8;
        f[25] = junkIp & 0xff;
        f[at] = junkL4 >>> 8;
        f[at + 1] = junkL4 & 0xff;
        const { d, mem, wire } = vf();
        const i = d.txTail;
        // a context descriptor (MACLEN 14, IPLEN 20, IPv4, L4T), then one data descriptor with IXSM | TXSM
        const c = d.txRing + i * 16;
        mem.write32(c, 20 | (14 << 9));
        mem.write32(c + 4, 0);
        mem.write32(c + 8, (0x20200000 | 0x400 | (tcp ? 0x800 : 0)) >>> 0);
        mem.write32(c + 12, 0);
        const buf = d.txBufs + (i + 1) * 2048;
        mem.writeFrom(buf, f, 0, f.length);
        const x = d.txRing + (i + 1) * 16;
        mem.write64n(x, buf);
        mem.write32(x + 8, (f.length | 0x00300000 | (0x2b << 24)) >>> 0); // DEXT | RS | IFCS | EOP
        mem.write32(x + 12, ((f.length << 14) | 0x300) >>> 0);
        d.w(E1000_TDT(0), i + 2);
        expect(wire.length).toBe(1);
        const w = wire[0]!;
        expect(foldChecksum(onesComplementSum(w, 14, 20))).toBe(0);
        const l4len = w.length - l4;
        expect(foldChecksum(onesComplementSum(w, l4, l4len, onesComplementSum(w, 26, 8, (tcp ? 6 : 17) + l4len)))).toBe(0);
      }),
      { numRuns: 60 },
    );
  });
});

describe("TSO of an IPv6 packet (tso.ts)", () => {
  it("each segment's payload length, sequence number, flags and TCP checksum (IPv6 pseudo-header) are its own", () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 1440 }), fc.integer({ min: 1, max: 20 }), fc.nat({ max: 0xffff_ffff }), (mss, n, seq) => {
        // Ethernet, IPv6 (40 B, next header TCP), TCP (20 B), n × mss of payload
        const hdr = 14 + 40 + 20;
        const len = hdr + n * mss - (n > 1 ? 7 : 0); // a short last segment when there are several
        const p = new Uint8Array(len);
        p[12] = 0x86;
        p[13] = 0xdd;
        p[14] = 0x60;
        p[14 + 6] = 6; // next header
        p[14 + 7] = 64;
        for (let i = 0; i < 32; i++) p[14 + 8 + i] = (i * 29 + 1) & 0xff; // source and destination
        const t = 54;
        p[t + 4] = seq >>> 24;
        p[t + 5] = (seq >>> 16) & 0xff;
        p[t + 6] = (seq >>> 8) & 0xff;
        p[t + 7] = seq & 0xff;
        p[t + 12] = 5 << 4;
        p[t + 13] = 0x18 | 0x01; // ACK, PSH, FIN
        for (let i = hdr; i < len; i++) p[i] = (i * 7) & 0xff;
        const segs = tsoSegments(len, hdr, mss);
        expect(segs).toBe(n);
        const out = new Uint8Array(2048);
        for (let k = 0; k < segs; k++) {
          const sl = tsoSegmentInto(p, 0, len, 14, 54, hdr, false, mss, k, out, 0);
          const pay = Math.min(mss, len - hdr - k * mss);
          expect(sl).toBe(hdr + pay);
          expect((out[18]! << 8) | out[19]!).toBe(20 + pay); // IPv6 payload length: TCP header and data
          expect((((out[t + 4]! << 24) | (out[t + 5]! << 16) | (out[t + 6]! << 8) | out[t + 7]!) >>> 0)).toBe((seq + k * mss) >>> 0);
          expect(out[t + 13]).toBe(k === segs - 1 ? 0x19 : 0x10);
          expect(Buffer.from(out.subarray(hdr, sl)).equals(Buffer.from(p.subarray(hdr + k * mss, hdr + k * mss + pay)))).toBe(true);
          // the TCP checksum verifies over the IPv6 pseudo-header (addresses, TCP length, next header)
          const tcpLen = sl - t;
          expect(foldChecksum(onesComplementSum(out, t, tcpLen, onesComplementSum(out, 22, 32, 6 + tcpLen)))).toBe(0);
        }
      }),
      { numRuns: 100 },
    );
  });
});
