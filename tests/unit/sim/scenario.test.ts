/** Scenario files: the shipped ones load; mistakes are reported at file:line:col, every one. */
import { describe, expect, it } from "vitest";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { isConfigError } from "../../../src/config/issues.js";
import { loadScenario, parseScenario, pointParams } from "../../../sim/scenario.js";
import { plan } from "../../../sim/compare.js";

const DIR = join(import.meta.dirname, "../../../sim/scenarios");

function issues(text: string): string[] {
  try {
    parseScenario(text, "s.yaml");
  } catch (e) {
    if (isConfigError(e)) return e.issues.map((i) => `${i.file}:${i.line}:${i.col}: ${i.message}`);
    throw e;
  }
  return [];
}

describe("scenario files", () => {
  it("every shipped scenario loads and plans at least one run per series", () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith(".yaml"));
    expect(files.sort()).toEqual(
      [
        "default.yaml",
        "emulated-vs-virtio-vs-vf.yaml",
        "exitless-interrupts.yaml",
        "frame-sizes.yaml",
        "guest-gro.yaml",
        "guest-gso.yaml",
        "halting-vcpus.yaml",
        "iommu-strict-vs-deferred.yaml",
        "iotlb-working-set.yaml",
        "modern-offloads.yaml",
        "pv-pps-64b.yaml",
        "xen-dom0-cores.yaml",
        "xen-netback-models.yaml",
      ].sort(),
    );
    for (const f of files) {
      const sc = loadScenario(join(DIR, f));
      expect(sc.series.length, f).toBeGreaterThan(0);
      expect(plan(sc).length, f).toBe(sc.series.length * sc.vms.length * sc.frameBytes.length);
    }
  });

  it("the default scenario is 10 GbE bulk TCP, SR-IOV against Xen PV, 1–60 VMs", () => {
    const sc = loadScenario(join(DIR, "default.yaml"));
    expect(sc.series.map((s) => s.backend)).toEqual(["sriov", "xen-pv"]);
    expect(sc.vms[0]).toBe(1);
    expect(sc.vms[sc.vms.length - 1]).toBe(60);
    const p = pointParams(sc.series[0]!, 8, 1518);
    expect(p.traffic.kind).toBe("tcp");
    expect(p.vms).toBe(8);
  });

  it("reports unknown keys with a suggestion, at their line and column", () => {
    expect(issues("name: x\nbackend: [sriov]\n")).toEqual([`s.yaml:2:1: unknown key "backend" (did you mean "backends"?)`]);
  });

  it("reports bad values, every one, in file order", () => {
    const got = issues(["name: x", "backends: [sriov, hyperv]", "vms: [1, 0]", "traffic:", "  kind: tcp", "  direction: sideways"].join("\n"));
    expect(got).toHaveLength(3);
    expect(got[0]).toMatch(/^s\.yaml:2:19: backends\[1\]: expected one of sriov, xen-pv, virtio, e1000, found "hyperv"/);
    expect(got[1]).toMatch(/^s\.yaml:3:10: vms\[1\]: expected an integer from 1 to 256, found 0/);
    expect(got[2]).toMatch(/^s\.yaml:6:14: traffic\.direction: expected one of tx, rx, g2g/);
  });

  it("refuses a point or series listed twice, at the second one", () => {
    const got = issues(["backends: [sriov, virtio, sriov]", "vms: [1, 4, 1]", "frameBytes: [64, 64]"].join("\n"));
    expect(got).toEqual([
      "s.yaml:1:27: backends[2]: sriov is listed twice (every point of the sweep runs once)",
      "s.yaml:2:13: vms[2]: 1 is listed twice (every point of the sweep runs once)",
      "s.yaml:3:18: frameBytes[1]: 64 is listed twice (every point of the sweep runs once)",
    ]);
    expect(issues(["series:", "  - { backend: sriov, name: a }", "  - { backend: virtio, name: a }"].join("\n"))).toEqual(['s.yaml:3:5: series[1]: two series are named "a"']);
    // a backends value that is no list is one mistake, not also "no series"
    expect(issues("backends: sriov")).toEqual(['s.yaml:1:11: backends: expected a list of backends (sriov, xen-pv, virtio, e1000), found "sriov"']);
  });

  it("checks cost overrides: known keys, valid values", () => {
    const got = issues(["costs:", "  vmExitKernal: 3000", "  coreClockGHz: 0", "  iommuWalkLevels: 2.5"].join("\n"));
    expect(got[0]).toMatch(/^s\.yaml:2:3: costs: unknown key "vmExitKernal" \(did you mean "vmExitKernel"\?\)/);
    expect(got.some((l) => /^s\.yaml:3:17: costs\.coreClockGHz: expected a valid value/.test(l))).toBe(true);
    expect(got.some((l) => /^s\.yaml:4:20: costs\.iommuWalkLevels: expected a valid value/.test(l))).toBe(true);
  });

  it("reports YAML syntax errors with their position", () => {
    const got = issues("name: [unclosed\n");
    expect(got.length).toBeGreaterThan(0);
    expect(got[0]).toMatch(/^s\.yaml:\d+:\d+: YAML syntax error/);
  });

  it("the Dom0-cores and halting scenarios vary only what they are about, on the default's traffic", () => {
    const def = loadScenario(join(DIR, "default.yaml")).series[0]!.base;
    const dom0 = loadScenario(join(DIR, "xen-dom0-cores.yaml")).series;
    expect(dom0.map((s) => [s.backend, s.base.host.hostCores])).toEqual([["sriov", 4], ["xen-pv", 4], ["xen-pv", 2], ["xen-pv", 1]]);
    const halt = loadScenario(join(DIR, "halting-vcpus.yaml")).series;
    expect(halt.map((s) => [s.backend, s.base.host.vcpuHalt, s.base.host.guestHz])).toEqual([
      ["sriov", false, 0],
      ["sriov", true, 0],
      ["xen-pv", true, 0],
      ["sriov", true, 1000],
      ["xen-pv", true, 1000],
    ]);
    for (const s of [...dom0, ...halt]) {
      expect(s.base.traffic).toEqual(def.traffic);
      expect({ ...s.base.host, hostCores: def.host.hostCores, vcpuHalt: false, guestHz: 0 }).toEqual(def.host);
      expect([s.base.seed, s.base.warmupUs, s.base.measureUs, s.base.sriov, s.base.xen]).toEqual([def.seed, def.warmupUs, def.measureUs, def.sriov, def.xen]);
    }
  });

  it("series override the common settings for themselves only", () => {
    const sc = parseScenario(
      ["host: { itr: 4000 }", "series:", "  - { name: a, backend: sriov }", "  - { name: b, backend: sriov, host: { itr: 0 }, sriov: { interrupts: posted } }"].join("\n"),
      "s.yaml",
    );
    expect(sc.series[0]!.base.host.itr).toBe(4000);
    expect(sc.series[1]!.base.host.itr).toBe(0);
    expect(sc.series[0]!.base.sriov.interrupts).toBe("remapped");
    expect(sc.series[1]!.base.sriov.interrupts).toBe("posted");
  });

  it("takes host.vcpuHalt, traffic.sack and traffic.pcapReader, and says where a bad one is", () => {
    const sc = parseScenario(["host: { vcpuHalt: true }", "traffic: { sack: false }", "series:", "  - { name: a, backend: sriov }"].join("\n"), "s.yaml");
    expect(sc.series[0]!.base.host.vcpuHalt).toBe(true);
    expect(sc.series[0]!.base.traffic.sack).toBe(false);
    const got = issues(["host:", "  vcpuHalt: sometimes", "traffic:", "  sack: 3", "  pcapReader: wireshark"].join("\n"));
    expect(got).toHaveLength(3);
    expect(got[0]).toMatch(/^s\.yaml:2:13: host\.vcpuHalt: expected/);
    expect(got[1]).toMatch(/^s\.yaml:4:9: traffic\.sack: expected/);
    expect(got[2]).toMatch(/^s\.yaml:5:15: traffic\.pcapReader: expected one of libpcap, pciov/);
  });

  it("takes the guests' host.guestGro, guestGso and guestHz, and says where a bad one is", () => {
    const sc = parseScenario(["host: { guestGro: true, guestGso: true, guestHz: 250 }", "series:", "  - { name: a, backend: sriov }"].join("\n"), "s.yaml");
    expect([sc.series[0]!.base.host.guestGro, sc.series[0]!.base.host.guestGso, sc.series[0]!.base.host.guestHz]).toEqual([true, true, 250]);
    const got = issues(["host:", "  guestGro: yes please", "  guestGso: 1", "  guestHz: 100001"].join("\n"));
    expect(got).toHaveLength(3);
    expect(got[0]).toMatch(/^s\.yaml:2:13: host\.guestGro: expected/);
    expect(got[1]).toMatch(/^s\.yaml:3:13: host\.guestGso: expected/);
    expect(got[2]).toMatch(/^s\.yaml:4:12: host\.guestHz: expected/);
  });

  it("takes the devices' TSO (virtio.tso, sriov.tso, xen.gso, e1000.tso) for the file and for a series, and says where a bad one is", () => {
    const sc = parseScenario(["virtio: { tso: true }", "sriov: { tso: true }", "xen: { gso: true }", "e1000: { tso: true }", "series:", "  - { name: a, backend: virtio }", "  - { name: b, backend: virtio, virtio: { tso: false }, e1000: { tso: false } }"].join("\n"), "s.yaml");
    expect(sc.series.map((x) => [x.base.virtio.tso, x.base.sriov.tso, x.base.xen.gso, x.base.e1000.tso])).toEqual([
      [true, true, true, true],
      [false, true, true, false],
    ]);
    const d = parseScenario("backends: [virtio]", "s.yaml").series[0]!.base;
    expect([d.virtio.tso, d.sriov.tso, d.xen.gso, d.e1000.tso]).toEqual([false, false, false, false]);
    const got = issues(["virtio:", "  tso: on", "sriov:", "  tso: 1", "xen:", "  gso: yes please", "e1000:", "  tso: []", "  lro: true"].join("\n"));
    expect(got).toHaveLength(5);
    expect(got[0]).toMatch(/^s\.yaml:2:8: virtio\.tso: expected/);
    expect(got[1]).toMatch(/^s\.yaml:4:8: sriov\.tso: expected/);
    expect(got[2]).toMatch(/^s\.yaml:6:8: xen\.gso: expected/);
    expect(got[3]).toMatch(/^s\.yaml:8:8: e1000\.tso: expected/);
    expect(got[4]).toMatch(/^s\.yaml:9:3: .*lro/); // e1000 has no such key
  });

  it("takes virtio.indirect (on by default, as QEMU offers it) and says where a bad one is", () => {
    expect(parseScenario("backends: [virtio]", "s.yaml").series[0]!.base.virtio.indirect).toBe(true);
    const sc = parseScenario(["virtio: { indirect: false }", "series:", "  - { name: a, backend: virtio }", "  - { name: b, backend: virtio, virtio: { indirect: true } }"].join("\n"), "s.yaml");
    expect(sc.series.map((x) => x.base.virtio.indirect)).toEqual([false, true]);
    const got = issues(["virtio:", "  indirect: sometimes"].join("\n"));
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(/^s\.yaml:2:13: virtio\.indirect: expected/);
  });

  it("takes virtio.busyPollUs (0 by default, as QEMU's poll-us) and says where a bad one is", () => {
    expect(parseScenario("backends: [virtio]", "s.yaml").series[0]!.base.virtio.busyPollUs).toBe(0);
    expect(parseScenario("virtio: { busyPollUs: 50 }\nbackends: [virtio]", "s.yaml").series[0]!.base.virtio.busyPollUs).toBe(50);
    for (const bad of ["-1", "1.5", "20000", "soon"]) {
      const got = issues(["virtio:", `  busyPollUs: ${bad}`].join("\n"));
      expect(got, bad).toHaveLength(1);
      expect(got[0], bad).toMatch(/^s\.yaml:2:15: virtio\.busyPollUs: expected/);
    }
  });

  it("takes xen.netback, and refuses multi-queue VIFs with a shared netback at the xen mapping", () => {
    const sc = parseScenario(["xen: { netback: tasklet }", "series:", "  - { name: a, backend: xen-pv }", "  - { name: b, backend: xen-pv, xen: { netback: per-cpu } }"].join("\n"), "s.yaml");
    expect(sc.series.map((x) => x.base.xen.netback)).toEqual(["tasklet", "per-cpu"]);
    expect(parseScenario("backends: [xen-pv]", "s.yaml").series[0]!.base.xen.netback).toBe("per-queue");
    const got = issues(["xen: { netback: tasklet }", "series:", "  - { name: a, backend: xen-pv, xen: { queues: 2 } }", "  - { name: b, backend: xen-pv, xen: { netback: softirq } }"].join("\n"));
    expect(got).toEqual([
      "s.yaml:3:38: series[0].xen: queues: 2 needs netback: per-queue (multi-queue VIFs came with xenvif's per-queue netback), not tasklet",
      expect.stringMatching(/^s\.yaml:4:49: series\[1\]\.xen\.netback: expected one of per-queue, per-cpu, tasklet/),
    ]);
  });
});
