/** The PCI Express capability per Device/Port Type: what each kind advertises and lets software write. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { isIovError } from "../../../../src/errors.js";
import type { FunctionKind } from "../../../../src/pcie/function.js";
import { TYPE1_HEADER } from "../../../../src/pcie/header.js";
import { decode, regJson } from "../../../../src/pcie/regs.js";
import { asCapConfig, asCapDef } from "../../../../src/pcie/caps/common.js";
import * as E from "../../../../src/pcie/caps/pcie-regs.js";
import type { PcieSpeed } from "../../../../src/pcie/caps/pcie.js";
import { PCIE_CAP, linkSpeedCode, linkSpeedGts, pcieCap, pcieDeviceType } from "../../../../src/pcie/caps/pcie.js";
import { spaceWith } from "./cases.js";

const KINDS: ReadonlyArray<[FunctionKind, number]> = [
  ["endpoint", E.PCI_EXP_TYPE_ENDPOINT],
  ["legacy-endpoint", E.PCI_EXP_TYPE_LEG_END],
  ["root-port", E.PCI_EXP_TYPE_ROOT_PORT],
  ["upstream-port", E.PCI_EXP_TYPE_UPSTREAM],
  ["downstream-port", E.PCI_EXP_TYPE_DOWNSTREAM],
  ["pci-bridge", E.PCI_EXP_TYPE_PCI_BRIDGE],
  ["rciep", E.PCI_EXP_TYPE_RC_END],
  ["rc-event-collector", E.PCI_EXP_TYPE_RC_EC],
];
const DOWNSTREAM = new Set<FunctionKind>(["root-port", "downstream-port"]);
const ROOT = new Set<FunctionKind>(["root-port", "rc-event-collector"]);
const NO_LINK = new Set<FunctionKind>(["rciep", "rc-event-collector"]);
const ENDPOINTS = new Set<FunctionKind>(["endpoint", "legacy-endpoint", "rciep"]);

function space(kind: FunctionKind, opts: Parameters<typeof pcieCap>[1] = { speed: 8, width: 4 }) {
  const { cs, at } = spaceWith(asCapConfig(pcieCap(kind, opts)), DOWNSTREAM.has(kind) || kind === "upstream-port" ? asCapDef(TYPE1_HEADER) : undefined);
  return { cs, at, r16: (o: number) => cs.read(at + o, 2), r32: (o: number) => cs.read(at + o, 4) };
}

describe("pcieCap per Device/Port Type", () => {
  it.each(KINDS)("%s reports Device/Port Type %i and capability version 2", (kind, type) => {
    const { r16 } = space(kind);
    const f = decode(PCIE_CAP.regs.FLAGS, r16(E.PCI_EXP_FLAGS));
    expect(f.TYPE).toBe(type);
    expect(f.VERS).toBe(2);
    expect(regJson(PCIE_CAP.regs.FLAGS, r16(E.PCI_EXP_FLAGS)).deviceType).toBe(type);
    expect(pcieDeviceType(kind)).toBe(type);
  });

  it.each(KINDS)("%s: ARI Forwarding is supported and writable only on root and downstream ports", (kind) => {
    const { cs, at, r16, r32 } = space(kind);
    const dsp = DOWNSTREAM.has(kind);
    expect((r32(E.PCI_EXP_DEVCAP2) & E.PCI_EXP_DEVCAP2_ARI) !== 0).toBe(dsp);
    cs.write(at + E.PCI_EXP_DEVCTL2, 2, E.PCI_EXP_DEVCTL2_ARI);
    expect((r16(E.PCI_EXP_DEVCTL2) & E.PCI_EXP_DEVCTL2_ARI) !== 0).toBe(dsp);
    cs.write(at + E.PCI_EXP_DEVCTL2, 2, 0);
    expect(r16(E.PCI_EXP_DEVCTL2) & E.PCI_EXP_DEVCTL2_ARI).toBe(0);
  });

  it.each(KINDS)("%s: link registers exist only with a link; link control bits of downstream ports only there", (kind) => {
    const { cs, at, r16, r32 } = space(kind, { speed: 8, width: 4 });
    if (NO_LINK.has(kind)) {
      for (const o of [E.PCI_EXP_LNKCAP, E.PCI_EXP_LNKCAP2]) expect(r32(o)).toBe(0);
      for (const o of [E.PCI_EXP_LNKCTL, E.PCI_EXP_LNKSTA, E.PCI_EXP_LNKCTL2, E.PCI_EXP_LNKSTA2]) {
        cs.write(at + o, 2, 0xffff);
        expect(r16(o), `0x${o.toString(16)}`).toBe(0);
      }
      return;
    }
    const cap = decode(PCIE_CAP.regs.LNKCAP, r32(E.PCI_EXP_LNKCAP));
    expect([cap.SLS, cap.MLW]).toEqual([3, 4]);
    const sta = decode(PCIE_CAP.regs.LNKSTA, r16(E.PCI_EXP_LNKSTA));
    expect([sta.CLS, sta.NLW]).toEqual([3, 4]);
    expect(r32(E.PCI_EXP_LNKCAP2) & E.PCI_EXP_LNKCAP2_SLS).toBe(E.PCI_EXP_LNKCAP2_SLS_2_5GB | E.PCI_EXP_LNKCAP2_SLS_5_0GB | E.PCI_EXP_LNKCAP2_SLS_8_0GB);
    expect(r16(E.PCI_EXP_LNKCTL2) & E.PCI_EXP_LNKCTL2_TLS).toBe(3);
    cs.write(at + E.PCI_EXP_LNKCTL, 2, 0xffff);
    const portBits = E.PCI_EXP_LNKCTL_LD | E.PCI_EXP_LNKCTL_RL | E.PCI_EXP_LNKCTL_LBMIE | E.PCI_EXP_LNKCTL_LABIE;
    expect(r16(E.PCI_EXP_LNKCTL) & portBits).toBe(DOWNSTREAM.has(kind) ? portBits : 0);
    expect((r16(E.PCI_EXP_LNKCTL) & E.PCI_EXP_LNKCTL_ASPMC) !== 0).toBe(true);
    // Link Bandwidth Management/Autonomous Bandwidth Status are RW1C on downstream ports only
    cs.setHw(at + E.PCI_EXP_LNKSTA, 2, r16(E.PCI_EXP_LNKSTA) | E.PCI_EXP_LNKSTA_LBMS | E.PCI_EXP_LNKSTA_LABS);
    cs.write(at + E.PCI_EXP_LNKSTA, 2, E.PCI_EXP_LNKSTA_LBMS | E.PCI_EXP_LNKSTA_LABS);
    expect((r16(E.PCI_EXP_LNKSTA) & E.PCI_EXP_LNKSTA_LBMS) === 0).toBe(DOWNSTREAM.has(kind));
    expect((r16(E.PCI_EXP_LNKSTA) & E.PCI_EXP_LNKSTA_DLLLA) !== 0).toBe(DOWNSTREAM.has(kind));
  });

  it.each(KINDS)("%s: root registers only on root ports and event collectors", (kind) => {
    const { cs, at, r16, r32 } = space(kind);
    cs.write(at + E.PCI_EXP_RTCTL, 2, 0xffff);
    expect(r16(E.PCI_EXP_RTCTL)).toBe(ROOT.has(kind) ? 0x1f : 0);
    expect(r16(E.PCI_EXP_RTCAP)).toBe(ROOT.has(kind) ? E.PCI_EXP_RTCAP_CRSVIS : 0);
    cs.setHw(at + E.PCI_EXP_RTSTA, 4, E.PCI_EXP_RTSTA_PME | 0x1234);
    cs.write(at + E.PCI_EXP_RTSTA, 4, 0xffffffff);
    expect(r32(E.PCI_EXP_RTSTA)).toBe(ROOT.has(kind) ? 0x1234 : E.PCI_EXP_RTSTA_PME | 0x1234);
  });

  it.each(KINDS)("%s: FLR is advertised and Initiate FLR writable only on endpoints (BCR Enable on PCIe-to-PCI bridges)", (kind) => {
    const { cs, at, r16, r32 } = space(kind);
    const ep = ENDPOINTS.has(kind);
    expect((r32(E.PCI_EXP_DEVCAP) & E.PCI_EXP_DEVCAP_FLR) !== 0).toBe(ep);
    cs.write(at + E.PCI_EXP_DEVCTL, 2, E.PCI_EXP_DEVCTL_BCR_FLR);
    expect((r16(E.PCI_EXP_DEVCTL) & E.PCI_EXP_DEVCTL_BCR_FLR) !== 0).toBe(ep || kind === "pci-bridge");
  });

  it.each(KINDS)("%s: Device Status error bits are RW1C, Transactions Pending is read-only", (kind) => {
    const { cs, at, r16 } = space(kind);
    cs.setHw(at + E.PCI_EXP_DEVSTA, 2, 0x3f);
    cs.write(at + E.PCI_EXP_DEVSTA, 2, E.PCI_EXP_DEVSTA_CED | E.PCI_EXP_DEVSTA_URD | E.PCI_EXP_DEVSTA_TRPND);
    expect(r16(E.PCI_EXP_DEVSTA)).toBe(E.PCI_EXP_DEVSTA_NFED | E.PCI_EXP_DEVSTA_FED | E.PCI_EXP_DEVSTA_AUXPD | E.PCI_EXP_DEVSTA_TRPND);
  });

  it("Device Control resets to Relaxed Ordering, No Snoop, 512-byte read requests", () => {
    const { r16 } = space("endpoint");
    const d = decode(PCIE_CAP.regs.DEVCTL, r16(E.PCI_EXP_DEVCTL));
    expect(d).toMatchObject({ RELAX_EN: 1, NOSNOOP_EN: 1, READRQ: 2, PAYLOAD: 0, BCR_FLR: 0 });
  });

  it("slots: Slot Implemented, slot number and hot-plug controls on a root port with a slot", () => {
    const { cs, at, r16, r32 } = space("root-port", { speed: 16, width: 16, slot: { number: 9, hotPlug: true, powerLimitWatts: 75 } });
    expect(decode(PCIE_CAP.regs.FLAGS, r16(E.PCI_EXP_FLAGS)).SLOT).toBe(1);
    const sc = decode(PCIE_CAP.regs.SLTCAP, r32(E.PCI_EXP_SLTCAP));
    expect(sc).toMatchObject({ PSN: 9, HPC: 1, ABP: 1, PCP: 1, SPLV: 75, NCCS: 1 });
    cs.write(at + E.PCI_EXP_SLTCTL, 2, E.PCI_EXP_SLTCTL_PCC | E.PCI_EXP_SLTCTL_HPIE);
    expect(r16(E.PCI_EXP_SLTCTL) & (E.PCI_EXP_SLTCTL_PCC | E.PCI_EXP_SLTCTL_HPIE)).toBe(E.PCI_EXP_SLTCTL_PCC | E.PCI_EXP_SLTCTL_HPIE);
    expect(r16(E.PCI_EXP_SLTSTA) & E.PCI_EXP_SLTSTA_PDS).toBe(E.PCI_EXP_SLTSTA_PDS);
    cs.setHw(at + E.PCI_EXP_SLTSTA, 2, r16(E.PCI_EXP_SLTSTA) | E.PCI_EXP_SLTSTA_PDC);
    cs.write(at + E.PCI_EXP_SLTSTA, 2, E.PCI_EXP_SLTSTA_PDC | E.PCI_EXP_SLTSTA_PDS);
    expect(r16(E.PCI_EXP_SLTSTA)).toBe(E.PCI_EXP_SLTSTA_PDS);
    // without a slot: the slot registers are read-only, Presence Detect State reads 1 on a downstream port
    const plain = space("downstream-port");
    expect(decode(PCIE_CAP.regs.FLAGS, plain.r16(E.PCI_EXP_FLAGS)).SLOT).toBe(0);
    plain.cs.write(plain.at + E.PCI_EXP_SLTCTL, 2, 0xffff);
    expect(plain.r16(E.PCI_EXP_SLTCTL)).toBe(0);
    expect(plain.r32(E.PCI_EXP_SLTCAP)).toBe(0);
    expect(plain.r16(E.PCI_EXP_SLTSTA)).toBe(E.PCI_EXP_SLTSTA_PDS);
    expect(space("endpoint").r16(E.PCI_EXP_SLTSTA)).toBe(0);
  });

  it("the negotiated link can be narrower and slower than the maximum", () => {
    const { r16, r32 } = space("endpoint", { speed: 16, width: 16, linkSpeed: 5, linkWidth: 8 });
    expect(decode(PCIE_CAP.regs.LNKSTA, r16(E.PCI_EXP_LNKSTA))).toMatchObject({ CLS: 2, NLW: 8 });
    expect(decode(PCIE_CAP.regs.LNKCAP, r32(E.PCI_EXP_LNKCAP))).toMatchObject({ SLS: 4, MLW: 16 });
    // trained below 8 GT/s: no equalization recorded
    expect(r16(E.PCI_EXP_LNKSTA2) & 0x1e).toBe(0);
    expect(space("endpoint", { speed: 16, width: 16 }).r16(E.PCI_EXP_LNKSTA2) & 0x1e).toBe(0x1e);
  });

  it("LTR and 10-bit tag requester enables follow their capability bits", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.constantFrom<FunctionKind>("endpoint", "root-port", "upstream-port"), (ltr, tag, kind) => {
        const { cs, at, r16, r32 } = space(kind, { speed: 8, width: 8, ltr, tag10BitRequester: tag });
        expect((r32(E.PCI_EXP_DEVCAP2) & E.PCI_EXP_DEVCAP2_LTR) !== 0).toBe(ltr);
        cs.write(at + E.PCI_EXP_DEVCTL2, 2, 0xffff);
        expect((r16(E.PCI_EXP_DEVCTL2) & E.PCI_EXP_DEVCTL2_LTR_EN) !== 0).toBe(ltr);
        expect((r16(E.PCI_EXP_DEVCTL2) & E.PCI_EXP_DEVCTL2_TAG10_REQ_EN) !== 0).toBe(tag);
      }),
      { numRuns: 30 },
    );
  });

  it("the table's own values are those of a x1 2.5 GT/s endpoint", () => {
    const { overrides } = pcieCap("endpoint", { speed: 2.5, width: 1 });
    for (const [k, spec] of Object.entries(PCIE_CAP.regs)) {
      if (k === "HDR") continue;
      const o = (overrides as Record<string, { reset: number; rw: number; w1c: number; sticky: number }>)[k]!;
      expect({ reset: spec.reset, rw: spec.rw, w1c: spec.w1c, sticky: spec.sticky }, k).toEqual({ reset: o.reset >>> 0, rw: o.rw >>> 0, w1c: o.w1c >>> 0, sticky: o.sticky >>> 0 });
    }
  });

  it("rejects what no function of that kind has", () => {
    const bad: Array<[() => unknown, string]> = [
      [() => pcieCap("host-bridge", { speed: 8, width: 1 }), "EINVAL"],
      [() => pcieCap("endpoint", { speed: 8, width: 1, slot: { number: 1 } }), "EINVAL"],
      [() => pcieCap("endpoint", { speed: 8, width: 1, ariForwarding: true }), "EINVAL"],
      [() => pcieCap("root-port", { speed: 8, width: 1, flr: true }), "EINVAL"],
      [() => pcieCap("endpoint", { speed: 8, width: 3 as 2 }), "ERANGE"],
      [() => pcieCap("endpoint", { speed: 8, width: 4, linkWidth: 8 }), "ERANGE"],
      [() => pcieCap("endpoint", { speed: 8, width: 4, linkSpeed: 16 }), "ERANGE"],
      [() => pcieCap("endpoint", { speed: 3 as 2.5, width: 4 }), "ERANGE"],
      [() => pcieCap("root-port", { speed: 8, width: 4, slot: { number: 0x2000 } }), "ERANGE"],
    ];
    for (const [f, code] of bad) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(isIovError(err, code as "EINVAL"), String(err)).toBe(true);
    }
  });

  it("link speed codes and GT/s convert both ways", () => {
    const speeds: PcieSpeed[] = [2.5, 5, 8, 16, 32];
    speeds.forEach((s, i) => {
      expect(linkSpeedCode(s)).toBe(i + 1);
      expect(linkSpeedGts(i + 1)).toBe(s);
    });
    expect(linkSpeedGts(0)).toBeUndefined();
    expect(linkSpeedGts(7)).toBeUndefined();
  });
});
