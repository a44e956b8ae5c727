import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Fabric } from "../../../src/pcie/fabric.js";
import { makeEndpoint } from "../../../src/pcie/factories.js";
import { enumerate } from "../../../src/pcie/enumerate.js";
import type { EnumerateResult } from "../../../src/pcie/enumerate.js";
import { randomFabric } from "../../../src/pcie/gen.js";
import { walkDecode } from "../../../src/pcie/route.js";
import type { MmioHandler, PciFunction } from "../../../src/pcie/function.js";
import { PCI_COMMAND, PCI_COMMAND_IO, PCI_COMMAND_MEMORY, PCI_MEMORY_LIMIT } from "../../../src/pcie/header.js";
import { PCI_EXP_DEVCTL2, PCI_EXP_DEVCTL2_ARI } from "../../../src/pcie/caps/pcie-regs.js";
import { PCI_SRIOV_CTRL, PCI_SRIOV_CTRL_MSE, PCI_SRIOV_CTRL_VFE, PCI_SRIOV_NUM_VF } from "../../../src/pcie/caps/sriov.js";
import { prng } from "../../../src/pcie/gen.js";
import { cfg, leaves, readWindows } from "./fabric-helpers.js";

const KiB = 1024;
const rid = (fn: PciFunction): number => fn.rid;

/** Records every MMIO access, answers reads with a value naming the function, BAR and offset. */
function recorder(tag: number): MmioHandler & { log: Array<[string, number, number, number, number?]> } {
  const log: Array<[string, number, number, number, number?]> = [];
  return {
    log,
    mmioRead(bar, offset, size) {
      log.push(["r", bar, offset, size]);
      return (tag * 0x1000000 + bar * 0x100000 + offset) >>> 0;
    },
    mmioWrite(bar, offset, size, value) {
      log.push(["w", bar, offset, size, value]);
    },
  };
}

describe("configuration routing", () => {
  const build = (): { f: Fabric; rp: PciFunction; ari: PciFunction[]; sw: ReturnType<Fabric["addSwitch"]> } => {
    const f = new Fabric();
    const rp = f.addRootPort();
    const ari = Array.from({ length: 12 }, (_, k) => makeEndpoint({ fn: k, ari: { nextFunction: k + 1 < 12 ? k + 1 : 0 }, bars: [{ index: 0, kind: "mem32", prefetchable: false, size: 4 * KiB }] }));
    f.plug(rp, ari);
    const rp2 = f.addRootPort();
    const sw = f.addSwitch(rp2, 3);
    f.plug(sw.downstream[1]!, makeEndpoint());
    return { f, rp, ari, sw };
  };

  it("before enumeration only bus 0 answers; other buses are UR and read all-ones", () => {
    const { f } = build();
    expect(f.configRead(0, 0, 0, 4)).toEqual({ status: "SC", value: 0x29c08086 });
    expect(f.configRead(0, 8, 0, 2).status).toBe("SC");
    expect(f.configRead(1, 0, 0, 4)).toEqual({ status: "UR", value: 0xffffffff });
    expect(f.configRead(0, 0x1f << 3, 0, 2)).toEqual({ status: "UR", value: 0xffff });
    expect(f.configRead(0, 0x1f << 3, 0, 1)).toEqual({ status: "UR", value: 0xff });
    expect(f.configWrite(3, 0, 4, 2, 6)).toEqual({ status: "UR" });
  });

  it("type 1 requests cross bridges by secondary/subordinate and become type 0 on the secondary bus", () => {
    const { f, sw } = build();
    enumerate(f);
    // 00:02.0 → 02:00.0 (upstream) → bus 3: downstream ports 03:00.0..03:02.0; endpoint below 03:01.0 on bus 5
    expect(f.functionAt(2, 0)).toBe(sw.upstream);
    expect(f.functionAt(3, 8)).toBe(sw.downstream[1]);
    expect(f.configRead(5, 0, 0, 2)).toEqual({ status: "SC", value: 0x1b36 });
    expect(f.configRead(4, 0, 0, 2).status).toBe("UR"); // empty downstream port's bus
    expect(f.configRead(7, 0, 0, 2).status).toBe("UR"); // beyond every subordinate
    // moving the bridge's secondary bus moves what answers
    f.configWrite(3, 8, 0x19, 1, 9);
    expect(f.configRead(5, 0, 0, 2).status).toBe("UR");
  });

  it("device ≠ 0 below a PCIe port is UR unless ARI forwarding is enabled in the port's DEVCTL2", () => {
    const { f, rp, ari } = build();
    enumerate(f); // enumeration turns ARI forwarding on (function 0 has ARI)
    const pos = 0x40;
    expect(cfg(f, rp, pos + PCI_EXP_DEVCTL2, 2) & PCI_EXP_DEVCTL2_ARI).toBe(PCI_EXP_DEVCTL2_ARI);
    expect(f.functionAt(1, 11)).toBe(ari[11]);
    expect(f.configRead(1, 11, 0, 2).status).toBe("SC");
    f.configWrite(0, rp.devfn, pos + PCI_EXP_DEVCTL2, 2, 0);
    expect(f.configRead(1, 11, 0, 2)).toEqual({ status: "UR", value: 0xffff });
    expect(f.configRead(1, 7, 0, 2).status).toBe("SC"); // device 0, function 7
  });

  it("a function before its readyAtNs answers CRS (Vendor ID 0x0001), and SC after", () => {
    const { f, ari } = build();
    enumerate(f);
    ari[3]!.readyAtNs = f.nowNs() + 1000;
    expect(f.configRead(1, 3, 0, 4)).toEqual({ status: "CRS", value: 0xffff0001 });
    expect(f.configRead(1, 3, 0, 2)).toEqual({ status: "CRS", value: 0x0001 });
    expect(f.configRead(1, 3, 8, 4)).toEqual({ status: "CRS", value: 0xffffffff });
    expect(f.configWrite(1, 3, 4, 2, 0)).toEqual({ status: "CRS" });
    f.advanceNs(1000);
    expect(f.configRead(1, 3, 0, 2)).toEqual({ status: "SC", value: 0x1b36 });
  });

  it("config requests to functions that do not exist are UR for every bus/devfn", () => {
    const f = randomFabric(11);
    enumerate(f);
    const present = new Set(f.functions().map((fn) => fn.rid));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (bus, devfn) => {
        const r = f.configRead(bus, devfn, 0, 4);
        const fn = f.functionAt(bus, devfn);
        if (fn === undefined) expect(r).toEqual({ status: "UR", value: 0xffffffff });
        else {
          expect(present.has((bus << 8) | devfn)).toBe(true);
          expect(r.status).toBe("SC");
          expect(r.value).toBe(fn.cfg.read(0, 4));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

/** Draw addresses inside and outside every BAR of an enumerated fabric. */
function checkRouting(f: Fabric, r: EnumerateResult, seed: number, vfsEnabled = false): void {
  const rnd = prng(seed);
  const all = leaves(f, r);
  const bars = all.filter((l) => !l.what.startsWith("iov"));
  for (const l of bars) {
    const e = r.functions.find((x) => x.bdf === l.bdf)!;
    const fn = f.functionAt(e.bus, e.devfn)!;
    const index = Number(l.what.slice(3));
    for (let k = 0; k < 4; k++) {
      const off = k === 0 ? 0 : k === 1 ? l.size - 1 : Math.floor(rnd() * l.size);
      const addr = l.base + off;
      const space = l.window === "io" ? "io" : "mem";
      const t = space === "io" ? f.resolveIo(addr) : f.resolveMmio(addr);
      expect(t?.fn, `${l.bdf} ${l.what} +${off.toString(16)}`).toBe(fn);
      expect(t!.bar).toBe(index);
      expect(addr - t!.base).toBe(off);
      expect(walkDecode(f.root, space, addr)).toEqual({ fn, bar: index, offset: off });
      if (space === "mem") expect(f.memRead(addr, 4).status).toBe("SC");
      else expect(f.ioRead(addr, 1).status).toBe("SC");
    }
  }
  // addresses claimed by no BAR: UR, by the table and by the reference walk alike
  // VF BAR apertures are claimed only while VF Enable and VF MSE are set
  const mem = (vfsEnabled ? all : bars).filter((l) => l.window !== "io").sort((a, b) => a.base - b.base);
  const gaps: Array<[number, number]> = [];
  let cur = 0;
  for (const l of mem) {
    if (l.base > cur) gaps.push([cur, l.base]);
    cur = Math.max(cur, l.base + l.size);
  }
  gaps.push([cur, 2 ** 40]);
  for (const [s, e] of gaps) {
    for (const addr of [s, e - 1, s + Math.floor(rnd() * (e - s))]) {
      expect(f.resolveMmio(addr), `0x${addr.toString(16)}`).toBeUndefined();
      expect(walkDecode(f.root, "mem", addr)).toBeUndefined();
      expect(f.memRead(addr, 4)).toEqual({ status: "UR", value: 0xffffffff });
      expect(f.memWrite(addr, 4, 1)).toBe("UR");
    }
  }
}

describe("memory and I/O routing", () => {
  it("every configured BAR is reached by its addresses and only by them; everything else is UR", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const f = randomFabric(seed);
        const r = enumerate(f);
        checkRouting(f, r, seed);
        // the decode table is disjoint and agrees with the reference walk at every range start
        const map = f.decodeMap();
        for (let i = 1; i < map.length; i++) expect(map[i]!.start).toBeGreaterThanOrEqual(map[i - 1]!.end);
        for (const t of map) expect(walkDecode(f.root, "mem", t.start)?.fn).toBe(t.fn);
      }),
      { numRuns: 40 },
    );
  });

  it("VFs of every PF are reachable at their RIDs after enumeration, and each VF BAR slice reaches its VF", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const f = randomFabric(seed, { pSriov: 0.8 });
        const r = enumerate(f);
        const rnd = prng(seed);
        for (const e of r.functions) {
          if (e.sriov === undefined) continue;
          const pf = f.functionAt(e.bus, e.devfn)!;
          const cap = f.node(pf).sriovCap;
          const total = e.sriov.totalVfs;
          const offset = cfg(f, pf, cap + 0x14, 2);
          const stride = cfg(f, pf, cap + 0x16, 2);
          // stand-ins for the VFs a PF model would instantiate (VF Enable with NumVFs = TotalVFs)
          const vfs: PciFunction[] = [];
          for (let k = 0; k < total; k++) {
            const rid = pf.rid + offset + stride * k;
            const vf = makeEndpoint({ label: `VF ${k}` });
            vf.physfn = pf;
            vf.vfIndex = k;
            vf.bus = rid >> 8;
            vf.devfn = rid & 0xff;
            expect(f.attachVf(vf), `VF ${k} of ${e.bdf} at ${vf.bdfString}`).toBe(true);
            vfs.push(vf);
          }
          expect(rid(vfs[total - 1]!) >> 8).toBeLessThanOrEqual(e.sriov.maxVfBus);
          f.configWrite(e.bus, e.devfn, cap + PCI_SRIOV_NUM_VF, 2, total);
          f.configWrite(e.bus, e.devfn, cap + PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
          for (const x of e.resources) {
            if (x.type !== "iov") continue;
            const k = Math.floor(rnd() * total);
            const off = Math.floor(rnd() * x.perVf!);
            const t = f.resolveMmio(x.base + k * x.perVf! + off);
            expect(t?.fn).toBe(vfs[k]);
            expect(t!.bar).toBe(x.index);
            expect(walkDecode(f.root, "mem", x.base + k * x.perVf! + off)).toEqual({ fn: vfs[k], bar: x.index, offset: off });
          }
        }
        checkRouting(f, r, seed, true);
      }),
      { numRuns: 40 },
    );
  });

  it("calls the target's MmioHandler with (bar, offset, size); writes are posted", () => {
    const f = new Fabric();
    const h = recorder(7);
    const ep = makeEndpoint({ bars: [{ index: 2, kind: "mem64", prefetchable: true, size: 64 * KiB }], mmio: h });
    f.plug(f.addRootPort(), ep);
    const r = enumerate(f);
    const base = r.functions.find((e) => e.bdf === "0000:01:00.0")!.resources[0]!.base;
    expect(f.memRead(base + 0x18, 2)).toEqual({ status: "SC", value: 7 * 0x1000000 + 2 * 0x100000 + 0x18 });
    expect(f.memWrite(base + 0x40, 4, 0xdead)).toBe("SC");
    expect(h.log).toEqual([
      ["r", 2, 0x18, 2],
      ["w", 2, 0x40, 4, 0xdead],
    ]);
    // the resolved target is shared: no allocation per lookup, stable while the decode is unchanged
    const g = f.decodeGeneration;
    expect(f.resolveMmio(base + 8)).toBe(f.resolveMmio(base + 0x100));
    expect(f.decodeGeneration).toBe(g);
  });

  it("Command.Memory of the function or of any bridge above, and the bridge windows, gate the decode", () => {
    const f = new Fabric();
    const rp = f.addRootPort();
    const sw = f.addSwitch(rp, 1);
    const ep = makeEndpoint({ bars: [{ index: 0, kind: "mem32", prefetchable: false, size: 2 * 1024 * KiB }] });
    f.plug(sw.downstream[0]!, ep);
    const r = enumerate(f);
    const base = r.functions.find((e) => e.bdf === "0000:03:00.0")!.resources[0]!.base;
    const hit = (): string => f.memRead(base + 0x1f_fff0, 4).status;
    expect(hit()).toBe("SC");
    const g = f.decodeGeneration;
    const cmd = cfg(f, ep, PCI_COMMAND, 2);
    f.configWrite(3, 0, PCI_COMMAND, 2, cmd & ~PCI_COMMAND_MEMORY);
    expect(f.decodeGeneration).not.toBe(g);
    expect(hit()).toBe("UR");
    f.configWrite(3, 0, PCI_COMMAND, 2, cmd);
    expect(hit()).toBe("SC");
    for (const br of [rp, sw.upstream, sw.downstream[0]!]) {
      const c = cfg(f, br, PCI_COMMAND, 2);
      f.configWrite(br.bus, br.devfn, PCI_COMMAND, 2, c & ~PCI_COMMAND_MEMORY);
      expect(hit()).toBe("UR");
      f.configWrite(br.bus, br.devfn, PCI_COMMAND, 2, c);
      expect(hit()).toBe("SC");
    }
    // shrink the downstream port's window to 1 MiB: the upper half of the BAR falls outside it
    const w = readWindows(f, sw.downstream[0]!).mem!;
    f.configWrite(2, 0, PCI_MEMORY_LIMIT, 2, (w.base / 65536) & 0xfff0);
    expect(f.memRead(base + 0x10, 4).status).toBe("SC");
    expect(hit()).toBe("UR");
    expect(walkDecode(f.root, "mem", base + 0x1f_fff0)).toBeUndefined();
  });

  it("routes I/O through I/O windows, gated by Command.IO", () => {
    const f = new Fabric();
    const h = recorder(3);
    const ep = makeEndpoint({ bars: [{ index: 1, kind: "io", prefetchable: false, size: 64 }], mmio: h });
    f.plug(f.addRootPort(), ep);
    const r = enumerate(f);
    const port = r.functions.find((e) => e.bdf === "0000:01:00.0")!.resources[0]!.base;
    expect(f.ioRead(port + 4, 1)).toEqual({ status: "SC", value: 3 * 0x1000000 + 0x100000 + 4 });
    expect(f.ioWrite(port + 63, 1, 9)).toBe("SC");
    expect(f.ioRead(port + 64, 1).status).toBe("UR");
    f.configWrite(1, 0, PCI_COMMAND, 2, cfg(f, ep, PCI_COMMAND, 2) & ~PCI_COMMAND_IO);
    expect(f.ioRead(port, 1).status).toBe("UR");
    expect(f.resolveMmio(port)).toBeUndefined();
  });

  it("a PF decodes its VF BAR apertures while VF Enable and VF MSE are set; slots without a VF are UR", () => {
    const f = new Fabric();
    const pf = makeEndpoint({ sriov: { totalVFs: 4, vfDeviceId: 1, offset: 1, stride: 1, vfBars: [{ index: 0, kind: "mem64", prefetchable: true, size: 16 * KiB }] } });
    f.plug(f.addRootPort(), pf);
    const r = enumerate(f);
    const iov = r.functions.find((e) => e.bdf === "0000:01:00.0")!.resources.find((x) => x.type === "iov")!;
    const cap = f.node(pf).sriovCap;
    // no PF model attached VFs: the aperture is claimed by the PF but nothing answers
    f.configWrite(1, 0, cap + PCI_SRIOV_NUM_VF, 2, 4);
    f.configWrite(1, 0, cap + PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE);
    expect(f.decodeMap().some((t) => t.start >= iov.base && t.start < iov.base + iov.size)).toBe(false);
    f.configWrite(1, 0, cap + PCI_SRIOV_CTRL, 2, PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
    expect(f.memRead(iov.base, 4).status).toBe("UR");
    // a VF attached by RID (as the SR-IOV PF model does) answers in its slice
    const vf = makeEndpoint({ label: "VF 2", mmio: recorder(9) });
    vf.physfn = pf;
    vf.vfIndex = 2;
    f.addFunction(vf, 1, 3);
    const t = f.resolveMmio(iov.base + 2 * 16 * KiB + 0x10)!;
    expect(t.fn).toBe(vf);
    expect(t.bar).toBe(0);
    expect(f.memRead(iov.base + 2 * 16 * KiB + 0x10, 4)).toEqual({ status: "SC", value: 9 * 0x1000000 + 0x10 });
    expect(walkDecode(f.root, "mem", iov.base + 2 * 16 * KiB + 0x10)).toEqual({ fn: vf, bar: 0, offset: 0x10 });
    expect(f.memRead(iov.base + 3 * 16 * KiB, 4).status).toBe("UR");
    expect(f.memRead(iov.base + 4 * 16 * KiB, 4).status).toBe("UR");
  });
});
