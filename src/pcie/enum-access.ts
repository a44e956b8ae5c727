/**
 * What enumeration works with: configuration cycles through the fabric (a function answering CRS is
 * retried while the simulated clock advances, 1 ms doubling, as Linux pci_bus_wait_crs does) and the
 * records it keeps of the buses and functions it found.
 */
import type { BarKind, DecodedBar } from "./bars.js";
import { sizeBarVia } from "./bars.js";
import { formatBdf } from "./bdf.js";
import { findCapability } from "./capwalk.js";
import type { CfgReader } from "./capwalk.js";
import { PCI_CAP_ID_EXP, PCI_EXP_DEVCTL2, PCI_EXP_DEVCTL2_ARI } from "./caps/pcie-regs.js";
import type { Fabric } from "./fabric.js";
import type { FunctionKind } from "./function.js";
import type { AllocBus, AllocDev, WindowKind } from "./resources.js";

const CRS_FIRST_DELAY_NS = 1_000_000;

/** An SR-IOV IOV resource found by sizing a VF BAR: `perVf` bytes for each of `vfs` VFs. */
export interface IovRes {
  readonly index: number;
  readonly kind: BarKind;
  readonly prefetchable: boolean;
  readonly perVf: number;
  readonly vfs: number;
}

/** A function found by the scan. */
export interface EnumDev extends AllocDev {
  readonly bus: number;
  readonly devfn: number;
  readonly kind: FunctionKind;
  readonly vendorId: number;
  readonly deviceId: number;
  readonly classCode: number;
  readonly bars: DecodedBar[];
  iov: IovRes[];
  sriovCap: number;
  totalVfs: number;
  maxVfBus: number;
  sysPage: number;
  readonly isBridge: boolean;
  /** Bridges: the bus below, once numbered. */
  below: EnumBus | undefined;
  hasIoWindow: boolean;
  hasPrefWindow: boolean;
  reserve: Record<WindowKind, number>;
  secondary: number;
  subordinate: number;
}

/** A bus found by the scan. */
export interface EnumBus extends AllocBus {
  readonly number: number;
  readonly bridge: EnumDev | undefined;
  readonly devs: EnumDev[];
}

/** Configuration cycles as firmware issues them. */
export class CfgAccess {
  constructor(
    readonly fabric: Fabric,
    private readonly crsTimeoutNs: number,
  ) {}

  /** The status of the last read (after CRS retries). */
  get lastStatus(): string {
    return this.fabric.lastStatus;
  }

  rd(bus: number, devfn: number, off: number, size: 1 | 2 | 4): number {
    const f = this.fabric;
    let v = f.cfgRead(bus, devfn, off, size);
    if (f.lastStatus !== "CRS") return v;
    let waited = 0;
    let delay = CRS_FIRST_DELAY_NS;
    while (f.lastStatus === "CRS" && waited < this.crsTimeoutNs) {
      f.advanceNs(delay);
      waited += delay;
      delay *= 2;
      v = f.cfgRead(bus, devfn, off, size);
    }
    return v;
  }

  wr(bus: number, devfn: number, off: number, size: 1 | 2 | 4, v: number): void {
    this.fabric.cfgWrite(bus, devfn, off, size, v);
  }

  reader(bus: number, devfn: number): CfgReader {
    return (off, size) => this.rd(bus, devfn, off, size);
  }

  bdf(bus: number, devfn: number): string {
    return formatBdf({ domain: this.fabric.domain, bus, dev: devfn >> 3, fn: devfn & 7 });
  }

  /** Size `count` BAR registers from `base` with the sizing protocol (a 64-bit BAR takes two). */
  sizeBars(b: number, devfn: number, base: number, count: number): DecodedBar[] {
    const out: DecodedBar[] = [];
    const r32 = (off: number): number => this.rd(b, devfn, off, 4);
    const w32 = (off: number, v: number): void => this.wr(b, devfn, off, 4, v);
    for (let i = 0; i < count; i++) {
      const d = sizeBarVia(r32, w32, (k) => base + 4 * k, i);
      if (d === undefined) continue;
      if (d.kind === "mem64" && i + 1 >= count) continue;
      out.push(d);
      if (d.kind === "mem64") i++;
    }
    return out;
  }

  /** ARI Forwarding Enable in a bridge's DEVCTL2. */
  ariForwarding(bridge: EnumDev): boolean {
    const pos = findCapability(this.reader(bridge.bus, bridge.devfn), PCI_CAP_ID_EXP);
    return pos !== 0 && (this.rd(bridge.bus, bridge.devfn, pos + PCI_EXP_DEVCTL2, 2) & PCI_EXP_DEVCTL2_ARI) !== 0;
  }
}
