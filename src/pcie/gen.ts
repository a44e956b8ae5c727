/**
 * Generated fabrics for tests and benchmarks: `randomFabric(seed)` draws a hierarchy of root ports,
 * switches (nested), PCIe-to-PCI bridges, RCiEPs, single- and multi-function endpoints, ARI devices
 * and SR-IOV PFs with random BARs; `bigFabric()` fills all 256 bus numbers with more than 8,192
 * functions. Both are deterministic for a given seed/parameters.
 */
import type { BarSpec } from "./bars.js";
import { Fabric } from "./fabric.js";
import { makeBridge, makeEndpoint } from "./factories.js";
import type { EndpointOptions } from "./factories.js";
import type { PciFunction } from "./function.js";
import { PCI_ACS_CR, PCI_ACS_RR, PCI_ACS_SV, PCI_ACS_UF } from "./caps/acs.js";

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RandomFabricParams {
  readonly maxRootPorts?: number; // default 6
  readonly maxRcieps?: number; // default 2
  readonly maxSwitchDepth?: number; // default 2
  readonly maxDownstreamPorts?: number; // default 5
  readonly pSwitch?: number; // default 0.3
  readonly pPciBridge?: number; // default 0.1
  readonly pEmpty?: number; // default 0.15
  readonly pMultifunction?: number; // default 0.25
  readonly pAri?: number; // default 0.2
  readonly pSriov?: number; // default 0.3
  /** Chance that an endpoint has an I/O BAR (I/O space is small: keep it rare). Default 0.04. */
  readonly pIo?: number;
  /** Largest TotalVFs. Default 64. */
  readonly maxVfs?: number;
}

const ACS_REQ = PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF;

/** A random fabric (not enumerated). The same seed and parameters always give the same fabric. */
export function randomFabric(seed: number, p: RandomFabricParams = {}): Fabric {
  const rnd = prng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const chance = (x: number): boolean => rnd() < x;
  const pow2 = (lo: number, hi: number): number => 2 ** int(lo, hi);
  let ioLeft = 6;

  const randomBars = (allowIo: boolean): BarSpec[] => {
    const bars: BarSpec[] = [];
    let i = 0;
    const n = int(0, 3);
    for (let k = 0; k < n && i < 6; k++) {
      const r = rnd();
      if (allowIo && ioLeft > 0 && chance(p.pIo ?? 0.04)) {
        bars.push({ index: i++, kind: "io", prefetchable: false, size: pow2(2, 8) });
        ioLeft--;
      } else if (r < 0.45 || i === 5) bars.push({ index: i++, kind: "mem32", prefetchable: false, size: pow2(4, 22) });
      else {
        const pf = chance(0.7);
        bars.push({ index: i, kind: "mem64", prefetchable: pf, size: pf ? pow2(12, 26) : pow2(4, 20) });
        i += 2;
      }
    }
    return bars;
  };

  const endpoint = (fn: number, o: Partial<EndpointOptions> = {}): PciFunction =>
    makeEndpoint({ deviceId: int(1, 0xfff), fn, bars: randomBars(true), ...(chance(0.5) ? { msix: { vectors: int(1, 64), tableBir: 0, tableOffset: 0, pbaBir: 0, pbaOffset: 0x800 } } : {}), ...o });

  /**
   * SR-IOV for function 0 of a device on a PCIe link. With ARI the VFs follow the device's `nFns`
   * functions on the same bus (and may spill onto the next buses); without ARI they must start on a
   * later bus, where device numbers are not limited to 0 (the 82576 reports offset 384 without ARI).
   */
  const sriovOpts = (ari: boolean, nFns: number): EndpointOptions["sriov"] => {
    const total = int(1, p.maxVfs ?? 64);
    const vfBars: BarSpec[] = chance(0.6)
      ? [{ index: 0, kind: "mem64", prefetchable: true, size: pow2(12, 20) }]
      : [
          { index: 0, kind: "mem32", prefetchable: false, size: pow2(12, 16) },
          { index: 2, kind: "mem64", prefetchable: true, size: pow2(12, 18) },
        ];
    return { totalVFs: total, vfDeviceId: 0x10ed, vfBars, offset: ari ? nFns + int(0, 32) : int(256, 400), stride: int(1, 4) };
  };

  /** The functions of one device: below a PCIe port (`linkPort`) or on a conventional PCI bus. */
  const device = (linkPort: boolean): PciFunction[] => {
    const sriov = linkPort && chance(p.pSriov ?? 0.3);
    // The MSI-X table lives in BAR0; an endpoint always gets at least one memory BAR for it.
    const base = (fn: number, extra: Partial<EndpointOptions>): PciFunction => {
      const f = endpoint(fn, extra);
      if (f.bars.length > 0) return f;
      return makeEndpoint({ fn, deviceId: int(1, 0xfff), bars: [{ index: 0, kind: "mem32", prefetchable: false, size: 0x1000 }], ...extra });
    };
    if (linkPort && chance(p.pAri ?? 0.2)) {
      const n = int(2, 24);
      const nums = Array.from({ length: n }, (_, k) => k);
      return nums.map((k) => base(k, { ari: { nextFunction: k + 1 < n ? k + 1 : 0 }, ...(k === 0 && sriov ? { sriov: sriovOpts(true, n) } : {}) }));
    }
    const n = chance(p.pMultifunction ?? 0.25) ? int(2, 8) : 1;
    return Array.from({ length: n }, (_, k) => base(k, k === 0 && sriov ? { sriov: sriovOpts(false, n) } : {}));
  };

  const f = new Fabric();
  const fillPort = (port: PciFunction, depth: number): void => {
    if (chance(p.pEmpty ?? 0.15)) return;
    if (depth < (p.maxSwitchDepth ?? 2) && chance(p.pSwitch ?? 0.3)) {
      const sw = f.addSwitch(port, int(1, p.maxDownstreamPorts ?? 5), { downstream: chance(0.5) ? { acs: ACS_REQ } : {} });
      for (const d of sw.downstream) fillPort(d, depth + 1);
      return;
    }
    if (chance(p.pPciBridge ?? 0.1)) {
      const br = makeBridge("pci-bridge", {});
      f.plug(port, br);
      const free = Array.from({ length: 32 }, (_, k) => k);
      for (let n = int(1, 4); n > 0; n--) f.plug(br, device(false), { slot: free.splice(int(0, free.length - 1), 1)[0]! });
      return;
    }
    f.plug(port, device(true));
  };
  const nRoot = int(1, p.maxRootPorts ?? 6);
  for (let i = 0; i < nRoot; i++) fillPort(f.addRootPort(chance(0.5) ? { acs: ACS_REQ } : {}), 0);
  const nRc = int(0, p.maxRcieps ?? 2);
  for (let i = 0; i < nRc; i++) f.addRciep(makeEndpoint({ kind: "rciep", bars: randomBars(false).filter((b) => b.kind !== "io") }), 20 + i);
  return f;
}

export interface BigFabricParams {
  /** Root ports on bus 0 (each with a switch). Default 15. */
  readonly rootPorts?: number;
  /** Downstream ports per switch. Default 15. */
  readonly downstreamPorts?: number;
  /** Functions of the ARI endpoint below each downstream port. Default 36. */
  readonly functionsPerDevice?: number;
}

/**
 * A fabric for benchmarks: root ports, each with a switch whose downstream ports each hold an ARI
 * endpoint of many functions. With the defaults it uses all 256 bus numbers (1 + 15 × 17) and has
 * 8,356 functions.
 */
export function bigFabric(o: BigFabricParams = {}): Fabric {
  const nRoot = o.rootPorts ?? 15;
  const nDown = o.downstreamPorts ?? 15;
  const nFn = o.functionsPerDevice ?? 36;
  const f = new Fabric();
  const bars: BarSpec[] = [
    { index: 0, kind: "mem32", prefetchable: false, size: 0x1000 },
    { index: 2, kind: "mem64", prefetchable: true, size: 0x4000 },
  ];
  for (let r = 0; r < nRoot; r++) {
    const rp = f.addRootPort({ acs: ACS_REQ });
    const sw = f.addSwitch(rp, nDown, { downstream: { acs: ACS_REQ } });
    for (const d of sw.downstream) {
      const fns = Array.from({ length: nFn }, (_, k) => makeEndpoint({ deviceId: 0x1000, fn: k, bars, ari: { nextFunction: k + 1 < nFn ? k + 1 : 0 } }));
      f.plug(d, fns);
    }
  }
  return f;
}
