/**
 * e1000's TSO (e1000.tso): the guest driver's TCP/IP context descriptor and data descriptors with
 * TSE, the emulation's segments, and completion on the packet's last descriptor; then whole runs.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Hypervisor } from "../../../../src/hypervisor-glue/hypervisor.js";
import type { HostNet } from "../../../../sim/backends/common/host-net.js";
import { E1000Device } from "../../../../sim/backends/e1000/device.js";
import { E1000GuestNic } from "../../../../sim/backends/e1000/backend.js";
import { GUEST_BAR_GPA } from "../../../../sim/backends/types.js";
import { DEFAULT_RUN } from "../../../../sim/params.js";
import { runOnce, type RunResult } from "../../../../sim/run.js";
import { TSO_MAX_FRAME } from "../../../../sim/traffic/packets.js";
import { tcpStream } from "../tcp-stream.js";

const MiB = 2 ** 20;
const ENTRIES = 256;
const BUF = 2048;

/** A guest with the emulated device trapped at its BAR and the Linux-like driver over it; the host switch replaced by nothing. */
function rig() {
  const hv = new Hypervisor({ hostMemoryBytes: 256 * MiB, cpus: 1 });
  const g = hv.createGuest("g", 32 * MiB, 1);
  const dev = new E1000Device(g);
  g.mapTrap("e1000", GUEST_BAR_GPA, 0x20000, dev, "mmio");
  const net = { flushTx: () => {} } as unknown as HostNet;
  const L = { txRing: 0x100000, rxRing: 0x101000, txBufs: 0x200000, rxBufs: 0x200000 + ENTRIES * BUF, entries: ENTRIES, bufSize: BUF };
  const nic = new E1000GuestNic(g, 0, L, net, { txNs: 1, rxNs: 1, txCleanNs: 1 }, () => 0, undefined, "e1000-0", TSO_MAX_FRAME);
  nic.kernel = { onInterrupt: () => {} } as unknown as E1000GuestNic["kernel"];
  nic.up();
  const segs: Uint8Array[] = [];
  const packets: Array<{ descs: number; bytes: number }> = [];
  dev.onTxSegment = (f, len) => void segs.push(f.slice(0, len));
  dev.onTsoPacket = (descs, bytes) => void packets.push({ descs, bytes });
  return { g, dev, nic, segs, packets, L };
}

/** The frames a sender sends one by one, and the super-frame made of them (tcp-stream.ts). */
const stream = (mss: number, n: number, seq: number, ipId: number, psh: boolean) => tcpStream({ mss, n, seq, ipId, psh, ts: true });

describe("e1000 TSO in the emulated device", () => {
  it("the emulation's segments are byte for byte the frames the stack would have sent one by one; completion is seen on the packet's last descriptor", () => {
    fc.assert(
      fc.property(fc.integer({ min: 64, max: 1448 }), fc.integer({ min: 2, max: 45 }), fc.nat({ max: 0xffff_ffff }), fc.nat({ max: 0xffff }), fc.boolean(), (mss, n0, seq, ipId, psh) => {
        const n = Math.min(n0, Math.floor((0xffff - 52) / mss));
        const { frames, pkt } = stream(mss, n, seq, ipId, psh);
        const r = rig();
        expect(r.nic.canXmit()).toBe(true);
        expect(r.nic.xmit(pkt, pkt.length, mss)).toBe(true);
        r.nic.flush();
        expect(r.segs.length).toBe(n);
        for (let k = 0; k < n; k++) expect(Buffer.from(r.segs[k]!).equals(Buffer.from(frames[k]!))).toBe(true);
        // one TCP/IP context descriptor and a data descriptor per 2 KiB buffer
        expect(r.packets).toEqual([{ descs: 1 + Math.ceil(pkt.length / BUF), bytes: pkt.length }]);
        expect(r.dev.tsoMalformed).toBe(0);
      }),
      { numRuns: 80 },
    );
  });

  it("the descriptors are Linux e1000_tso's: DD only on the last, and the driver reclaims the whole packet from it", () => {
    const { pkt } = stream(1448, 20, 1, 1, false);
    const r = rig();
    expect(r.nic.xmit(pkt, pkt.length, 1448)).toBe(true);
    const nd = 1 + Math.ceil(pkt.length / BUF);
    const desc = (i: number): number => r.L.txRing + i * 16;
    expect(r.g.read8(desc(0) + 11)).toBe(0x27); // TUCMD: DEXT | TSE | IP | TCP
    expect([r.g.read8(desc(0)), r.g.read8(desc(0) + 4), r.g.read8(desc(0) + 13), r.g.read16(desc(0) + 14)]).toEqual([14, 34, 66, 1448]);
    expect(r.g.read8(desc(1) + 13)).toBe(0x03); // POPTS: IXSM | TXSM on the first data descriptor
    r.nic.flush();
    for (let i = 0; i < nd; i++) expect(r.g.read8(desc(i) + 12) & 1, `descriptor ${i}`).toBe(i === nd - 1 ? 1 : 0);
    // fill the ring: the driver stops while a largest super-frame would not fit, and goes on once
    // the device has completed the packets (their last descriptors' DD)
    const q = rig();
    let queued = 0;
    while (q.nic.xmit(pkt, pkt.length, 1448)) queued++;
    expect(queued).toBe(Math.floor((ENTRIES - 1) / nd));
    expect(q.nic.canXmit()).toBe(false);
    q.nic.flush();
    expect(q.segs.length).toBe(queued * 20);
    expect(q.nic.canXmit()).toBe(true);
  });

  it("a context that cannot describe the packet is dropped and counted, and the ring goes on", () => {
    const { pkt } = stream(1000, 5, 0, 0, false);
    const r = rig();
    let dropped = 0;
    r.dev.onTsoMalformed = (n) => void (dropped += n);
    expect(r.nic.xmit(pkt, pkt.length, 1000)).toBe(true);
    r.g.write8(r.L.txRing + 13, 0); // HDRLEN 0
    r.nic.flush();
    expect(r.segs.length).toBe(0);
    expect(r.dev.tsoMalformed).toBe(1);
    expect(dropped).toBe(1);
    const ok = stream(500, 3, 0, 0, false);
    expect(r.nic.xmit(ok.pkt, ok.pkt.length, 500)).toBe(true);
    r.nic.flush();
    expect(r.segs.length).toBe(3);
  });
});

describe("a run with e1000's TSO", () => {
  const run = (tso: boolean, gso: boolean): RunResult => runOnce({ ...DEFAULT_RUN, backend: "e1000", vms: 1, warmupUs: 1000, measureUs: 4000, traffic: { ...DEFAULT_RUN.traffic, direction: "tx" }, host: { ...DEFAULT_RUN.host, guestGso: gso }, e1000: { tso } });

  it("one VM sends more than with GSO alone, with a TDT trap per super-frame; every segment accounted", () => {
    const gso = run(false, true);
    const tso = run(true, false);
    const c = tso.conservation;
    expect(c.offered).toBe(c.delivered + c.inFlight + Object.values(c.dropped).reduce((a, b) => a + b, 0));
    expect(c.inFlight).toBe(0);
    expect(tso.counters.qemuTsoPackets).toBe(tso.counters.tsoFrames);
    expect(tso.counters.qemuTsoSegments).toBe(tso.counters.tsoSegments);
    expect(tso.goodputGbps).toBeGreaterThan(gso.goodputGbps);
    const trapsPerFrame = (r: RunResult): number => r.counters.registerTraps! / (r.mpps * r.windowUs);
    expect(trapsPerFrame(tso)).toBeLessThan(trapsPerFrame(gso));
  });
});
