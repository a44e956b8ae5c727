/**
 * Config spaces of the functions pciov models, built the way the model builds them (LayoutBuilder, the
 * type 0/1 header tables, the capability tables of src/pcie/caps) and then programmed the way
 * firmware and the PF driver leave them (BAR addresses, Command, SR-IOV NumVFs/ARI/VF Enable, VF BARs):
 * one PF of every NIC template, a root port and a switch downstream port.
 */
import type { BarSpec } from "../../src/pcie/bars.js";
import type { Bdf } from "../../src/pcie/bdf.js";
import { acsCap } from "../../src/pcie/caps/acs.js";
import { aerCap } from "../../src/pcie/caps/aer.js";
import { placeCap } from "../../src/pcie/caps/common.js";
import { pcieCap } from "../../src/pcie/caps/pcie.js";
import { pmCap } from "../../src/pcie/caps/pm.js";
import { ConfigSpace } from "../../src/pcie/configspace.js";
import { TYPE1_HEADER } from "../../src/pcie/header.js";
import type { Overrides } from "../../src/pcie/layout.js";
import { LayoutBuilder } from "../../src/pcie/layout.js";
import type { NicTemplate } from "../../src/nic/templates/catalog.js";
import { PF_CAP_OFFSETS, pfLayout } from "../../src/nic/templates/layout.js";
import { NIC_TEMPLATES } from "../../src/nic/templates/catalog.js";

export interface ModelledFn {
  readonly name: string;
  readonly bdf: Bdf;
  readonly bytes: Uint8Array;
  /** What was programmed, for checks. */
  readonly numVfs?: number;
  readonly ari?: boolean;
}

const SRIOV_OFF = PF_CAP_OFFSETS.sriov;
const PCI_SRIOV_CTRL = 0x08;
const PCI_SRIOV_NUM_VF = 0x10;
const PCI_SRIOV_VF_OFFSET = 0x14;
const PCI_SRIOV_VF_STRIDE = 0x16;
const PCI_SRIOV_BAR = 0x24;

/** Program BARs like firmware: each BAR at the next address aligned to its size, from `base`. */
function assignBars(cs: ConfigSpace, barBase: number, bars: readonly BarSpec[], start: bigint, stride = 1n): bigint {
  let next = start;
  for (const b of [...bars].sort((x, y) => y.size - x.size)) {
    const size = BigInt(b.size) * stride;
    next = (next + size - 1n) & ~(size - 1n);
    const off = barBase + 4 * b.index;
    if (b.kind === "io") cs.write32(off, Number(next & 0xffffn) >>> 0);
    else {
      cs.write32(off, Number(next & 0xffffffffn) >>> 0);
      if (b.kind === "mem64") cs.write32(off + 4, Number(next >> 32n) >>> 0);
    }
    next += size;
  }
  return next;
}


/** One PF of template `t`, with `numVfs` VFs enabled (0: SR-IOV left disabled). */
export function buildPf(t: NicTemplate, bdf: Bdf, numVfs: number, ari: boolean): ModelledFn {
  const cs = new ConfigSpace(pfLayout(t, bdf.fn, 0x001b21ffff2b46e0n));
  const end = assignBars(cs, 0x10, t.pfBars, 0xe0000000n);
  cs.write16(0x04, 0x0007); // I/O, Memory, Bus Master
  cs.write8(0x0c, 0x10);
  cs.write8(0x3c, 11);
  if (numVfs > 0) {
    cs.write16(SRIOV_OFF + PCI_SRIOV_CTRL, ari ? 0x10 : 0);
    cs.write16(SRIOV_OFF + PCI_SRIOV_NUM_VF, numVfs);
    const os = t.offsetStride(numVfs, ari);
    cs.setHw(SRIOV_OFF + PCI_SRIOV_VF_OFFSET, 2, os.offset);
    cs.setHw(SRIOV_OFF + PCI_SRIOV_VF_STRIDE, 2, os.stride);
    assignBars(cs, SRIOV_OFF + PCI_SRIOV_BAR, t.vfBars, end, BigInt(t.totalVfs));
    cs.write16(SRIOV_OFF + PCI_SRIOV_CTRL, (ari ? 0x10 : 0) | 0x1 | 0x8);
  }
  return { name: t.name, bdf, bytes: cs.snapshot(), numVfs, ari };
}

/** A root port or switch downstream port with a slot, ACS and AER, bridging bus `secondary`. */
export function buildPort(kind: "root-port" | "downstream-port", bdf: Bdf, secondary: number): ModelledFn {
  const hdr = {
    VENDOR_ID: 0x1b36,
    DEVICE_ID: 0x000c,
    CLASS_REVISION: ((0x060400 << 8) | 0x01) >>> 0,
    HEADER_TYPE: 0x01,
    INTERRUPT_PIN: 1,
  } as Overrides<typeof TYPE1_HEADER.regs>;
  const b = new LayoutBuilder(4096).header(TYPE1_HEADER, hdr);
  placeCap(b, pcieCap(kind, { speed: 16, width: 16, linkSpeed: 8, linkWidth: 4, slot: { number: bdf.dev + 1, hotPlug: true, powerLimitWatts: 75 } }), 0x40);
  placeCap(b, pmCap({ pme: ["d0", "d3hot"] }), 0x80);
  placeCap(b, aerCap(kind), 0x100);
  placeCap(b, acsCap(0x1f), 0x148);
  const cs = new ConfigSpace(b.build());
  cs.write8(0x18, bdf.bus);
  cs.write8(0x19, secondary);
  cs.write8(0x1a, secondary);
  cs.write16(0x20, 0xe000);
  cs.write16(0x22, 0xe0f0);
  cs.write16(0x24, 0xfff0);
  cs.write16(0x26, 0x0000);
  cs.write16(0x04, 0x0006);
  cs.write16(0x148 + 6, 0x001d); // ACS Control: SV RR CR UF, as Linux pci_std_enable_acs()
  cs.write16(0x40 + 0x28, 0x0020); // DEVCTL2 ARI Forwarding Enable
  return { name: kind, bdf, bytes: cs.snapshot() };
}

/** Every modelled function: one PF of each template (alternating ARI, varied NumVFs) and two ports. */
export function modelledFunctions(): ModelledFn[] {
  const out: ModelledFn[] = [];
  NIC_TEMPLATES.forEach((t, i) => {
    out.push(buildPf(t, { domain: 0, bus: 0x10 + i, dev: 0, fn: 0 }, Math.min(t.totalVfs, 1 + i * 3), i % 2 === 0));
  });
  out.push(buildPf(NIC_TEMPLATES[0] as NicTemplate, { domain: 0, bus: 0x20, dev: 0, fn: 1 }, 0, false));
  out.push(buildPort("root-port", { domain: 0, bus: 0, dev: 1, fn: 0 }, 0x10));
  out.push(buildPort("downstream-port", { domain: 0, bus: 0x30, dev: 2, fn: 0 }, 0x31));
  return out;
}
