/**
 * The upward interfaces a device sees: DMA translation (a requester ID's view of memory) and MSI
 * delivery. Declared here, below the devices; implemented above (identity here, the VT-d IOMMU in
 * hypervisor-glue/iommu). Devices know only these interfaces.
 */

/** Outcome codes of a translation when it does not produce an address. */
export const DMA_FAULT = -1;

export interface DmaTranslator {
  /**
   * Translate `iova` for requester `rid` for an access of `len` bytes (the range must not cross a
   * 4 KiB boundary). Returns the host physical address, or DMA_FAULT when the access must not happen;
   * the implementation records the fault (reason, source ID) itself. Allocates nothing.
   */
  translate(rid: number, iova: number, len: number, write: boolean): number;
}

/** No IOMMU: every requester sees host physical memory 1:1 (addresses beyond 52 bits fault). */
export const IDENTITY_TRANSLATOR: DmaTranslator = {
  translate(_rid: number, iova: number, len: number): number {
    return iova >= 0 && iova + len <= 2 ** 52 ? iova : DMA_FAULT;
  },
};

/** Where a function's MSI/MSI-X memory writes go (the interrupt controller / interrupt remapping). */
export interface MsiSink {
  /** A posted memory write of `data` to `addr` by requester `rid` in the MSI address window. */
  msiWrite(rid: number, addr: number, data: number): void;
}

export const MSI_ADDR_BASE = 0xfee00000; // x86 interrupt address window 0xFEE0_0000..0xFEEF_FFFF
export const MSI_ADDR_LIMIT = 0xfeefffff;

/** A requester ID: bus[15:8] | device[7:3] | function[2:0] (or ARI function number [7:0]). */
export const rid = (bus: number, devfn: number): number => ((bus & 0xff) << 8) | (devfn & 0xff);
export const ridBus = (r: number): number => (r >>> 8) & 0xff;
export const ridDevfn = (r: number): number => r & 0xff;
