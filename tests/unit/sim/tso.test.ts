/**
 * TCP segmentation offload through virtio (virtio.tso): the super-frame's format and its cutting
 * (segments byte for byte as the stack would have sent them one by one), descriptor chains in the
 * split virtqueue, and a run's accounting with TSO.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Hypervisor } from "../../../src/hypervisor-glue/hypervisor.js";
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_LEN, VRING_DESC_F_NEXT, VringDevice, VringDriver, vringLayout } from "../../../sim/backends/virtio/vring.js";
import { TSO_MAX_FRAME, Template, finishTsoFrame, tsoSegment, tsoSegmentCount } from "../../../sim/traffic/packets.js";
import { foldChecksum, onesComplementSum } from "../../../sim/pcap/frames.js";
import { DEFAULT_RUN, type RunParams } from "../../../sim/params.js";
import { runOnce } from "../../../sim/run.js";
import { CaptureSet } from "../../../sim/model/capture.js";
import { FileSink } from "../../../sim/pcap/sink.js";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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
  const tpl = Template.tcp(d.mss, d.ts, 0x020000000100, 0x029900000001, 0x0a010001, 0x0a000001, 10000, 5001);
  const maxN = Math.floor((0xffff - (tpl.payOff - 14)) / d.mss);
  const n = Math.min(d.n, maxN);
  const frames: Uint8Array[] = [];
  const sup = new Uint8Array(TSO_MAX_FRAME);
  for (let k = 0; k < n; k++) {
    const psh = k === n - 1 && d.pshLast;
    tpl.setTcp((d.seq + k * d.mss) % 2 ** 32, 0, 0x10 | (psh ? 0x08 : 0));
    tpl.setTag(3, k + d.fill);
    tpl.setIpId(d.ipId + k);
    const f = new Uint8Array(tpl.len);
    tpl.copyTo(f);
    frames.push(f);
    if (k === 0) tpl.copyTo(sup);
    else sup.set(tpl.buf.subarray(tpl.payOff, tpl.payOff + d.mss), tpl.payOff + k * d.mss);
  }
  const len = tpl.payOff + n * d.mss;
  sup[tpl.l4Off + 13] = 0x10 | (d.pshLast ? 0x08 : 0);
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
  it("super-frames cross the guest, vhost and the bridge once; the wire carries their segments; every segment is accounted", () => {
    const r = virtioTx(true, false);
    const c = r.counters;
    const c0 = r.conservation;
    expect(c0.offered).toBe(c0.delivered + Object.values(c0.dropped).reduce((a, b) => a + b, 0) + c0.inFlight);
    expect(c0.inFlight).toBe(0);
    expect(c.tsoFrames).toBeGreaterThan(0);
    // every super-frame the guest made reached vhost, and the host cut exactly the segments in them
    expect(c.vhostTsoFrames).toBe(c.tsoFrames);
    expect(c.hostGsoSegments).toBe(c.tsoSegments);
    // many segments per super-frame
    expect(c.hostGsoSegments! / c.tsoFrames!).toBeGreaterThan(10);
  });

  it("tshark reads the guest's port with super-frames (TCP checksum left partial) and the wire with MSS segments whose checksums verify", () => {
    const dir = mkdtempSync(join(tmpdir(), "pciov-tso-"));
    try {
      const cap = new CaptureSet();
      for (const p of ["wire", "vnet0"]) cap.add(p, new FileSink(join(dir, `${p}.pcap`)));
      const r = virtioTx(true, false, { warmupUs: 200, measureUs: 300 }, cap);
      cap.close();
      const rows = (p: string): string[][] =>
        execFileSync("tshark", ["-r", join(dir, `${p}.pcap`), "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-T", "fields", "-e", "frame.len", "-e", "ip.checksum.status", "-e", "tcp.checksum.status", "-e", "tcp.len"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
          .split("\n")
          .filter((l) => l.trim() !== "")
          .map((l) => l.split("\t"));
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

  it("TSO changes nothing for traffic without a TCP sender in the guest (the guest receiving)", () => {
    const rx = (tso: boolean) => runOnce({ ...DEFAULT_RUN, backend: "virtio", vms: 2, warmupUs: 500, measureUs: 2000, traffic: { ...DEFAULT_RUN.traffic, direction: "rx" }, virtio: { ...DEFAULT_RUN.virtio, tso } });
    const a = rx(false);
    const b = rx(true);
    expect(b.goodputGbps).toBe(a.goodputGbps);
    expect(b.conservation).toEqual(a.conservation);
    expect(b.counters.tsoFrames).toBe(0);
  });
});
