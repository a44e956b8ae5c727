/**
 * Every register file the conformance tests run over: the type 0/1 headers, every table of the
 * capability registry, and the per-device variants the helpers produce (MSI layouts, PCIe per kind,
 * ACS with and without egress control, SR-IOV with VF BARs, ...).
 */
import type { BarSpec } from "../../../../src/pcie/bars.js";
import { barOverrides } from "../../../../src/pcie/bars.js";
import type { FunctionKind } from "../../../../src/pcie/function.js";
import { TYPE0_HEADER, TYPE1_HEADER } from "../../../../src/pcie/header.js";
import type { ConfigLayout, RegOverride } from "../../../../src/pcie/layout.js";
import { LayoutBuilder } from "../../../../src/pcie/layout.js";
import { ConfigSpace } from "../../../../src/pcie/configspace.js";
import type { CapDef } from "../../../../src/pcie/regs.js";
import { PCI_ACS_ALL, PCI_ACS_CR, PCI_ACS_EC, PCI_ACS_RR, PCI_ACS_SV, PCI_ACS_UF, acsCap } from "../../../../src/pcie/caps/acs.js";
import { aerCap } from "../../../../src/pcie/caps/aer.js";
import { ariCap } from "../../../../src/pcie/caps/ari.js";
import { atsCap } from "../../../../src/pcie/caps/ats.js";
import type { CapConfig } from "../../../../src/pcie/caps/common.js";
import { asCapConfig, asCapDef } from "../../../../src/pcie/caps/common.js";
import { dsnCap } from "../../../../src/pcie/caps/dsn.js";
import { CAP_DEFS } from "../../../../src/pcie/caps/index.js";
import { msiCap } from "../../../../src/pcie/caps/msi.js";
import { msixCap } from "../../../../src/pcie/caps/msix.js";
import { pasidCap } from "../../../../src/pcie/caps/pasid.js";
import { pcieCap } from "../../../../src/pcie/caps/pcie.js";
import { pmCap } from "../../../../src/pcie/caps/pm.js";
import { priCap } from "../../../../src/pcie/caps/pri.js";
import { sriovCap } from "../../../../src/pcie/caps/sriov.js";
import { vsecCap } from "../../../../src/pcie/caps/vndr.js";

export interface RegFileCase {
  readonly name: string;
  readonly header: CapDef;
  readonly headerOv: Record<string, RegOverride>;
  /** The capability under test (absent: the header alone is under test). */
  readonly cap?: CapConfig;
}

const hdr0 = asCapDef(TYPE0_HEADER);
const hdr1 = asCapDef(TYPE1_HEADER);
const ports: readonly FunctionKind[] = ["root-port", "upstream-port", "downstream-port", "pci-bridge"];
const headerFor = (k: FunctionKind): CapDef => (ports.includes(k) ? hdr1 : hdr0);

const capCase = (name: string, cap: CapConfig, header: CapDef = hdr0): RegFileCase => ({ name, header, headerOv: {}, cap });
const plain = (def: CapDef): CapConfig => ({ def, overrides: {} });

const PF_BARS: readonly BarSpec[] = [
  { index: 0, kind: "mem32", prefetchable: false, size: 128 * 1024 },
  { index: 2, kind: "io", prefetchable: false, size: 32 },
  { index: 3, kind: "mem64", prefetchable: true, size: 16 * 1024 },
];
const VF_BARS: readonly BarSpec[] = [
  { index: 0, kind: "mem64", prefetchable: true, size: 16 * 1024 },
  { index: 3, kind: "mem64", prefetchable: true, size: 16 * 1024 },
];
const KINDS: readonly FunctionKind[] = ["endpoint", "legacy-endpoint", "root-port", "upstream-port", "downstream-port", "pci-bridge", "rciep", "rc-event-collector"];

function buildCases(): RegFileCase[] {
  const out: RegFileCase[] = [
    { name: "type 0 header", header: hdr0, headerOv: {} },
    { name: "type 1 header", header: hdr1, headerOv: {} },
    { name: "type 0 header with BARs", header: hdr0, headerOv: { VENDOR_ID: 0x8086, DEVICE_ID: 0x10c9, ...barOverrides(PF_BARS, (i) => `BAR${i}`) } },
  ];
  for (const def of CAP_DEFS) out.push(capCase(`registry ${def.name}`, plain(def)));
  for (const addr64 of [false, true])
    for (const perVectorMask of [false, true])
      for (const mmc of [0, 3, 5]) {
        const def = msiCap({ addr64, perVectorMask, multipleMessageCapable: mmc });
        out.push(capCase(`msiCap ${def.name}`, plain(asCapDef(def))));
      }
  out.push(capCase("msixCap 64 vectors", asCapConfig(msixCap({ vectors: 64, tableBir: 3, tableOffset: 0, pbaBir: 3, pbaOffset: 0x2000 }))));
  for (const k of KINDS) out.push(capCase(`pcieCap ${k} 8GT/s x4`, asCapConfig(pcieCap(k, { speed: 8, width: 4 })), headerFor(k)));
  out.push(
    capCase(
      "pcieCap root-port with hot-plug slot",
      asCapConfig(pcieCap("root-port", { speed: 16, width: 16, slot: { number: 7, hotPlug: true }, portNumber: 3 })),
      hdr1,
    ),
  );
  out.push(capCase("pcieCap downstream-port with plain slot", asCapConfig(pcieCap("downstream-port", { speed: 5, width: 1, slot: { number: 1 } })), hdr1));
  out.push(
    capCase(
      "pcieCap endpoint 16GT/s trained at 8GT/s x8, LTR, 10-bit tags, clock PM",
      asCapConfig(
        pcieCap("endpoint", {
          speed: 16,
          width: 16,
          linkSpeed: 8,
          linkWidth: 8,
          ltr: true,
          tag10BitCompleter: true,
          tag10BitRequester: true,
          clockPm: true,
          aspm: "l0s-l1",
          maxPayload: 512,
        }),
      ),
    ),
  );
  for (const k of ["endpoint", "root-port", "downstream-port"] as const)
    out.push(capCase(`aerCap ${k}`, asCapConfig(aerCap(k, { ecrc: k === "root-port" })), headerFor(k)));
  out.push(capCase("acsCap SV|RR|CR|UF", acsCap(PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF)));
  out.push(capCase("acsCap all, 32-bit egress vector", acsCap(PCI_ACS_ALL, { egressVectorBits: 32 })));
  out.push(capCase("acsCap EC, 5-bit egress vector", acsCap(PCI_ACS_EC, { egressVectorBits: 5 })));
  out.push(capCase("ariCap next 2", asCapConfig(ariCap({ nextFunction: 2 }))));
  out.push(capCase("ariCap with function groups", asCapConfig(ariCap({ nextFunction: 0, mfvcFunctionGroups: true, acsFunctionGroups: true }))));
  out.push(capCase("atsCap PF", asCapConfig(atsCap({ pageAligned: true, globalInvalidate: true }))));
  out.push(capCase("atsCap VF", asCapConfig(atsCap({ vf: true, queueDepth: 8 }))));
  out.push(capCase("priCap", asCapConfig(priCap({ capacity: 512, pasidRequired: true }))));
  out.push(capCase("pasidCap", asCapConfig(pasidCap({ width: 20, exec: true, priv: true }))));
  out.push(
    capCase(
      "sriovCap with VF BARs and migration",
      asCapConfig(
        sriovCap({
          totalVFs: 64,
          initialVFs: 32,
          vfDeviceId: 0x10ed,
          functionDependencyLink: 0,
          vfBars: VF_BARS,
          vf10BitTagRequester: true,
          vfMigration: { interruptMessageNumber: 5, bir: 4, offset: 0x1000 },
        }),
      ),
    ),
  );
  out.push(capCase("dsnCap", asCapConfig(dsnCap(0x0011223344556677n))));
  out.push(capCase("vsecCap 24 bytes", asCapConfig(vsecCap({ vsecId: 0x1234, rev: 1, length: 0x18 }))));
  out.push(capCase("pmCap with PME from D3cold", asCapConfig(pmCap({ pme: ["d0", "d3hot", "d3cold"], d1: true, noSoftReset: true, auxCurrent: 7 }))));
  return out;
}

export const CASES: readonly RegFileCase[] = buildCases();

/** Build the case's layout: the header, and the capability at its natural first offset (0x40 or 0x100). */
export function layoutOf(c: RegFileCase): ConfigLayout {
  const b = new LayoutBuilder(4096).header(c.header, c.headerOv);
  if (c.cap !== undefined) b.cap(c.cap.def, undefined, c.cap.overrides);
  return b.build();
}

/** A config space with `cap` placed at its natural first offset; returns the space and the capability's offset. */
export function spaceWith(cap: CapConfig, header: CapDef = hdr0): { cs: ConfigSpace; at: number; L: ConfigLayout } {
  const L = new LayoutBuilder(4096).header(header).cap(cap.def, undefined, cap.overrides).build();
  return { cs: new ConfigSpace(L), at: L.caps[0]!.offset, L };
}
