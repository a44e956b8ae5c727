import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeFrame, formatIpv4 } from "../../../sim/pcap/frames.js";
import { decodeUdpWithNodePcap, nodePcapStatus, probeNodePcap, readWithNodePcap, readWithNodePcapSync } from "../../../sim/pcap/libpcap.js";
import { FileSink } from "../../../sim/pcap/sink.js";
import { PcapngWriter, PcapWriter } from "../../../sim/pcap/writer.js";
import { isIovError } from "../../../src/errors.js";
import { makeTraffic, type TestPacket } from "./pcap-helpers.js";

/**
 * Validation by independent tools: Wireshark's tshark and capinfos read the files our writer produced
 * and check the IPv4/UDP/TCP checksums our frame builders computed. These tests fail (they do not skip)
 * when the tools are missing.
 */

const BASE_NS = 1_700_000_000_123_456_789n;
const COUNT = 1200;
const dir = mkdtempSync(join(tmpdir(), "pciov-tools-"));
const pcapPath = join(dir, "traffic.pcap");
const pcapngPath = join(dir, "traffic.pcapng");
const IFACES = ["vf0", "vif1.0", "tap0"];
let traffic: TestPacket[] = [];

function tool(bin: string, args: string[]): string {
  try {
    return execFileSync(bin, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === "ENOENT")
      throw new Error(`${bin} is required by this test but was not found on PATH (Debian: apt-get install tshark, which also provides capinfos)`);
    throw new Error(`${bin} ${args.join(" ")} failed: ${err.message}\n${err.stderr ?? ""}`);
  }
}

function epoch(tsNs: number): string {
  const t = BASE_NS + BigInt(tsNs);
  return `${t / 1_000_000_000n}.${(t % 1_000_000_000n).toString().padStart(9, "0")}`;
}

beforeAll(() => {
  traffic = makeTraffic(COUNT, 2024, IFACES.length);
  const classic = new PcapWriter(new FileSink(pcapPath), { baseTimeNs: BASE_NS });
  const ng = new PcapngWriter(new FileSink(pcapngPath), { baseTimeNs: BASE_NS });
  for (const name of IFACES) ng.addInterface({ name });
  for (const p of traffic) {
    classic.writePacket(p.tsNs, p.frame);
    ng.writePacket(p.iface, p.tsNs, p.frame);
  }
  classic.close();
  ng.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("tshark and capinfos read our captures", () => {
  for (const [label, path] of [
    ["classic ns pcap", pcapPath],
    ["pcapng (3 interfaces, if_tsresol=9)", pcapngPath],
  ] as const) {
    it(`tshark: ${label} has every frame, exact ns timestamps and Good IPv4/UDP/TCP checksums`, () => {
      const out = tool("tshark", [
        "-r", path,
        "-o", "ip.check_checksum:TRUE",
        "-o", "udp.check_checksum:TRUE",
        "-o", "tcp.check_checksum:TRUE",
        "-T", "fields", "-E", "separator=,",
        "-e", "frame.number", "-e", "frame.len", "-e", "frame.time_epoch", "-e", "frame.interface_name",
        "-e", "vlan.id", "-e", "ip.checksum.status", "-e", "udp.checksum.status", "-e", "tcp.checksum.status",
        "-e", "udp.srcport", "-e", "tcp.srcport",
        "-o", "tcp.relative_sequence_numbers:FALSE", "-E", "aggregator=;", "-e", "tcp.options.sack_le", "-e", "tcp.options.sack_re",
      ]);
      const rows = out.trim().split("\n").map((l) => l.split(","));
      expect(rows).toHaveLength(COUNT);
      const ng = path === pcapngPath;
      rows.forEach((r, i) => {
        const p = traffic[i]!;
        const [num, len, time, ifname, vlan, ipCk, udpCk, tcpCk, udpSport, tcpSport, sackLe, sackRe] = r;
        // SACK blocks decoded from the TCP options, edges as written
        expect({ i, le: sackLe, re: sackRe }).toEqual({ i, le: (p.sack ?? []).map((b) => b[0]).join(";"), re: (p.sack ?? []).map((b) => b[1]).join(";") });
        expect({ i, num, len, time, ifname, vlan }).toEqual({
          i,
          num: String(i + 1),
          len: String(p.frame.length),
          time: epoch(p.tsNs),
          ifname: ng ? IFACES[p.iface] : "",
          vlan: p.vlanId >= 0 ? String(p.vlanId) : "",
        });
        expect({ i, ipCk, l4: p.proto === "udp" ? udpCk : tcpCk }).toEqual({ i, ipCk: "1", l4: "1" }); // 1 = Good
        expect(p.proto === "udp" ? udpSport : tcpSport).toBe(String(p.srcPort));
      });
    });

    it(`capinfos: ${label} has the exact packet count and data size`, () => {
      const out = tool("capinfos", ["-M", "-t", "-c", "-d", path]);
      const field = (name: string): string => {
        const m = new RegExp(`^${name}:\\s+(.+)$`, "m").exec(out);
        if (m === null) throw new Error(`capinfos printed no "${name}" line:\n${out}`);
        return m[1]!.trim();
      };
      expect(field("File type")).toBe(path === pcapngPath ? "pcapng" : "nsecpcap");
      expect(field("Number of packets")).toBe(String(COUNT));
      expect(field("Data size")).toBe(`${traffic.reduce((s, p) => s + p.frame.length, 0)} bytes`);
    });
  }
});

describe("npm pcap (node_pcap / libpcap) reads our captures", () => {
  const status = nodePcapStatus();
  it("a missing module is reported with the reason and how to install it", () => {
    const s = probeNodePcap("pcap-module-that-does-not-exist");
    expect(s.available).toBe(false);
    if (!s.available) {
      expect(s.reason).toContain("Cannot find module");
      expect(s.reason).toContain("npm install --save-optional pcap@3.1.0");
    }
  });

  if (status.available) {
    it(`reads both formats through ${status.libVersion}: counts, lengths, µs timestamps, decoded UDP headers`, async () => {
      for (const path of [pcapPath, pcapngPath]) {
        const pkts = await readWithNodePcap(path);
        expect(pkts).toHaveLength(COUNT);
        pkts.forEach((q, i) => {
          const p = traffic[i]!;
          const t = BASE_NS + BigInt(p.tsNs);
          expect(q.linkType).toBe("LINKTYPE_ETHERNET");
          expect([q.capturedLength, q.originalLength]).toEqual([p.frame.length, p.frame.length]);
          expect(q.data).toEqual(p.frame);
          // libpcap opens files at µs precision and truncates.
          expect([q.tsSec, q.tsUsec]).toEqual([Number(t / 1_000_000_000n), Number((t % 1_000_000_000n) / 1000n)]);
          if (p.proto === "udp") {
            const u = decodeUdpWithNodePcap(q);
            expect(u).toEqual({
              vlanId: p.vlanId >= 0 ? p.vlanId : null,
              saddr: formatIpv4(0x0a000001),
              daddr: formatIpv4(0x0a000002),
              sport: p.srcPort,
              dport: p.dstPort,
              length: 8 + decodeFrame(p.frame)!.l4!.payloadLength,
            });
          } else expect(decodeUdpWithNodePcap(q)).toBeNull();
        });
        // A BPF filter runs inside libpcap: tagged and untagged UDP.
        const udp = await readWithNodePcap(path, { filter: "udp or (vlan and udp)" });
        expect(udp).toHaveLength(traffic.filter((p) => p.proto === "udp").length);
      }
      const junk = join(dir, "junk.pcap");
      writeFileSync(junk, "this is not a capture file at all");
      await expect(readWithNodePcap(junk)).rejects.toSatisfy((e: unknown) => isIovError(e, "EINVAL"));
    });

    it("the synchronous read (a simulation's traffic source) returns exactly what the asynchronous one does", async () => {
      for (const path of [pcapPath, pcapngPath]) {
        const sync = readWithNodePcapSync(path);
        expect(sync).toHaveLength(COUNT);
        expect(sync).toEqual(await readWithNodePcap(path));
        expect(readWithNodePcapSync(path, { filter: "tcp or (vlan and tcp)" })).toHaveLength(traffic.filter((p) => p.proto === "tcp").length);
      }
      expect(() => readWithNodePcapSync(join(dir, "junk.pcap"))).toThrow(/libpcap cannot read/);
    });
  } else {
    it(`reports clearly that node_pcap is unavailable (${status.reason})`, async () => {
      expect(status.reason).toContain("npm install --save-optional pcap@3.1.0");
      await expect(readWithNodePcap(pcapPath)).rejects.toSatisfy((e: unknown) => isIovError(e, "ENOSYS"));
    });
  }
});
