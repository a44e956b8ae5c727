import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Fabric } from "../../../src/pcie/fabric.js";
import { makeEndpoint } from "../../../src/pcie/factories.js";
import { enumerate } from "../../../src/pcie/enumerate.js";
import { renderTree, topologyJson } from "../../../src/pcie/topology.js";
import type { TopologyBus, TopologyFunction } from "../../../src/pcie/topology.js";
import { bigFabric, randomFabric } from "../../../src/pcie/gen.js";
import { PciFunction } from "../../../src/pcie/function.js";
import { ConfigSpace } from "../../../src/pcie/configspace.js";
import { LayoutBuilder } from "../../../src/pcie/layout.js";
import { TYPE0_HEADER } from "../../../src/pcie/header.js";

function sample(): Fabric {
  const f = new Fabric();
  f.plug(f.addRootPort(), [makeEndpoint(), makeEndpoint({ fn: 1 })]);
  const sw = f.addSwitch(f.addRootPort(), 2);
  f.plug(sw.downstream[0]!, makeEndpoint());
  f.addRootPort({ devfn: 0x1c << 3 });
  f.addRciep([makeEndpoint({ kind: "rciep" }), makeEndpoint({ kind: "rciep", fn: 3 })], 0x1f);
  return f;
}

describe("lspci -t rendering", () => {
  it("draws the hierarchy the way lspci -t does", () => {
    const f = sample();
    // before enumeration only bus 0 is visible; bridges show an unconfigured secondary bus
    expect(renderTree(f)).toBe(
      ["-[0000:00]-+-00.0", "           +-01.0-[00]--", "           +-02.0-[00]--", "           +-1c.0-[00]--", "           +-1f.0", "           \\-1f.3", ""].join("\n"),
    );
    enumerate(f);
    expect(renderTree(f)).toBe(
      [
        "-[0000:00]-+-00.0",
        "           +-01.0-[01]--+-00.0",
        "           |            \\-00.1",
        "           +-02.0-[02-05]----00.0-[03-05]--+-00.0-[04]----00.0",
        "           |                               \\-01.0-[05]--",
        "           +-1c.0-[06]--",
        "           +-1f.0",
        "           \\-1f.3",
        "",
      ].join("\n"),
    );
  });

  it("shows VFs on a further bus as a second bus of the PF's bridge", () => {
    const g = new Fabric();
    const pf = makeEndpoint({ ari: { nextFunction: 0 }, sriov: { totalVFs: 3, vfDeviceId: 1, offset: 254, stride: 1, vfBars: [] } });
    g.plug(g.addRootPort(), pf);
    g.addRootPort();
    enumerate(g);
    const layout = new LayoutBuilder(256).header(TYPE0_HEADER, {}).build();
    for (let k = 0; k < 3; k++) {
      const vf = new PciFunction(new ConfigSpace(layout), "endpoint", (254 + k) & 0xff, [], `VF ${k}`);
      vf.physfn = pf;
      vf.vfIndex = k;
      vf.bus = 1 + ((254 + k) >> 8);
      expect(g.attachVf(vf)).toBe(true);
    }
    expect(renderTree(g)).toBe(
      [
        "-[0000:00]-+-00.0",
        "           +-01.0-[01-02]--+-[0000:01]-+-00.0",
        "           |               |           +-1f.6",
        "           |               |           \\-1f.7",
        "           |               \\-[0000:02]---00.0",
        "           \\-02.0-[03]--",
        "",
      ].join("\n"),
    );
    const j = topologyJson(g);
    const rp = j.buses[0]!.functions[1]!;
    expect(rp).toMatchObject({ bdf: "0000:00:01.0", kind: "root-port", secondary: 1, subordinate: 2 });
    expect(rp.buses!.map((b) => b.bus)).toEqual([1, 2]);
    expect(rp.buses![1]!.functions[0]).toMatchObject({ bdf: "0000:02:00.0", physfn: "0000:01:00.0", vfIndex: 2, vendorId: 0xffff });
    expect(rp.buses![0]!.functions[0]).toMatchObject({ bdf: "0000:01:00.0", link: { speed: 8, width: 8 }, sriov: { totalVfs: 3, numVfs: 0, vfEnable: false } });
  });

  it("JSON and text list every reachable function exactly once, on random fabrics", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const f = randomFabric(seed);
        enumerate(f);
        const seen: string[] = [];
        const walk = (buses: readonly TopologyBus[]): void => {
          for (const b of buses)
            for (const fn of b.functions as TopologyFunction[]) {
              seen.push(fn.bdf);
              expect(Number.parseInt(fn.bdf.slice(5, 7), 16)).toBe(b.bus);
              if (fn.buses !== undefined) walk(fn.buses);
            }
        };
        const j = topologyJson(f);
        walk(j.buses);
        expect(JSON.parse(JSON.stringify(j))).toEqual(j);
        expect([...seen].sort()).toEqual(f.functions().map((x) => x.bdfString).sort());
        const text = renderTree(f);
        const leaves = text.split("\n").filter((l) => l !== "").length;
        expect(leaves).toBeLessThanOrEqual(seen.length);
        expect(text).toMatch(/^-\[0000:00\]-/);
      }),
      { numRuns: 40 },
    );
  });

  it("bigFabric fills 256 buses with more than 8,192 functions", () => {
    const f = bigFabric();
    expect(f.functionCount).toBeGreaterThanOrEqual(8192);
    const r = enumerate(f);
    expect(r.lastBus).toBe(255);
    expect(r.functions.length).toBe(f.functionCount);
    expect(renderTree(f).split("\n").length).toBeGreaterThan(15 * 15 * 36); // one line per endpoint function
  });
});
