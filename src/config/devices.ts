/**
 * NIC cards as hardware: for each PF port, its PCI function (config space from the template's or the
 * dump's layout), the NIC device model behind its BARs, its SR-IOV behaviour and its mailbox
 * hardware, wired together through config-space hooks the way the chip wires them.
 */
import { IovError } from "../errors.js";
import type { PhysMem } from "../memory/physmem.js";
import { ConfigSpace } from "../pcie/configspace.js";
import type { DmaTranslator, MsiSink } from "../pcie/dma.js";
import { PciFunction } from "../pcie/function.js";
import type { ConfigLayout } from "../pcie/layout.js";
import { findCapability } from "../pcie/capwalk.js";
import { PCI_COMMAND, PCI_COMMAND_MASTER } from "../pcie/header.js";
import { Nic, hwTemplateOf } from "../nic/nic.js";
import { MailboxHw } from "../nic/mailbox-hw.js";
import type { NicTemplate } from "../nic/templates/catalog.js";
import { PF_CAP_OFFSETS, VF_CAP_OFFSETS, pfLayout, vfLayout } from "../nic/templates/layout.js";
import type { ImportedDevice } from "../nic/templates/from-dump.js";
import type { SriovDevice, VfHost } from "../sriov/pf.js";
import { SriovPf } from "../sriov/pf.js";
import type { SriovGeometry } from "../sriov/geometry.js";

const PCI_CAP_ID_MSIX = 0x11;
const PCI_MSIX_FLAGS = 2;
const PCI_MSIX_FLAGS_ENABLE = 0x8000;
const PCI_MSIX_FLAGS_MASKALL = 0x4000;

/** One PF port of a card. */
export interface PfHw {
  readonly card: Card;
  readonly port: number;
  readonly fn: PciFunction;
  readonly template: NicTemplate;
  readonly nic: Nic;
  readonly sriov: SriovPf;
  readonly mailbox: MailboxHw;
}

export interface Card {
  readonly name: string;
  readonly template: NicTemplate;
  readonly pfs: PfHw[];
  /** Where the card came from (template name or dump path) and import notes. */
  readonly origin: string;
  readonly notes: readonly string[];
}

export interface CardEnv {
  readonly mem: PhysMem;
  readonly translator: DmaTranslator;
  readonly msiSink: MsiSink;
  readonly vfHost: VfHost;
  /** Frames leaving the card's ports on the wire. */
  readonly uplink?: (port: number, buf: Uint8Array, off: number, len: number) => void;
}

/**
 * Geometry of port `port`'s PF. The template's rule is the first PF's. The PFs of one card must not
 * hand out the same routing IDs: with a stride of at least the number of PFs, their VFs interleave
 * (82576/82599: PF0's VFs on even, PF1's on odd functions, same offset); with a smaller stride each
 * later PF's VFs start after the previous PFs' TotalVFs (X710, ConnectX-5 style).
 */
export function geometryOf(t: NicTemplate, port: number, ports: number): SriovGeometry {
  return {
    initialVfs: t.initialVfs,
    totalVfs: t.totalVfs,
    vfDeviceId: t.vfDeviceId,
    supportedPageSizes: t.supportedPageSizes,
    functionDependencyLink: port,
    offsetStride: (n, ari) => {
      const os = t.offsetStride(n, ari);
      if (port === 0 || os.stride >= ports) return os;
      return { offset: os.offset + port * (t.totalVfs * os.stride - 1), stride: os.stride };
    },
    rule: t.offsetStrideRule,
  };
}

/** Mirror a function's Command.Bus Master and MSI-X control into the NIC (the chip sees its own config). */
function wireConfigToNic(fn: PciFunction, nic: Nic, ref: "pf" | number): void {
  const cs = fn.cfg;
  cs.onWrite(PCI_COMMAND, (_c, _r, _o, nv) => nic.setBusMaster(ref, (nv & PCI_COMMAND_MASTER) !== 0));
  const msix = findCapability((o, s) => cs.readRaw(o, s), PCI_CAP_ID_MSIX);
  if (msix !== 0)
    cs.onWrite(msix + PCI_MSIX_FLAGS, (_c, _r, _o, nv) => nic.setMsixControl(ref, (nv & PCI_MSIX_FLAGS_ENABLE) !== 0, (nv & PCI_MSIX_FLAGS_MASKALL) !== 0));
}

/** Build a card from a template (all its ports) or from an imported dump (one PF). */
export function buildCard(name: string, t: NicTemplate, env: CardEnv, imported?: ImportedDevice): Card {
  const card: Card = { name, template: t, pfs: [], origin: imported === undefined ? `template ${t.name}` : `dump ${t.name}`, notes: imported?.notes ?? [] };
  const device: SriovDevice = { pfs: [] };
  const vfl: ConfigLayout = vfLayout(t);
  const ports = imported === undefined ? t.ports : 1;
  for (let port = 0; port < ports; port++) {
    const layout = imported?.layout ?? pfLayout(t, port, 0x001b21ff_fe000000n + BigInt(port));
    const cs = new ConfigSpace(layout, imported?.bytes);
    const fn = new PciFunction(cs, "endpoint", port, t.pfBars, `${t.name} port ${port}`);
    const mailbox = new MailboxHw(Math.max(1, Math.min(256, t.totalVfs)));
    const nic = new Nic({
      mem: env.mem,
      translator: env.translator,
      msiSink: env.msiSink,
      template: hwTemplateOf(t),
      mailbox,
      uplink: (buf, off, len) => env.uplink?.(port, buf, off, len),
    });
    fn.mmio = nic.pfMmio;
    wireConfigToNic(fn, nic, "pf");
    const capOffset = imported?.sriovOffset ?? PF_CAP_OFFSETS.sriov;
    const sriov: SriovPf = new SriovPf({
      pf: fn,
      capOffset,
      geometry: geometryOf(t, port, ports),
      vfLayout: vfl,
      vfBars: t.vfBars,
      host: env.vfHost,
      device,
      vfPcieCapOffset: VF_CAP_OFFSETS.pcie,
      pfPcieCapOffset: findCapability((o, s) => cs.readRaw(o, s), 0x10) || undefined,
      model: {
        vfMmio: (k) => nic.vfMmio(k),
        vfsEnabled: (n) => {
          nic.setNumVfs(n);
          sriov.vfs.forEach((vf, k) => {
            nic.setRequesterId(k, vf.rid);
            wireConfigToNic(vf, nic, k);
          });
        },
        vfsDisabled: () => nic.setNumVfs(0),
        vfReset: (k) => nic.resetVf(k),
        pfReset: () => {
          nic.setNumVfs(0);
          mailbox.pfReset();
        },
      },
    });
    card.pfs.push({ card, port, fn, template: t, nic, sriov, mailbox });
  }
  if (card.pfs.length === 0) throw new IovError("EINVAL", `${name}: a card needs at least one PF`);
  return card;
}
