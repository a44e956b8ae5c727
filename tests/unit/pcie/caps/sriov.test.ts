/** The SR-IOV capability layout: the names and masks the SR-IOV behaviour (src/sriov) relies on. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { isIovError } from "../../../../src/errors.js";
import type { BarSpec } from "../../../../src/pcie/bars.js";
import { sizeBarVia } from "../../../../src/pcie/bars.js";
import { regJson } from "../../../../src/pcie/regs.js";
import { asCapConfig } from "../../../../src/pcie/caps/common.js";
import * as S from "../../../../src/pcie/caps/sriov.js";
import { spaceWith } from "./cases.js";

const json = (key: keyof typeof S.SRIOV_CAP.regs): string[] => {
  const r = S.SRIOV_CAP.regs[key];
  return [r.json, ...Object.values(r.fields).map((f) => f.json ?? "")];
};

describe("SR-IOV capability layout", () => {
  it("is a 0x40-byte extended capability, version 1, ID 0x10", () => {
    expect([S.SRIOV_CAP.size, S.SRIOV_CAP.version, S.SRIOV_CAP.id, S.SRIOV_CAP.extended]).toEqual([0x40, 1, 0x10, true]);
  });

  it("uses the agreed JSON names", () => {
    expect(json("CAP")).toEqual(
      expect.arrayContaining(["vfMigrationCapable", "ariCapableHierarchyPreserved", "vf10BitTagRequesterSupported", "vfMigrationInterruptMessageNumber"]),
    );
    expect(json("CTRL")).toEqual(
      expect.arrayContaining(["vfEnable", "vfMigrationEnable", "vfMigrationInterruptEnable", "vfMse", "ariCapableHierarchy", "vf10BitTagRequesterEnable"]),
    );
    const regNames = Object.values(S.SRIOV_CAP.regs).map((r) => r.json);
    expect(regNames).toEqual(
      expect.arrayContaining([
        "initialVFs",
        "totalVFs",
        "numVFs",
        "functionDependencyLink",
        "firstVfOffset",
        "vfStride",
        "vfDeviceId",
        "supportedPageSizes",
        "systemPageSize",
        "vfBar0",
        "vfBar5",
      ]),
    );
    const ctrl = S.SRIOV_CAP.regs.CTRL.fields;
    expect([ctrl.VFE.lsb, ctrl.VFM.lsb, ctrl.INTR.lsb, ctrl.MSE.lsb, ctrl.ARI.lsb, ctrl.VF_10BIT_TAG_REQ_EN.lsb]).toEqual([0, 1, 2, 3, 4, 5]);
    expect(json("VFM")).toEqual(["vfMigrationState", "vfMigrationStateBir", "vfMigrationStateOffsetQwords"]);
  });

  it("has the agreed write masks and reset values", () => {
    const r = S.SRIOV_CAP.regs;
    expect(r.CTRL.rw).toBe(S.PCI_SRIOV_CTRL_VFE | S.PCI_SRIOV_CTRL_VFM | S.PCI_SRIOV_CTRL_INTR | S.PCI_SRIOV_CTRL_MSE | S.PCI_SRIOV_CTRL_ARI);
    expect(r.NUM_VF.rw).toBe(0xffff);
    expect(r.SYS_PGSIZE.rw >>> 0).toBe(0xffffffff); // reg() keeps 32-bit masks as signed numbers
    expect([r.SUP_PGSIZE.reset, r.SYS_PGSIZE.reset]).toEqual([0x553, 1]);
    for (const k of ["CAP", "INITIAL_VF", "TOTAL_VF", "FUNC_LINK", "VF_OFFSET", "VF_STRIDE", "VF_DID", "SUP_PGSIZE", "VFM"] as const) expect(r[k].rw, k).toBe(0);
    for (let i = 0; i < 6; i++) expect(r[`BAR${i}` as "BAR0"].offset).toBe(0x24 + 4 * i);
    expect(r.STATUS.w1c).toBe(S.PCI_SRIOV_STATUS_VFM);
  });

  it("regJson names a live register by the agreed names", () => {
    const { cs, at } = spaceWith(asCapConfig(S.sriovCap({ totalVFs: 8, vfDeviceId: 0x10ca })));
    cs.write(at + S.PCI_SRIOV_NUM_VF, 2, 4);
    cs.write(at + S.PCI_SRIOV_CTRL, 2, S.PCI_SRIOV_CTRL_VFE | S.PCI_SRIOV_CTRL_MSE);
    expect(regJson(S.SRIOV_CAP.regs.CTRL, cs.read(at + S.PCI_SRIOV_CTRL, 2))).toEqual({
      sriovCtrl: 9,
      vfEnable: true,
      vfMigrationEnable: false,
      vfMigrationInterruptEnable: false,
      vfMse: true,
      ariCapableHierarchy: false,
      vf10BitTagRequesterEnable: false,
    });
    expect(regJson(S.SRIOV_CAP.regs.NUM_VF, cs.read(at + S.PCI_SRIOV_NUM_VF, 2))).toEqual({ numVFs: 4 });
    expect(regJson(S.SRIOV_CAP.regs.TOTAL_VF, cs.read(at + S.PCI_SRIOV_TOTAL_VF, 2))).toEqual({ totalVFs: 8 });
    expect(regJson(S.SRIOV_CAP.regs.VF_DID, cs.read(at + S.PCI_SRIOV_VF_DID, 2))).toEqual({ vfDeviceId: 0x10ca });
    expect(regJson(S.SRIOV_CAP.regs.INITIAL_VF, cs.read(at + S.PCI_SRIOV_INITIAL_VF, 2))).toEqual({ initialVFs: 8 });
  });

  it("VF BARs size like BARs: the sizing protocol finds each declared per-VF BAR", () => {
    const bar = fc
      .record({ index: fc.integer({ min: 0, max: 4 }), kind: fc.constantFrom<"mem32" | "mem64">("mem32", "mem64"), prefetchable: fc.boolean(), log2: fc.integer({ min: 12, max: 30 }) })
      .map((b): BarSpec => ({ index: b.index, kind: b.kind, prefetchable: b.prefetchable, size: 2 ** b.log2 }));
    fc.assert(
      fc.property(bar, (b) => {
        const { cs, at } = spaceWith(asCapConfig(S.sriovCap({ totalVFs: 4, vfDeviceId: 1, vfBars: [b] })));
        const d = sizeBarVia(
          (o) => cs.read(o, 4),
          (o, v) => cs.write(o, 4, v),
          (i) => at + S.PCI_SRIOV_BAR + 4 * i,
          b.index,
        );
        expect(d).toMatchObject({ kind: b.kind, prefetchable: b.prefetchable, size: b.size, address: 0 });
        for (let i = 0; i < 6; i++) {
          if (i === b.index || (b.kind === "mem64" && i === b.index + 1)) continue;
          cs.write(at + S.PCI_SRIOV_BAR + 4 * i, 4, 0xffffffff);
          expect(cs.read(at + S.PCI_SRIOV_BAR + 4 * i, 4), `VF BAR${i} unimplemented`).toBe(0);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("VF Migration: capability bit, interrupt message number and state array location", () => {
    const { cs, at } = spaceWith(
      asCapConfig(S.sriovCap({ totalVFs: 16, initialVFs: 8, vfDeviceId: 2, vfMigration: { interruptMessageNumber: 0x7ff, bir: 2, offset: 0x3000 } })),
    );
    expect(regJson(S.SRIOV_CAP.regs.CAP, cs.read(at + S.PCI_SRIOV_CAP, 4))).toMatchObject({ vfMigrationCapable: true, vfMigrationInterruptMessageNumber: 0x7ff });
    expect(regJson(S.SRIOV_CAP.regs.VFM, cs.read(at + S.PCI_SRIOV_VFM, 4))).toMatchObject({ vfMigrationStateBir: 2, vfMigrationStateOffsetQwords: 0x3000 / 8 });
    expect(S.PCI_SRIOV_CAP_INTR(cs.read(at + S.PCI_SRIOV_CAP, 4))).toBe(0x7ff);
    expect([S.PCI_SRIOV_VFM_BIR(cs.read(at + S.PCI_SRIOV_VFM, 4)), S.PCI_SRIOV_VFM_OFFSET(cs.read(at + S.PCI_SRIOV_VFM, 4))]).toEqual([2, 0x3000]);
    cs.setHw(at + S.PCI_SRIOV_STATUS, 2, S.PCI_SRIOV_STATUS_VFM);
    cs.write(at + S.PCI_SRIOV_STATUS, 2, S.PCI_SRIOV_STATUS_VFM);
    expect(cs.read(at + S.PCI_SRIOV_STATUS, 2)).toBe(0);
  });

  it("VF 10-Bit Tag Requester Enable is writable only when advertised", () => {
    for (const tag of [false, true]) {
      const { cs, at } = spaceWith(asCapConfig(S.sriovCap({ totalVFs: 1, vfDeviceId: 1, vf10BitTagRequester: tag })));
      cs.write(at + S.PCI_SRIOV_CTRL, 2, 0xffff);
      expect(cs.read(at + S.PCI_SRIOV_CTRL, 2)).toBe(S.PCI_SRIOV_CTRL_RW | (tag ? S.PCI_SRIOV_CTRL_VF_10BIT_TAG_REQ_EN : 0));
    }
  });

  it("refuses impossible counts and locations", () => {
    const bad: Array<() => unknown> = [
      () => S.sriovCap({ totalVFs: 0x10000, vfDeviceId: 1 }),
      () => S.sriovCap({ totalVFs: 4, initialVFs: 5, vfDeviceId: 1 }),
      () => S.sriovCap({ totalVFs: 4, vfDeviceId: 0x10000 }),
      () => S.sriovCap({ totalVFs: 4, vfDeviceId: 1, vfMigration: { interruptMessageNumber: 0, bir: 6, offset: 0 } }),
      () => S.sriovCap({ totalVFs: 4, vfDeviceId: 1, vfMigration: { interruptMessageNumber: 0, bir: 0, offset: 4 } }),
    ];
    for (const f of bad) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(isIovError(err), String(err)).toBe(true);
    }
  });
});
