import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, ["bin/pciov.js", ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const lspciReal = (file: string, ...args: string[]) => spawnSync("lspci", ["-F", file, ...args], { encoding: "utf8" });
const tmp = mkdtempSync(join(tmpdir(), "pciov-cli-"));
const NUMVFS = "/sys/bus/pci/devices/0000:01:00.0/sriov_numvfs";

describe("pciov CLI", () => {
  it("echo 8 > sriov_numvfs: the real lspci -F decodes the PF's dump with VF Enable+, 8 VFs, offset/stride; VFs sit where Linux computes", () => {
    const r = run("exec", "--json", `echo 8 > ${NUMVFS}`, "lspci -xxxx -s 01:00.0", "ls /sys/bus/pci/devices", "cat /sys/bus/pci/devices/0000:01:00.0/sriov_offset /sys/bus/pci/devices/0000:01:00.0/sriov_stride");
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(r.out) as Array<{ stdout: string; code: number }>;
    expect(res.map((x) => x.code)).toEqual([0, 0, 0, 0]);
    const dump = join(tmp, "pf.txt");
    writeFileSync(dump, res[1]!.stdout);
    const l = lspciReal(dump, "-vvv");
    expect(l.status, l.stderr).toBe(0);
    expect(l.stdout).toContain("IOVCtl:\tEnable+ Migration- Interrupt- MSE+ ARIHierarchy+");
    expect(l.stdout).toContain("Initial VFs: 8, Total VFs: 8, Number of VFs: 8, Function Dependency Link: 00");
    const [offset, stride] = res[3]!.stdout.trim().split("\n").map(Number) as [number, number];
    expect(l.stdout).toContain(`VF offset: ${offset}, stride: ${stride}, Device ID: 10ca`);
    expect(l.stdout).not.toContain("<?>");
    // VF k = PF RID + offset + k * stride (Linux pci_iov_virtfn_bus/devfn)
    const listed = res[2]!.stdout.trim().split("\n");
    for (let k = 0; k < 8; k++) {
      const rid = 0x0100 + offset + k * stride;
      const bdf = `0000:${(rid >> 8).toString(16).padStart(2, "0")}:${((rid >> 3) & 0x1f).toString(16).padStart(2, "0")}.${rid & 7}`;
      expect(listed).toContain(bdf);
    }
  });

  it("sriov_numvfs keeps Linux's contract: EBUSY for nonzero → nonzero, ERANGE above TotalVFs, EINVAL for junk, 0 always accepted", () => {
    const r = run("exec", "--json", `echo 4 > ${NUMVFS}`, `echo 2 > ${NUMVFS}`, `echo 9 > ${NUMVFS}`, `echo abc > ${NUMVFS}`, `echo 0 > ${NUMVFS}`, `echo 0 > ${NUMVFS}`, `cat ${NUMVFS}`);
    const res = JSON.parse(r.out) as Array<{ stderr: string; stdout: string; code: number }>;
    expect(res.map((x) => x.stderr)).toEqual([
      "",
      "bash: echo: write error: Device or resource busy\n",
      "bash: echo: write error: Numerical result out of range\n",
      "bash: echo: write error: Invalid argument\n",
      "",
      "",
      "",
    ]);
    expect(res[6]!.stdout).toBe("0\n");
    expect(r.code).toBe(1);
  });

  it("lspci --json lists functions with the documented field names", () => {
    const r = run("lspci", "--json", "-s", "01:00.0");
    expect(r.code, r.err).toBe(0);
    const [f] = JSON.parse(r.out) as Array<Record<string, unknown> & { capabilities: Array<{ name: string; id: number; extended: boolean; offset: number; registers: Record<string, unknown> }> }>;
    expect(f).toMatchObject({ bdf: "0000:01:00.0", vendorId: 0x8086, deviceId: 0x10c9, classCode: 0x020000, headerType: 0 });
    expect(Array.isArray(f!.bars)).toBe(true);
    const sriov = f!.capabilities.find((c) => c.extended && c.id === 0x10)!;
    for (const k of ["initialVFs", "totalVFs", "numVFs", "functionDependencyLink", "firstVfOffset", "vfStride", "vfDeviceId", "supportedPageSizes", "systemPageSize", "vfEnable", "vfMse", "ariCapableHierarchy"])
      expect(sriov.registers, k).toHaveProperty(k);
    expect(f!.capabilities.find((c) => !c.extended && c.id === 0x11)!.registers).toHaveProperty("tableSize");
    expect(f!.capabilities.find((c) => !c.extended && c.id === 0x10)!.registers).toHaveProperty("deviceType");
    expect(f!.capabilities.find((c) => c.extended && c.id === 0x0e)!.registers).toHaveProperty("nextFunction");
  });

  it("a garbage dump file gives a clear error naming the line, exit 2", () => {
    const bad = join(tmp, "bad.txt");
    writeFileSync(bad, "01:00.0 Ethernet\n00: 86 80 c9 10\n10: zz 00\n");
    const r = run("lspci", "-F", bad);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad\.txt:\d+:\d+: expected/);
  });

  it("a host file error: file:line:col on stderr, exit 2", () => {
    const r = run("boot", "tests/fixtures/hostfiles/bad/unknown-key.yaml");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown-key\.yaml:\d+:\d+: .*unknown key/);
    expect(r.out).toBe("");
  });

  it("plan on a host whose switch lacks ACS shows the viability refusal and its reason", () => {
    const r = run("plan", "examples/no-acs-switch.yaml", "--json");
    expect(r.code).toBe(1);
    const p = JSON.parse(r.out) as { ok: boolean; warnings: string[] };
    expect(p.ok).toBe(false);
    expect(p.warnings.join("\n")).toContain("0000:02:00.0 (downstream-port) has no ACS capability");
  });

  it("boot --twice --json: the second application changes nothing", () => {
    const r = run("boot", "--twice", "--json");
    expect(r.code, r.err).toBe(0);
    const rep = JSON.parse(r.out) as { changes: number; vfs: unknown[]; smoke: { frames: number } };
    expect(rep.changes).toBe(0);
    expect(rep.vfs.length).toBe(5);
    expect(rep.smoke.frames).toBeGreaterThan(0);
  });

  it("ip link set/show with iproute2's output and errors", () => {
    const r = run("exec", "--json", `echo 2 > ${NUMVFS}`, "ip link set enp1s0f0 vf 1 mac 52:54:00:aa:bb:cc vlan 5 qos 2 spoofchk off trust on", "ip link set enp1s0f0 vf 7 trust on", "ip link show enp1s0f0");
    const res = JSON.parse(r.out) as Array<{ stderr: string; stdout: string; code: number }>;
    expect(res[1]!.code).toBe(0);
    expect(res[2]!.stderr).toBe("RTNETLINK answers: Invalid argument\n");
    expect(res[3]!.stdout).toContain("vf 1     link/ether 52:54:00:aa:bb:cc brd ff:ff:ff:ff:ff:ff, vlan 5, qos 2, spoof checking off, link-state auto, trust on");
  });

  it("pciov costs: the whole table with sources; --evidence the checks; --set applies overrides; a bad override exits 2 and says why", () => {
    const all = run("costs", "--json");
    expect(all.code, all.err).toBe(0);
    const t = JSON.parse(all.out) as { costs: Array<{ key: string; value: number; unit: string; tag: string; source: string }> };
    expect(t.costs.length).toBeGreaterThan(40);
    expect(t.costs.find((c) => c.key === "vmExitKernel")).toMatchObject({ value: 2565, unit: "cycles", tag: "S" });
    for (const c of t.costs) expect(c.source.length, c.key).toBeGreaterThan(10);
    const ev = run("costs", "--evidence", "--json", "--set", "nicDriverTxPerPacket=100,nicDriverTxCleanPerPacket=30");
    expect(ev.code, ev.err).toBe(0);
    const e = JSON.parse(ev.out) as { costs: Array<{ key: string; tag: string }>; evidence: Array<{ id: string; verdict: string; modelNs: number }> };
    expect(e.costs.find((c) => c.key === "nicDriverTxPerPacket")!.tag).toBe("override");
    // 100 + 30 cycles at 2.5 GHz and a 100 ns doorbell: 152 ns, inside pktgen's bound
    expect(e.evidence.find((x) => x.id === "NIC driver transmit")).toMatchObject({ verdict: "agrees", modelNs: 152 });
    const text = run("costs", "--evidence");
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/vhost-net receive, 64 B\s+566\.4\s+565\.2\s+agrees/);
    const bad = run("costs", "--set", "hostSyscall=-1");
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('cost "hostSyscall" must be ≥ 0');
    expect(bad.out).toBe("");
  });

  it("pciov sensitivity: each cost at ÷f and ×f over a scenario's sweep; --json every point; bad options and scenarios exit 2", () => {
    const sc = join(tmp, "sens.yaml");
    writeFileSync(
      sc,
      ["name: sens", "backends: [sriov]", "vms: [1, 2]", "traffic: { kind: udp, direction: tx, frameBytes: 256 }", "run: { warmupUs: 100, measureUs: 300 }"].join("\n"),
    );
    const j = run("sensitivity", sc, "--costs", "guestStackTxPerPacket,xenNetbackPerPacket", "--json");
    expect(j.code, j.err).toBe(0);
    const rep = JSON.parse(j.out) as { factor: number; runs: number; unmoved: string[]; costs: Array<{ key: string; tag: string; goodputHigh: { change: number; at: string }; points: unknown[] }> };
    expect(rep.factor).toBe(2);
    expect(rep.runs).toBe(2 * 5);
    expect(rep.unmoved).toEqual(["xenNetbackPerPacket"]);
    expect(rep.costs.map((c) => [c.key, c.tag, c.points.length])).toEqual([["guestStackTxPerPacket", "A", 2]]);
    expect(rep.costs[0]!.goodputHigh.change).toBeLessThan(0);
    const text = run("sensitivity", sc, "--costs", "guestStackTxPerPacket", "--factor", "1.5");
    expect(text.code, text.err).toBe(0);
    expect(text.out).toContain("each cost ÷1.50 and ×1.50; 6 runs");
    expect(text.out).toMatch(/guestStackTxPerPacket\s+A\s+2000 cycles\s+\+\d+\.\d% sriov@[12]\s+−\d+\.\d% sriov@[12]/);
    for (const [args, msg] of [
      [["--costs", "nope"], '--costs: unknown cost key "nope"'],
      [["--costs", "pcieMaxPayloadBytes"], "not a time"],
      [["--factor", "1"], "--factor: expected a number above 1"],
    ] as const) {
      const r = run("sensitivity", sc, ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toContain(msg);
      expect(r.out).toBe("");
    }
    const broken = join(tmp, "broken.yaml");
    writeFileSync(broken, "name: x\nvms: [1, -2]\n");
    const b = run("sensitivity", broken);
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/broken\.yaml:2:\d+: /);
  });
});
