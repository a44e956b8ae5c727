import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { checkViability, computeGroups, REQ_ACS_FLAGS, type GroupNode } from "../../../src/hypervisor-glue/groups.js";
import type { FunctionKind } from "../../../src/pcie/function.js";

const ACS_ALL = { cap: 0x5f, ctrl: REQ_ACS_FLAGS };
function node(bdf: string, kind: FunctionKind, upstream: GroupNode | undefined, o: Partial<GroupNode> = {}): GroupNode {
  const [bus, rest] = [parseInt(bdf.slice(5, 7), 16), bdf.slice(8)];
  const [dev, fn] = rest.split(".").map((x) => parseInt(x, 16)) as [number, number];
  return { bdf, bus, devfn: (dev << 3) | fn, kind, multifunction: false, acs: undefined, upstream, isVirtfn: false, ...o };
}
const ids = (r: ReturnType<typeof computeGroups>, n: GroupNode) => r.groupOf.get(n)!.id;

describe("IOMMU groups (Linux pci_device_group rules)", () => {
  it("root port with ACS: the PF and each VF get their own group", () => {
    const rp = node("0000:00:01.0", "root-port", undefined, { acs: ACS_ALL });
    const pf = node("0000:01:00.0", "endpoint", rp);
    const vfs = [1, 2, 3].map((i) => node(`0000:01:00.${i}`, "endpoint", rp, { isVirtfn: true }));
    const r = computeGroups([rp, pf, ...vfs]);
    const gs = new Set([pf, ...vfs].map((n) => ids(r, n)));
    expect(gs.size).toBe(4);
    expect(gs.has(ids(r, rp))).toBe(false);
  });

  it("root port without ACS: the PF and all its VFs fall into the port's group", () => {
    const rp = node("0000:00:01.0", "root-port", undefined);
    const pf = node("0000:01:00.0", "endpoint", rp);
    const vfs = [1, 2].map((i) => node(`0000:01:00.${i}`, "endpoint", rp, { isVirtfn: true }));
    const r = computeGroups([rp, pf, ...vfs]);
    for (const n of [pf, ...vfs]) expect(ids(r, n)).toBe(ids(r, rp));
    expect(r.groupOf.get(pf)!.reasons[0]).toContain("0000:00:01.0 (root-port) has no ACS capability");
  });

  it("ACS capability present but RR/CR disabled counts as not isolated", () => {
    const rp = node("0000:00:01.0", "root-port", undefined, { acs: { cap: 0x1f, ctrl: 0x11 } });
    const pf = node("0000:01:00.0", "endpoint", rp);
    const r = computeGroups([rp, pf]);
    expect(ids(r, pf)).toBe(ids(r, rp));
    expect(r.groupOf.get(pf)!.reasons[0]).toContain("ReqRedir- CmpltRedir-");
  });

  it("controls the capability does not implement count as hard-wired enabled", () => {
    const rp = node("0000:00:01.0", "root-port", undefined, { acs: { cap: PCI_SV_UF, ctrl: PCI_SV_UF } });
    const pf = node("0000:01:00.0", "endpoint", rp);
    const r = computeGroups([rp, pf]);
    expect(ids(r, pf)).not.toBe(ids(r, rp));
  });

  it("multifunction root ports without ACS share one group (consumer chipsets)", () => {
    const a = node("0000:00:1c.0", "root-port", undefined, { multifunction: true });
    const b = node("0000:00:1c.1", "root-port", undefined, { multifunction: true });
    const ea = node("0000:02:00.0", "endpoint", a);
    const eb = node("0000:03:00.0", "endpoint", b);
    const r = computeGroups([a, b, ea, eb]);
    expect(new Set([a, b, ea, eb].map((n) => ids(r, n))).size).toBe(1);
  });

  it("multifunction endpoint (dual-port NIC): PFs share a group without ACS, split with ACS", () => {
    const rp = node("0000:00:01.0", "root-port", undefined, { acs: ACS_ALL });
    const p0 = node("0000:01:00.0", "endpoint", rp, { multifunction: true });
    const p1 = node("0000:01:00.1", "endpoint", rp, { multifunction: true });
    let r = computeGroups([rp, p0, p1]);
    expect(ids(r, p0)).toBe(ids(r, p1));
    const q0 = { ...p0, acs: ACS_ALL };
    const q1 = { ...p1, acs: ACS_ALL };
    r = computeGroups([rp, q0, q1]);
    expect(ids(r, q0)).not.toBe(ids(r, q1));
  });

  it("switch: endpoints below a downstream port without ACS join that port's group", () => {
    const rp = node("0000:00:01.0", "root-port", undefined, { acs: ACS_ALL });
    const up = node("0000:01:00.0", "upstream-port", rp);
    const d1 = node("0000:02:01.0", "downstream-port", up);
    const d2 = node("0000:02:02.0", "downstream-port", up, { acs: ACS_ALL });
    const e1 = node("0000:03:00.0", "endpoint", d1);
    const e2 = node("0000:04:00.0", "endpoint", d2);
    const r = computeGroups([rp, up, d1, d2, e1, e2]);
    expect(ids(r, e1)).toBe(ids(r, d1));
    expect(ids(r, e2)).not.toBe(ids(r, d2));
  });

  it("viability: a group member bound to the host makes assignment unsafe, with the reason and the fix", () => {
    const rp = node("0000:00:01.0", "root-port", undefined);
    const p0 = node("0000:02:00.0", "endpoint", rp, { multifunction: true });
    const p1 = node("0000:02:00.1", "endpoint", rp, { multifunction: true });
    const r = computeGroups([rp, p0, p1]);
    const v = checkViability(p0, "vm1", r, (n) => (n === p1 ? { kind: "host", driver: "igb" } : { kind: "none" }));
    expect(v.ok).toBe(false);
    expect(v.message).toContain(`group ${ids(r, p0)} also holds 0000:02:00.1, bound to the host (igb): assigning 0000:02:00.0 to vm1 would let it reach that device`);
    expect(v.message).toContain("0000:00:01.0 (root-port) has no ACS capability");
    const ok = checkViability(p0, "vm1", r, (n) => (n === p1 ? { kind: "vfio", guest: "vm1" } : { kind: "none" }));
    expect(ok.ok).toBe(true);
  });

  it("property: groups partition the functions, and a function below an ACS-isolated path never shares with another endpoint's subtree", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ acs: fc.boolean(), mf: fc.boolean(), fns: fc.integer({ min: 1, max: 4 }) }), { minLength: 1, maxLength: 8 }), (ports) => {
        const all: GroupNode[] = [];
        const eps: Array<{ port: GroupNode; eps: GroupNode[] }> = [];
        ports.forEach((p, i) => {
          const rp = node(`0000:00:${(i + 1).toString(16).padStart(2, "0")}.0`, "root-port", undefined, p.acs ? { acs: ACS_ALL } : {});
          all.push(rp);
          const bus = (i + 1).toString(16).padStart(2, "0");
          const list = Array.from({ length: p.fns }, (_, f) => node(`0000:${bus}:00.${f}`, "endpoint", rp, { multifunction: p.fns > 1, acs: p.mf ? ACS_ALL : undefined }));
          all.push(...list);
          eps.push({ port: rp, eps: list });
        });
        const r = computeGroups(all);
        // partition
        const count = r.groups.reduce((s, g) => s + g.members.length, 0);
        expect(count).toBe(all.length);
        // different root ports with ACS never share
        for (const a of eps)
          for (const b of eps) {
            if (a === b) continue;
            for (const x of a.eps) for (const y of b.eps) if (a.port.acs && b.port.acs) expect(ids(r, x)).not.toBe(ids(r, y));
          }
        // single-function endpoint behind an ACS root port is alone
        for (const e of eps) if (e.port.acs && e.eps.length === 1) expect(r.groupOf.get(e.eps[0]!)!.members.length).toBe(1);
      }),
    );
  });
});
const PCI_SV_UF = 0x11;
