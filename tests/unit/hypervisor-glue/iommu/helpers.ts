/** Shared set-up for the IOMMU tests: host memory, a remapping unit, and the hypervisor's driver. */
import { expect } from "vitest";
import { PhysMem } from "../../../../src/memory/physmem.js";
import { RangeAllocator } from "../../../../src/memory/alloc.js";
import { isIovError, type IovErrorCode } from "../../../../src/errors.js";
import { VtdIommu, type VtdOptions } from "../../../../src/hypervisor-glue/iommu/vtd.js";
import { IommuHost } from "../../../../src/hypervisor-glue/iommu/host.js";
import type { InterruptTarget } from "../../../../src/hypervisor-glue/iommu/intremap.js";
import type { IommuEventSink } from "../../../../src/hypervisor-glue/iommu/faults.js";

/** Hypervisor-private memory for IOMMU structures (as in hypervisor.ts HOST_MAP). */
export const TABLES_BASE = 0x0100_0000;
export const TABLES_LIMIT = 0x4000_0000;
/** Guest RAM lives above 4 GiB. */
export const RAM = 0x1_0000_0000;

export interface Rig {
  mem: PhysMem;
  hw: VtdIommu;
  host: IommuHost;
  tables: RangeAllocator;
}

export function rig(
  opts: VtdOptions & { invalidation?: "queued" | "register"; memSize?: number; translate?: boolean; tablesLimit?: number } = {},
): Rig {
  const mem = new PhysMem(opts.memSize);
  const tables = new RangeAllocator(TABLES_BASE, opts.tablesLimit ?? TABLES_LIMIT, "IOMMU tables");
  const hw = new VtdIommu(mem, opts);
  const host = new IommuHost(hw, { tables, invalidation: opts.invalidation ?? "queued" });
  host.init({ translate: opts.translate ?? true });
  return { mem, hw, host, tables };
}

export function expectIovError(fn: () => unknown, code: IovErrorCode): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(isIovError(err, code), `expected IovError ${code}, got ${String(err)}`).toBe(true);
}

/** Records every delivered interrupt. */
export class RecordingTarget implements InterruptTarget {
  readonly got: Array<{ dest: number; vector: number; attrs: number }> = [];
  deliver(destId: number, vector: number, attrs: number): void {
    this.got.push({ dest: destId, vector, attrs });
  }
}

export class RecordingEvents implements IommuEventSink {
  readonly got: Array<{ kind: string; addr: number; data: number }> = [];
  iommuEvent(kind: "fault" | "invalidation-complete", addr: number, data: number): void {
    this.got.push({ kind, addr, data });
  }
}

/** Requester IDs used across tests: bus 3 device 2 function 0/1, bus 5 device 0 function 0. */
export const RID_A = 0x0310;
export const RID_B = 0x0311;
export const RID_C = 0x0500;
