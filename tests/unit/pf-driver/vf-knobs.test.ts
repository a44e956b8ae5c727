import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { IovError, isIovError } from "../../../src/errors.js";
import type { VfPortConfig } from "../../../src/nic/port-config.js";
import { defaultVfPortConfig, parseMac } from "../../../src/nic/port-config.js";
import {
  formatVfLine,
  formatVfStats,
  ipLinkSetVf,
  parseIpLinkVfArgs,
  renderIpLinkShow,
  renderVfInfo,
} from "../../../src/pf-driver/vf-knobs.js";

const vfs = (n = 4): VfPortConfig[] => Array.from({ length: n }, () => defaultVfPortConfig());
const args = (s: string): string[] => s.split(/\s+/).filter((t) => t.length > 0);
const set = (cur: VfPortConfig[], s: string, linkSpeedMbps?: number): VfPortConfig[] =>
  ipLinkSetVf(cur, args(s), linkSpeedMbps === undefined ? {} : { linkSpeedMbps });

/** The exact line Linux prints, and the error code. */
function errorOf(cur: VfPortConfig[], s: string, linkSpeedMbps?: number): { code: string; text: string; source: unknown } {
  try {
    set(cur, s, linkSpeedMbps);
  } catch (e) {
    if (!(e instanceof IovError)) throw e;
    return { code: e.code, text: String(e.detail["stderr"]), source: e.detail["source"] };
  }
  throw new Error(`no error for: ${s}`);
}
const text = (s: string, cur = vfs()): string => errorOf(cur, s).text;

describe("ip link set DEV vf N: every knob", () => {
  it("mac, vlan/qos/proto, spoofchk, query_rss, state, trust", () => {
    const out = set(vfs(), "vf 1 mac 52:54:00:12:34:56 vlan 10 qos 2 spoofchk off query_rss on state disable trust on");
    expect(out[1]).toEqual({
      ...defaultVfPortConfig(),
      mac: parseMac("52:54:00:12:34:56"),
      vlan: 10,
      qos: 2,
      spoofchk: false,
      queryRss: true,
      linkState: "disable",
      trust: true,
    });
    expect(out[0]).toEqual(defaultVfPortConfig());
    expect(set(vfs(), "vf 0 vlan 100 proto 802.1ad")[0]).toMatchObject({ vlan: 100, qos: 0, proto: "802.1ad" });
    expect(set(vfs(), "vf 0 vlan 100 qos 7 proto 802.1Q")[0]).toMatchObject({ vlan: 100, qos: 7, proto: "802.1Q" });
    expect(set(vfs(), "vf 0 vlan 0")[0]).toMatchObject({ vlan: 0 });
    expect(set(vfs(), "vf 0 state enable")[0]!.linkState).toBe("enable");
    // A zero MAC removes the administrative MAC.
    const withMac = set(vfs(), "vf 2 mac 52:54:00:00:00:01");
    expect(set(withMac, "vf 2 mac 00:00:00:00:00:00")[2]!.mac).toBe(0);
  });

  it("rates: max/min in Mbit/s, the legacy rate keeps the minimum, a missing bound is read back", () => {
    let c = set(vfs(), "vf 0 max_tx_rate 1000 min_tx_rate 100");
    expect(c[0]).toMatchObject({ maxTxRate: 1000, minTxRate: 100 });
    c = set(c, "vf 0 rate 500");
    expect(c[0]).toMatchObject({ maxTxRate: 500, minTxRate: 100 });
    c = set(c, "vf 0 min_tx_rate 200");
    expect(c[0]).toMatchObject({ maxTxRate: 500, minTxRate: 200 });
    c = set(c, "vf 0 max_tx_rate 0");
    expect(c[0]).toMatchObject({ maxTxRate: 0, minTxRate: 200 });
    // With the new API in use, `rate` stands for max_tx_rate unless max_tx_rate is given.
    expect(set(vfs(), "vf 1 rate 300 min_tx_rate 10")[1]).toMatchObject({ maxTxRate: 300, minTxRate: 10 });
    expect(set(vfs(), "vf 1 rate 300 max_tx_rate 400")[1]).toMatchObject({ maxTxRate: 400 });
    expect(set(vfs(), "vf 0 max_tx_rate 0x10")[0]!.maxTxRate).toBe(16);
  });

  it("keywords abbreviate as iproute2 matches() allows; several vf groups; the last value wins", () => {
    const out = set(vfs(), "vf 0 ma 02:00:00:00:00:01 st auto sp off q on t on vl 5 max 100 min 1 vf 3 r 50 mac 02:00:00:00:00:02 mac 02:00:00:00:00:03");
    expect(out[0]).toMatchObject({ mac: 0x020000000001, linkState: "auto", spoofchk: false, queryRss: true, trust: true, vlan: 5, maxTxRate: 100, minTxRate: 1 });
    expect(out[3]).toMatchObject({ mac: 0x020000000003, maxTxRate: 50 });
    expect(set(vfs(), "vf 0 state d")[0]!.linkState).toBe("disable");
  });

  it("the parser yields netlink-shaped requests", () => {
    expect(parseIpLinkVfArgs(args("vf 2 vlan 7 proto 802.1ad trust off"), vfs())).toEqual([
      { vf: 2, vlanList: [{ vid: 7, qos: 0, proto: "802.1ad" }], trust: false },
    ]);
    expect(parseIpLinkVfArgs(args("vf 0 rate 10"), vfs())).toEqual([{ vf: 0, txRate: 10 }]);
    expect(parseIpLinkVfArgs(args("vf 0 node_guid 00:11:22:33:44:55:66:77"), vfs())).toEqual([{ vf: 0, nodeGuid: 0x0011223344556677n }]);
  });
});

describe("ip link set DEV vf N: iproute2's messages", () => {
  it("vf number, incomplete commands, garbage", () => {
    expect(text("vf x mac 02:00:00:00:00:01")).toBe('Error: argument "x" is wrong: Invalid "vf" value');
    expect(text("vf 99999999999")).toBe('Error: argument "99999999999" is wrong: Invalid "vf" value');
    expect(text("vf")).toBe('Command line is not complete. Try option "help"');
    expect(text("vf 0")).toBe('Command line is not complete. Try option "help"');
    expect(text("vf 0 mac")).toBe('Command line is not complete. Try option "help"');
    expect(text("vf 0 vlan 5 qos")).toBe('Command line is not complete. Try option "help"');
    expect(text("vf 0 mtu 9000")).toBe('Command line is not complete. Try option "help"');
    expect(text("vf 0 trust on bogus")).toBe('Error: either "dev" is duplicate, or "bogus" is a garbage.');
    expect(text("mac 02:00:00:00:00:01")).toBe('Error: either "dev" is duplicate, or "mac" is a garbage.');
  });

  it("lladdr", () => {
    expect(text("vf 0 mac zz:54:00:12:34:56")).toBe('"zz" is invalid lladdr.');
    expect(text("vf 0 mac 52::00:12:34:56")).toBe('"" is invalid lladdr.');
    expect(text("vf 0 mac 52:154:00:12:34:56")).toBe('"154" is invalid lladdr.');
    expect(text("vf 0 mac 52:54:00")).toBe("Invalid address length 3 - must be 6 bytes");
    expect(text("vf 0 mac 52:54:00:12:34:56:78")).toBe("Invalid address length 7 - must be 6 bytes");
    expect(text("vf 0 mac 10.0.0.1")).toBe("Invalid address length 4 - must be 6 bytes");
    expect(text("vf 0 mac 10.0.0.999")).toBe('"10.0.0.999" is invalid lladdr.');
    // sscanf("%x") tolerates a 0x prefix and trailing junk in a byte, as iproute2 does.
    expect(set(vfs(), "vf 0 mac 0x52:54:00:12:34:5g")[0]!.mac).toBe(0x525400123405);
  });

  it("vlan, qos, proto", () => {
    expect(text("vf 0 vlan 4096")).toBe('Error: argument "4096" is wrong: Invalid "vlan" value');
    expect(text("vf 0 vlan -1")).toBe('Error: argument "-1" is wrong: Invalid "vlan" value');
    expect(text("vf 0 vlan ten")).toBe('Error: argument "ten" is wrong: Invalid "vlan" value');
    expect(text("vf 0 vlan 10 qos x")).toBe('Error: argument "x" is wrong: Invalid "qos" value');
    expect(text("vf 0 vlan 10 proto foo")).toBe('Error: argument "foo" is wrong: protocol is invalid');
    expect(text("vf 0 vlan 10 proto ip")).toBe('Error: argument "ip" is wrong: Invalid "vlan protocol" value - supported 802.1Q, 802.1ad');
    expect(text("vf 0 vlan 10 proto 0x0800")).toBe('Error: argument "0x0800" is wrong: Invalid "vlan protocol" value - supported 802.1Q, 802.1ad');
    expect(set(vfs(), "vf 0 vlan 10 proto 0x88a8")[0]!.proto).toBe("802.1ad");
  });

  it("rates", () => {
    expect(text("vf 0 rate fast")).toBe('Error: argument "fast" is wrong: Invalid "rate" value');
    expect(text("vf 0 max_tx_rate -5")).toBe('Error: argument "-5" is wrong: Invalid "max tx rate" value');
    expect(text("vf 0 min_tx_rate 1.5")).toBe('Error: argument "1.5" is wrong: Invalid "min tx rate" value');
    expect(text("vf 0 max_tx_rate 100 min_tx_rate 500")).toBe("Invalid min_tx_rate 500 - must be <= max_tx_rate 100");
    const capped = set(vfs(), "vf 1 max_tx_rate 100");
    expect(text("vf 1 min_tx_rate 101", capped)).toBe("Invalid min_tx_rate 101 - must be <= max_tx_rate 100");
    expect(text("vf 9 max_tx_rate 100")).toBe("Cannot find VF 9");
  });

  it("on/off, state, GUID", () => {
    expect(text("vf 0 spoofchk yes")).toBe('Error: argument of "spoofchk" must be one of "off", "on", not "yes"');
    expect(text("vf 0 query_rss 1")).toBe('Error: argument of "query_rss" must be one of "off", "on", not "1"');
    expect(text("vf 0 trust onn")).toBe('Error: argument of "trust" must be one of "off", "on", not "onn"');
    // parse_on_off_deprecated: "o" is a prefix of "off" first.
    expect(set(set(vfs(), "vf 0 trust on"), "vf 0 trust o")[0]!.trust).toBe(false);
    expect(text("vf 0 state maybe")).toBe('Error: argument "maybe" is wrong: Invalid "state" value');
    expect(text("vf 0 node_guid zz")).toBe('Error: argument "zz" is wrong: Invalid GUID format');
  });

  it("parse errors are EINVAL from iproute2", () => {
    expect(errorOf(vfs(), "vf 0 spoofchk yes")).toMatchObject({ code: "EINVAL", source: "iproute2" });
  });
});

describe("ip link set DEV vf N: the kernel's answers", () => {
  it("RTNETLINK answers: Invalid argument", () => {
    const einval = { code: "EINVAL", text: "RTNETLINK answers: Invalid argument", source: "kernel" };
    expect(errorOf(vfs(4), "vf 4 trust on")).toEqual(einval);
    expect(errorOf(vfs(4), "vf -1 spoofchk off")).toEqual(einval);
    expect(errorOf(vfs(4), "vf 4 max_tx_rate 10 min_tx_rate 0")).toEqual(einval);
    expect(errorOf(vfs(), "vf 0 mac 01:00:5e:00:00:01")).toEqual(einval);
    expect(errorOf(vfs(), "vf 0 mac ff:ff:ff:ff:ff:ff")).toEqual(einval);
    expect(errorOf(vfs(), "vf 0 vlan 10 qos 8")).toEqual(einval);
    const withMin = set(vfs(), "vf 0 max_tx_rate 100 min_tx_rate 50");
    expect(errorOf(withMin, "vf 0 rate 10")).toEqual(einval);
    expect(errorOf(vfs(), "vf 0 max_tx_rate 20000", 10000)).toEqual(einval);
  });

  it("RTNETLINK answers: Operation not supported", () => {
    const eopnotsupp = { code: "ENOSYS", text: "RTNETLINK answers: Operation not supported", source: "kernel" };
    expect(errorOf(vfs(), "vf 0 vlan 10 proto 802.1ad vlan 20")).toEqual(eopnotsupp);
    expect(errorOf(vfs(), "vf 0 port_guid 00:11:22:33:44:55:66:77")).toEqual(eopnotsupp);
  });

  it("all or nothing: a failing group leaves every VF as it was", () => {
    const cur = vfs(2);
    const snapshot = JSON.stringify(cur);
    expect(() => set(cur, "vf 0 trust on vf 1 mac 02:00:00:00:00:01 vf 2 spoofchk off")).toThrow();
    expect(JSON.stringify(cur)).toBe(snapshot);
  });

  it("any token soup ends in a result or an IovError, and never mutates the input", () => {
    const vocab = fc.constantFrom(
      "vf", "0", "1", "3", "9", "-1", "x", "mac", "ma", "52:54:00:12:34:56", "zz:1", "vlan", "4095", "4096", "qos", "7", "8",
      "proto", "802.1ad", "802.1Q", "ip", "rate", "max_tx_rate", "min_tx_rate", "100", "0x20", "spoofchk", "on", "off",
      "query_rss", "trust", "state", "auto", "enable", "disable", "node_guid", "", "m", "s",
    );
    fc.assert(
      fc.property(fc.array(vocab, { maxLength: 14 }), (toks) => {
        const cur = vfs(4);
        const before = JSON.stringify(cur);
        try {
          const out = ipLinkSetVf(cur, toks);
          expect(out).toHaveLength(4);
          for (const c of out) {
            expect(c.vlan).toBeLessThanOrEqual(4095);
            expect(c.qos).toBeLessThanOrEqual(7);
            expect(c.maxTxRate === 0 || c.minTxRate <= c.maxTxRate).toBe(true);
          }
        } catch (e) {
          expect(isIovError(e)).toBe(true);
        }
        expect(JSON.stringify(cur)).toBe(before);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("ip link show: per-VF lines", () => {
  it("the iproute2 line for a VF with MAC, port VLAN and QoS", () => {
    const cfg = set(vfs(1), "vf 0 mac 52:54:00:12:34:56 vlan 10 qos 2")[0]!;
    expect(formatVfLine(0, { config: cfg })).toBe(
      "vf 0     link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff, vlan 10, qos 2, spoof checking on, link-state auto, trust off, query_rss off",
    );
  });

  it("rates, 802.1ad, the driver's current MAC, every flag flipped", () => {
    const cfg = set(vfs(2), "vf 1 max_tx_rate 100 min_tx_rate 10 vlan 5 proto 802.1ad spoofchk off state disable trust on query_rss on")[1]!;
    expect(formatVfLine(1, { config: cfg, mac: 0x020000000001 })).toBe(
      "vf 1     link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff, vlan 5, vlan protocol 802.1ad, tx rate 100 (Mbps), max_tx_rate 100Mbps, " +
        "min_tx_rate 10Mbps, spoof checking off, link-state disable, trust on, query_rss on",
    );
  });

  it("ip -s: the VF counters block, right-aligned as print_num does", () => {
    expect(formatVfStats({ rxBytes: 519160, rxPackets: 6565, multicast: 0, broadcast: 6565, rxDropped: 0, txBytes: 0, txPackets: 0, txDropped: 0 })).toEqual([
      "    RX: bytes  packets  mcast   bcast   dropped ",
      "        519160     6565       0    6565        0 ",
      "    TX: bytes  packets   dropped ",
      "             0        0        0 ",
    ]);
  });

  it("the whole ip -s link show of a PF with two VFs", () => {
    const cur = set(vfs(2), "vf 0 mac 52:54:00:12:34:56 vlan 10 qos 2");
    const out = renderIpLinkShow(
      { ifindex: 6, name: "ens2f0", flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], mtu: 9000, qdisc: "mq", state: "UP", qlen: 1000, mac: 0x3cfdfebb1e10 },
      [{ config: cur[0]! }, { config: cur[1]!, stats: { rxBytes: 1, rxPackets: 2, multicast: 3, broadcast: 4, rxDropped: 5, txBytes: 6, txPackets: 7, txDropped: 8 } }],
      { stats: true },
    );
    expect(out).toBe(
      [
        "6: ens2f0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9000 qdisc mq state UP mode DEFAULT group default qlen 1000",
        "    link/ether 3c:fd:fe:bb:1e:10 brd ff:ff:ff:ff:ff:ff",
        "    vf 0     link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff, vlan 10, qos 2, spoof checking on, link-state auto, trust off, query_rss off",
        "    RX: bytes  packets  mcast   bcast   dropped ",
        "             0        0       0       0        0 ",
        "    TX: bytes  packets   dropped ",
        "             0        0        0 ",
        "    vf 1     link/ether 00:00:00:00:00:00 brd ff:ff:ff:ff:ff:ff, spoof checking on, link-state auto, trust off, query_rss off",
        "    RX: bytes  packets  mcast   bcast   dropped ",
        "             1        2       3       4        5 ",
        "    TX: bytes  packets   dropped ",
        "             6        7        8 ",
        "",
      ].join("\n"),
    );
    expect(renderVfInfo([{ config: cur[1]! }])).toHaveLength(1);
  });
});
