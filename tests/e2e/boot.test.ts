import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parseHostFile } from "../../src/config/parse.js";
import { boot, report, type BootState } from "../../src/config/boot.js";
import { SimHost } from "../../src/config/host.js";
import { isConfigError, formatIssue } from "../../src/config/issues.js";
import { isIovError } from "../../src/errors.js";

const load = (path: string) => parseHostFile(readFileSync(path, "utf8"), path);

describe("boot-time assignment from a host file", () => {
  it("the default host boots: VFs attached, drivers up, smoke traffic verified, no faults", () => {
    const st = boot(load("examples/default.yaml"));
    const r = report(st);
    expect(r.vfs.length).toBe(5);
    expect(new Set(r.vfs.map((v) => v.bdf)).size).toBe(5);
    expect(r.smoke?.frames).toBeGreaterThan(0);
    expect(r.smoke?.bytesVerified).toBe(128 * (r.smoke?.frames ?? 0));
    expect(r.faults).toEqual([]);
    // every assigned VF is in a group of its own (ACS root ports), different from its PF's
    const groupsOfVfs = r.vfs.map((v) => v.group);
    expect(new Set(groupsOfVfs).size).toBe(groupsOfVfs.length);
    // admin settings reached the report
    expect(r.vfs.find((v) => v.guest === "web" && v.nic === 0)).toMatchObject({ mac: "52:54:00:00:01:00", vlan: 10, bdf: "0000:01:10.0" });
  });

  it("running the same file twice changes nothing the second time", () => {
    const hf = load("examples/default.yaml");
    const st = boot(hf);
    const first = report(st);
    const again = report(boot(hf, { state: st }));
    expect(first.changes).toBeGreaterThan(0);
    expect(again.changes).toBe(0);
    expect(again.vfs).toEqual(first.vfs);
  });

  it("a failing step undoes the earlier ones: VFs disabled again, no guest, no IOMMU domain", () => {
    const hf = load("examples/no-acs-switch.yaml");
    const host = new SimHost(hf);
    const st: BootState = { host, guests: new Map(), domains: new Map(), nics: [], groups: [], steps: [], smoke: undefined };
    let err: unknown;
    try {
      boot(hf, { state: st });
    } catch (e) {
      err = e;
    }
    expect(isIovError(err, "EPERM")).toBe(true);
    expect((err as Error).message).toContain("group 2 also holds 0000:03:00.0, bound to the host (ixgbe): assigning 0000:04:10.0 to left would let it reach that device");
    // sriov_numvfs had been applied before the viability check; it was undone
    expect(st.steps.some((s) => s.what.startsWith("echo 2 >") && s.changed)).toBe(true);
    expect(host.pf("0000:03:00.0").driver.enabledVfs).toBe(0);
    expect(host.pf("0000:03:00.0").sriov.vfs.length).toBe(0);
    expect(host.hv.guests.length).toBe(0);
    expect(st.domains.size).toBe(0);
  });

  it("config errors that need the built fabric name file:line:col and apply nothing", () => {
    for (const [f, text] of [
      ["tests/fixtures/hostfiles/cli/too-many-vfs.yaml", "too-many-vfs.yaml:8:13"],
      ["tests/fixtures/hostfiles/cli/no-such-pf.yaml", "no-such-pf.yaml:7:9"],
    ] as const) {
      let err: unknown;
      try {
        boot(load(f));
      } catch (e) {
        err = e;
      }
      expect(isConfigError(err), f).toBe(true);
      const msgs = (err as { issues: Parameters<typeof formatIssue>[0][] }).issues.map(formatIssue);
      expect(msgs.some((m) => m.includes(text)), msgs.join("\n")).toBe(true);
    }
  });

  it("the E810 example spreads 256 VFs over 16 guests, VFs carried onto buses 2 and 3", () => {
    const r = report(boot(load("examples/e810-256.yaml"), { smoke: false }));
    expect(r.vfs.length).toBe(16);
    expect(r.vfs[0]!.bdf).toBe("0000:02:00.0");
    expect(r.vfs.find((v) => v.vf === 255 || v.vf === 240)?.bdf.startsWith("0000:02:") || r.vfs.some((v) => v.bdf.startsWith("0000:03:"))).toBe(true);
  });

  it("a host built from a real dump boots with the dump's geometry (offset 384, stride 2)", () => {
    const st = boot(load("examples/from-dump.yaml"));
    const pf = st.host.pf("0000:01:00.0");
    expect(pf.sriov.offset).toBe(384);
    expect(pf.sriov.stride).toBe(2);
    expect(report(st).vfs.map((v) => v.bdf)).toEqual(["0000:02:10.0", "0000:02:10.2"]);
  });
});

describe("boot: multi-PF cards and interrupt vectors", () => {
  it("the two PFs of a stride-1 card (X710) hand out disjoint VF routing IDs", () => {
    const hf = parseHostFile(
      `host: { memory: 8GiB, cpus: 4 }
fabric: { rootPorts: [ { slot: 1, device: { template: intel-x710 } } ] }
pfs:
  - { pf: 0000:01:00.0, numVfs: 2 }
  - { pf: 0000:01:00.1, numVfs: 3 }
guests:
  - { name: a, memory: 1GiB, nics: [ { vf: "0000:01:00.0#1" } ] }
  - { name: b, memory: 1GiB, nics: [ { vf: "0000:01:00.1#0" } ] }
`,
      "x710.yaml",
    );
    const st = boot(hf);
    const rids = st.host.pfs.flatMap((p) => p.sriov.vfs.map((v) => v.rid));
    expect(new Set(rids).size).toBe(5);
    expect(st.host.pfs.every((p) => p.sriov.unreachable === 0)).toBe(true);
    expect(report(st).vfs.length).toBe(2);
  });

  it("a guest with more NICs than free interrupt vectors is refused by validation (file:line:col of the NIC that overflows), nothing applied", () => {
    const nics = Array.from({ length: 11 }, (_, i) => `      - vf: "0000:01:00.0#${i}"`).join("\n");
    const hf = parseHostFile(
      `host: { memory: 16GiB, cpus: 8 }
fabric: { rootPorts: [ { slot: 1, device: { template: intel-e810 } } ] }
pfs: [ { pf: 0000:01:00.0, numVfs: 16 } ]
guests:
  - name: big
    memory: 2GiB
    nics:
${nics}
`,
      "vectors.yaml",
    );
    const host = new SimHost(hf);
    const st: BootState = { host, guests: new Map(), domains: new Map(), nics: [], groups: [], steps: [], smoke: undefined };
    // E810 VFs take 17 vectors each: ten fit the 176 of 0x40..0xef, the eleventh does not
    expect(() => boot(hf, { state: st })).toThrow(
      "vectors.yaml:18:13: guests[0].nics[10].vf: expected NICs whose MSI-X vectors fit guest big's 176 interrupt vectors (0x40..0xef), found 187 with this one (17 per VF of 0000:01:00.0)",
    );
    expect(host.hv.guests.length).toBe(0);
    expect(host.pf("0000:01:00.0").driver.enabledVfs).toBe(0);
  });
});

describe("boot: ACS per switch downstream port", () => {
  const text = (acs: boolean) => `host: { memory: 8GiB, cpus: 4 }
fabric:
  rootPorts:
    - slot: 1
      switch:
        acs: false
        ports:
          - { acs: ${acs}, device: { template: intel-82599 } }
          - { device: { template: intel-82576 } }
pfs:
  - { pf: 0000:03:00.0, numVfs: 2 }
guests:
  - { name: a, memory: 1GiB, nics: [ { vf: "0000:03:00.0#0" } ] }
  - { name: b, memory: 1GiB, nics: [ { vf: "0000:03:00.0#1" } ] }
`;
  it("a port with ACS isolates its VFs even when the switch's default is no ACS", () => {
    expect(report(boot(parseHostFile(text(true), "sw.yaml"))).vfs.length).toBe(2);
  });
  it("without ACS on that port the same assignment is refused", () => {
    expect(() => boot(parseHostFile(text(false), "sw.yaml"))).toThrow(/0000:02:00.0 \(downstream-port\) has no ACS capability/);
  });
});
