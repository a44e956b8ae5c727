/**
 * Factories for the functions a fabric is built from: the host bridge, PCIe ports (root, switch
 * upstream/downstream, PCIe-to-PCI bridge) and simple endpoints, each from the register tables
 * (type 0/1 header, PCI Express, MSI-X, ARI, ACS, SR-IOV capabilities). Layouts are cached by their
 * options, so thousands of identical functions share one layout and (until written) one image.
 */
import { IovError } from "../errors.js";
import type { BarSpec } from "./bars.js";
import { barOverrides } from "./bars.js";
import { ConfigSpace } from "./configspace.js";
import type { FunctionKind, MmioHandler } from "./function.js";
import { PciFunction, isBridgeKind } from "./function.js";
import { PCI_HEADER_TYPE_BRIDGE, PCI_HEADER_TYPE_NORMAL, TYPE0_HEADER, TYPE1_HEADER } from "./header.js";
import type { ConfigLayout, RegOverride } from "./layout.js";
import { LayoutBuilder } from "./layout.js";
import { acsCap } from "./caps/acs.js";
import { ariCap } from "./caps/ari.js";
import { placeCap } from "./caps/common.js";
import { msixCap } from "./caps/msix.js";
import type { MsixOptions } from "./caps/msix.js";
import { pcieCap } from "./caps/pcie.js";
import type { PcieSlotOptions, PcieSpeed, PcieWidth } from "./caps/pcie.js";
import { sriovCap } from "./caps/sriov.js";
import type { SriovCapOptions } from "./caps/sriov.js";

/** Class codes (base class, sub-class, programming interface) used here. */
export const PCI_CLASS_BRIDGE_HOST = 0x060000;
export const PCI_CLASS_BRIDGE_PCI = 0x060400;
export const PCI_CLASS_NETWORK_ETHERNET = 0x020000;
/** A vendor ID for generated functions (Red Hat/QEMU's, as emulators use for generic devices). */
export const GENERIC_VENDOR_ID = 0x1b36;
/** Interrupt Pin: INTA#. */
const PCI_INTERRUPT_PIN_INTA = 1;

/** Where the PCI Express capability sits in every function built here. */
export const FACTORY_PCIE_CAP_OFFSET = 0x40;

const layoutCache = new Map<string, ConfigLayout>();

function cachedLayout(key: unknown, build: () => ConfigLayout): ConfigLayout {
  const k = JSON.stringify(key);
  let l = layoutCache.get(k);
  if (l === undefined) {
    l = build();
    layoutCache.set(k, l);
  }
  return l;
}

const classRevision = (classCode: number, revision: number): number => ((classCode & 0xffffff) * 256 + (revision & 0xff)) >>> 0;

export interface BridgeOptions {
  readonly vendorId?: number;
  readonly deviceId?: number;
  readonly revision?: number;
  /** Max Link Speed / Maximum Link Width in LNKCAP. Defaults: 16 GT/s, x16. */
  readonly speed?: PcieSpeed;
  readonly width?: PcieWidth;
  /** LNKCAP Port Number. */
  readonly portNumber?: number;
  /** ARI Forwarding Supported (root/downstream ports). Default true. */
  readonly ariForwarding?: boolean;
  /** ACS capability bits (PCI_ACS_SV | ...); no ACS capability when omitted. */
  readonly acs?: number;
  readonly slot?: PcieSlotOptions;
  /** Bridge BARs (index 0..1). */
  readonly bars?: readonly BarSpec[];
  /** The bridge implements an I/O window. Default true. */
  readonly ioWindow?: boolean;
  /** The bridge implements a (64-bit) prefetchable window. Default true. */
  readonly prefWindow?: boolean;
  readonly label?: string;
}

const BRIDGE_KINDS: ReadonlySet<FunctionKind> = new Set(["root-port", "upstream-port", "downstream-port", "pci-bridge"]);

/** A PCI-PCI bridge function of `kind` (type 1 header with a PCI Express capability). */
export function makeBridge(kind: FunctionKind, o: BridgeOptions = {}): PciFunction {
  if (!BRIDGE_KINDS.has(kind)) throw new IovError("EINVAL", `${kind} is not a bridge kind`);
  for (const b of o.bars ?? []) if (b.index > 1 || (b.kind === "mem64" && b.index > 0)) throw new IovError("EINVAL", `a bridge has BAR0..1 only, not BAR${b.index}`);
  const key = { t: "bridge", kind, ...o, label: undefined };
  const layout = cachedLayout(key, () => {
    const hdr: Record<string, RegOverride> = {
      VENDOR_ID: o.vendorId ?? GENERIC_VENDOR_ID,
      DEVICE_ID: o.deviceId ?? 0x000c,
      CLASS_REVISION: classRevision(PCI_CLASS_BRIDGE_PCI, o.revision ?? 0),
      HEADER_TYPE: PCI_HEADER_TYPE_BRIDGE,
      INTERRUPT_PIN: PCI_INTERRUPT_PIN_INTA,
      ...barOverrides(o.bars ?? [], (i) => `BAR${i}`),
    };
    if (o.ioWindow === false) {
      for (const k of ["IO_BASE", "IO_LIMIT", "IO_BASE_UPPER16", "IO_LIMIT_UPPER16"]) hdr[k] = { reset: 0, rw: 0 };
    }
    if (o.prefWindow === false) {
      for (const k of ["PREF_MEMORY_BASE", "PREF_MEMORY_LIMIT", "PREF_BASE_UPPER32", "PREF_LIMIT_UPPER32"]) hdr[k] = { reset: 0, rw: 0 };
    }
    const b = new LayoutBuilder(4096).header(TYPE1_HEADER, hdr);
    const dsp = kind === "root-port" || kind === "downstream-port";
    placeCap(
      b,
      pcieCap(kind, {
        speed: o.speed ?? 16,
        width: o.width ?? 16,
        ...(o.portNumber === undefined ? {} : { portNumber: o.portNumber }),
        ...(dsp ? { ariForwarding: o.ariForwarding ?? true } : {}),
        ...(o.slot === undefined ? {} : { slot: o.slot }),
      }),
      FACTORY_PCIE_CAP_OFFSET,
    );
    if (o.acs !== undefined) placeCap(b, acsCap(o.acs));
    return b.build();
  });
  return new PciFunction(new ConfigSpace(layout), kind, 0, o.bars ?? [], o.label ?? kind);
}

export interface HostBridgeOptions {
  readonly vendorId?: number;
  readonly deviceId?: number;
}

/** The conventional host bridge at 00:00.0 (type 0 header, class 06 00 00, no BARs). */
export function makeHostBridge(o: HostBridgeOptions = {}): PciFunction {
  const layout = cachedLayout({ t: "host", ...o }, () =>
    new LayoutBuilder(256)
      .header(TYPE0_HEADER, {
        VENDOR_ID: o.vendorId ?? 0x8086,
        DEVICE_ID: o.deviceId ?? 0x29c0,
        CLASS_REVISION: classRevision(PCI_CLASS_BRIDGE_HOST, 0),
        HEADER_TYPE: PCI_HEADER_TYPE_NORMAL,
      })
      .build(),
  );
  return new PciFunction(new ConfigSpace(layout), "host-bridge", 0, [], "host bridge");
}

export interface SriovPfOptions extends SriovCapOptions {
  /** First VF Offset and VF Stride reported at reset (a PF model may recompute them per NumVFs). */
  readonly offset: number;
  readonly stride: number;
}

export interface EndpointOptions {
  readonly vendorId?: number;
  readonly deviceId?: number;
  readonly classCode?: number;
  readonly revision?: number;
  readonly subsystemVendorId?: number;
  readonly subsystemId?: number;
  /** Function number within its device (0..7, or 0..255 with ARI). Default 0. */
  readonly fn?: number;
  /** "endpoint" (default), "legacy-endpoint" or "rciep". */
  readonly kind?: FunctionKind;
  readonly bars?: readonly BarSpec[];
  /** PCI Express link maxima; `false` makes a conventional PCI function (256-byte config space). */
  readonly pcie?: { readonly speed: PcieSpeed; readonly width: PcieWidth } | false;
  readonly msix?: MsixOptions;
  /** ARI capability with this Next Function Number. */
  readonly ari?: { readonly nextFunction: number };
  readonly acs?: number;
  readonly sriov?: SriovPfOptions;
  readonly label?: string;
  readonly mmio?: MmioHandler;
}

/** A simple endpoint: type 0 header, BARs, PCI Express capability, optional MSI-X, ARI, ACS and SR-IOV. */
export function makeEndpoint(o: EndpointOptions = {}): PciFunction {
  const kind = o.kind ?? "endpoint";
  if (isBridgeKind(kind) || kind === "host-bridge") throw new IovError("EINVAL", `${kind} is not an endpoint kind`);
  const fnNo = o.fn ?? 0;
  if (!Number.isInteger(fnNo) || fnNo < 0 || fnNo > 255) throw new IovError("ERANGE", `function number ${fnNo} outside 0..255`);
  const key = { t: "ep", ...o, kind, fn: undefined, label: undefined, mmio: undefined };
  const layout = cachedLayout(key, () => {
    const pcie = o.pcie ?? { speed: 8 as PcieSpeed, width: 8 as PcieWidth };
    const b = new LayoutBuilder(pcie === false ? 256 : 4096).header(TYPE0_HEADER, {
      VENDOR_ID: o.vendorId ?? GENERIC_VENDOR_ID,
      DEVICE_ID: o.deviceId ?? 0x0001,
      CLASS_REVISION: classRevision(o.classCode ?? PCI_CLASS_NETWORK_ETHERNET, o.revision ?? 0),
      SUBSYSTEM_VENDOR_ID: o.subsystemVendorId ?? o.vendorId ?? GENERIC_VENDOR_ID,
      SUBSYSTEM_ID: o.subsystemId ?? 0,
      INTERRUPT_PIN: PCI_INTERRUPT_PIN_INTA,
      ...barOverrides(o.bars ?? [], (i) => `BAR${i}`),
    });
    if (pcie !== false) placeCap(b, pcieCap(kind, kind === "rciep" ? { speed: 2.5, width: 1 } : pcie), FACTORY_PCIE_CAP_OFFSET);
    if (o.msix !== undefined) placeCap(b, msixCap(o.msix));
    if (pcie === false && (o.ari !== undefined || o.acs !== undefined || o.sriov !== undefined))
      throw new IovError("EINVAL", "ARI, ACS and SR-IOV need PCI Express extended configuration space");
    if (o.ari !== undefined) placeCap(b, ariCap(o.ari));
    if (o.acs !== undefined) placeCap(b, acsCap(o.acs));
    if (o.sriov !== undefined) {
      const c = sriovCap(o.sriov);
      b.cap(c.def, undefined, { ...c.overrides, VF_OFFSET: o.sriov.offset, VF_STRIDE: o.sriov.stride });
    }
    return b.build();
  });
  const fn = new PciFunction(new ConfigSpace(layout), kind, fnNo, o.bars ?? [], o.label ?? kind);
  fn.mmio = o.mmio;
  return fn;
}
