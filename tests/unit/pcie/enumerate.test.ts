import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { BarSpec } from "../../../src/pcie/bars.js";
import { sizeBarVia } from "../../../src/pcie/bars.js";
import { Fabric } from "../../../src/pcie/fabric.js";
import { makeBridge, makeEndpoint } from "../../../src/pcie/factories.js";
import { enumerate } from "../../../src/pcie/enumerate.js";
import { randomFabric } from "../../../src/pcie/gen.js";
import { PCI_COMMAND_IO, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY } from "../../../src/pcie/header.js";
import { PCI_SRIOV_BAR, PCI_SRIOV_CTRL, PCI_SRIOV_CTRL_ARI, PCI_SRIOV_NUM_VF, PCI_SRIOV_SYS_PGSIZE } from "../../../src/pcie/caps/sriov.js";
import { PCI_EXP_DEVCTL2, PCI_EXP_DEVCTL2_ARI } from "../../../src/pcie/caps/pcie-regs.js";
import { PCI_ACS_CR, PCI_ACS_CTRL, PCI_ACS_RR, PCI_ACS_SV, PCI_ACS_UF } from "../../../src/pcie/caps/acs.js";
import { isIovError } from "../../../src/errors.js";
import { SriovPf } from "../../../src/sriov/pf.js";
import { LayoutBuilder } from "../../../src/pcie/layout.js";
import { TYPE0_HEADER } from "../../../src/pcie/header.js";
import { checkEnumeration, cfg, readWindows } from "./fabric-helpers.js";

const KiB = 1024;
const MiB = 1024 * KiB;

const barArb: fc.Arbitrary<BarSpec> = fc.oneof(
  fc.record({ index: fc.integer({ min: 0, max: 5 }), kind: fc.constant("io" as const), prefetchable: fc.constant(false), size: fc.integer({ min: 2, max: 8 }).map((e) => 2 ** e) }),
  fc.record({ index: fc.integer({ min: 0, max: 5 }), kind: fc.constant("mem32" as const), prefetchable: fc.boolean(), size: fc.integer({ min: 4, max: 31 }).map((e) => 2 ** e) }),
  fc.record({ index: fc.integer({ min: 0, max: 4 }), kind: fc.constant("mem64" as const), prefetchable: fc.boolean(), size: fc.integer({ min: 4, max: 52 }).map((e) => 2 ** e) }),
);

describe("BAR sizing through config cycles", () => {
  it("recovers size, kind and prefetchability of any BAR, and restores the register", () => {
    fc.assert(
      fc.property(barArb, fc.nat(), (bar, addrSeed) => {
        const f = new Fabric();
        const ep = makeEndpoint({ bars: [bar], kind: "rciep" });
        f.addRciep(ep, 3);
        // program some address first so that "restore" is observable
        const addr = bar.kind === "io" ? (addrSeed * bar.size) % 0x10000 : ((addrSeed * bar.size) % 2 ** 32) >>> 0;
        f.configWrite(0, ep.devfn, 0x10 + 4 * bar.index, 4, addr);
        const before = f.configRead(0, ep.devfn, 0x10 + 4 * bar.index, 4).value;
        const d = sizeBarVia(
          (off) => f.configRead(0, ep.devfn, off, 4).value,
          (off, v) => void f.configWrite(0, ep.devfn, off, 4, v),
          (i) => 0x10 + 4 * i,
          bar.index,
        );
        expect(d).toBeDefined();
        expect(d!.size).toBe(bar.size);
        expect(d!.kind).toBe(bar.kind);
        expect(d!.prefetchable).toBe(bar.prefetchable);
        expect(f.configRead(0, ep.devfn, 0x10 + 4 * bar.index, 4).value).toBe(before);
      }),
      { numRuns: 300 },
    );
  });

  it("sizes SR-IOV VF BARs the same way (per-VF size, at least the system page)", () => {
    const f = new Fabric();
    const rp = f.addRootPort();
    const pf = makeEndpoint({
      bars: [{ index: 0, kind: "mem32", prefetchable: false, size: 16 * KiB }],
      sriov: { totalVFs: 8, vfDeviceId: 0x10ed, offset: 1, stride: 1, vfBars: [{ index: 2, kind: "mem64", prefetchable: true, size: 64 * KiB }] },
    });
    f.plug(rp, pf);
    const r = enumerate(f);
    const e = r.functions.find((x) => x.bdf === "0000:01:00.0")!;
    expect(e.sriov).toEqual({ totalVfs: 8, maxVfBus: 1, systemPageSize: 4096 });
    const iov = e.resources.find((x) => x.type === "iov")!;
    expect(iov).toMatchObject({ index: 2, window: "pref", size: 8 * 64 * KiB, vfs: 8, perVf: 64 * KiB });
    expect(iov.base % (64 * KiB)).toBe(0);
  });
});

describe("enumeration invariants on random fabrics", () => {
  it("bus ranges nest, windows contain and align, nothing overlaps", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const f = randomFabric(seed);
        const r = enumerate(f);
        expect(r.problems).toEqual([]);
        checkEnumeration(f, r);
      }),
      { numRuns: 60 },
    );
  });

  it("holds without a 64-bit range (prefetchable memory in the 32-bit range) and without realloc", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.boolean(), (seed, realloc) => {
        const f = randomFabric(seed, { maxVfs: 16 });
        const r = enumerate(f, { mmio64: null, realloc, iovShortage: "skip" });
        checkEnumeration(f, r, { mmio64: null });
        for (const p of r.problems) expect(p.code).toBe("ENOSPC");
      }),
      { numRuns: 30 },
    );
  });

  it("is repeatable: enumerating twice gives the same result", () => {
    const f = randomFabric(7);
    const a = enumerate(f);
    const b = enumerate(f);
    expect(b.functions).toEqual(a.functions);
    checkEnumeration(f, b);
  });
});

describe("bus numbering", () => {
  it("reserves bus numbers for VFs beyond the PF's bus before numbering sibling bridges", () => {
    const f = new Fabric();
    const rp = f.addRootPort();
    const sw = f.addSwitch(rp, 2);
    // 300 VFs at offset 1, stride 1 from devfn 0: VF RIDs run to devfn 300 → one bus past the PF's.
    f.plug(sw.downstream[0]!, makeEndpoint({ ari: { nextFunction: 0 }, bars: [{ index: 0, kind: "mem32", prefetchable: false, size: 4 * KiB }], sriov: { totalVFs: 300, vfDeviceId: 1, offset: 1, stride: 1, vfBars: [{ index: 0, kind: "mem64", prefetchable: true, size: 16 * KiB }] } }));
    f.plug(sw.downstream[1]!, makeEndpoint({ bars: [{ index: 0, kind: "mem32", prefetchable: false, size: 4 * KiB }] }));
    const r = enumerate(f);
    const by = new Map(r.functions.map((e) => [e.bdf, e]));
    // 00:01.0 → 01:00.0 (upstream) → bus 2: 02:00.0 and 02:01.0 (downstream ports)
    expect(by.get("0000:03:00.0")!.sriov!.maxVfBus).toBe(4);
    expect(by.get("0000:02:00.0")).toMatchObject({ secondary: 3, subordinate: 4 });
    expect(by.get("0000:02:01.0")).toMatchObject({ secondary: 5, subordinate: 5 });
    expect(by.get("0000:00:01.0")).toMatchObject({ secondary: 1, subordinate: 5 });
    expect(r.lastBus).toBe(5);
    checkEnumeration(f, r);
  });

  it("tries every NumVFs like compute_max_vf_buses (offset may shrink as NumVFs grows), then restores NumVFs", () => {
    const f = new Fabric();
    const rp = f.addRootPort();
    const vfBars: BarSpec[] = [{ index: 0, kind: "mem64", prefetchable: true, size: 16 * KiB }];
    const pf = makeEndpoint({ ari: { nextFunction: 0 }, sriov: { totalVFs: 16, vfDeviceId: 1, offset: 1, stride: 1, vfBars } });
    f.plug(rp, pf);
    // A device whose First VF Offset is 500 with one VF and 1 with more: only NumVFs=1 needs bus+1.
    const geometry = { initialVfs: 16, totalVfs: 16, vfDeviceId: 1, supportedPageSizes: 0x553, functionDependencyLink: 0, rule: "test", offsetStride: (n: number) => ({ offset: n === 1 ? 500 : 1, stride: 1 }) };
    const vfLayout = new LayoutBuilder(4096).header(TYPE0_HEADER, {}).build();
    const cap = f.node(pf).sriovCap;
    new SriovPf({ pf, capOffset: cap, geometry, vfLayout, vfBars, host: f });
    const r = enumerate(f);
    const e = r.functions.find((x) => x.bdf === "0000:01:00.0")!;
    expect(e.sriov!.maxVfBus).toBe(2); // (0 + 500) >> 8 = 1 bus past the PF's
    expect(r.functions.find((x) => x.bdf === "0000:00:01.0")!.subordinate).toBe(2);
    expect(cfg(f, pf, cap + PCI_SRIOV_NUM_VF, 2)).toBe(0);
    expect(cfg(f, pf, cap + PCI_SRIOV_SYS_PGSIZE, 4)).toBe(1);
    // ARI forwarding was enabled on the port (function 0 has ARI) and the PF got ARI Capable Hierarchy.
    expect(cfg(f, rp, 0x40 + PCI_EXP_DEVCTL2, 2) & PCI_EXP_DEVCTL2_ARI).toBe(PCI_EXP_DEVCTL2_ARI);
    expect(cfg(f, pf, cap + PCI_SRIOV_CTRL, 2) & PCI_SRIOV_CTRL_ARI).toBe(PCI_SRIOV_CTRL_ARI);
  });

  it("runs out of bus numbers with ENOSPC naming the bridge", () => {
    const f = new Fabric();
    for (let i = 0; i < 4; i++) f.addRootPort();
    expect(() => enumerate(f, { lastBus: 2 })).toThrow(/0000:00:03\.0: no bus number left/);
  });

  it("waits for a function that answers CRS (the clock advances) instead of missing it", () => {
    const f = new Fabric();
    const rp = f.addRootPort();
    const ep = makeEndpoint({ bars: [{ index: 0, kind: "mem32", prefetchable: false, size: 4 * KiB }] });
    ep.readyAtNs = 50_000_000;
    f.plug(rp, ep);
    const r = enumerate(f);
    expect(r.functions.map((e) => e.bdf)).toContain("0000:01:00.0");
    expect(f.nowNs()).toBeGreaterThanOrEqual(50_000_000);
    const g = new Fabric();
    const late = makeEndpoint();
    late.readyAtNs = 10e9;
    g.plug(g.addRootPort(), late);
    const r2 = enumerate(g, { crsTimeoutNs: 100_000_000 });
    expect(r2.functions.map((e) => e.bdf)).not.toContain("0000:01:00.0");
    expect(r2.problems[0]!.message).toMatch(/0000:01:00\.0: still answering CRS/);
  });
});

describe("resources", () => {
  it("programs Command, puts 64-bit prefetchable BARs above 4 GiB and the rest below", () => {
    const f = new Fabric();
    const rp = f.addRootPort({ acs: PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF });
    const ep = makeEndpoint({
      bars: [
        { index: 0, kind: "mem64", prefetchable: true, size: 8 * MiB },
        { index: 2, kind: "mem64", prefetchable: false, size: 64 * KiB },
        { index: 4, kind: "io", prefetchable: false, size: 32 },
      ],
    });
    f.plug(rp, ep);
    const r = enumerate(f);
    checkEnumeration(f, r);
    const res = r.functions.find((e) => e.bdf === "0000:01:00.0")!.resources;
    expect(res.find((x) => x.index === 0)!.base).toBeGreaterThanOrEqual(2 ** 32);
    expect(res.find((x) => x.index === 2)!.base).toBeLessThan(2 ** 32);
    expect(cfg(f, ep, 0x04, 2) & 7).toBe(PCI_COMMAND_MEMORY | PCI_COMMAND_IO | PCI_COMMAND_MASTER);
    expect(cfg(f, rp, 0x04, 2) & 7).toBe(PCI_COMMAND_MEMORY | PCI_COMMAND_IO | PCI_COMMAND_MASTER);
    const w = readWindows(f, rp);
    expect(w.io).toEqual({ base: 0x1000, limit: 0x1fff });
    expect(w.pref!.limit - w.pref!.base + 1).toBe(8 * MiB);
    // ACS SV|RR|CR|UF enabled on the port, as Linux does with an IOMMU
    expect(cfg(f, rp, 0x100 + PCI_ACS_CTRL, 2)).toBe(PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF);
  });

  it("a bridge without a prefetchable window takes prefetchable BARs in its memory window (below 4 GiB)", () => {
    const f = new Fabric();
    const rp = f.addRootPort();
    const br = makeBridge("pci-bridge", { prefWindow: false });
    f.plug(rp, br);
    f.plug(br, makeEndpoint({ pcie: false, bars: [{ index: 0, kind: "mem64", prefetchable: true, size: 2 * MiB }] }), { slot: 3 });
    const r = enumerate(f);
    const ep = r.functions.find((e) => e.bdf === "0000:02:03.0")!;
    expect(ep.resources[0]!.base).toBeLessThan(2 ** 32);
    expect(readWindows(f, br).pref).toBeUndefined();
    expect(readWindows(f, br).mem!.limit - readWindows(f, br).mem!.base + 1).toBe(2 * MiB);
  });

  it("required BARs that do not fit are ENOSPC naming the resource and the root range", () => {
    const f = new Fabric();
    f.plug(f.addRootPort(), makeEndpoint({ bars: [{ index: 0, kind: "mem32", prefetchable: false, size: 512 * MiB }] }));
    let err: unknown;
    try {
      enumerate(f, { mmio32: { base: 0xc000_0000, limit: 0xcfff_ffff } });
    } catch (e) {
      err = e;
    }
    expect(isIovError(err, "ENOSPC")).toBe(true);
    expect(String(err)).toBe(
      "IovError: ENOSPC: 0000:00:01.0: not enough MMIO resources for its non-prefetchable window: needs 512 MiB in the 32-bit MMIO range [0xc0000000-0xcfffffff] of root bus 0000:00, 256 MiB left",
    );
  });
});

describe("SR-IOV IOV resources and ENOSPC", () => {
  /** A hot-plug root port with a PF: PF BAR 4 MiB, VF BAR0 256 KiB × 256 VFs = 64 MiB, all prefetchable. */
  const build = (): Fabric => {
    const f = new Fabric();
    const rp = f.addRootPort({ slot: { number: 1, hotPlug: true } });
    f.plug(
      rp,
      makeEndpoint({
        ari: { nextFunction: 0 },
        bars: [{ index: 0, kind: "mem64", prefetchable: true, size: 4 * MiB }],
        sriov: { totalVFs: 256, vfDeviceId: 0x10ed, offset: 2, stride: 1, vfBars: [{ index: 0, kind: "mem64", prefetchable: true, size: 256 * KiB }] },
      }),
    );
    return f;
  };

  it("names the device, the VF BAR, the size needed and what was left in which window", () => {
    const f = build();
    let err: unknown;
    try {
      // firmware reserved 16 MiB for the hot-plug port and did not size for SR-IOV
      enumerate(f, { realloc: false, hotplugReserve: { pref: 16 * MiB } });
    } catch (e) {
      err = e;
    }
    expect(isIovError(err, "ENOSPC")).toBe(true);
    expect((err as Error).message).toBe(
      "ENOSPC: 0000:01:00.0: not enough MMIO resources for SR-IOV: VF BAR0 needs 64 MiB (256 VFs × 256 KiB) in the prefetchable window of 0000:00:01.0, 12 MiB left",
    );
    expect((err as { detail: unknown }).detail).toMatchObject({ bdf: "0000:01:00.0", resource: "VF BAR0", needed: 64 * MiB, left: 12 * MiB, vfs: 256, perVf: 256 * KiB });
  });

  it("with realloc the window grows to hold the IOV resource", () => {
    const f = build();
    const r = enumerate(f, { hotplugReserve: { pref: 16 * MiB } });
    checkEnumeration(f, r);
    const w = readWindows(f, f.functionAt(0, 8)!).pref!;
    expect(w.limit - w.base + 1).toBe(68 * MiB);
  });

  it("reserves hot-plug windows on empty hot-plug ports only", () => {
    const f = new Fabric();
    const hp = f.addRootPort({ slot: { number: 2, hotPlug: true } });
    const plain = f.addRootPort();
    const r = enumerate(f, { hotplugReserve: { io: 4 * KiB, mem: 2 * MiB, pref: 8 * MiB } });
    checkEnumeration(f, r);
    const w = readWindows(f, hp);
    expect(w.io!.limit - w.io!.base + 1).toBe(4 * KiB);
    expect(w.mem!.limit - w.mem!.base + 1).toBe(2 * MiB);
    expect(w.pref!.limit - w.pref!.base + 1).toBe(8 * MiB);
    expect(readWindows(f, plain)).toEqual({});
  });

  it("skip mode leaves the VF BAR unassigned and reports it", () => {
    const f = build();
    const r = enumerate(f, { realloc: false, iovShortage: "skip" });
    expect(r.problems.map((p) => p.message)).toEqual([
      "ENOSPC: 0000:01:00.0: not enough MMIO resources for SR-IOV: VF BAR0 needs 64 MiB (256 VFs × 256 KiB) in the prefetchable window of 0000:00:01.0, 0 B left",
    ]);
    const pf = f.functionAt(1, 0)!;
    expect(cfg(f, pf, f.node(pf).sriovCap + PCI_SRIOV_BAR, 4) & ~0xf).toBe(0);
    checkEnumeration(f, r);
  });

  it("a too-small 64-bit root range falls back to BARs-only windows and then reports the IOV resource", () => {
    const f = build();
    expect(() => enumerate(f, { mmio64: { base: 2 ** 36, limit: 2 ** 36 + 32 * MiB - 1 } })).toThrow(
      "ENOSPC: 0000:01:00.0: not enough MMIO resources for SR-IOV: VF BAR0 needs 64 MiB (256 VFs × 256 KiB) in the prefetchable window of 0000:00:01.0, 0 B left",
    );
  });

  it("an IOV resource on the root bus (RCiEP PF) is placed in the root range, reporting the range when short", () => {
    const f = new Fabric();
    f.addRciep(makeEndpoint({ kind: "rciep", sriov: { totalVFs: 4, vfDeviceId: 1, offset: 1, stride: 1, vfBars: [{ index: 0, kind: "mem32", prefetchable: false, size: 1 * MiB }] } }), 2);
    const r = enumerate(f);
    checkEnumeration(f, r);
    expect(() => enumerate(f, { mmio32: { base: 0xc000_0000, limit: 0xc01f_ffff }, iovShortage: "error" })).toThrow(
      "ENOSPC: 0000:00:02.0: not enough MMIO resources for SR-IOV: VF BAR0 needs 4 MiB (4 VFs × 1 MiB) in the 32-bit MMIO range [0xc0000000-0xc01fffff] of root bus 0000:00, 2 MiB left",
    );
  });

  it("a PF whose VF BARs are not page multiples, or whose offset is 0, is reported (EIO) and gets no IOV resource", () => {
    const f = new Fabric();
    f.plug(f.addRootPort(), makeEndpoint({ sriov: { totalVFs: 2, vfDeviceId: 1, offset: 0, stride: 1, vfBars: [{ index: 0, kind: "mem32", prefetchable: false, size: 4 * KiB }] } }));
    const r = enumerate(f);
    expect(r.problems.map((p) => p.code)).toEqual(["EIO"]);
    expect(r.problems[0]!.message).toMatch(/0000:01:00\.0: SR-IOV not usable: First VF Offset 0/);
    expect(r.functions.find((e) => e.bdf === "0000:01:00.0")!.resources.filter((x) => x.type === "iov")).toEqual([]);
  });
});
