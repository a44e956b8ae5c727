/** MSI layouts, MSI-X encoding, Power Management: what the helpers put in the registers. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { isIovError } from "../../../../src/errors.js";
import { decode, regJson } from "../../../../src/pcie/regs.js";
import { asCapConfig, asCapDef } from "../../../../src/pcie/caps/common.js";
import * as Msi from "../../../../src/pcie/caps/msi.js";
import * as Msix from "../../../../src/pcie/caps/msix.js";
import * as Pm from "../../../../src/pcie/caps/pm.js";
import { spaceWith } from "./cases.js";

function throwsCode(f: () => unknown, code: "EINVAL" | "ERANGE"): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(isIovError(err, code), String(err)).toBe(true);
}

describe("MSI layouts", () => {
  it("each of the four layouts has its size and register offsets (pci_regs.h)", () => {
    const want = [
      { addr64: false, perVectorMask: false, size: 0x0a, data: 0x08, mask: undefined },
      { addr64: true, perVectorMask: false, size: 0x0e, data: 0x0c, mask: undefined },
      { addr64: false, perVectorMask: true, size: 0x14, data: 0x08, mask: 0x0c, pending: 0x10 },
      { addr64: true, perVectorMask: true, size: 0x18, data: 0x0c, mask: 0x10, pending: 0x14 },
    ];
    for (const w of want) {
      const d = Msi.msiCap({ addr64: w.addr64, perVectorMask: w.perVectorMask });
      expect(d.size).toBe(w.size);
      expect(d.regs.DATA.offset).toBe(w.data);
      expect(d.regs.MASK?.offset).toBe(w.mask);
      expect(d.regs.PENDING?.offset).toBe(w.pending);
      expect(d.regs.ADDRESS_HI === undefined).toBe(!w.addr64);
      expect(Msi.msiOffsets(w.addr64).data).toBe(w.data);
      const f = decode(d.regs.FLAGS, d.regs.FLAGS.reset);
      expect(f["64BIT"]).toBe(w.addr64 ? 1 : 0);
      expect(f.MASKBIT).toBe(w.perVectorMask ? 1 : 0);
    }
  });

  it("mask bits exist for exactly the vectors the function has; software enables MSI and picks a vector count", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.boolean(), (mmc, addr64) => {
        const def = Msi.msiCap({ addr64, perVectorMask: true, multipleMessageCapable: mmc });
        const { cs, at } = spaceWith({ def: asCapDef(def), overrides: {} });
        const n = Msi.msiVectors(mmc);
        const maskOff = at + def.regs.MASK!.offset;
        cs.write(maskOff, 4, 0xffffffff);
        expect(cs.read(maskOff, 4)).toBe(n === 32 ? 0xffffffff : 2 ** n - 1);
        cs.write(at + Msi.PCI_MSI_FLAGS, 2, 0xffff);
        const f = decode(def.regs.FLAGS, cs.read(at + Msi.PCI_MSI_FLAGS, 2));
        expect(f).toMatchObject({ ENABLE: 1, QMASK: mmc, QSIZE: 7, MASKBIT: 1 });
        expect(regJson(def.regs.FLAGS, cs.read(at + Msi.PCI_MSI_FLAGS, 2)).multipleMessageCapable).toBe(mmc);
        cs.write(at + Msi.PCI_MSI_ADDRESS_LO, 4, 0xfee0_0003);
        expect(cs.read(at + Msi.PCI_MSI_ADDRESS_LO, 4)).toBe(0xfee0_0000);
      }),
      { numRuns: 24 },
    );
  });

  it("the layout read back from Message Control is the one that was built, the same object each time", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 5 }), (addr64, perVectorMask, mmc) => {
        const d = Msi.msiCap({ addr64, perVectorMask, multipleMessageCapable: mmc });
        expect(Msi.msiCap({ addr64, perVectorMask, multipleMessageCapable: mmc })).toBe(d);
        expect(Msi.msiCapFromFlags(d.regs.FLAGS.reset | Msi.PCI_MSI_FLAGS_ENABLE | 0x30)).toBe(d);
      }),
    );
    expect(Msi.MSI_CAP).toBe(Msi.msiCap({ addr64: true, perVectorMask: true, multipleMessageCapable: 0 }));
  });

  it("refuses vector codes beyond 32 vectors", () => {
    throwsCode(() => Msi.msiCap({ multipleMessageCapable: 6 }), "ERANGE");
    throwsCode(() => Msi.msiCap({ multipleMessageCapable: 1.5 }), "ERANGE");
    throwsCode(() => Msi.msiVectors(-1), "ERANGE");
  });
});

describe("MSI-X", () => {
  it("Table Size is N-1 encoded; table and PBA locations are read-only; Function Mask and Enable are writable", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2048 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 0x1fff_ffff }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 0x1fff_ffff }),
        (vectors, tableBir, tq, pbaBir, pq) => {
          const c = Msix.msixCap({ vectors, tableBir, tableOffset: tq * 8, pbaBir, pbaOffset: pq * 8 });
          const { cs, at } = spaceWith(asCapConfig(c));
          const flags = cs.read(at + Msix.PCI_MSIX_FLAGS, 2);
          expect(regJson(Msix.MSIX_CAP.regs.FLAGS, flags).tableSize).toBe(vectors - 1);
          expect(Msix.msixTableOffset(cs.read(at + Msix.PCI_MSIX_TABLE, 4))).toEqual({ bir: tableBir, offset: tq * 8 });
          expect(Msix.msixPbaOffset(cs.read(at + Msix.PCI_MSIX_PBA, 4))).toEqual({ bir: pbaBir, offset: pq * 8 });
          cs.write(at + Msix.PCI_MSIX_FLAGS, 2, 0xffff);
          cs.write(at + Msix.PCI_MSIX_TABLE, 4, 0);
          expect(cs.read(at + Msix.PCI_MSIX_FLAGS, 2)).toBe(Msix.PCI_MSIX_FLAGS_ENABLE | Msix.PCI_MSIX_FLAGS_MASKALL | (vectors - 1));
          expect(Msix.msixTableOffset(cs.read(at + Msix.PCI_MSIX_TABLE, 4)).offset).toBe(tq * 8);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("refuses tables it cannot describe", () => {
    const ok = { vectors: 8, tableBir: 0, tableOffset: 0, pbaBir: 0, pbaOffset: 0x800 };
    throwsCode(() => Msix.msixCap({ ...ok, vectors: 0 }), "ERANGE");
    throwsCode(() => Msix.msixCap({ ...ok, vectors: 2049 }), "ERANGE");
    throwsCode(() => Msix.msixCap({ ...ok, tableBir: 6 }), "ERANGE");
    throwsCode(() => Msix.msixCap({ ...ok, pbaOffset: 0x804 }), "EINVAL");
  });
});

describe("Power Management", () => {
  it("PME_Status is RW1C, sticky exactly when PME from D3cold is supported", () => {
    for (const d3cold of [false, true]) {
      const c = Pm.pmCap({ pme: d3cold ? ["d0", "d3hot", "d3cold"] : ["d0", "d3hot"], d1: true });
      const { cs, at } = spaceWith(asCapConfig(c));
      const pmc = decode(Pm.PM_CAP.regs.PMC, cs.read(at + Pm.PCI_PM_PMC, 2));
      expect(pmc).toMatchObject({ VERSION: 3, D1: 1, D2: 0, PME: d3cold ? 0b11001 : 0b01001 });
      cs.write(at + Pm.PCI_PM_CTRL, 2, 3 | Pm.PCI_PM_CTRL_PME_ENABLE);
      cs.setHw(at + Pm.PCI_PM_CTRL, 2, cs.read(at + Pm.PCI_PM_CTRL, 2) | Pm.PCI_PM_CTRL_PME_STATUS);
      cs.reset(true); // FLR / hot reset
      const after = cs.read(at + Pm.PCI_PM_CTRL, 2);
      expect(after & (Pm.PCI_PM_CTRL_PME_STATUS | Pm.PCI_PM_CTRL_PME_ENABLE)).toBe(d3cold ? Pm.PCI_PM_CTRL_PME_STATUS | Pm.PCI_PM_CTRL_PME_ENABLE : 0);
      expect(after & Pm.PCI_PM_CTRL_STATE_MASK).toBe(0); // back in D0
      cs.setHw(at + Pm.PCI_PM_CTRL, 2, Pm.PCI_PM_CTRL_PME_STATUS);
      cs.write(at + Pm.PCI_PM_CTRL, 2, Pm.PCI_PM_CTRL_PME_STATUS);
      expect(cs.read(at + Pm.PCI_PM_CTRL, 2) & Pm.PCI_PM_CTRL_PME_STATUS).toBe(0);
    }
  });

  it("Aux_Current, DSI and No_Soft_Reset land where PMC/PMCSR put them", () => {
    const { cs, at } = spaceWith(asCapConfig(Pm.pmCap({ auxCurrent: 5, dsi: true, noSoftReset: true })));
    expect(regJson(Pm.PM_CAP.regs.PMC, cs.read(at + Pm.PCI_PM_PMC, 2))).toMatchObject({ auxCurrent: 5, dsi: true, pmeSupport: 0 });
    expect(regJson(Pm.PM_CAP.regs.CTRL, cs.read(at + Pm.PCI_PM_CTRL, 2))).toMatchObject({ noSoftReset: true, powerState: 0 });
    throwsCode(() => Pm.pmCap({ auxCurrent: 8 }), "ERANGE");
  });
});
