/** Multi-capability layouts: the builder's next pointers, placement and the read-only chain. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ConfigSpace } from "../../../../src/pcie/configspace.js";
import { PCI_CAPABILITY_LIST, PCI_STATUS, PCI_STATUS_CAP_LIST, TYPE0_HEADER } from "../../../../src/pcie/header.js";
import { LayoutBuilder } from "../../../../src/pcie/layout.js";
import { PCI_ACS_CR, PCI_ACS_RR, PCI_ACS_SV, PCI_ACS_UF, acsCap } from "../../../../src/pcie/caps/acs.js";
import { aerCap } from "../../../../src/pcie/caps/aer.js";
import { ariCap } from "../../../../src/pcie/caps/ari.js";
import { atsCap } from "../../../../src/pcie/caps/ats.js";
import type { CapConfig } from "../../../../src/pcie/caps/common.js";
import { asCapConfig, asCapDef, placeCap } from "../../../../src/pcie/caps/common.js";
import { dsnCap } from "../../../../src/pcie/caps/dsn.js";
import { capDefAt } from "../../../../src/pcie/caps/index.js";
import { msiCap } from "../../../../src/pcie/caps/msi.js";
import { msixCap } from "../../../../src/pcie/caps/msix.js";
import { pasidCap } from "../../../../src/pcie/caps/pasid.js";
import { pcieCap } from "../../../../src/pcie/caps/pcie.js";
import { pmCap } from "../../../../src/pcie/caps/pm.js";
import { priCap } from "../../../../src/pcie/caps/pri.js";
import { sriovCap } from "../../../../src/pcie/caps/sriov.js";
import { vsecCap } from "../../../../src/pcie/caps/vndr.js";

interface Found {
  id: number;
  offset: number;
  version?: number;
}

/** Walk the standard list from 0x34 as lspci does (with a loop guard). */
function walkStd(cs: ConfigSpace): Found[] {
  const out: Found[] = [];
  let p = cs.read(PCI_CAPABILITY_LIST, 1) & 0xfc;
  for (let n = 0; p !== 0 && n < 48; n++) {
    out.push({ id: cs.read(p, 1), offset: p });
    p = cs.read(p + 1, 1) & 0xfc;
  }
  return out;
}

/** Walk the extended list from 0x100 (PCI_EXT_CAP_NEXT). */
function walkExt(cs: ConfigSpace): Found[] {
  const out: Found[] = [];
  let p = 0x100;
  for (let n = 0; p !== 0 && n < 960; n++) {
    const h = cs.read(p, 4);
    if (h === 0 || h === 0xffffffff) break;
    out.push({ id: h & 0xffff, offset: p, version: (h >>> 16) & 0xf });
    p = (h >>> 20) & 0xffc;
  }
  return out;
}

const STD: ReadonlyArray<[string, CapConfig]> = [
  ["pm", asCapConfig(pmCap({ pme: ["d0", "d3hot"] }))],
  ["msi", { def: asCapDef(msiCap({ addr64: true, perVectorMask: true })), overrides: {} }],
  ["msix", asCapConfig(msixCap({ vectors: 10, tableBir: 3, tableOffset: 0, pbaBir: 3, pbaOffset: 0x2000 }))],
  ["pcie", asCapConfig(pcieCap("endpoint", { speed: 2.5, width: 4 }))],
  ["msi32", { def: asCapDef(msiCap({ addr64: false, perVectorMask: false })), overrides: {} }],
];
const EXT: ReadonlyArray<[string, CapConfig]> = [
  ["aer", asCapConfig(aerCap("endpoint"))],
  ["dsn", asCapConfig(dsnCap(0x001b21ffff123456n))],
  ["ari", asCapConfig(ariCap({ nextFunction: 1 }))],
  ["sriov", asCapConfig(sriovCap({ totalVFs: 8, vfDeviceId: 0x10ca }))],
  ["acs", acsCap(PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF)],
  ["ats", asCapConfig(atsCap())],
  ["pri", asCapConfig(priCap({ capacity: 64 }))],
  ["pasid", asCapConfig(pasidCap({ width: 20 }))],
  ["vsec", asCapConfig(vsecCap({ vsecId: 1, rev: 1, length: 0x14 }))],
];

describe("layout builder chains capabilities", () => {
  it("an 82576-like layout at explicit offsets chains in order, as lspci would walk it", () => {
    const b = new LayoutBuilder(4096).header(TYPE0_HEADER);
    const at: Array<[CapConfig, number]> = [
      [STD[0]![1], 0x40],
      [STD[1]![1], 0x50],
      [STD[2]![1], 0x70],
      [STD[3]![1], 0xa0],
      [EXT[0]![1], 0x100],
      [EXT[1]![1], 0x140],
      [EXT[2]![1], 0x150],
      [EXT[3]![1], 0x160],
    ];
    for (const [c, off] of at) placeCap(b, c, off);
    const cs = new ConfigSpace(b.build());
    expect(cs.read(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST).toBe(PCI_STATUS_CAP_LIST);
    expect(walkStd(cs)).toEqual([
      { id: 0x01, offset: 0x40 },
      { id: 0x05, offset: 0x50 },
      { id: 0x11, offset: 0x70 },
      { id: 0x10, offset: 0xa0 },
    ]);
    expect(walkExt(cs)).toEqual([
      { id: 0x01, offset: 0x100, version: 2 },
      { id: 0x03, offset: 0x140, version: 1 },
      { id: 0x0e, offset: 0x150, version: 1 },
      { id: 0x10, offset: 0x160, version: 1 },
    ]);
    // the chain is read-only: software cannot unlink a capability
    cs.write(0x41, 1, 0x00);
    cs.write(PCI_CAPABILITY_LIST, 1, 0x00);
    cs.write(0x100, 4, 0);
    expect(walkStd(cs).length).toBe(4);
    expect(walkExt(cs).length).toBe(4);
  });

  it("any subset in any order, placed automatically, chains in insertion order without overlap", () => {
    fc.assert(
      fc.property(fc.shuffledSubarray([...STD], { minLength: 0 }), fc.shuffledSubarray([...EXT], { minLength: 1 }), fc.boolean(), (std, ext, extFirst) => {
        const b = new LayoutBuilder(4096).header(TYPE0_HEADER);
        const order = extFirst ? [...ext, ...std] : [...std, ...ext];
        for (const [, c] of order) placeCap(b, c);
        const L = b.build();
        const cs = new ConfigSpace(L);
        const s = walkStd(cs);
        const e = walkExt(cs);
        expect(s.map((f) => f.id)).toEqual(std.map(([, c]) => c.def.id));
        expect(e.map((f) => f.id)).toEqual(ext.map(([, c]) => c.def.id));
        expect(e.map((f) => f.version)).toEqual(ext.map(([, c]) => c.def.version));
        expect((cs.read(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST) !== 0).toBe(std.length > 0);
        if (std.length === 0) expect(cs.read(PCI_CAPABILITY_LIST, 1)).toBe(0);
        // dword aligned, inside their space, disjoint; and each found capability decodes with its own table
        const spans = L.caps.map((c) => [c.offset, c.offset + c.def.size] as const).sort((x, y) => x[0] - y[0]);
        for (let i = 0; i < spans.length; i++) {
          expect(spans[i]![0] % 4).toBe(0);
          if (i > 0) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
        }
        for (const f of [...s, ...e]) {
          const inst = L.caps.find((c) => c.offset === f.offset)!;
          expect(capDefAt((o, n) => cs.read(o, n), f.offset, f.id, f.offset >= 0x100)).toBe(inst.def);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("the last capability of each list ends it with a zero next pointer", () => {
    const b = new LayoutBuilder(4096).header(TYPE0_HEADER);
    placeCap(b, STD[3]![1]);
    placeCap(b, EXT[3]![1]);
    const cs = new ConfigSpace(b.build());
    expect(cs.read(0x41, 1)).toBe(0);
    expect(cs.read(0x100, 4) >>> 20).toBe(0);
    expect(cs.read(0x100, 4) & 0xffff).toBe(0x10);
  });
});
