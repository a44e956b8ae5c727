/**
 * TCP segmentation offload through virtio (virtio.tso): the super-frame's format and its cutting
 * (segments byte for byte as the stack would have sent them one by one), descriptor chains in the
 * split virtqueue, and a run's accounting with TSO.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Hypervisor } from "../../../src/hypervisor-glue/hypervisor.js";
import { indirectTableBytes, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_LEN, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VringDevice, VringDriver, vringLayout } from "../../../sim/backends/virtio/vring.js";
import type { Guest } from "../../../src/hypervisor-glue/guest.js";
import { TSO_MAX_FRAME, Template, finishTsoFrame, parse, tsoSegment, tsoSegmentCount } from "../../../sim/traffic/packets.js";
import { HostGro } from "../../../sim/backends/common/host-gro.js";
import { tcpStream } from "./tcp-stream.js";
import { foldChecksum, onesComplementSum } from "../../../sim/pcap/frames.js";
import { DEFAULT_RUN, type RunParams } from "../../../sim/params.js";
import { loadScenario } from "../../../sim/scenario.js";
import { plan } from "../../../sim/compare.js";
import { runOnce } from "../../../sim/run.js";
import { CaptureSet } from "../../../sim/model/capture.js";
import { FileSink } from "../../../sim/pcap/sink.js";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** tshark's fields of every frame of a capture, with the TCP and IPv4 checksums checked (status 1: good). */
function tsharkRows(file: string, fields = ["frame.len", "ip.checksum.status", "tcp.checksum.status", "tcp.len"]): string[][] {
  return execFileSync("tshark", ["-r", file, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-T", "fields", ...fields.flatMap((f) => ["-e", f])], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => l.split("\t"));
}

const get16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const get32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/** Both checksums of an IPv4/TCP frame verify (RFC 1071: the sum over the covered bytes folds to 0xffff). */
function checksumsValid(f: Uint8Array, len: number): boolean {
  const ip = 14;
  const ihl = (f[ip]! & 0x0f) * 4;
  if (foldChecksum(onesComplementSum(f, ip, ihl)) !== 0) return false;
  const l4 = ip + ihl;
  const tcpLen = len - l4;
  const pseudo = onesComplementSum(f, ip + 12, 8, 6 + tcpLen);
  return foldChecksum(onesComplementSum(f, l4, tcpLen, pseudo)) === 0;
}

interface Stream {
  tpl: Template;
  mss: number;
  ipId: number;
  seq: number;
  n: number;
  pshLast: boolean;
  ts: boolean;
}

const stream = fc.record({
  mss: fc.integer({ min: 8, max: 1448 }),
  ipId: fc.nat({ max: 0xffff }),
  seq: fc.nat({ max: 0xffff_ffff }),
  n: fc.integer({ min: 1, max: 45 }),
  pshLast: fc.boolean(),
  ts: fc.boolean(),
  fill: fc.nat({ max: 255 }),
});

/**
 * The frames a sender sends one by one (template patched per segment, as VmApp does), and the
 * super-frame built from them as VmApp's TSO path builds it: the first frame's headers, every
 * frame's payload, PSH as the last has it, then finishTsoFrame.
 */
function build(d: { mss: number; ipId: number; seq: number; n: number; pshLast: boolean; ts: boolean; fill: number }): { frames: Uint8Array[]; sup: Uint8Array; len: number; s: Stream } {
  const hdr = 14 + 20 + 20 + (d.ts ? 12 : 0);
  const n = Math.min(d.n, Math.floor((0xffff - (hdr - 14)) / d.mss));
  const { frames, pkt, tpl } = tcpStream({ mss: d.mss, n, seq: d.seq, ipId: d.ipId, psh: d.pshLast, ts: d.ts, tagBase: d.fill });
  const sup = new Uint8Array(TSO_MAX_FRAME);
  sup.set(pkt);
  const len = pkt.length;
  expect(finishTsoFrame(sup, len)).toBe(true);
  return { frames, sup, len, s: { tpl, mss: d.mss, ipId: d.ipId, seq: d.seq, n, pshLast: d.pshLast, ts: d.ts } };
}

describe("TSO super-frames and their segments", () => {
  it("segments are byte for byte the frames the stack would have sent one by one, checksums included", () => {
    fc.assert(
      fc.property(stream, (d) => {
        const { frames, sup, len, s } = build(d);
        expect(tsoSegmentCount(sup, len, s.mss)).toBe(s.n);
        const out = new Uint8Array(2048);
        for (let k = 0; k < s.n; k++) {
          const sl = tsoSegment(sup, len, s.mss, k, out);
          expect(sl).toBe(frames[k]!.length);
          expect(Buffer.from(out.subarray(0, sl)).equals(Buffer.from(frames[k]!))).toBe(true);
          expect(checksumsValid(out, sl)).toBe(true);
        }
        expect(tsoSegment(sup, len, s.mss, s.n, out)).toBe(0); // past the last segment
      }),
      { numRuns: 300 },
    );
  });

  it("the super-frame's headers: IPv4 length and checksum of the whole, TCP checksum partial (the pseudo-header's sum)", () => {
    fc.assert(
      fc.property(stream, (d) => {
        const { sup, len, s } = build(d);
        const ip = 14;
        const l4 = s.tpl.l4Off;
        expect(get16(sup, ip + 2)).toBe(len - ip);
        expect(foldChecksum(onesComplementSum(sup, ip, l4 - ip))).toBe(0);
        // CHECKSUM_PARTIAL: the field holds the folded, uncomplemented pseudo-header sum
        const pseudo = ~foldChecksum(onesComplementSum(sup, ip + 12, 8, 6 + (len - l4))) & 0xffff;
        expect(get16(sup, l4 + 16)).toBe(pseudo);
        expect(get32(sup, l4 + 4)).toBe(s.seq >>> 0);
        expect(get16(sup, ip + 4)).toBe(s.ipId & 0xffff);
      }),
      { numRuns: 200 },
    );
  });

  it("FIN and PSH stay on the last segment only, CWR on the first only", () => {
    const { sup, len, s } = build({ mss: 100, ipId: 1, seq: 5, n: 4, pshLast: true, ts: false, fill: 0 });
    sup[s.tpl.l4Off + 13] = 0x10 | 0x08 | 0x01 | 0x80;
    const out = new Uint8Array(2048);
    const flags = [0, 1, 2, 3].map((k) => (tsoSegment(sup, len, s.mss, k, out), out[s.tpl.l4Off + 13]!));
    expect(flags).toEqual([0x10 | 0x80, 0x10, 0x10, 0x10 | 0x08 | 0x01]);
  });

  it("a frame that is not IPv4/TCP is not cut", () => {
    const udp = Template.udp(1000, 1, 2, 3, 4, 5, 6);
    const f = new Uint8Array(1000);
    const len = udp.copyTo(f);
    expect(tsoSegmentCount(f, len, 100)).toBe(0);
    expect(tsoSegment(f, len, 100, 0, new Uint8Array(2048))).toBe(0);
    expect(finishTsoFrame(f, len)).toBe(false);
  });
});

const MiB = 2 ** 20;

/** The device takes every pending TX packet, in order, with its header and bytes; then everything is reclaimed and the ring is free again. */
function drainTx(dev: VringDevice, drv: VringDriver, out: Uint8Array, pending: Array<{ frame: Uint8Array; gso: number }>, qs: number): void {
  for (const p of pending) {
    const n = dev.popTx(out);
    expect(n).toBe(p.frame.length);
    expect(Buffer.from(out.subarray(0, n)).equals(Buffer.from(p.frame))).toBe(true);
    expect(dev.gsoType).toBe(p.gso > 0 ? VIRTIO_NET_HDR_GSO_TCPV4 : 0);
    expect(dev.gsoSize).toBe(p.gso);
  }
  expect(dev.popTx(out)).toBe(-1);
  pending.length = 0;
  dev.publishUsed();
  drv.reclaim();
  expect(drv.free).toBe(qs);
}

describe("descriptor chains in the split virtqueue", () => {
  it("frames of any length up to a 64 KiB super-frame travel whole as chains; detach_buf returns every descriptor", () => {
    const sizes = fc.array(fc.record({ len: fc.integer({ min: 14, max: 20_000 }), gso: fc.nat({ max: 1448 }), reclaimAfter: fc.boolean() }), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(fc.constantFrom(64, 128, 256), fc.constantFrom(2048, 4096), sizes, (qs, bufSize, ops) => {
        const hv = new Hypervisor({ hostMemoryBytes: 512 * MiB, cpus: 1 });
        const g = hv.createGuest("g", 64 * MiB, 1);
        const L = vringLayout(0x10000, qs);
        const drv = new VringDriver(g, L, 0x100000, bufSize);
        const dev = new VringDevice(g, L);
        const out = new Uint8Array(32_768);
        const pending: Array<{ frame: Uint8Array; gso: number }> = [];
        for (const [i, op] of ops.entries()) {
          const frame = Uint8Array.from({ length: op.len }, (_, j) => (j * 7 + i) & 0xff);
          const need = drv.descsFor(op.len);
          const free = drv.free;
          const ok = drv.addOutbuf(frame, op.len, op.gso, op.gso > 0 ? 54 : 0, op.gso > 0 ? 34 : 0);
          expect(ok).toBe(need <= free);
          if (ok) {
            expect(drv.free).toBe(free - need);
            pending.push({ frame, gso: op.gso });
          }
          if (op.reclaimAfter || !ok) {
            // the device takes every chain, in order, with its header and bytes
            drainTx(dev, drv, out, pending, qs);
          }
        }
        // after everything is reclaimed the whole ring is one free list again: a chain of every descriptor fits
        for (const _ of pending) dev.popTx(out);
        dev.publishUsed();
        drv.reclaim();
        expect(drv.free).toBe(qs);
        expect(drv.addOutbuf(new Uint8Array(qs * bufSize - VIRTIO_NET_HDR_LEN), qs * bufSize - VIRTIO_NET_HDR_LEN)).toBe(true);
        expect(drv.free).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it("a super-frame's header asks for GSO_TCPV4 with NEEDS_CSUM at the TCP header, and its chain links by NEXT", () => {
    const hv = new Hypervisor({ hostMemoryBytes: 256 * MiB, cpus: 1 });
    const g = hv.createGuest("g", 64 * MiB, 1);
    const L = vringLayout(0x10000, 256);
    const drv = new VringDriver(g, L, 0x100000, 4096);
    expect(drv.addOutbuf(new Uint8Array(10_000), 10_000, 1448, 66, 34)).toBe(true);
    const hdr = 0x100000; // descriptor 0's buffer
    expect(g.read16(hdr) & 0xff).toBe(VIRTIO_NET_HDR_F_NEEDS_CSUM);
    expect(g.read16(hdr) >>> 8).toBe(VIRTIO_NET_HDR_GSO_TCPV4);
    expect([g.read16(hdr + 2), g.read16(hdr + 4), g.read16(hdr + 6), g.read16(hdr + 8)]).toEqual([66, 1448, 34, 16]);
    // three descriptors: 4096 + 4096 + the rest, NEXT on the first two
    const flags = [0, 1, 2].map((i) => g.read16(L.desc + 16 * i + 12));
    expect(flags).toEqual([VRING_DESC_F_NEXT, VRING_DESC_F_NEXT, 0]);
    const lens = [0, 1, 2].map((i) => g.read32(L.desc + 16 * i + 8));
    expect(lens).toEqual([4096, 4096, 10_012 - 8192]);
  });
});

describe("indirect descriptors (VIRTIO_RING_F_INDIRECT_DESC) in the TX virtqueue", () => {
  /** A TX queue of `qs` entries with indirect tables at 0x40000 and a pool of `qs` pages of `bufSize` at 0x100000. */
  function indirectQueue(qs: number, bufSize: number, maxEntries: number) {
    const hv = new Hypervisor({ hostMemoryBytes: 512 * MiB, cpus: 1 });
    const g = hv.createGuest("g", 64 * MiB, 1);
    const L = vringLayout(0x10000, qs);
    const ind = { tableGpa: 0x40000, maxEntries, pageGpa: 0x100000, pages: qs };
    expect(indirectTableBytes(qs, maxEntries)).toBeLessThanOrEqual(0x100000 - 0x40000);
    return { g, L, ind, drv: new VringDriver(g, L, 0x100000, bufSize, true, ind), dev: new VringDevice(g, L) };
  }

  it("a packet of several buffers takes one ring descriptor pointing at its table; vhost reads it whole; no page is in two packets; detach returns the descriptor and the pages", () => {
    const ops = fc.array(fc.record({ len: fc.integer({ min: 14, max: 65_000 }), gso: fc.nat({ max: 1448 }), reclaimAfter: fc.boolean() }), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(fc.constantFrom(32, 64, 256), ops, (qs, list) => {
        const bufSize = 4096;
        const maxEntries = Math.ceil((VIRTIO_NET_HDR_LEN + 65_000) / bufSize);
        const { g, L, drv, dev, ind } = indirectQueue(qs, bufSize, maxEntries);
        const out = new Uint8Array(70_000);
        const pending: Array<{ frame: Uint8Array; gso: number; pages: number[] }> = [];
        const drain = (): void => {
          drainTx(dev, drv, out, pending, qs);
          expect(drv.pagesFree).toBe(qs);
        };
        for (const [i, op] of list.entries()) {
          const frame = Uint8Array.from({ length: op.len }, (_, j) => (j * 5 + i) & 0xff);
          const need = drv.descsFor(op.len);
          const free = drv.free;
          const pages = drv.pagesFree;
          const head = g.read16(L.avail + 2);
          const ok = drv.addOutbuf(frame, op.len, op.gso, op.gso > 0 ? 54 : 0, op.gso > 0 ? 34 : 0);
          expect(ok).toBe(free >= 1 && pages >= need);
          if (ok) {
            // one ring descriptor, `need` pages
            expect(drv.free).toBe(free - 1);
            expect(drv.pagesFree).toBe(pages - need);
            const id = g.read16(L.avail + 4 + 2 * (head % qs));
            const d = L.desc + id * 16;
            let used: number[];
            if (need > 1) {
              expect(g.read16(d + 12)).toBe(VRING_DESC_F_INDIRECT);
              expect(g.read32(d + 8)).toBe(need * 16);
              const table = g.read64n(d);
              expect(table).toBe(ind.tableGpa + id * maxEntries * 16);
              used = Array.from({ length: need }, (_, j) => g.read64n(table + 16 * j));
              expect(Array.from({ length: need }, (_, j) => g.read16(table + 16 * j + 12))).toEqual(Array.from({ length: need }, (_, j) => (j < need - 1 ? VRING_DESC_F_NEXT : 0)));
            } else {
              expect(g.read16(d + 12)).toBe(0);
              used = [g.read64n(d)];
            }
            // every page from the pool, none shared with a packet in flight
            for (const a of used) {
              expect((a - ind.pageGpa) % bufSize).toBe(0);
              expect(a >= ind.pageGpa && a < ind.pageGpa + qs * bufSize).toBe(true);
              for (const p of pending) expect(p.pages).not.toContain(a);
            }
            pending.push({ frame, gso: op.gso, pages: used });
          }
          if (op.reclaimAfter || !ok) drain();
        }
        drain();
      }),
      { numRuns: 60 },
    );
  });

  it("a malformed table or address breaks the queue as vhost's vq_err does: counted, nothing taken, no exception", () => {
    const corrupt: Array<[string, (g: Guest, d: number, table: number) => void]> = [
      ["a length that is not whole descriptors", (g, d) => g.write32(d + 8, 40)],
      ["a zero length", (g, d) => g.write32(d + 8, 0)],
      ["an indirect entry in the table", (g, _d, t) => g.write16(t + 16 + 12, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT)],
      ["a next beyond the table", (g, _d, t) => g.write16(t + 14, 9)],
      ["a table that loops", (g, _d, t) => g.write16(t + 16 + 14, 0)],
      ["a table outside guest RAM", (g, d) => g.write64n(d, 64 * MiB - 16)],
      ["a buffer outside guest RAM", (g, _d, t) => g.write64n(t + 16, 64 * MiB + 4096)],
    ];
    for (const [what, spoil] of corrupt) {
      const { g, L, drv, dev } = indirectQueue(64, 4096, 17);
      expect(drv.addOutbuf(new Uint8Array(10_000), 10_000)).toBe(true); // three pages: an indirect head
      const d = L.desc + g.read16(L.avail + 4) * 16;
      if (what === "a table that loops") g.write16(g.read64n(d) + 2 * 16 + 12, VRING_DESC_F_NEXT); // the last links on, and the second back to the first
      spoil(g, d, g.read64n(d));
      expect(dev.popTx(new Uint8Array(20_000)), what).toBe(-1);
      expect(dev.broken, what).toBe(true);
      expect(dev.errors, what).toBe(1);
      expect(dev.pending(), what).toBe(0);
      // the well-formed packet behind it is not taken either
      expect(drv.addOutbuf(new Uint8Array(100), 100)).toBe(true);
      expect(dev.popTx(new Uint8Array(20_000)), what).toBe(-1);
    }
  });

  it("a run with virtio TSO sends its super-frames as indirect heads, and the same bytes as chains of ring descriptors", () => {
    const withTables = virtioTx(true, false);
    const chains = virtioTx(true, false, { virtio: { ...DEFAULT_RUN.virtio, tso: true, indirect: false } });
    expect(withTables.counters.indirectTx).toBeGreaterThan(0);
    expect(withTables.counters.indirectTx).toBe(withTables.counters.vhostTsoFrames);
    expect(chains.counters.indirectTx).toBeUndefined();
    for (const r of [withTables, chains]) {
      const c = r.conservation;
      expect(c.offered).toBe(c.delivered + c.inFlight + Object.values(c.dropped).reduce((a, b) => a + b, 0));
      expect(r.goodputGbps).toBeGreaterThan(9);
    }
  });
});

/** One VM sending bulk TCP through virtio, with the given offloads. */
function virtioTx(tso: boolean, gso: boolean, extra: Partial<RunParams> = {}, capture?: CaptureSet): ReturnType<typeof runOnce> {
  return runOnce(
    {
    ...DEFAULT_RUN,
    backend: "virtio",
    vms: 1,
    warmupUs: 1000,
    measureUs: 4000,
    traffic: { ...DEFAULT_RUN.traffic, direction: "tx" },
    host: { ...DEFAULT_RUN.host, guestGso: gso },
    virtio: { ...DEFAULT_RUN.virtio, tso },
    ...extra,
    },
    { capture },
  );
}

describe("a run with virtio TSO", () => {
  it("super-frames cross the guest, vhost, the bridge and the PF driver once; the wire carries their segments; every segment is accounted", () => {
    const r = virtioTx(true, false);
    const c = r.counters;
    const c0 = r.conservation;
    expect(c0.offered).toBe(c0.delivered + Object.values(c0.dropped).reduce((a, b) => a + b, 0) + c0.inFlight);
    expect(c0.inFlight).toBe(0);
    expect(c.tsoFrames).toBeGreaterThan(0);
    // every super-frame the guest made reached vhost, and the PF's TSO took each whole: the NIC cut them
    expect(c.vhostTsoFrames).toBe(c.tsoFrames);
    expect(c.hostTsoPackets).toBe(c.tsoFrames);
    expect(c.hostGsoSegments).toBeUndefined();
    // many segments per super-frame
    expect(c.tsoSegments! / c.tsoFrames!).toBeGreaterThan(10);
  });

  it("tshark reads the guest's port with super-frames (TCP checksum left partial) and the wire with MSS segments whose checksums verify", () => {
    const dir = mkdtempSync(join(tmpdir(), "pciov-tso-"));
    try {
      const cap = new CaptureSet();
      for (const p of ["wire", "vnet0"]) cap.add(p, new FileSink(join(dir, `${p}.pcap`)));
      const r = virtioTx(true, false, { warmupUs: 200, measureUs: 300 }, cap);
      cap.close();
      const rows = (p: string): string[][] => tsharkRows(join(dir, `${p}.pcap`));
      const counts = cap.counts();
      const wire = rows("wire");
      const vnet = rows("vnet0");
      expect(wire.length).toBe(counts.wire!.packets);
      expect(vnet.length).toBe(counts.vnet0!.packets);
      // the wire: every frame within the MTU, both checksums good (tshark's status 1)
      expect(wire.every(([len, ipOk, tcpOk]) => Number(len) <= 1514 && ipOk === "1" && tcpOk === "1")).toBe(true);
      // the guest's port: the super-frames as the guest handed them over, n × MSS of payload each
      const supers = vnet.filter(([len]) => Number(len) > 1514);
      expect(supers.length).toBe(r.counters.tsoFrames);
      expect(supers.every(([, ipOk, , tcpLen]) => ipOk === "1" && Number(tcpLen) % 1448 === 0)).toBe(true);
      expect(supers.reduce((a, [, , , tcpLen]) => a + Number(tcpLen) / 1448, 0)).toBe(r.counters.tsoSegments);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("with TSO one VM reaches the line on less guest and vhost CPU than with GSO alone or with neither", () => {
    const plain = virtioTx(false, false);
    const gso = virtioTx(false, true);
    const tso = virtioTx(true, false);
    expect(tso.goodputGbps).toBeGreaterThan(9.3);
    expect(tso.goodputGbps).toBeGreaterThan(gso.goodputGbps * 1.2);
    expect(tso.cpu.guest.busyCores).toBeLessThan(gso.cpu.guest.busyCores);
    expect(tso.cpu.guest.busyCores).toBeLessThan(plain.cpu.guest.busyCores);
    // without TSO vhost's worker is the bottleneck (a full core); with it, it has room
    const vhost = (r: typeof tso): number => (r.cpu as unknown as Record<string, { busyCores: number }>).vhost!.busyCores;
    expect(vhost(gso)).toBeGreaterThan(0.95);
    expect(vhost(tso)).toBeLessThan(0.9);
  });

});

/** A flow's frames as its sender sends them: MSS segments with consecutive IDs and sequence numbers, some PSH, some gaps, some pure ACKs. */
const flowSpec = fc.record({
  port: fc.nat({ max: 2 }),
  sport: fc.integer({ min: 1, max: 3 }),
  mss: fc.integer({ min: 200, max: 1448 }),
  events: fc.array(fc.constantFrom("seg", "seg", "seg", "seg", "psh", "short", "gap", "ack", "udp"), { minLength: 1, maxLength: 60 }),
});

function flowFrames(f: { port: number; sport: number; mss: number; events: string[] }, fi: number): Uint8Array[] {
  const src = 0x0a000001;
  const dst = 0x0a010001 + f.port;
  const data = Template.tcp(f.mss, true, 0x029900000001, 0x020000000100 + f.port, src, dst, 5000 + fi, 10000 + f.port);
  const short = Template.tcp(Math.max(8, f.mss >> 1), true, 0x029900000001, 0x020000000100 + f.port, src, dst, 5000 + fi, 10000 + f.port);
  const ack = Template.tcp(0, true, 0x029900000001, 0x020000000100 + f.port, src, dst, 5000 + fi, 10000 + f.port);
  const udp = Template.udp(200, 0x029900000001, 0x020000000100 + f.port, src, dst, 7000 + fi, 7000);
  let seq = 1000 * fi;
  let id = 17 * fi;
  const out: Uint8Array[] = [];
  const emit = (t: Template, flags: number): void => {
    t.setTcp(seq, 1, flags);
    if (t.payLen >= 8) t.setTag(fi, out.length);
    t.setIpId(id++);
    const b = new Uint8Array(t.len);
    t.copyTo(b);
    out.push(b);
    seq += t.payLen;
  };
  for (const e of f.events) {
    if (e === "seg") emit(data, 0x10);
    else if (e === "psh") emit(data, 0x18);
    else if (e === "short") emit(short, 0x10);
    else if (e === "gap") seq += f.mss;
    else if (e === "ack") emit(ack, 0x10);
    else {
      udp.setIpId(id++);
      const b = new Uint8Array(udp.len);
      udp.copyTo(b);
      out.push(b);
    }
  }
  return out;
}

describe("the host's GRO", () => {
  it("is transparent: its aggregates, cut back into segments, give every flow's frames in order, byte for byte, none lost or repeated", () => {
    fc.assert(
      fc.property(fc.array(flowSpec, { minLength: 1, maxLength: 5 }), fc.array(fc.nat({ max: 4 }), { maxLength: 400 }), fc.nat({ max: 40 }), (flows, picks, flushEvery) => {
        const frames = flows.map((f, i) => flowFrames(f, i));
        const next = frames.map(() => 0);
        // a flow: a TCP connection, or the UDP frames of one source (GRO orders frames within a flow, not across)
        const keyOf = (b: Uint8Array): string => `${b[23] === 17 ? "u" : "t"}${(b[34]! << 8) | b[35]!}`;
        const want = new Map<string, Uint8Array[]>();
        const got = new Map<string, Uint8Array[]>();
        const put = (m: Map<string, Uint8Array[]>, b: Uint8Array): void => void (m.get(keyOf(b)) ?? m.set(keyOf(b), []).get(keyOf(b))!).push(b);
        let maxIp = 0;
        const gro = new HostGro((buf, len, segs, mss, port) => {
          expect(port).toBe(buf[5]);
          if (segs === 1) return put(got, buf.slice(0, len));
          finishTsoFrame(buf, len);
          maxIp = Math.max(maxIp, len - 14);
          const seg = new Uint8Array(2048);
          expect(tsoSegmentCount(buf, len, mss)).toBe(segs);
          for (let k = 0; k < segs; k++) put(got, seg.slice(0, tsoSegment(buf, len, mss, k, seg)));
        });
        // interleave the flows as the picks say, then the rest in turn
        const order = [...picks, ...frames.flatMap((fr, i) => fr.map(() => i))];
        let n = 0;
        for (const p of order) {
          const i = p % frames.length;
          if (next[i]! >= frames[i]!.length) continue;
          const b = frames[i]![next[i]!++]!;
          put(want, b);
          parse(b, b.length);
          if (!gro.receive(b, b.length, b[5]!)) put(got, b.slice());
          if (flushEvery > 0 && ++n % flushEvery === 0) gro.flushAll();
        }
        gro.flushAll();
        expect(maxIp).toBeLessThanOrEqual(0xffff);
        expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
        for (const [k, fr] of want) {
          const g = got.get(k)!;
          expect(g.length).toBe(fr.length);
          for (const [j, b] of fr.entries()) expect(Buffer.from(g[j]!).equals(Buffer.from(b))).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe("mergeable RX buffers", () => {
  it("a packet of any length up to 64 KiB spans the buffers it needs and comes back whole, with its GSO size; every buffer is reposted", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ len: fc.integer({ min: 60, max: TSO_MAX_FRAME }), gso: fc.constantFrom(0, 1448), poll: fc.boolean() }), { minLength: 1, maxLength: 30 }), (pkts) => {
        const hv = new Hypervisor({ hostMemoryBytes: 512 * MiB, cpus: 1 });
        const g = hv.createGuest("g", 64 * MiB, 1);
        const L = vringLayout(0x10000, 256);
        const drv = new VringDriver(g, L, 0x100000, 2048);
        const dev = new VringDevice(g, L);
        dev.mergeable = true;
        while (drv.addInbuf());
        const out = new Uint8Array(TSO_MAX_FRAME);
        const sent: Array<{ f: Uint8Array; gso: number }> = [];
        const take = (): void => {
          dev.publishUsed();
          const want = sent.splice(0);
          let i = 0;
          drv.reclaimMerged(out, (len) => {
            const w = want[i++]!;
            expect(len).toBe(w.f.length);
            expect(Buffer.from(out.subarray(0, len)).equals(Buffer.from(w.f))).toBe(true);
            expect(drv.rxGsoSize).toBe(w.gso);
          }, Infinity);
          expect(i).toBe(want.length);
          while (drv.addInbuf());
          expect(drv.free).toBe(0);
        };
        for (const [j, p] of pkts.entries()) {
          const f = Uint8Array.from({ length: p.len }, (_, k) => (k * 31 + j) & 0xff);
          const needs = Math.ceil((VIRTIO_NET_HDR_LEN + p.len) / 2048);
          const avail = dev.pending();
          const ok = dev.pushRx(f, p.len, p.gso);
          expect(ok).toBe(needs <= avail);
          if (ok) sent.push({ f, gso: p.gso });
          if (p.poll || !ok) take();
        }
        take();
      }),
      { numRuns: 40 },
    );
  });
});

describe("a run with virtio TSO, the guest receiving", () => {
  const rx = (tso: boolean, capture?: CaptureSet) =>
    runOnce({ ...DEFAULT_RUN, backend: "virtio", vms: 1, warmupUs: 1000, measureUs: 4000, traffic: { ...DEFAULT_RUN.traffic, direction: "rx" }, virtio: { ...DEFAULT_RUN.virtio, tso } }, { capture });

  it("the host's GRO aggregates reach the guest whole and cross its stack once: one ACK each, the line on less CPU", () => {
    const off = rx(false);
    const on = rx(true);
    const c = on.counters;
    expect(on.conservation.offered).toBe(on.conservation.delivered + on.conservation.inFlight + Object.values(on.conservation.dropped).reduce((a, b) => a + b, 0));
    expect(on.conservation.inFlight).toBe(0);
    // every aggregate the host made reached the guest as one GSO packet
    expect(c.rxGsoPackets).toBeGreaterThan(0);
    expect(c.rxGsoPackets).toBe(c.hostGroAggregates);
    expect(c.rxGsoSegments).toBe(c.hostGroSegments);
    // ACKs: about one a segment pair without, one an aggregate with
    const acksPerSeg = (r: typeof on): number => r.countersInWindow.tcpAcks! / (r.mpps * r.windowUs); // data frames: Mpps × µs
    expect(acksPerSeg(off)).toBeGreaterThan(0.4);
    expect(acksPerSeg(on)).toBeLessThan(0.1);
    expect(off.goodputGbps).toBeLessThan(9);
    expect(on.goodputGbps).toBeGreaterThan(9.3);
    expect(on.cpu.guest.busyCores).toBeLessThan(off.cpu.guest.busyCores / 2);
  });

  it("tshark reads the bridge and the guest's port with the host's aggregates on them, frame counts as written", () => {
    const dir = mkdtempSync(join(tmpdir(), "pciov-gro-"));
    try {
      const cap = new CaptureSet();
      for (const p of ["wire", "bridge", "vnet0"]) cap.add(p, new FileSink(join(dir, `${p}.pcap`)));
      const r = rx(true, cap);
      cap.close();
      const lens = (p: string): number[] => tsharkRows(join(dir, `${p}.pcap`), ["frame.len"]).map(([l]) => Number(l));
      const counts = cap.counts();
      for (const p of ["wire", "bridge", "vnet0"]) expect(lens(p).length, p).toBe(counts[p]!.packets);
      expect(lens("wire").every((l) => l <= 1514)).toBe(true);
      // the guest's port sees the aggregates it received (and the frames that went up alone)
      expect(lens("vnet0").filter((l) => l > 1514).length).toBe(r.counters.rxGsoPackets! + r.counters.tsoFrames!);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("virtio TSO with a small ring", () => {
  it("guest to guest with 16-entry queues: a GSO packet larger than the receiver's ring is cut at its tap, one that fits waits for buffers; the run ends, every frame accounted", () => {
    for (const eventIdx of [false, true]) {
      const r = runOnce({ ...DEFAULT_RUN, backend: "virtio", vms: 2, warmupUs: 200, measureUs: 1000, traffic: { ...DEFAULT_RUN.traffic, direction: "g2g" }, virtio: { ...DEFAULT_RUN.virtio, eventIdx, queueSize: 16, tso: true, indirect: eventIdx } });
      const c = r.conservation;
      expect(c.offered).toBe(c.delivered + c.inFlight + Object.values(c.dropped).reduce((a, b) => a + b, 0));
      expect(c.inFlight).toBe(0);
      expect(r.goodputGbps).toBeGreaterThan(1);
      expect(r.counters.tsoFrames).toBeGreaterThan(0);
    }
  });
});

describe("a run with the VF's TSO", () => {
  const vfTx = (tso: boolean, gso: boolean, capture?: CaptureSet) =>
    runOnce({ ...DEFAULT_RUN, backend: "sriov", vms: 1, warmupUs: 1000, measureUs: 4000, traffic: { ...DEFAULT_RUN.traffic, direction: "tx" }, host: { ...DEFAULT_RUN.host, guestGso: gso }, sriov: { ...DEFAULT_RUN.sriov, tso } }, { capture });

  it("one VM sends the line on fewer guest cycles than with GSO alone, a doorbell per super-frame; every segment accounted", () => {
    const gso = vfTx(false, true);
    const tso = vfTx(true, false);
    const c = tso.conservation;
    expect(c.offered).toBe(c.delivered + c.inFlight + Object.values(c.dropped).reduce((a, b) => a + b, 0));
    expect(c.inFlight).toBe(0);
    expect(tso.goodputGbps).toBeGreaterThan(9.3);
    expect(tso.cpu.guest.busyCores).toBeLessThan(gso.cpu.guest.busyCores * 0.8);
    // one doorbell per super-frame (the ACKs it receives ring nothing): as many doorbells as super-frames, give or take the window's edges
    expect(tso.counters.tsoFrames).toBeGreaterThan(0);
    expect(Math.abs(tso.counters.doorbells! - tso.counters.tsoFrames!)).toBeLessThanOrEqual(2);
  });

  it("tshark reads the VF's port with the super-frames the guest queued and the wire with the NIC's segments, checksums good", () => {
    const dir = mkdtempSync(join(tmpdir(), "pciov-vftso-"));
    try {
      const cap = new CaptureSet();
      for (const p of ["wire", "vf0"]) cap.add(p, new FileSink(join(dir, `${p}.pcap`)));
      const r = runOnce({ ...DEFAULT_RUN, backend: "sriov", vms: 1, warmupUs: 200, measureUs: 300, traffic: { ...DEFAULT_RUN.traffic, direction: "tx" }, sriov: { ...DEFAULT_RUN.sriov, tso: true } }, { capture: cap });
      cap.close();
      const rows = (p: string): string[][] => tsharkRows(join(dir, `${p}.pcap`));
      const wire = rows("wire");
      const vfp = rows("vf0");
      expect(wire.length).toBe(cap.counts().wire!.packets);
      expect(wire.every(([len, ipOk, tcpOk]) => Number(len) <= 1514 && ipOk === "1" && tcpOk === "1")).toBe(true);
      const supers = vfp.filter(([len]) => Number(len) > 1514);
      expect(supers.length).toBe(r.counters.tsoFrames);
      expect(supers.reduce((a, [, , , tcpLen]) => a + Number(tcpLen) / 1448, 0)).toBe(r.counters.tsoSegments);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("modern-offloads.yaml", () => {
  it("with every device's TSO and the guests' GRO, one VM carries the line both ways on every backend but e1000 sending (its vCPU, which runs QEMU's emulation, saturates first); the VF's posted interrupts cost no exit; every frame accounted", () => {
    const sc = loadScenario(join(import.meta.dirname, "../../../sim/scenarios/modern-offloads.yaml"));
    const points = plan(sc, { vms: [1] });
    expect(points.length).toBe(8);
    for (const pt of points) {
      const r = runOnce(pt.params);
      const c = r.conservation;
      expect(c.offered, pt.series.name).toBe(c.delivered + c.inFlight + Object.values(c.dropped).reduce((a, b) => a + b, 0));
      if (pt.params.backend === "e1000" && pt.params.traffic.direction === "tx") expect(r.cpu.guest.busyCores, pt.series.name).toBeGreaterThan(0.95);
      else expect(r.goodputGbps, pt.series.name).toBeGreaterThan(9.3);
      if (pt.params.traffic.direction === "tx") expect(r.counters.tsoFrames, pt.series.name).toBeGreaterThan(0);
      if (pt.params.backend === "sriov") expect(Object.values(r.exitsPerSec).reduce((a, b) => a + b, 0), pt.series.name).toBe(0);
    }
  });
});
