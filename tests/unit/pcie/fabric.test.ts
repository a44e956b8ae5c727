import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Fabric } from "../../../src/pcie/fabric.js";
import { makeBridge, makeEndpoint, makeHostBridge } from "../../../src/pcie/factories.js";
import { enumerate } from "../../../src/pcie/enumerate.js";
import { PciFunction } from "../../../src/pcie/function.js";
import { ConfigSpace } from "../../../src/pcie/configspace.js";
import { LayoutBuilder } from "../../../src/pcie/layout.js";
import { PCI_HEADER_TYPE, PCI_HEADER_TYPE_MFD, TYPE0_HEADER } from "../../../src/pcie/header.js";
import { PCI_EXP_DEVCTL2, PCI_EXP_DEVCTL2_ARI, PCI_EXP_LNKSTA, PCI_EXP_LNKSTA_DLLLA } from "../../../src/pcie/caps/pcie-regs.js";
import { PCI_SRIOV_CTRL, PCI_SRIOV_CTRL_MSE, PCI_SRIOV_CTRL_VFE, PCI_SRIOV_NUM_VF } from "../../../src/pcie/caps/sriov.js";
import { SriovPf } from "../../../src/sriov/pf.js";
import type { VfHost } from "../../../src/sriov/pf.js";
import { fixedOffsetStride } from "../../../src/sriov/geometry.js";
import { isIovError } from "../../../src/errors.js";
import type { BarSpec } from "../../../src/pcie/bars.js";
import { cfg } from "./fabric-helpers.js";

const KiB = 1024;
const PCIE = 0x40; // where the factories put the PCI Express capability

describe("building a fabric", () => {
  it("has a host bridge at 00:00.0 and places root ports on the next free devices", () => {
    const f = new Fabric();
    expect(f.functionAt(0, 0)).toBe(f.hostBridge);
    expect(cfg(f, f.hostBridge, 0x08, 4) >>> 8).toBe(0x060000);
    const a = f.addRootPort();
    const b = f.addRootPort({ devfn: 0x1c << 3 });
    const c = f.addRootPort();
    expect([a.bdfString, b.bdfString, c.bdfString]).toEqual(["0000:00:01.0", "0000:00:1c.0", "0000:00:02.0"]);
    expect(cfg(f, a, 0x0e, 1)).toBe(1);
    expect(cfg(f, a, 0x08, 4) >>> 8).toBe(0x060400);
    expect(() => f.addRootPort({ devfn: 8 })).toThrow(/already occupied/);
  });

  it("plugs devices: function 0 of a multi-function device gets the MFD bit; a PCIe link takes slot 0 only", () => {
    const f = new Fabric();
    const rp = f.addRootPort();
    const fns = [0, 1, 2].map((k) => makeEndpoint({ fn: k }));
    f.plug(rp, fns);
    expect(fns[0]!.cfg.readRaw(PCI_HEADER_TYPE, 1) & PCI_HEADER_TYPE_MFD).toBe(PCI_HEADER_TYPE_MFD);
    expect(fns[1]!.cfg.readRaw(PCI_HEADER_TYPE, 1) & PCI_HEADER_TYPE_MFD).toBe(0);
    expect(f.childrenOf(rp)).toEqual(fns);
    expect(f.parentBridge(fns[2]!)).toBe(rp);
    const single = makeEndpoint();
    f.plug(f.addRootPort(), single);
    expect(single.cfg.readRaw(PCI_HEADER_TYPE, 1) & PCI_HEADER_TYPE_MFD).toBe(0);
    expect(() => f.plug(f.addRootPort(), makeEndpoint(), { slot: 1 })).toThrow(/one device \(slot 0\)/);
    expect(() => f.plug(single, makeEndpoint())).toThrow(/not a bridge/);
    expect(() => f.plug(rp, [makeEndpoint({ fn: 1 })])).toThrow(/function 0/);
    expect(() => f.plug(rp, single)).toThrow(/already in the fabric/);
    const other = new Fabric();
    expect(() => other.plug(other.addRootPort(), fns[0]!)).toThrow(/another fabric/);
  });

  it("a conventional PCI bridge has 32 slots", () => {
    const f = new Fabric();
    const br = makeBridge("pci-bridge");
    f.plug(f.addRootPort(), br);
    f.plug(br, makeEndpoint({ pcie: false }), { slot: 5 });
    f.plug(br, [makeEndpoint({ pcie: false }), makeEndpoint({ pcie: false, fn: 3 })], { slot: 31 });
    enumerate(f);
    expect(f.functionAt(2, 5 << 3)?.kind).toBe("endpoint");
    expect(f.functionAt(2, (31 << 3) | 3)).toBeDefined();
  });

  it("trains links: both ends report the best speed/width they share in LNKSTA", () => {
    const f = new Fabric();
    const rp = f.addRootPort({ speed: 16, width: 16 });
    const ep = makeEndpoint({ pcie: { speed: 8, width: 8 } });
    f.plug(rp, ep);
    const sta = (fn: PciFunction): number => fn.cfg.readRaw(PCIE + PCI_EXP_LNKSTA, 2);
    expect(sta(ep) & 0x3ff).toBe(3 | (8 << 4));
    expect(sta(rp) & 0x3ff).toBe(3 | (8 << 4));
    expect(sta(rp) & PCI_EXP_LNKSTA_DLLLA).toBe(PCI_EXP_LNKSTA_DLLLA);
    expect(f.node(ep).link).toEqual({ speed: 8, width: 8 });
    // a slot wired x4 at 5 GT/s
    const rp2 = f.addRootPort({ speed: 16, width: 16 });
    const ep2 = makeEndpoint({ pcie: { speed: 16, width: 16 } });
    f.plug(rp2, ep2, { link: { speed: 5, width: 4 } });
    expect(sta(ep2) & 0x3ff).toBe(2 | (4 << 4));
    expect(sta(rp2) & 0x3ff).toBe(2 | (4 << 4));
    // a switch: root port ↔ upstream port trained too
    const rp3 = f.addRootPort({ speed: 8, width: 4 });
    const sw = f.addSwitch(rp3, 2, { upstream: { speed: 16, width: 16 } });
    expect(sta(sw.upstream) & 0x3ff).toBe(3 | (4 << 4));
    f.unplug(rp);
    expect(sta(rp) & 0x3ff).toBe(0);
    expect(f.has(ep)).toBe(false);
  });
});

describe("run-time add/remove", () => {
  it("adds a function on a reachable bus and removes bridges with everything below", () => {
    const f = new Fabric();
    const rp = f.addRootPort();
    const sw = f.addSwitch(rp, 2);
    const ep = makeEndpoint();
    f.plug(sw.downstream[0]!, ep);
    expect(() => f.addFunction(makeEndpoint(), 4, 0)).toThrow(/no bus 0000:04 is reachable/);
    enumerate(f);
    const hot = makeEndpoint();
    f.addFunction(hot, 4, 0); // below the empty downstream port 02:01.0
    expect(f.functionAt(4, 0)).toBe(hot);
    expect(f.parentBridge(hot)).toBe(sw.downstream[1]);
    expect(() => f.addFunction(makeEndpoint(), 4, 0)).toThrow(/already occupied/);
    const n = f.functionCount;
    f.removeFunction(sw.upstream);
    expect(f.functionCount).toBe(n - 5);
    expect(f.functionAt(3, 0)).toBeUndefined();
    expect(f.has(ep)).toBe(false);
    expect(ep.cfg.observer).toBeUndefined();
    expect(() => f.removeFunction(f.hostBridge)).toThrow(/cannot be removed/);
    expect(() => f.node(ep)).toThrow(/not in this fabric/);
  });

  it("renumbering a bridge moves the functions below it (their RIDs follow the Secondary Bus register)", () => {
    const f = new Fabric();
    const rp = f.addRootPort();
    const ep = makeEndpoint();
    f.plug(rp, ep);
    enumerate(f);
    expect(ep.rid).toBe(0x0100);
    f.configWrite(0, 8, 0x18, 4, 0x00ff0700);
    expect(ep.bus).toBe(7);
    expect(f.functionAt(7, 0)).toBe(ep);
    expect(f.functionAt(1, 0)).toBeUndefined();
  });

  it("keeps an O(1) index by routing ID with 65,000+ functions", () => {
    const f = new Fabric();
    const rp = f.addRootPort();
    const pf = makeEndpoint();
    f.plug(rp, pf);
    f.configWrite(0, 8, 0x18, 4, 0x00ff0100); // secondary 1, subordinate 255
    f.configWrite(0, 8, PCIE + PCI_EXP_DEVCTL2, 2, PCI_EXP_DEVCTL2_ARI); // devfn ≥ 8 on bus 1 needs ARI forwarding
    const layout = new LayoutBuilder(256).header(TYPE0_HEADER, {}).build();
    const vfs: PciFunction[] = [];
    for (let bus = 1; bus <= 255; bus++)
      for (let devfn = bus === 1 ? 1 : 0; devfn < 256; devfn++) {
        const vf = new PciFunction(new ConfigSpace(layout), "endpoint", devfn);
        vf.physfn = pf;
        vf.vfIndex = vfs.length;
        f.addFunction(vf, bus, devfn);
        vfs.push(vf);
      }
    expect(f.functionCount).toBeGreaterThanOrEqual(65_000);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: vfs.length - 1 }), (k) => {
        const vf = vfs[k]!;
        expect(f.functionAt(vf.bus, vf.devfn)).toBe(vf);
        expect(f.configRead(vf.bus, vf.devfn, 0, 2)).toEqual({ status: "SC", value: 0xffff });
      }),
      { numRuns: 2000 },
    );
    const t0 = performance.now();
    let hits = 0;
    for (let i = 0; i < 200_000; i++) if (f.cfgRead(1 + (i % 255), (i * 7) & 0xff, 0, 2) === 0xffff) hits++;
    expect(hits).toBeGreaterThan(190_000);
    expect(performance.now() - t0).toBeLessThan(2000);
    f.removeFunction(pf);
    expect(f.functionCount).toBe(2);
    expect(f.functionAt(200, 0)).toBeUndefined();
  });
});

describe("the fabric as the SR-IOV PF's VfHost", () => {
  const vfBars: BarSpec[] = [{ index: 0, kind: "mem64", prefetchable: true, size: 16 * KiB }];
  const setup = (totalVfs: number, offset: number, stride: number) => {
    const f = new Fabric();
    const rp = f.addRootPort();
    const pf = makeEndpoint({ ari: { nextFunction: 0 }, bars: [{ index: 0, kind: "mem32", prefetchable: false, size: 4 * KiB }], sriov: { totalVFs: totalVfs, vfDeviceId: 0x10ed, offset, stride, vfBars } });
    f.plug(rp, pf);
    f.addRootPort(); // a sibling whose bus number must not collide with the VFs'
    const vfLayout = new LayoutBuilder(4096).header(TYPE0_HEADER, {}).build();
    const host: VfHost = f;
    const sp = new SriovPf({
      pf,
      capOffset: f.node(pf).sriovCap,
      geometry: { initialVfs: totalVfs, totalVfs, vfDeviceId: 0x10ed, supportedPageSizes: 0x553, functionDependencyLink: 0, offsetStride: fixedOffsetStride(offset, stride), rule: "fixed" },
      vfLayout,
      vfBars,
      host,
      model: { vfMmio: (i) => ({ mmioRead: (_b, off) => i * 0x10000 + off, mmioWrite: () => undefined }), vfsEnabled: () => undefined, vfsDisabled: () => undefined, vfReset: () => undefined, pfReset: () => undefined },
    });
    const r = enumerate(f);
    return { f, pf, sp, r, cap: f.node(pf).sriovCap };
  };

  it("VF Enable attaches VFs at their RIDs (beyond the PF's bus too); CRS for 100 ms; VF BARs routed; disable detaches", () => {
    const { f, sp, cap, r } = setup(300, 1, 1);
    expect(r.functions.find((e) => e.bdf === "0000:00:02.0")!.secondary).toBe(3); // bus 2 kept for VFs
    f.configWrite(1, 0, cap + PCI_SRIOV_NUM_VF, 2, 300);
    f.configWrite(1, 0, cap + PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
    expect(sp.vfs.length).toBe(300);
    expect(sp.unreachable).toBe(0);
    const last = sp.vfs[299]!;
    expect(last.rid).toBe(0x0200 + 44);
    expect(f.configRead(2, 44, 0, 2)).toEqual({ status: "CRS", value: 0x0001 });
    f.advanceNs(100_000_000);
    expect(f.configRead(2, 44, 0, 2)).toEqual({ status: "SC", value: 0xffff });
    expect(f.configRead(2, 45, 0, 2).status).toBe("UR");
    expect(f.functionAt(1, 7)).toBe(sp.vfs[6]);
    const base = sp.vfBarBase(0);
    expect(f.memRead(base + 299 * 16 * KiB + 4, 4)).toEqual({ status: "SC", value: 299 * 0x10000 + 4 });
    expect(f.resolveMmio(base + 5 * 16 * KiB)!.fn).toBe(sp.vfs[5]);
    f.configWrite(1, 0, cap + PCI_SRIOV_CTRL, 2, 0);
    expect(f.configRead(2, 44, 0, 2).status).toBe("UR");
    expect(f.memRead(base, 4).status).toBe("UR");
    expect(f.functionCount).toBe(4);
  });

  it("VFs on a bus nothing routes to are attached but unreachable (the PF counts them) until routing covers it", () => {
    const { f, sp, cap } = setup(300, 1, 1);
    f.configWrite(0, 8, 0x1a, 1, 1); // root port subordinate 2 → 1: bus 2 no longer routed
    f.configWrite(1, 0, cap + PCI_SRIOV_NUM_VF, 2, 300);
    f.configWrite(1, 0, cap + PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
    expect(sp.vfs.length).toBe(300);
    expect(sp.unreachable).toBe(300 - 255);
    f.advanceNs(100_000_000);
    expect(f.configRead(1, 255, 0, 2).status).toBe("SC");
    expect(f.configRead(2, 0, 0, 2).status).toBe("UR");
    f.configWrite(0, 8, 0x1a, 1, 2);
    expect(f.functionAt(2, 0)).toBe(sp.vfs[255]);
    const g = new Fabric();
    const stray = makeEndpoint();
    stray.physfn = makeEndpoint();
    expect(g.attachVf(stray)).toBe(false); // its PF is not in this fabric
  });

  it("CRS before readyAtNs, for any readiness time and clock", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 0, max: 1e9 }), (ready, now) => {
        const f = new Fabric();
        const ep = makeEndpoint({ kind: "rciep" });
        f.addRciep(ep, 4);
        ep.readyAtNs = ready;
        f.setNowNs(now);
        expect(f.configRead(0, 4 << 3, 0, 2).status).toBe(now < ready ? "CRS" : "SC");
      }),
    );
    const f = new Fabric();
    f.setNowNs(10);
    expect(() => f.setNowNs(5)).toThrow(/cannot go back/);
    expect(() => f.advanceNs(-1)).toThrow();
  });

  it("rejects malformed routing IDs as a caller error", () => {
    const f = new Fabric();
    let e: unknown;
    try {
      f.configRead(256, 0, 0, 4);
    } catch (x) {
      e = x;
    }
    expect(isIovError(e, "EINVAL")).toBe(true);
    expect(() => f.configRead(0, -1, 0, 4)).toThrow(/not a routing ID/);
    expect(makeHostBridge().kind).toBe("host-bridge");
  });
});
