/**
 * Per-device SR-IOV geometry: how First VF Offset and VF Stride depend on NumVFs and the ARI
 * Capable Hierarchy bit (SR-IOV 1.1 §3.3.10–3.3.11 allow both to change). Templates supply the rule.
 */

export interface OffsetStride {
  readonly offset: number;
  readonly stride: number;
}

export interface SriovGeometry {
  readonly initialVfs: number;
  readonly totalVfs: number;
  readonly vfDeviceId: number;
  /** Supported Page Sizes mask (bit n ⇔ 2^(n+12) B). */
  readonly supportedPageSizes: number;
  readonly functionDependencyLink: number;
  /** Offset/stride the device reports for a NumVFs value and the ARI Capable Hierarchy bit. */
  offsetStride(numVfs: number, ari: boolean): OffsetStride;
  /** A short description of the rule, for docs and `pciov templates`. */
  readonly rule: string;
}

/** A device whose offset/stride never change. */
export function fixedOffsetStride(offset: number, stride: number): (n: number, ari: boolean) => OffsetStride {
  return () => ({ offset, stride });
}

/**
 * A device that packs VFs differently with and without ARI: without ARI the VFs must stay at device
 * numbers reachable with 3-bit function numbers, so the device reports a larger offset.
 * Intel 82576 reports 128 with ARI Capable Hierarchy set and 384 without, stride 2
 * (two real dumps in shared/fixtures/real-sriov-dumps: cap-pcie-2 and cap-pcie-2@1d03d34).
 */
export function ariDependentOffset(ariOffset: number, nonAriOffset: number, stride: number): (n: number, ari: boolean) => OffsetStride {
  return (_n, ari) => ({ offset: ari ? ariOffset : nonAriOffset, stride });
}
