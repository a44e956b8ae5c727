/** Captures of simulated interfaces are pcap files tshark reads, with the exact frames and bytes. */
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CaptureSet } from "../../../sim/model/capture.js";
import { FileSink } from "../../../sim/pcap/sink.js";
import { runOnce, type RunResult } from "../../../sim/run.js";
import type { BackendName, RunParams } from "../../../sim/params.js";
import { small } from "./helpers.js";
import { Template, vmMac } from "../../../sim/traffic/packets.js";
import { PcapWriter } from "../../../sim/pcap/writer.js";
import { PcapFrames } from "../../../sim/traffic.js";

function tshark(file: string): { frames: number; bytes: number; udp: number } {
  const out = execFileSync("tshark", ["-r", file, "-T", "fields", "-e", "frame.len", "-e", "udp.srcport"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const lines = out.split("\n").filter((l) => l.trim() !== "");
  let bytes = 0;
  let udp = 0;
  for (const l of lines) {
    const [len, sport] = l.split("\t");
    bytes += Number(len);
    if (sport !== undefined && sport !== "") udp++;
  }
  return { frames: lines.length, bytes, udp };
}

/** Run `fn` with a fresh temporary directory, removed afterwards whatever happens. */
function inTempDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "pciov-cap-"));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Run `p` with the wire captured to `file`: the run's result and the frames captured. */
function runCapturingWire(file: string, p: RunParams): { result: RunResult; packets: number } {
  const cap = new CaptureSet();
  cap.add("wire", new FileSink(file));
  const result = runOnce(p, { capture: cap });
  cap.close();
  return { result, packets: cap.counts().wire!.packets };
}

const PORTS: Record<BackendName, string[]> = {
  sriov: ["wire", "vf0", "vf1"],
  "xen-pv": ["wire", "vif0", "vif1", "bridge"],
  virtio: ["wire", "vnet0", "vnet1", "bridge"],
  e1000: ["wire", "e1000-0", "e1000-1", "bridge"],
};

describe("packet capture", () => {
  for (const backend of Object.keys(PORTS) as BackendName[])
    it(`${backend}: every captured port reads back in tshark with the frame count and bytes written`, () => {
      inTempDir((dir) => {
        const cap = new CaptureSet();
        for (const p of PORTS[backend]) cap.add(p, new FileSink(join(dir, `${p}.pcap`)));
        const r = runOnce(small({ backend, direction: "tx", vms: 2, frameBytes: 300, measureUs: 200 }), { capture: cap });
        cap.close();
        const counts = cap.counts();
        for (const p of PORTS[backend]) {
          const t = tshark(join(dir, `${p}.pcap`));
          expect(t.frames, p).toBe(counts[p]!.packets);
          expect(t.bytes, p).toBe(counts[p]!.bytes);
          expect(t.frames, p).toBeGreaterThan(0);
          expect(t.udp, p).toBe(t.frames);
        }
        // guest TX with no drops: the wire saw every frame the guests sent, each 296 B (300 with FCS)
        expect(r.conservation.dropped).toEqual({});
        expect(counts.wire!.packets).toBe(r.conservation.delivered);
        expect(counts.wire!.bytes).toBe(296 * r.conservation.delivered);
        expect(counts[PORTS[backend][1]!]!.packets + counts[PORTS[backend][2]!]!.packets).toBe(r.conservation.offered);
      });
    });

  for (const backend of ["xen-pv", "virtio", "e1000"] as const)
    it(`${backend}: frames from the wire carry the guest's MAC and the host bridge forwards them unchanged to that guest's port`, () => {
      inTempDir((dir) => {
        const cap = new CaptureSet();
        const ports = PORTS[backend];
        for (const p of ports) cap.add(p, new FileSink(join(dir, `${p}.pcap`)));
        const r = runOnce(small({ backend, direction: "rx", vms: 2, frameBytes: 300, measureUs: 200, rateMbps: 200 }), { capture: cap });
        cap.close();
        const dsts = (port: string): string[] =>
          execFileSync("tshark", ["-r", join(dir, `${port}.pcap`), "-T", "fields", "-e", "eth.dst"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
            .split("\n")
            .filter((l) => l.trim() !== "");
        const onWire = dsts("wire");
        const guestMacs = [0, 1].map((vm) => vmMac(vm).toString(16).padStart(12, "0").replace(/(..)(?!$)/g, "$1:"));
        expect(new Set(onWire)).toEqual(new Set(guestMacs));
        expect(dsts("bridge")).toEqual(onWire);
        for (const vm of [0, 1]) expect(new Set(dsts(ports[vm + 1]!))).toEqual(new Set([guestMacs[vm]]));
        expect(r.conservation.dropped).toEqual({});
        expect(r.counters.hostForwarded).toBe(onWire.length);
      });
    });

  it("a capture replays as a traffic source (pcap kind), into the guests and out of them", () => {
    inTempDir((dir) => {
      const file = join(dir, "src.pcap");
      const { packets } = runCapturingWire(file, small({ backend: "sriov", direction: "tx", vms: 2, frameBytes: 200, measureUs: 100 }));
      expect(tshark(file).frames).toBe(packets);
      // the same frames through libpcap (the npm package pcap: µs timestamps) and through pciov's reader (ns)
      const viaLibpcap = new PcapFrames(file, "libpcap");
      const viaPciov = new PcapFrames(file, "pciov");
      expect(viaLibpcap.count).toBe(packets);
      expect(viaLibpcap.count).toBe(viaPciov.count);
      expect(viaLibpcap.data).toEqual(viaPciov.data);
      expect(viaLibpcap.len).toEqual(viaPciov.len);
      for (let i = 0; i < viaPciov.count; i++) expect(Math.abs(viaLibpcap.relNs[i]! - viaPciov.relNs[i]!)).toBeLessThan(1000);
      for (const backend of Object.keys(PORTS) as BackendName[])
        for (const direction of ["rx", "tx"] as const) {
          const r = runOnce(small({ backend, direction, kind: "pcap", vms: 3, measureUs: 300, traffic: { pcapFile: file, pcapReader: backend === "sriov" ? "pciov" : "libpcap" } }));
          const dropped = Object.values(r.conservation.dropped).reduce((a, b) => a + b, 0);
          expect(r.conservation.offered, `${backend} ${direction}`).toBeGreaterThan(100);
          expect(r.conservation.offered).toBe(r.conservation.delivered + dropped);
          expect(r.conservation.inFlight).toBe(0);
        }
      // with rateMbps the capture replays at that rate per VM, frames back to back (preamble and gap
      // counted, as tcpreplay --mbps), not at its own timing; jumbo frames through every backend
      const jumbo = join(dir, "jumbo.pcap");
      runCapturingWire(jumbo, small({ backend: "sriov", direction: "tx", vms: 1, frameBytes: 9018, measureUs: 100 }));
      for (const backend of Object.keys(PORTS) as BackendName[])
        for (const direction of ["rx", "tx"] as const) {
          const at = (rateMbps: number) =>
            runOnce(small({ backend, direction, kind: "pcap", vms: 2, measureUs: 5000, rateMbps, traffic: { pcapFile: jumbo, pcapReader: "pciov" } }));
          const slow = at(1000);
          const fast = at(3000);
          const l2 = (mbps: number) => (2 * mbps * 9018) / (9018 + 20) / 1000; // Gb/s of frames, FCS in, preamble and gap out
          // within 2 %: a frame more or less in the 5 ms window is 0.7 % at 1 Gb/s
          expect(Math.abs(slow.gbps / l2(1000) - 1), `${backend} ${direction} ${slow.gbps}`).toBeLessThan(0.02);
          expect(Math.abs(fast.gbps / l2(3000) - 1), `${backend} ${direction} ${fast.gbps}`).toBeLessThan(0.02);
          expect(slow.conservation.inFlight).toBe(0);
        }
    });
  });

  it("a replayed capture's frames are timed end to end (their sequence in the IPv4 ID) and the run reports the capture's mean frame", () => {
    inTempDir((dir) => {
      const src = join(dir, "src.pcap");
      runCapturingWire(src, small({ backend: "sriov", direction: "tx", vms: 2, frameBytes: 200, measureUs: 100 }));
      for (const backend of Object.keys(PORTS) as BackendName[])
        for (const direction of ["rx", "tx"] as const) {
          const what = `${backend} ${direction}`;
          const rate = { rateMbps: 300 };
          const replay = runOnce(small({ backend, direction, kind: "pcap", vms: 2, measureUs: 1000, ...rate, traffic: { pcapFile: src, pcapReader: "pciov" } }));
          expect(replay.traffic.frameBytes, what).toBe(200);
          // every data frame delivered in the window has its latency: none is untraced
          const frames = Math.round(replay.mpps * replay.windowUs);
          expect(frames, what).toBeGreaterThan(100);
          expect(replay.latencyUs.samples, what).toBe(frames);
          // frames of the same size made from a template (tagged in their payload) at the same rate:
          // where nothing looks at the frames' addresses and ports the two runs are the same, to the
          // nanosecond; a host's PF spreads received frames over its queues by their hash, so behind
          // a host bridge the replay's different addresses give other timing
          const tagged = runOnce(small({ backend, direction, kind: "udp", vms: 2, frameBytes: 200, measureUs: 1000, ...rate }));
          expect(replay.latencyUs.p50, what).toBeGreaterThan(0);
          if (backend === "sriov" || direction === "tx") {
            expect(replay.latencyUs, what).toEqual(tagged.latencyUs);
          } else {
            expect(replay.latencyUs.p50 / tagged.latencyUs.p50, what).toBeGreaterThan(0.5);
            expect(replay.latencyUs.p50 / tagged.latencyUs.p50, what).toBeLessThan(2);
          }
        }
      // on the wire the replayed frames carry each VM's sequence in their IPv4 ID, the IPv4 and UDP
      // checksums still right (tshark verifies both)
      const out = join(dir, "out.pcap");
      const replayed = runCapturingWire(out, small({ backend: "sriov", direction: "tx", kind: "pcap", vms: 2, measureUs: 300, rateMbps: 300, traffic: { pcapFile: src, pcapReader: "pciov" } }));
      const rows = execFileSync("tshark", ["-r", out, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-T", "fields", "-e", "ip.src", "-e", "ip.id", "-e", "ip.checksum.status", "-e", "udp.checksum.status"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => l.split("\t"));
      expect(rows.length).toBe(replayed.packets);
      const ids = new Map<string, number[]>();
      for (const [ip, id, ipOk, udpOk] of rows) {
        expect([ipOk, udpOk]).toEqual(["1", "1"]); // 1: good
        ids.set(ip!, [...(ids.get(ip!) ?? []), Number(id)]);
      }
      expect(ids.size).toBe(2);
      for (const seq of ids.values()) expect(seq).toEqual(seq.map((_, i) => i));

      // IPv4 fragments keep the ID that joins them to their datagram's other fragments (and go untimed)
      const frag = join(dir, "frag.pcap");
      const w = new PcapWriter(new FileSink(frag));
      for (let i = 0; i < 40; i++) {
        const t = Template.udp(196, 0x020000000001, 0x020000000002, 0x0a000001, 0x0a000002, 5000, 6000);
        t.setIpId(0x4000 + i);
        if (i % 4 === 0) t.set16(t.ipOff + 6, 0x2000); // more fragments
        w.writePacket(i * 10_000, t.buf, 0, t.len);
      }
      w.close();
      const fr = runCapturingWire(join(dir, "frag-out.pcap"), small({ backend: "sriov", direction: "tx", kind: "pcap", vms: 1, measureUs: 300, rateMbps: 300, traffic: { pcapFile: frag, pcapReader: "pciov" } })).result;
      const out2 = new PcapFrames(join(dir, "frag-out.pcap"), "pciov");
      let whole = 0;
      for (let i = 0; i < out2.count; i++) {
        const o = out2.off[i]!;
        const id = (out2.data[o + 18]! << 8) | out2.data[o + 19]!;
        const mf = (out2.data[o + 20]! & 0x20) !== 0;
        if (mf) expect(id - 0x4000).toBe(i % 40); // the capture's own ID (frames go out in the capture's order)
        else expect(id).toBe(whole++);
      }
      expect(whole).toBe(out2.count - Math.ceil(out2.count / 4));
      const timed = fr.latencyUs.samples / Math.round(fr.mpps * fr.windowUs);
      expect(timed).toBeGreaterThan(0.7);
      expect(timed).toBeLessThan(0.8);
    });
  });
});
