/**
 * The fabric's wiring: bus segments (the root bus, or the secondary side of a bridge) with their
 * slots, and one node per function with what routing needs to know about it (capability offsets,
 * the secondary segment of a bridge, a PF's attached VFs).
 */
import { findCapability, findExtCapability } from "./capwalk.js";
import type { CfgReader } from "./capwalk.js";
import { PCI_CAP_ID_EXP, PCI_EXP_DEVCTL2 } from "./caps/pcie-regs.js";
import { PCI_EXT_CAP_ID_SRIOV } from "./caps/sriov.js";
import type { PciFunction } from "./function.js";
import { PCI_HEADER_TYPE, PCI_HEADER_TYPE_BRIDGE, PCI_HEADER_TYPE_MASK, PCI_SECONDARY_BUS, PCI_SUBORDINATE_BUS } from "./header.js";
import type { LinkSpec } from "./link.js";
import { PCI_CFG_SPACE_SIZE } from "./decode.js";

/** Kinds of bridge whose secondary side is a PCIe link: one device (device 0) below, unless ARI forwarding. */
const LINK_PORT_KINDS: ReadonlySet<string> = new Set(["root-port", "downstream-port"]);

/**
 * A bus segment: the root bus, or the secondary side of one bridge. Its number is read from the
 * bridge's Secondary Bus register.
 */
export class FabricBus {
  /** Functions in slots, by devfn (device number × 8 + function, or ARI function number). */
  readonly slots: Array<FabricNode | undefined> = new Array<FabricNode | undefined>(256).fill(undefined);
  /** Bridges among the slots, in devfn order (the route walk looks only at these). */
  readonly bridges: FabricNode[] = [];
  /** Functions attached by routing ID (VFs). They keep their RID when the bus is renumbered. */
  readonly pinned = new Set<FabricNode>();
  /** True below a PCIe root port or downstream port: a link to a single device. */
  readonly isLink: boolean;
  constructor(
    readonly bridge: FabricNode | undefined,
    readonly parent: FabricBus | undefined,
  ) {
    this.isLink = bridge !== undefined && LINK_PORT_KINDS.has(bridge.fn.kind);
  }
  get number(): number {
    return this.bridge === undefined ? 0 : this.bridge.fn.cfg.readRaw(PCI_SECONDARY_BUS, 1);
  }
  get subordinate(): number {
    return this.bridge === undefined ? 0xff : this.bridge.fn.cfg.readRaw(PCI_SUBORDINATE_BUS, 1);
  }
  /** Slot functions in devfn order. */
  functions(): FabricNode[] {
    return this.slots.filter((n): n is FabricNode => n !== undefined);
  }
  /** Functions attached by routing ID, by RID. */
  attached(): FabricNode[] {
    return [...this.pinned].sort((a, b) => a.fn.rid - b.fn.rid);
  }
}

/** The fabric's bookkeeping for one function. */
export class FabricNode {
  /** Secondary bus, for bridges (type 1 header). */
  readonly secondary: FabricBus | undefined;
  /** Offset of the PCI Express capability (0 if none). */
  readonly pcieCap: number;
  /** Offset of DEVCTL2 (ARI Forwarding Enable) in the PCI Express capability, −1 without one. */
  readonly ariCtlOff: number;
  /** Offset of the SR-IOV extended capability (0 if none). */
  readonly sriovCap: number;
  /** For a PF: its attached VFs by VF index (0-based). */
  readonly vfs: Array<PciFunction | undefined> = [];
  /** The link above this function (set on the device's functions when plugged under a port). */
  link: LinkSpec | undefined;
  constructor(
    readonly fn: PciFunction,
    readonly bus: FabricBus,
    /** Attached by routing ID (VF): not in a slot, keeps its RID. */
    readonly pinned: boolean,
  ) {
    const raw: CfgReader = (off, size) => fn.cfg.readRaw(off, size);
    this.pcieCap = findCapability(raw, PCI_CAP_ID_EXP);
    this.ariCtlOff = this.pcieCap === 0 ? -1 : this.pcieCap + PCI_EXP_DEVCTL2;
    this.sriovCap = fn.cfg.size > PCI_CFG_SPACE_SIZE ? findExtCapability(raw, PCI_EXT_CAP_ID_SRIOV) : 0;
    const isBridge = (fn.cfg.readRaw(PCI_HEADER_TYPE, 1) & PCI_HEADER_TYPE_MASK) === PCI_HEADER_TYPE_BRIDGE;
    this.secondary = isBridge && !pinned ? new FabricBus(this, bus) : undefined;
  }
}

