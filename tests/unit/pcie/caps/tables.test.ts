/**
 * Well-formedness of every capability table (and variant), the uapi constants against the tables,
 * and the registry.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { PlacedReg } from "../../../../src/pcie/layout.js";
import { LayoutBuilder } from "../../../../src/pcie/layout.js";
import { ConfigSpace } from "../../../../src/pcie/configspace.js";
import { TYPE0_HEADER } from "../../../../src/pcie/header.js";
import type { RegSpec } from "../../../../src/pcie/regs.js";
import { fieldMask } from "../../../../src/pcie/regs.js";
import * as Acs from "../../../../src/pcie/caps/acs.js";
import * as Aer from "../../../../src/pcie/caps/aer.js";
import * as Ari from "../../../../src/pcie/caps/ari.js";
import * as Ats from "../../../../src/pcie/caps/ats.js";
import { asCapDef } from "../../../../src/pcie/caps/common.js";
import * as Dsn from "../../../../src/pcie/caps/dsn.js";
import { CAP_DEFS, capDefAt, findCapDef } from "../../../../src/pcie/caps/index.js";
import * as Msi from "../../../../src/pcie/caps/msi.js";
import * as Msix from "../../../../src/pcie/caps/msix.js";
import * as Pasid from "../../../../src/pcie/caps/pasid.js";
import * as E from "../../../../src/pcie/caps/pcie-regs.js";
import { PCIE_CAP } from "../../../../src/pcie/caps/pcie.js";
import * as Pm from "../../../../src/pcie/caps/pm.js";
import * as Pri from "../../../../src/pcie/caps/pri.js";
import * as Sriov from "../../../../src/pcie/caps/sriov.js";
import * as Vndr from "../../../../src/pcie/caps/vndr.js";
import { CASES, layoutOf } from "./cases.js";

const full = (size: number): number => (size === 4 ? 0xffffffff : 2 ** (size * 8) - 1);
const named = (r: RegSpec): number => {
  let m = 0;
  for (const f of Object.values(r.fields)) m |= fieldMask(f);
  return m >>> 0;
};

const capCases = CASES.filter((c) => c.cap !== undefined);

describe("table well-formedness (every capability table and variant)", () => {
  it.each(capCases.map((c) => [c.name, c] as const))("%s: registers aligned, inside the capability, not overlapping; fields inside and disjoint", (_n, c) => {
    const def = c.cap!.def;
    const used = new Uint8Array(def.size);
    expect(def.regs.HDR?.offset).toBe(0);
    for (const [k, r] of Object.entries(def.regs)) {
      expect(r.offset % r.size, `${k} alignment`).toBe(0);
      expect(r.offset + r.size, `${k} inside ${def.size} bytes`).toBeLessThanOrEqual(def.size);
      for (let i = r.offset; i < r.offset + r.size; i++) {
        expect(used[i], `${k} overlaps at +0x${i.toString(16)}`).toBe(0);
        used[i] = 1;
      }
      let seen = 0;
      for (const [fk, f] of Object.entries(r.fields)) {
        const m = fieldMask(f);
        expect(f.lsb + f.width, `${k}.${fk} inside the register`).toBeLessThanOrEqual(r.size * 8);
        expect((seen & m) >>> 0, `${k}.${fk} overlaps another field`).toBe(0);
        seen |= m;
      }
    }
  });

  it.each(capCases.map((c) => [c.name, c] as const))("%s: no bit both RW and W1C; RO-nonzero, W1C and sticky bits are all named", (_n, c) => {
    const L = layoutOf(c);
    const mine = L.regs.filter((r: PlacedReg) => r.owner === L.caps[0]);
    expect(mine.length).toBe(Object.keys(c.cap!.def.regs).length);
    for (const r of mine) {
      const n = named(r.spec);
      expect((r.rw & r.w1c) >>> 0, `${r.key} rw&w1c`).toBe(0);
      expect((r.w1c & ~n) >>> 0, `${r.key}: unnamed W1C bits`).toBe(0);
      // A register without fields is one number (a VF BAR, an address): its read-only bits are its encoding.
      if (Object.keys(r.spec.fields).length > 0) expect((r.reset & ~r.rw & ~n) >>> 0, `${r.key}: unnamed read-only bits`).toBe(0);
      expect((r.sticky & ~(n | r.rw)) >>> 0, `${r.key}: unnamed sticky bits`).toBe(0);
      expect((r.rw | r.w1c | r.reset | r.sticky) >>> 0 <= full(r.spec.size), `${r.key} masks fit`).toBe(true);
    }
  });

  it.each(capCases.map((c) => [c.name, c] as const))("%s: JSON names are camelCase and unique in the capability", (_n, c) => {
    const seen = new Map<string, string>();
    const add = (name: string, where: string): void => {
      expect(name, where).toMatch(/^[a-z][A-Za-z0-9]*$/);
      expect(seen.get(name), `${where} repeats ${name}`).toBeUndefined();
      seen.set(name, where);
    };
    for (const [k, r] of Object.entries(c.cap!.def.regs)) {
      add(r.json, k);
      for (const [fk, f] of Object.entries(r.fields)) {
        // A value register names its one field like itself (bit 0 up): the JSON view shows it once.
        if (f.json === r.json && f.lsb === 0) continue;
        add(f.json ?? "", `${k}.${fk}`);
      }
    }
  });
});

describe("uapi constants agree with the tables", () => {
  const pairs: Array<[string, number, RegSpec | undefined]> = [
    ["PCI_PM_PMC", Pm.PCI_PM_PMC, Pm.PM_CAP.regs.PMC],
    ["PCI_PM_CTRL", Pm.PCI_PM_CTRL, Pm.PM_CAP.regs.CTRL],
    ["PCI_PM_PPB_EXTENSIONS", Pm.PCI_PM_PPB_EXTENSIONS, Pm.PM_CAP.regs.PPB_EXTENSIONS],
    ["PCI_PM_DATA_REGISTER", Pm.PCI_PM_DATA_REGISTER, Pm.PM_CAP.regs.DATA_REGISTER],
    ["PCI_MSI_FLAGS", Msi.PCI_MSI_FLAGS, Msi.MSI_CAP.regs.FLAGS],
    ["PCI_MSI_ADDRESS_HI", Msi.PCI_MSI_ADDRESS_HI, Msi.MSI_CAP.regs.ADDRESS_HI],
    ["PCI_MSI_DATA_64", Msi.PCI_MSI_DATA_64, Msi.MSI_CAP.regs.DATA],
    ["PCI_MSI_MASK_64", Msi.PCI_MSI_MASK_64, Msi.MSI_CAP.regs.MASK],
    ["PCI_MSI_PENDING_64", Msi.PCI_MSI_PENDING_64, Msi.MSI_CAP.regs.PENDING],
    ["PCI_MSIX_FLAGS", Msix.PCI_MSIX_FLAGS, Msix.MSIX_CAP.regs.FLAGS],
    ["PCI_MSIX_TABLE", Msix.PCI_MSIX_TABLE, Msix.MSIX_CAP.regs.TABLE],
    ["PCI_MSIX_PBA", Msix.PCI_MSIX_PBA, Msix.MSIX_CAP.regs.PBA],
    ["PCI_EXP_FLAGS", E.PCI_EXP_FLAGS, PCIE_CAP.regs.FLAGS],
    ["PCI_EXP_DEVCAP", E.PCI_EXP_DEVCAP, PCIE_CAP.regs.DEVCAP],
    ["PCI_EXP_DEVCTL", E.PCI_EXP_DEVCTL, PCIE_CAP.regs.DEVCTL],
    ["PCI_EXP_DEVSTA", E.PCI_EXP_DEVSTA, PCIE_CAP.regs.DEVSTA],
    ["PCI_EXP_LNKCAP", E.PCI_EXP_LNKCAP, PCIE_CAP.regs.LNKCAP],
    ["PCI_EXP_LNKCTL", E.PCI_EXP_LNKCTL, PCIE_CAP.regs.LNKCTL],
    ["PCI_EXP_LNKSTA", E.PCI_EXP_LNKSTA, PCIE_CAP.regs.LNKSTA],
    ["PCI_EXP_SLTCAP", E.PCI_EXP_SLTCAP, PCIE_CAP.regs.SLTCAP],
    ["PCI_EXP_SLTCTL", E.PCI_EXP_SLTCTL, PCIE_CAP.regs.SLTCTL],
    ["PCI_EXP_SLTSTA", E.PCI_EXP_SLTSTA, PCIE_CAP.regs.SLTSTA],
    ["PCI_EXP_RTCTL", E.PCI_EXP_RTCTL, PCIE_CAP.regs.RTCTL],
    ["PCI_EXP_RTCAP", E.PCI_EXP_RTCAP, PCIE_CAP.regs.RTCAP],
    ["PCI_EXP_RTSTA", E.PCI_EXP_RTSTA, PCIE_CAP.regs.RTSTA],
    ["PCI_EXP_DEVCAP2", E.PCI_EXP_DEVCAP2, PCIE_CAP.regs.DEVCAP2],
    ["PCI_EXP_DEVCTL2", E.PCI_EXP_DEVCTL2, PCIE_CAP.regs.DEVCTL2],
    ["PCI_EXP_LNKCAP2", E.PCI_EXP_LNKCAP2, PCIE_CAP.regs.LNKCAP2],
    ["PCI_EXP_LNKCTL2", E.PCI_EXP_LNKCTL2, PCIE_CAP.regs.LNKCTL2],
    ["PCI_EXP_LNKSTA2", E.PCI_EXP_LNKSTA2, PCIE_CAP.regs.LNKSTA2],
    ["PCI_EXP_SLTCAP2", E.PCI_EXP_SLTCAP2, PCIE_CAP.regs.SLTCAP2],
    ["PCI_EXP_SLTCTL2", E.PCI_EXP_SLTCTL2, PCIE_CAP.regs.SLTCTL2],
    ["PCI_EXP_SLTSTA2", E.PCI_EXP_SLTSTA2, PCIE_CAP.regs.SLTSTA2],
    ["PCI_ERR_UNCOR_STATUS", Aer.PCI_ERR_UNCOR_STATUS, Aer.AER_CAP.regs.UNCOR_STATUS],
    ["PCI_ERR_UNCOR_MASK", Aer.PCI_ERR_UNCOR_MASK, Aer.AER_CAP.regs.UNCOR_MASK],
    ["PCI_ERR_UNCOR_SEVER", Aer.PCI_ERR_UNCOR_SEVER, Aer.AER_CAP.regs.UNCOR_SEVER],
    ["PCI_ERR_COR_STATUS", Aer.PCI_ERR_COR_STATUS, Aer.AER_CAP.regs.COR_STATUS],
    ["PCI_ERR_COR_MASK", Aer.PCI_ERR_COR_MASK, Aer.AER_CAP.regs.COR_MASK],
    ["PCI_ERR_CAP", Aer.PCI_ERR_CAP, Aer.AER_CAP.regs.CAP],
    ["PCI_ERR_HEADER_LOG", Aer.PCI_ERR_HEADER_LOG, Aer.AER_CAP.regs.HEADER_LOG0],
    ["PCI_ERR_ROOT_COMMAND", Aer.PCI_ERR_ROOT_COMMAND, Aer.AER_CAP.regs.ROOT_COMMAND],
    ["PCI_ERR_ROOT_STATUS", Aer.PCI_ERR_ROOT_STATUS, Aer.AER_CAP.regs.ROOT_STATUS],
    ["PCI_ERR_ROOT_ERR_SRC", Aer.PCI_ERR_ROOT_ERR_SRC, Aer.AER_CAP.regs.ERR_SRC],
    ["PCI_ACS_CAP", Acs.PCI_ACS_CAP, Acs.ACS_CAP.regs.CAP],
    ["PCI_ACS_CTRL", Acs.PCI_ACS_CTRL, Acs.ACS_CAP.regs.CTRL],
    ["PCI_ACS_EGRESS_CTL_V", Acs.PCI_ACS_EGRESS_CTL_V, Acs.ACS_EGRESS_CAP.regs.EGRESS_CTL_V],
    ["PCI_ARI_CAP", Ari.PCI_ARI_CAP, Ari.ARI_CAP.regs.CAP],
    ["PCI_ARI_CTRL", Ari.PCI_ARI_CTRL, Ari.ARI_CAP.regs.CTRL],
    ["PCI_ATS_CAP", Ats.PCI_ATS_CAP, Ats.ATS_CAP.regs.CAP],
    ["PCI_ATS_CTRL", Ats.PCI_ATS_CTRL, Ats.ATS_CAP.regs.CTRL],
    ["PCI_PRI_CTRL", Pri.PCI_PRI_CTRL, Pri.PRI_CAP.regs.CTRL],
    ["PCI_PRI_STATUS", Pri.PCI_PRI_STATUS, Pri.PRI_CAP.regs.STATUS],
    ["PCI_PRI_MAX_REQ", Pri.PCI_PRI_MAX_REQ, Pri.PRI_CAP.regs.MAX_REQ],
    ["PCI_PRI_ALLOC_REQ", Pri.PCI_PRI_ALLOC_REQ, Pri.PRI_CAP.regs.ALLOC_REQ],
    ["PCI_PASID_CAP", Pasid.PCI_PASID_CAP, Pasid.PASID_CAP.regs.CAP],
    ["PCI_PASID_CTRL", Pasid.PCI_PASID_CTRL, Pasid.PASID_CAP.regs.CTRL],
    ["PCI_DSN_LOWER", Dsn.PCI_DSN_LOWER, Dsn.DSN_CAP.regs.LOWER],
    ["PCI_VNDR_HEADER", Vndr.PCI_VNDR_HEADER, Vndr.VNDR_CAP.regs.HEADER],
    ["PCI_SRIOV_CAP", Sriov.PCI_SRIOV_CAP, Sriov.SRIOV_CAP.regs.CAP],
    ["PCI_SRIOV_CTRL", Sriov.PCI_SRIOV_CTRL, Sriov.SRIOV_CAP.regs.CTRL],
    ["PCI_SRIOV_STATUS", Sriov.PCI_SRIOV_STATUS, Sriov.SRIOV_CAP.regs.STATUS],
    ["PCI_SRIOV_INITIAL_VF", Sriov.PCI_SRIOV_INITIAL_VF, Sriov.SRIOV_CAP.regs.INITIAL_VF],
    ["PCI_SRIOV_TOTAL_VF", Sriov.PCI_SRIOV_TOTAL_VF, Sriov.SRIOV_CAP.regs.TOTAL_VF],
    ["PCI_SRIOV_NUM_VF", Sriov.PCI_SRIOV_NUM_VF, Sriov.SRIOV_CAP.regs.NUM_VF],
    ["PCI_SRIOV_FUNC_LINK", Sriov.PCI_SRIOV_FUNC_LINK, Sriov.SRIOV_CAP.regs.FUNC_LINK],
    ["PCI_SRIOV_VF_OFFSET", Sriov.PCI_SRIOV_VF_OFFSET, Sriov.SRIOV_CAP.regs.VF_OFFSET],
    ["PCI_SRIOV_VF_STRIDE", Sriov.PCI_SRIOV_VF_STRIDE, Sriov.SRIOV_CAP.regs.VF_STRIDE],
    ["PCI_SRIOV_VF_DID", Sriov.PCI_SRIOV_VF_DID, Sriov.SRIOV_CAP.regs.VF_DID],
    ["PCI_SRIOV_SUP_PGSIZE", Sriov.PCI_SRIOV_SUP_PGSIZE, Sriov.SRIOV_CAP.regs.SUP_PGSIZE],
    ["PCI_SRIOV_SYS_PGSIZE", Sriov.PCI_SRIOV_SYS_PGSIZE, Sriov.SRIOV_CAP.regs.SYS_PGSIZE],
    ["PCI_SRIOV_BAR", Sriov.PCI_SRIOV_BAR, Sriov.SRIOV_CAP.regs.BAR0],
    ["PCI_SRIOV_VFM", Sriov.PCI_SRIOV_VFM, Sriov.SRIOV_CAP.regs.VFM],
  ];
  it.each(pairs)("%s = 0x%s is the offset of its register", (_name, off, spec) => {
    expect(spec).toBeDefined();
    expect(spec!.offset).toBe(off);
  });

  it("bit constants sit inside named fields of their registers", () => {
    const bitsIn: Array<[number, RegSpec]> = [
      [Sriov.PCI_SRIOV_CTRL_VFE | Sriov.PCI_SRIOV_CTRL_VFM | Sriov.PCI_SRIOV_CTRL_INTR | Sriov.PCI_SRIOV_CTRL_MSE | Sriov.PCI_SRIOV_CTRL_ARI, Sriov.SRIOV_CAP.regs.CTRL],
      [Sriov.PCI_SRIOV_CAP_VFM | Sriov.PCI_SRIOV_CAP_INTR_MASK, Sriov.SRIOV_CAP.regs.CAP],
      [E.PCI_EXP_DEVCAP2_ARI, PCIE_CAP.regs.DEVCAP2],
      [E.PCI_EXP_DEVCTL2_ARI, PCIE_CAP.regs.DEVCTL2],
      [E.PCI_EXP_FLAGS_TYPE | E.PCI_EXP_FLAGS_SLOT | E.PCI_EXP_FLAGS_IRQ, PCIE_CAP.regs.FLAGS],
      [Acs.PCI_ACS_ALL, Acs.ACS_CAP.regs.CAP],
      [Acs.PCI_ACS_ALL, Acs.ACS_CAP.regs.CTRL],
      [Aer.PCI_ERR_UNC_ALL, Aer.AER_CAP.regs.UNCOR_STATUS],
      [Aer.PCI_ERR_COR_ALL, Aer.AER_CAP.regs.COR_STATUS],
      [Msix.PCI_MSIX_FLAGS_QSIZE | Msix.PCI_MSIX_FLAGS_MASKALL | Msix.PCI_MSIX_FLAGS_ENABLE, Msix.MSIX_CAP.regs.FLAGS],
      [Pm.PCI_PM_CTRL_PME_STATUS | Pm.PCI_PM_CTRL_STATE_MASK, Pm.PM_CAP.regs.CTRL],
    ];
    for (const [b, r] of bitsIn) expect(((b >>> 0) & ~named(r)) >>> 0, r.json).toBe(0);
    expect(decodeOne(PCIE_CAP.regs.FLAGS, "TYPE")).toBe(E.PCI_EXP_FLAGS_TYPE);
    expect(decodeOne(Ari.ARI_CAP.regs.CAP, "NFN")).toBe(Ari.PCI_ARI_CAP_NFN_MASK);
  });

});

function decodeOne(r: RegSpec, field: string): number {
  const f = r.fields[field];
  return f === undefined ? -1 : fieldMask(f);
}

describe("registry", () => {
  it("holds one table per (ID, chain), every one findable", () => {
    const keys = CAP_DEFS.map((d) => `${d.extended ? "ext" : "std"}:${d.id}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const d of CAP_DEFS) expect(findCapDef(d.id, d.extended)).toBe(d);
    expect(findCapDef(0x10, false)?.name).toBe("PCI Express");
    expect(findCapDef(0x10, true)?.name).toBe("Single Root I/O Virtualization");
    expect(findCapDef(0x11, false)?.name).toBe("MSI-X");
    expect(findCapDef(0x7f, true)).toBeUndefined();
    const ids = CAP_DEFS.map((d) => [d.extended, d.id]);
    expect(ids).toEqual(
      expect.arrayContaining([
        [false, 0x01],
        [false, 0x05],
        [false, 0x10],
        [false, 0x11],
        [true, 0x01],
        [true, 0x03],
        [true, 0x0b],
        [true, 0x0d],
        [true, 0x0e],
        [true, 0x0f],
        [true, 0x10],
        [true, 0x13],
        [true, 0x1b],
      ]),
    );
  });

  it("capDefAt picks the layout the capability's own bytes announce", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 5 }), (addr64, perVectorMask, mmc) => {
        const def = Msi.msiCap({ addr64, perVectorMask, multipleMessageCapable: mmc });
        const L = new LayoutBuilder(4096).header(TYPE0_HEADER).cap(def).build();
        const cs = new ConfigSpace(L);
        expect(capDefAt((o, s) => cs.read(o, s), 0x40, Msi.PCI_CAP_ID_MSI, false)).toBe(asCapDef(def));
      }),
    );
    const egress = Acs.acsCap(Acs.PCI_ACS_SV | Acs.PCI_ACS_EC, { egressVectorBits: 4 });
    const vsec = Vndr.vsecCap({ vsecId: 7, rev: 2, length: 0x20 });
    const L = new LayoutBuilder(4096).header(TYPE0_HEADER).cap(Acs.acsCap(Acs.PCI_ACS_SV).def, 0x100, Acs.acsCap(Acs.PCI_ACS_SV).overrides).cap(egress.def, 0x108, egress.overrides).cap(vsec.def, 0x120, vsec.overrides).build();
    const cs = new ConfigSpace(L);
    const rd = (o: number, s: 1 | 2 | 4): number => cs.read(o, s);
    expect(capDefAt(rd, 0x100, Acs.PCI_EXT_CAP_ID_ACS, true)).toBe(asCapDef(Acs.ACS_CAP));
    expect(capDefAt(rd, 0x108, Acs.PCI_EXT_CAP_ID_ACS, true)).toBe(asCapDef(Acs.ACS_EGRESS_CAP));
    const v = capDefAt(rd, 0x120, Vndr.PCI_EXT_CAP_ID_VNDR, true);
    expect(v?.size).toBe(0x20);
    expect(capDefAt(rd, 0x100, Sriov.PCI_EXT_CAP_ID_SRIOV, true)).toBe(findCapDef(Sriov.PCI_EXT_CAP_ID_SRIOV, true));
  });
});
