/**
 * `pciov compare` end to end: the command as the CLI registers it (registerCompare), run in a child
 * process so that its stdout, stderr and exit code are observed as a user sees them.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { RunParams } from "../../sim/params.js";
import { runOnce, type RunResult } from "../../sim/run.js";

const ROOT = resolve(import.meta.dirname, "../..");
const CMD = join(ROOT, "src/cli/commands/compare.ts");

function pciovCompare(args: string[]): { code: number; out: string; err: string } {
  const prog = [
    "import { Command, CommanderError } from 'commander';",
    `import { registerCompare } from ${JSON.stringify(CMD)};`,
    "const p = new Command('pciov'); p.exitOverride(); registerCompare(p);",
    "try { await p.parseAsync(['node', 'pciov', 'compare', ...JSON.parse(process.env.ARGS)]); }",
    "catch (e) { if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2); throw e; }",
  ].join("\n");
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", prog], {
    cwd: ROOT,
    env: { ...process.env, ARGS: JSON.stringify(args), FORCE_COLOR: "0" },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe("pciov compare", () => {
  it("runs the default scenario's sweep for chosen backends and VM counts: a table, an SVG chart", () => {
    const dir = mkdtempSync(join(tmpdir(), "pciov-cmp-"));
    try {
      const svg = join(dir, "c.svg");
      const r = pciovCompare(["--backends", "sriov,xen-pv", "--vms", "1,4", "--svg", svg]);
      expect(r.code, r.err).toBe(0);
      const lines = r.out.trim().split("\n");
      expect(lines[0]).toContain("SR-IOV VF vs Xen PV");
      expect(lines[1]).toMatch(/^series\s+VMs\s+frame\s+Gb\/s/);
      const rows = lines.slice(2).map((l) => l.split(/\s{2,}/));
      expect(rows.map((c) => `${c[0]} ${c[1]}`)).toEqual(["sriov 1", "sriov 4", "xen-pv 1", "xen-pv 4"]);
      for (const c of rows) expect(Number(c[3])).toBeGreaterThan(5); // Gb/s of bulk TCP on 10 GbE
      const s = readFileSync(svg, "utf8");
      expect(s.startsWith("<svg")).toBe(true);
      expect(s).toContain("Throughput");
      expect(s).toContain("CPU");
      expect((s.match(/<polyline/g) ?? []).length).toBe(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--json gives every point's parameters and results; the same seed gives the same document; a point's parameters reproduce it", () => {
    const args = ["--backends", "sriov,xen-pv", "--vms", "2", "--seed", "9", "--json"];
    const a = pciovCompare(args);
    const b = pciovCompare(args);
    expect(a.code, a.err).toBe(0);
    expect(a.out).toBe(b.out);
    const doc = JSON.parse(a.out) as { seed: number; points: Array<{ series: string; vms: number; params: RunParams; result: RunResult }> };
    expect(doc.seed).toBe(9);
    expect(doc.points.map((p) => p.series)).toEqual(["sriov", "xen-pv"]);
    for (const pt of doc.points) {
      expect(pt.result.conservation.inFlight).toBe(0);
      expect([pt.params.vms, pt.params.seed, pt.params.backend]).toEqual([2, 9, pt.series]);
      expect(pt.params.xen.netback).toBe("per-queue");
      expect(JSON.stringify(runOnce(pt.params))).toBe(JSON.stringify(pt.result));
    }
  });

  it("runs a scenario file with frame sizes from the command line, and writes captures tshark reads", () => {
    const dir = mkdtempSync(join(tmpdir(), "pciov-cmp-"));
    try {
      const sc = join(dir, "s.yaml");
      writeFileSync(sc, ["name: udp", "backends: [virtio]", "vms: [2]", "traffic: { kind: udp, direction: g2g }", "run: { warmupUs: 100, measureUs: 300 }"].join("\n"));
      const cap = join(dir, "cap");
      const r = pciovCompare([sc, "--frame", "64,1518", "--capture", cap]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/virtio\s+2\s+64\s/);
      expect(r.out).toMatch(/virtio\s+2\s+1518\s/);
      const files = readdirSync(cap).sort();
      expect(files).toEqual(["virtio-2vm-1518B-bridge.pcap", "virtio-2vm-1518B-vnet0.pcap", "virtio-2vm-1518B-wire.pcap", "virtio-2vm-64B-bridge.pcap", "virtio-2vm-64B-vnet0.pcap", "virtio-2vm-64B-wire.pcap"]);
      const t = spawnSync("tshark", ["-r", join(cap, "virtio-2vm-1518B-vnet0.pcap"), "-T", "fields", "-e", "frame.len"], { encoding: "utf8" });
      const lens = t.stdout.trim().split("\n");
      expect(lens.length).toBeGreaterThan(10);
      expect(new Set(lens)).toEqual(new Set(["1514"]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a scenario with mistakes: every one on stderr as file:line:col, exit 2, nothing run", () => {
    const dir = mkdtempSync(join(tmpdir(), "pciov-cmp-"));
    try {
      const sc = join(dir, "bad.yaml");
      writeFileSync(sc, ["name: bad", "backends: [sriov, vmxnet3]", "traffic:", "  kind: tcp", "  windw: 64KiB"].join("\n"));
      const r = pciovCompare([sc]);
      expect(r.code).toBe(2);
      expect(r.out).toBe("");
      expect(r.err).toContain(`${sc}:2:19: backends[1]: expected one of sriov, xen-pv, virtio, e1000, found "vmxnet3"`);
      expect(r.err).toContain(`${sc}:5:3: traffic: unknown key "windw" (did you mean "window"?)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--backends adds the backends the scenario lacks, on its traffic; --frame sets a TCP stream's MTU", () => {
    const r = pciovCompare(["--backends", "sriov,xen-pv,virtio,e1000", "--vms", "1", "--frame", "9018"]);
    expect(r.code, r.err).toBe(0);
    const rows = r.out.trim().split("\n").slice(2).map((l) => l.split(/\s{2,}/));
    expect(rows.map((c) => `${c[0]} ${c[1]} ${c[2]}`)).toEqual(["sriov 1 9018", "xen-pv 1 9018", "virtio 1 9018", "e1000 1 9018"]);
    // jumbo segments: 10 GbE carries about 0.14 M of them per second, against 0.81 M at MTU 1500
    for (const c of rows) expect(Number(c[5])).toBeLessThan(0.15);
  });

  it("--guest-offloads gro gives one VM the line on both backends, with less guest CPU than the scenario's guests without GRO", () => {
    const rows = (args: string[]) => {
      const r = pciovCompare(["--vms", "1", "--json", ...args]);
      expect(r.code, r.err).toBe(0);
      return (JSON.parse(r.out) as { points: Array<{ backend: string; params: RunParams; result: RunResult }> }).points;
    };
    const off = rows([]);
    const on = rows(["--guest-offloads", "gro"]);
    expect(on.map((p) => p.params.host.guestGro)).toEqual([true, true]);
    expect(off.map((p) => p.params.host.guestGro)).toEqual([false, false]);
    for (const [i, p] of on.entries()) {
      expect(p.result.goodputGbps).toBeGreaterThan(9.3);
      expect(p.result.cpu.guest.busyCores).toBeLessThan(off[i]!.result.cpu.guest.busyCores);
    }
  });

  it("--guest-offloads tso gives one VM the line through its VF (the NIC's TSO), virtio (vhost's) and Xen PV (netfront's GSO), with less guest CPU per Gb/s", () => {
    const rows = (args: string[]) => {
      const r = pciovCompare([join(ROOT, "sim/scenarios/emulated-vs-virtio-vs-vf.yaml"), "--vms", "1", "--backends", "sriov,virtio,xen-pv", "--json", ...args]);
      expect(r.code, r.err).toBe(0);
      return (JSON.parse(r.out) as { points: Array<{ backend: string; params: RunParams; result: RunResult }> }).points.sort((a, b) => a.backend.localeCompare(b.backend));
    };
    // the guests send bulk TCP
    const off = rows([]);
    const on = rows(["--guest-offloads", "tso"]);
    expect(on.map((p) => [p.backend, p.params.sriov.tso, p.params.virtio.tso, p.params.xen.gso])).toEqual([
      ["sriov", true, true, true],
      ["virtio", true, true, true],
      ["xen-pv", true, true, true],
    ]);
    for (const [i, p] of on.entries()) {
      expect(off[i]!.result.goodputGbps, p.backend).toBeLessThan(9);
      expect(p.result.goodputGbps, p.backend).toBeGreaterThan(9.3);
      // guest CPU per Gb/s carried
      const perGbps = (r: RunResult): number => r.cpu.guest.busyCores / r.goodputGbps;
      expect(perGbps(p.result), p.backend).toBeLessThan(perGbps(off[i]!.result) / 1.5);
      expect(p.result.counters.tsoFrames, p.backend).toBeGreaterThan(0);
    }
  });

  it("a sweep point the model cannot run is refused before any run: exit 2, nothing on stdout", () => {
    const r = pciovCompare(["--vms", "1,4", "--frame", "1518,9018,590"]);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toContain('series "sriov" at 1 VM, 590 B: TCP frame size 590 B outside 594..9018');
  });

  it("bad options and missing files: a message on stderr, exit 2", () => {
    const r1 = pciovCompare(["--backends", "sriov,hyperv"]);
    expect(r1.code).toBe(2);
    expect(r1.err).toContain('--backends: unknown backend "hyperv"');
    const r2 = pciovCompare(["--vms", "1,x"]);
    expect(r2.code).toBe(2);
    expect(r2.err).toContain("--vms");
    const r3 = pciovCompare(["/nonexistent/s.yaml"]);
    expect(r3.code).toBe(2);
    expect(r3.err).toContain("cannot read scenario /nonexistent/s.yaml");
    // a point listed twice would run twice and print two identical rows: refused, as is a list of seeds
    for (const [flag, list, what] of [
      ["--vms", "1,4,1", "--vms: 1 is listed twice"],
      ["--frame", "1518,1518", "--frame: 1518 is listed twice"],
      ["--backends", "virtio,sriov,virtio", "--backends: virtio is listed twice"],
      ["--seed", "1,2", '--seed: expected one integer from 0 to 9007199254740991, found "1,2"'],
      ["--guest-offloads", "gro,lro", '--guest-offloads: unknown offload "lro" (expected gro, gso, tso, or none)'],
    ] as const) {
      const r = pciovCompare([flag, list]);
      expect(r.code, flag).toBe(2);
      expect(r.out).toBe("");
      expect(r.err).toContain(what);
    }
  });

  it("a pcap traffic source that is missing or not a capture: the file named on stderr, exit 2, with either reader", () => {
    const dir = mkdtempSync(join(tmpdir(), "pciov-cmp-"));
    try {
      const junk = join(dir, "junk.pcap");
      writeFileSync(junk, "not a capture");
      for (const reader of ["libpcap", "pciov"])
        for (const file of [junk, join(dir, "missing.pcap")]) {
          const sc = join(dir, "s.yaml");
          writeFileSync(sc, `name: replay\nbackends: [sriov]\nvms: [1]\ntraffic: { kind: pcap, direction: rx, pcap: ${file}, pcapReader: ${reader} }\n`);
          const r = pciovCompare([sc]);
          expect(r.code, `${reader} ${file}: ${r.err}`).toBe(2);
          expect(r.err).toContain(file);
          expect(r.out).toBe("");
        }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
