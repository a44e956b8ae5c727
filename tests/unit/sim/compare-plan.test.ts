/**
 * The sweep `pciov compare` runs: which series (`--backends`), which frame sizes, and the check of
 * every point before the first run.
 */
import { describe, expect, it } from "vitest";
import { join, resolve } from "node:path";
import { plan, selectSeries } from "../../../sim/compare.js";
import { loadScenario, parseScenario, pointParams } from "../../../sim/scenario.js";
import { catchErr } from "./helpers.js";

const DIR = resolve(import.meta.dirname, "../../../sim/scenarios");
const def = () => loadScenario(join(DIR, "default.yaml"));

describe("compare: series chosen by --backends", () => {
  it("keeps the scenario's series of each backend asked for, in the order asked", () => {
    const sc = def();
    expect(selectSeries(sc, ["xen-pv", "sriov"]).map((s) => s.name)).toEqual(["xen-pv", "sriov"]);
    expect(selectSeries(sc, ["sriov"])).toEqual([sc.series[0]]);
    expect(selectSeries(sc, undefined)).toEqual(sc.series);
  });

  it("adds a series with the scenario's top-level settings for a backend it has none of", () => {
    const sc = def();
    const got = selectSeries(sc, ["sriov", "virtio", "e1000", "virtio"]);
    expect(got.map((s) => [s.name, s.backend])).toEqual([
      ["sriov", "sriov"],
      ["virtio", "virtio"],
      ["e1000", "e1000"],
    ]);
    const v = got[1]!.base;
    expect(v.backend).toBe("virtio");
    // the same traffic, host and run settings as the scenario's own series
    const { backend: _a, ...mine } = v;
    const { backend: _b, ...theirs } = sc.series[0]!.base;
    expect(mine).toEqual(theirs);
  });

  it("an added series takes the file's top-level settings, not a series' own overrides, and a free name", () => {
    const sc = parseScenario(
      ["host: { guestCores: 6 }", "series:", "  - { name: virtio, backend: sriov, host: { guestCores: 2 } }"].join("\n"),
      "s.yaml",
    );
    const got = selectSeries(sc, ["sriov", "virtio"]);
    expect(got.map((s) => [s.name, s.backend, s.base.host.guestCores])).toEqual([
      ["virtio", "sriov", 2],
      ["virtio#2", "virtio", 6],
    ]);
  });
});

describe("compare: frame sizes", () => {
  it("a TCP series takes frame sizes given to the sweep as its MTU (frame − 18); without them it keeps its MTU", () => {
    const s = parseScenario(["traffic: { kind: tcp, mtu: 9000 }", "backends: [sriov]"].join("\n"), "s.yaml").series[0]!;
    expect(pointParams(s, 1, 1518).traffic.mtu).toBe(9000);
    expect(pointParams(s, 1, 1518, undefined, true).traffic.mtu).toBe(1500);
    expect(pointParams(s, 1, 4114, undefined, true).traffic.mtu).toBe(4096);
    const sc = parseScenario(["traffic: { kind: tcp }", "frameBytes: [1518, 9018]", "backends: [sriov]"].join("\n"), "s.yaml");
    expect(sc.framesGiven).toBe(true);
    expect(plan(sc, { vms: [1] }).map((t) => t.params.traffic.mtu)).toEqual([1500, 9000]);
    expect(def().framesGiven).toBe(false);
    expect(plan(def(), { vms: [1], frameBytes: [9018], backends: ["sriov"] }).map((t) => t.params.traffic.mtu)).toEqual([9000]);
    expect(plan(def(), { vms: [1], backends: ["sriov"] }).map((t) => t.params.traffic.mtu)).toEqual([1500]);
  });

  it("a UDP series takes them as its frame size, whether given or not", () => {
    const s = parseScenario(["traffic: { kind: udp }", "backends: [virtio]"].join("\n"), "s.yaml").series[0]!;
    expect(pointParams(s, 1, 64).traffic.frameBytes).toBe(64);
    expect(pointParams(s, 1, 9018, undefined, true).traffic.frameBytes).toBe(9018);
  });

  it("refuses, before anything runs, a TCP frame below MTU 576 and frame sizes for request/response", () => {
    let e = catchErr(() => plan(def(), { vms: [1, 8], frameBytes: [1518, 64] }));
    expect(e.code).toBe("EINVAL");
    expect(e.detail["input"]).toBe(true);
    expect(e.message).toContain('series "sriov" at 1 VM, 64 B: TCP frame size 64 B outside 594..9018');
    const rr = parseScenario(["traffic: { kind: rr }", "backends: [sriov]"].join("\n"), "s.yaml");
    expect(plan(rr, { vms: [1] })).toHaveLength(1);
    e = catchErr(() => plan(rr, { vms: [1], frameBytes: [1518] }));
    expect(e.message).toContain("request/response traffic has no frame size to sweep");
  });

  it("plans every backend over the whole 64..9018 B UDP range (Xen PV's netfront takes a slot per page)", () => {
    const udp = parseScenario(["traffic: { kind: udp }", "backends: [sriov, xen-pv, virtio, e1000]"].join("\n"), "s.yaml");
    const pts = plan(udp, { vms: [1, 4], frameBytes: [64, 4097, 9018] });
    expect(pts).toHaveLength(4 * 2 * 3);
    expect(pts.filter((t) => t.series.name === "xen-pv").map((t) => t.params.traffic.frameBytes)).toEqual([64, 64, 4097, 4097, 9018, 9018]);
  });
});

describe("compare: --guest-offloads", () => {
  it("parses gro, gso, tso, any of them together or none, and refuses anything else or a repeat as an input error", async () => {
    const { parseGuestOffloads } = await import("../../../src/cli/commands/compare.js");
    expect(parseGuestOffloads("gro")).toEqual({ gro: true, gso: false, tso: false });
    expect(parseGuestOffloads("gso, gro")).toEqual({ gro: true, gso: true, tso: false });
    expect(parseGuestOffloads("tso,gro")).toEqual({ gro: true, gso: false, tso: true });
    expect(parseGuestOffloads("none")).toEqual({ gro: false, gso: false, tso: false });
    for (const bad of ["lro", "gro,gro", "tso,tso", "none,gro", ""]) {
      const e = catchErr(() => parseGuestOffloads(bad));
      expect(e.code).toBe("EINVAL");
      expect(e.message).toContain("--guest-offloads");
    }
  });

  it("sets the guests' GRO, GSO and TSO (the VF's and virtio's) of every point, over the scenario's, and nothing else", () => {
    for (const file of ["guest-gro.yaml", "guest-gso.yaml"]) {
      const sc = loadScenario(join(DIR, file));
      const base = plan(sc, { vms: [1] });
      const on = plan(sc, { vms: [1], guestOffloads: { gro: true, gso: true, tso: true } });
      const off = plan(sc, { vms: [1], guestOffloads: { gro: false, gso: false, tso: false } });
      // the files turn GRO, GSO or TSO on for some series
      expect(base.some((t) => t.params.host.guestGro || t.params.host.guestGso || t.params.virtio.tso)).toBe(true);
      for (const [i, t] of on.entries()) {
        expect([t.params.host.guestGro, t.params.host.guestGso, t.params.sriov.tso, t.params.virtio.tso, t.params.xen.gso, t.params.e1000.tso]).toEqual([true, true, true, true, true, true]);
        expect([off[i]!.params.host.guestGro, off[i]!.params.host.guestGso, off[i]!.params.sriov.tso, off[i]!.params.virtio.tso, off[i]!.params.xen.gso, off[i]!.params.e1000.tso]).toEqual([false, false, false, false, false, false]);
        const { host: h, virtio: v, sriov: sr, xen: x, e1000: e, ...rest } = t.params;
        const { host: bh, virtio: bv, sriov: bsr, xen: bx, e1000: be, ...baseRest } = base[i]!.params;
        expect({ ...e, tso: 0 }).toEqual({ ...be, tso: 0 });
        expect({ ...x, gso: 0 }).toEqual({ ...bx, gso: 0 });
        expect(rest).toEqual(baseRest);
        expect({ ...h, guestGro: 0, guestGso: 0 }).toEqual({ ...bh, guestGro: 0, guestGso: 0 });
        expect({ ...v, tso: 0 }).toEqual({ ...bv, tso: 0 });
        expect({ ...sr, tso: 0 }).toEqual({ ...bsr, tso: 0 });
      }
    }
  });
});
