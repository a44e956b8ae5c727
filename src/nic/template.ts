/**
 * What the NIC hardware takes from a NIC template, checked once: VFs, queue pairs, MSI-X vectors
 * and where the MSI-X table sits.
 */
import { IovError } from "../errors.js";
import type { MsixLayoutInfo } from "./layout.js";
import { msixLayoutInfo } from "./layout.js";
import { MAX_QUEUES, MAX_VFS, MSIX_PBA_OFFSET } from "./regs.js";
import type { NicTemplate } from "./templates/catalog.js";
import { vfMsixPlacement } from "./templates/layout.js";

/** A subset of templates/catalog.ts NicTemplate (see hwTemplateOf). */
export interface NicHwTemplate {
  readonly maxVfs: number;
  /** Queue pairs per VF, 1..16. */
  readonly queuesPerVf: number;
  /** Queue pairs of the PF (default 2). */
  readonly pfQueues?: number;
  /** MSI-X vectors per VF (default 3, igbvf) and of the PF (default 10, 82576). */
  readonly vfMsixVectors?: number;
  readonly pfMsixVectors?: number;
  /** BAR holding the MSI-X table and PBA (default 3). */
  readonly pfMsixBar?: number;
  readonly vfMsixBar?: number;
  /**
   * Byte offsets of the table and the PBA in that BAR, as the MSI-X capability advertises them.
   * Default: table at 0 (0x10000 in BAR0, past the registers), PBA 0x2000 after the table start or
   * after the table's end rounded to 4 KiB, whichever is further.
   */
  readonly pfMsixTableOffset?: number;
  readonly pfMsixPbaOffset?: number;
  readonly vfMsixTableOffset?: number;
  readonly vfMsixPbaOffset?: number;
}

/**
 * The hardware part of a catalog template, with the MSI-X placement its config space advertises
 * (templates/layout.ts): the PF's table at 0 and PBA at 0x2000 of its MSI-X BAR, each VF's from
 * vfMsixPlacement. Two catalog placements cannot be real hardware and get the default rule instead
 * (msixPlacement("pf") says where): a PF table in BAR0 (it would sit on the registers) and a PF PBA
 * inside a table of more than 512 vectors.
 */
export function hwTemplateOf(t: NicTemplate): NicHwTemplate {
  const vf = vfMsixPlacement(t);
  const pfCoherent = t.msixBar !== 0 && t.pfMsixVectors * 16 <= MSIX_PBA_OFFSET;
  return {
    maxVfs: t.totalVfs,
    queuesPerVf: t.queuePairsPerVf,
    pfQueues: Math.max(2, t.queuePairsPerVf),
    vfMsixVectors: t.vfMsixVectors,
    pfMsixVectors: t.pfMsixVectors,
    pfMsixBar: t.msixBar,
    ...(pfCoherent ? { pfMsixTableOffset: 0, pfMsixPbaOffset: MSIX_PBA_OFFSET } : {}),
    vfMsixBar: vf.bar,
    vfMsixTableOffset: vf.table,
    vfMsixPbaOffset: vf.pba,
  };
}

/** MSI-X placement for the PCIe layer's capability (the fields of pcie/caps/msix.ts MsixOptions). */
export interface NicMsixPlacement {
  readonly vectors: number;
  readonly tableBir: number;
  readonly tableOffset: number;
  readonly pbaBir: number;
  readonly pbaOffset: number;
}

export function checkInt(what: string, v: number, lo: number, hi: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new IovError("ERANGE", `${what} ${v} outside ${lo}..${hi}`, { what, value: v });
  return v;
}

export interface ResolvedTemplate {
  readonly maxVfs: number;
  readonly queuesPerVf: number;
  readonly pfQueues: number;
  readonly pfMsix: MsixLayoutInfo;
  readonly vfMsix: MsixLayoutInfo;
}

export function resolveTemplate(t: NicHwTemplate): ResolvedTemplate {
  const pfVec = checkInt("pfMsixVectors", t.pfMsixVectors ?? 10, 1, 2048);
  const vfVec = checkInt("vfMsixVectors", t.vfMsixVectors ?? 3, 1, 2048);
  return {
    maxVfs: checkInt("maxVfs", t.maxVfs, 0, MAX_VFS),
    queuesPerVf: checkInt("queuesPerVf", t.queuesPerVf, 1, MAX_QUEUES),
    pfQueues: checkInt("pfQueues", t.pfQueues ?? 2, 1, MAX_QUEUES),
    pfMsix: msixLayoutInfo(checkInt("pfMsixBar", t.pfMsixBar ?? 3, 0, 5), pfVec, t.pfMsixTableOffset, t.pfMsixPbaOffset),
    vfMsix: msixLayoutInfo(checkInt("vfMsixBar", t.vfMsixBar ?? 3, 0, 5), vfVec, t.vfMsixTableOffset, t.vfMsixPbaOffset),
  };
}

export function placementOf(m: MsixLayoutInfo): NicMsixPlacement {
  return { vectors: m.vectors, tableBir: m.bar, tableOffset: m.tableOffset, pbaBir: m.bar, pbaOffset: m.pbaOffset };
}
