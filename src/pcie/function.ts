import type { BarSpec } from "./bars.js";
import type { ConfigSpace } from "./configspace.js";
import type { Bdf } from "./bdf.js";
import { formatBdf } from "./bdf.js";

/** PCI Express device/port type (PCI_EXP_FLAGS_TYPE), plus the conventional kinds the model needs. */
export type FunctionKind =
  | "endpoint" // PCI_EXP_TYPE_ENDPOINT 0
  | "legacy-endpoint" // PCI_EXP_TYPE_LEG_END 1
  | "root-port" // PCI_EXP_TYPE_ROOT_PORT 4
  | "upstream-port" // PCI_EXP_TYPE_UPSTREAM 5
  | "downstream-port" // PCI_EXP_TYPE_DOWNSTREAM 6
  | "pci-bridge" // PCI_EXP_TYPE_PCI_BRIDGE 7
  | "rciep" // PCI_EXP_TYPE_RC_END 9 (root complex integrated endpoint)
  | "rc-event-collector" // PCI_EXP_TYPE_RC_EC 10
  | "host-bridge"; // conventional host bridge at 00:00.0

export const isBridgeKind = (k: FunctionKind): boolean =>
  k === "root-port" || k === "upstream-port" || k === "downstream-port" || k === "pci-bridge";

/** What a function does with memory/I-O requests that hit its BARs. Sizes 1,2,4,8 (8 as two halves). */
export interface MmioHandler {
  mmioRead(bar: number, offset: number, size: 1 | 2 | 4): number;
  mmioWrite(bar: number, offset: number, size: 1 | 2 | 4, value: number): void;
}

/** Configuration access to one function as software has it (config cycles: pci_read_config_* / pci_write_config_*). */
export interface ConfigAccess {
  read(off: number, size: 1 | 2 | 4): number;
  write(off: number, size: 1 | 2 | 4, value: number): void;
}

/** A completion status for a request (PCIe Completion Status). */
export type CplStatus = "SC" | "UR" | "CRS" | "CA";

/**
 * One PCI function: its config space and its hardware BAR decode. Where it sits (bus/devfn) is
 * decided by the fabric; what happens on its BARs is its device model's MmioHandler.
 */
export class PciFunction {
  /** Current bus number (assigned by enumeration for functions behind bridges). */
  bus = 0;
  /** Device/function number on its bus (ARI: 8-bit function number). */
  devfn: number;
  domain = 0;
  mmio: MmioHandler | undefined;
  /** Set for VFs: the PF that owns them. */
  physfn: PciFunction | undefined;
  /** VF index (0-based) when physfn is set. */
  vfIndex = -1;
  /** Free-form label (template name, "VF 3 of 0000:01:00.0", ...). */
  label: string;
  /**
   * Configuration requests get CRS until this simulated time (ns); VFs after VF Enable, functions
   * after reset. Compared against the fabric's clock.
   */
  readyAtNs = 0;

  constructor(
    readonly cfg: ConfigSpace,
    readonly kind: FunctionKind,
    devfn: number,
    readonly bars: readonly BarSpec[] = [],
    label = "",
  ) {
    this.devfn = devfn;
    this.label = label;
  }

  get rid(): number {
    return ((this.bus & 0xff) << 8) | (this.devfn & 0xff);
  }
  get bdf(): Bdf {
    return { domain: this.domain, bus: this.bus, dev: (this.devfn >> 3) & 0x1f, fn: this.devfn & 7 };
  }
  get bdfString(): string {
    return formatBdf(this.bdf);
  }
  get isVirtfn(): boolean {
    return this.physfn !== undefined;
  }
}
