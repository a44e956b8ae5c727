/** AER, ACS, ARI, ATS, PRI, PASID, DSN and VSEC: what their helpers advertise and let software write. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { isIovError } from "../../../../src/errors.js";
import type { FunctionKind } from "../../../../src/pcie/function.js";
import { decode, regJson } from "../../../../src/pcie/regs.js";
import * as Acs from "../../../../src/pcie/caps/acs.js";
import * as Aer from "../../../../src/pcie/caps/aer.js";
import * as Ari from "../../../../src/pcie/caps/ari.js";
import * as Ats from "../../../../src/pcie/caps/ats.js";
import { asCapConfig } from "../../../../src/pcie/caps/common.js";
import * as Dsn from "../../../../src/pcie/caps/dsn.js";
import * as Pasid from "../../../../src/pcie/caps/pasid.js";
import * as Pri from "../../../../src/pcie/caps/pri.js";
import * as Vndr from "../../../../src/pcie/caps/vndr.js";
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

describe("AER", () => {
  it("is version 2 with the spec's default severities and the Advisory Non-Fatal mask set", () => {
    const { cs, at } = spaceWith(asCapConfig(Aer.aerCap("root-port")));
    expect(decode(Aer.AER_CAP.regs.HDR, cs.read(at, 4))).toMatchObject({ ID: 1, VER: 2 });
    expect(cs.read(at + Aer.PCI_ERR_UNCOR_SEVER, 4)).toBe(0x00462030);
    expect(cs.read(at + Aer.PCI_ERR_COR_MASK, 4)).toBe(Aer.PCI_ERR_COR_ADV_NFAT);
  });

  it.each<FunctionKind>(["endpoint", "upstream-port", "root-port", "downstream-port", "rc-event-collector"])(
    "%s: status bits are RW1C and survive FLR, root registers only where they exist, Surprise Down only downstream",
    (kind) => {
      const { cs, at } = spaceWith(asCapConfig(Aer.aerCap(kind)));
      const root = kind === "root-port" || kind === "rc-event-collector";
      const dsp = kind === "root-port" || kind === "downstream-port";
      const unc = dsp ? Aer.PCI_ERR_UNC_ALL : Aer.PCI_ERR_UNC_ALL & ~Aer.PCI_ERR_UNC_SURPDN;
      cs.write(at + Aer.PCI_ERR_UNCOR_MASK, 4, 0xffffffff);
      expect(cs.read(at + Aer.PCI_ERR_UNCOR_MASK, 4)).toBe(unc >>> 0);
      expect((cs.read(at + Aer.PCI_ERR_UNCOR_SEVER, 4) & Aer.PCI_ERR_UNC_SURPDN) !== 0).toBe(dsp);
      cs.setHw(at + Aer.PCI_ERR_UNCOR_STATUS, 4, Aer.PCI_ERR_UNC_UNSUP | Aer.PCI_ERR_UNC_COMP_ABORT);
      cs.setHw(at + Aer.PCI_ERR_COR_STATUS, 4, Aer.PCI_ERR_COR_BAD_TLP);
      cs.setHw(at + Aer.PCI_ERR_HEADER_LOG, 4, 0x4a000001);
      cs.reset(true);
      expect(cs.read(at + Aer.PCI_ERR_UNCOR_STATUS, 4)).toBe(Aer.PCI_ERR_UNC_UNSUP | Aer.PCI_ERR_UNC_COMP_ABORT);
      expect(cs.read(at + Aer.PCI_ERR_UNCOR_MASK, 4)).toBe(unc >>> 0);
      expect(cs.read(at + Aer.PCI_ERR_HEADER_LOG, 4)).toBe(0x4a000001);
      cs.write(at + Aer.PCI_ERR_UNCOR_STATUS, 4, Aer.PCI_ERR_UNC_UNSUP);
      expect(cs.read(at + Aer.PCI_ERR_UNCOR_STATUS, 4)).toBe(Aer.PCI_ERR_UNC_COMP_ABORT);
      cs.write(at + Aer.PCI_ERR_COR_STATUS, 4, 0xffffffff);
      expect(cs.read(at + Aer.PCI_ERR_COR_STATUS, 4)).toBe(0);
      cs.write(at + Aer.PCI_ERR_ROOT_COMMAND, 4, 0xffffffff);
      expect(cs.read(at + Aer.PCI_ERR_ROOT_COMMAND, 4)).toBe(root ? 7 : 0);
      cs.reset();
      expect(cs.read(at + Aer.PCI_ERR_UNCOR_STATUS, 4)).toBe(0);
    },
  );

  it("ECRC enables are writable only when ECRC is capable", () => {
    for (const ecrc of [false, true]) {
      const { cs, at } = spaceWith(asCapConfig(Aer.aerCap("endpoint", { ecrc })));
      cs.write(at + Aer.PCI_ERR_CAP, 4, 0xffffffff);
      const j = regJson(Aer.AER_CAP.regs.CAP, cs.read(at + Aer.PCI_ERR_CAP, 4));
      expect(j).toMatchObject({ ecrcGenCapable: ecrc, ecrcGenEnable: ecrc, ecrcCheckCapable: ecrc, ecrcCheckEnable: ecrc, firstErrorPointer: 0 });
    }
  });
});

describe("ACS", () => {
  it("ACS Control is writable in exactly the bits ACS Capability advertises", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Acs.PCI_ACS_ALL }), fc.integer({ min: 1, max: 32 }), (bits, n) => {
        const c = Acs.acsCap(bits, (bits & Acs.PCI_ACS_EC) !== 0 ? { egressVectorBits: n } : {});
        const { cs, at } = spaceWith(c);
        const cap = cs.read(at + Acs.PCI_ACS_CAP, 2);
        expect(cap & Acs.PCI_ACS_ALL).toBe(bits);
        cs.write(at + Acs.PCI_ACS_CTRL, 2, 0xffff);
        expect(cs.read(at + Acs.PCI_ACS_CTRL, 2)).toBe(bits);
        if ((bits & Acs.PCI_ACS_EC) !== 0) {
          expect(c.def).toBe(Acs.ACS_EGRESS_CAP);
          expect(regJson(Acs.ACS_CAP.regs.CAP, cap).egressControlVectorSize).toBe(n);
          cs.write(at + Acs.PCI_ACS_EGRESS_CTL_V, 4, 0xffffffff);
          expect(cs.read(at + Acs.PCI_ACS_EGRESS_CTL_V, 4)).toBe(n === 32 ? 0xffffffff : 2 ** n - 1);
        } else {
          expect(c.def).toBe(Acs.ACS_CAP);
          expect(cap >> 8).toBe(0);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("refuses bits ACS does not define and a vector without Egress Control", () => {
    throwsCode(() => Acs.acsCap(0x80), "EINVAL");
    throwsCode(() => Acs.acsCap(Acs.PCI_ACS_SV, { egressVectorBits: 4 }), "EINVAL");
    throwsCode(() => Acs.acsCap(Acs.PCI_ACS_EC, { egressVectorBits: 33 }), "ERANGE");
  });
});

describe("ARI, ATS, PRI, PASID", () => {
  it("ARI: Next Function Number under `nextFunction`; group controls writable only with group capabilities", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.boolean(), fc.boolean(), (nfn, mfvc, acs) => {
        const { cs, at } = spaceWith(asCapConfig(Ari.ariCap({ nextFunction: nfn, mfvcFunctionGroups: mfvc, acsFunctionGroups: acs })));
        const cap = cs.read(at + Ari.PCI_ARI_CAP, 2);
        expect(regJson(Ari.ARI_CAP.regs.CAP, cap)).toMatchObject({ nextFunction: nfn, mfvcFunctionGroups: mfvc, acsFunctionGroups: acs });
        expect(Ari.PCI_ARI_CAP_NFN(cap)).toBe(nfn);
        cs.write(at + Ari.PCI_ARI_CTRL, 2, 0xffff);
        const want = (mfvc ? Ari.PCI_ARI_CTRL_MFVC : 0) | (acs ? Ari.PCI_ARI_CTRL_ACS : 0) | (mfvc || acs ? Ari.PCI_ARI_CTRL_FG_MASK : 0);
        expect(cs.read(at + Ari.PCI_ARI_CTRL, 2)).toBe(want);
      }),
      { numRuns: 40 },
    );
  });

  it("ATS: queue depth 32 reads as 0; Enable and STU are writable, STU not in a VF", () => {
    const pf = spaceWith(asCapConfig(Ats.atsCap({ pageAligned: true })));
    expect(regJson(Ats.ATS_CAP.regs.CAP, pf.cs.read(pf.at + Ats.PCI_ATS_CAP, 2))).toMatchObject({ invalidateQueueDepth: 0, pageAlignedRequest: true });
    pf.cs.write(pf.at + Ats.PCI_ATS_CTRL, 2, 0xffff);
    expect(pf.cs.read(pf.at + Ats.PCI_ATS_CTRL, 2)).toBe(Ats.PCI_ATS_CTRL_ENABLE | Ats.PCI_ATS_CTRL_STU_MASK);
    const vf = spaceWith(asCapConfig(Ats.atsCap({ vf: true, queueDepth: 8 })));
    expect(Ats.PCI_ATS_CAP_QDEP(vf.cs.read(vf.at + Ats.PCI_ATS_CAP, 2))).toBe(8);
    vf.cs.write(vf.at + Ats.PCI_ATS_CTRL, 2, 0xffff);
    expect(vf.cs.read(vf.at + Ats.PCI_ATS_CTRL, 2)).toBe(Ats.PCI_ATS_CTRL_ENABLE);
    throwsCode(() => Ats.atsCap({ queueDepth: 0 }), "ERANGE");
  });

  it("PRI: Stopped reads 1 after reset, the failure bits are RW1C, capacity is read-only and allocation writable", () => {
    const { cs, at } = spaceWith(asCapConfig(Pri.priCap({ capacity: 256, pasidRequired: true })));
    expect(cs.read(at + Pri.PCI_PRI_STATUS, 2)).toBe(Pri.PCI_PRI_STATUS_STOPPED | Pri.PCI_PRI_STATUS_PASID);
    cs.setHw(at + Pri.PCI_PRI_STATUS, 2, Pri.PCI_PRI_STATUS_STOPPED | Pri.PCI_PRI_STATUS_RF | Pri.PCI_PRI_STATUS_UPRGI);
    cs.write(at + Pri.PCI_PRI_STATUS, 2, Pri.PCI_PRI_STATUS_RF | Pri.PCI_PRI_STATUS_STOPPED);
    expect(cs.read(at + Pri.PCI_PRI_STATUS, 2)).toBe(Pri.PCI_PRI_STATUS_STOPPED | Pri.PCI_PRI_STATUS_UPRGI);
    cs.write(at + Pri.PCI_PRI_MAX_REQ, 4, 0);
    cs.write(at + Pri.PCI_PRI_ALLOC_REQ, 4, 64);
    expect([cs.read(at + Pri.PCI_PRI_MAX_REQ, 4), cs.read(at + Pri.PCI_PRI_ALLOC_REQ, 4)]).toEqual([256, 64]);
  });

  it("PASID: width and permissions advertised; Execute/Privileged enables only where supported", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.boolean(), fc.boolean(), (width, exec, priv) => {
        const { cs, at } = spaceWith(asCapConfig(Pasid.pasidCap({ width, exec, priv })));
        expect(regJson(Pasid.PASID_CAP.regs.CAP, cs.read(at + Pasid.PCI_PASID_CAP, 2))).toMatchObject({ maxPasidWidth: width, executeSupported: exec, privilegedSupported: priv });
        cs.write(at + Pasid.PCI_PASID_CTRL, 2, 0xffff);
        expect(cs.read(at + Pasid.PCI_PASID_CTRL, 2)).toBe(1 | (exec ? 2 : 0) | (priv ? 4 : 0));
      }),
      { numRuns: 30 },
    );
    throwsCode(() => Pasid.pasidCap({ width: 21 }), "ERANGE");
  });
});

describe("DSN and VSEC", () => {
  it("DSN splits the 64-bit serial into two read-only dwords", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }), (serial) => {
        const { cs, at } = spaceWith(asCapConfig(Dsn.dsnCap(serial)));
        cs.write(at + Dsn.PCI_DSN_LOWER, 4, 0);
        const lo = BigInt(cs.read(at + Dsn.PCI_DSN_LOWER, 4));
        const hi = BigInt(cs.read(at + Dsn.PCI_DSN_UPPER, 4));
        expect((hi << 32n) | lo).toBe(serial);
        expect(regJson(Dsn.DSN_CAP.regs.LOWER, Number(lo)).serialNumberLow).toBe(Number(lo));
      }),
      { numRuns: 30 },
    );
    throwsCode(() => Dsn.dsnCap(1n << 64n), "ERANGE");
  });

  it("VSEC: the header carries ID, revision and the table's own length", () => {
    const c = Vndr.vsecCap({ vsecId: 0xabc, rev: 3, length: 0x40 });
    expect(c.def.size).toBe(0x40);
    expect(Vndr.vsecCap({ vsecId: 1, rev: 0, length: 0x40 }).def).toBe(c.def);
    const { cs, at } = spaceWith(asCapConfig(c));
    const h = cs.read(at + Vndr.PCI_VNDR_HEADER, 4);
    expect([Vndr.PCI_VNDR_HEADER_ID(h), Vndr.PCI_VNDR_HEADER_REV(h), Vndr.PCI_VNDR_HEADER_LEN(h)]).toEqual([0xabc, 3, 0x40]);
    expect(Vndr.PCI_VNDR_HEADER_LEN(Vndr.VNDR_CAP.regs.HEADER.reset)).toBe(8);
    throwsCode(() => Vndr.vsecCap({ vsecId: 1, rev: 0, length: 6 }), "ERANGE");
    throwsCode(() => Vndr.vsecCap({ vsecId: 1, rev: 0, length: 10 }), "ERANGE");
  });
});
