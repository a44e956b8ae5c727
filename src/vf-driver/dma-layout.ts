/**
 * Where the VF driver puts its rings and packet buffers inside the DMA region the guest gave it
 * (pure arithmetic). Descriptor rings first, each 128-byte aligned as RDBAL/TDBAL require; then the
 * buffers from the next 4 KiB page, each `bufSize` bytes, so a buffer never shares a page with a ring.
 * Addresses are guest-physical; the device uses them as IOVAs (the IOMMU maps IOVA = GPA).
 */
import { DESC_SIZE } from "../nic/descriptors.js";

/** RDBAL/TDBAL keep bits 31:7: rings start on 128 bytes. */
export const RING_ALIGN = 128;
export const BUF_ALIGN = 4096;

export interface DmaLayout {
  readonly txRing: readonly number[];
  readonly rxRing: readonly number[];
  /** First TX / RX buffer of each queue; buffer i is at base + i × bufSize. */
  readonly txBufs: readonly number[];
  readonly rxBufs: readonly number[];
  /** First byte past the layout. */
  readonly end: number;
}

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;

export function planDma(base: number, queues: number, txCount: number, rxCount: number, bufSize: number): DmaLayout {
  let p = alignUp(base, RING_ALIGN);
  const txRing: number[] = [];
  const rxRing: number[] = [];
  const txBufs: number[] = [];
  const rxBufs: number[] = [];
  for (let q = 0; q < queues; q++) {
    txRing.push(p);
    p = alignUp(p + txCount * DESC_SIZE, RING_ALIGN);
    rxRing.push(p);
    p = alignUp(p + rxCount * DESC_SIZE, RING_ALIGN);
  }
  p = alignUp(p, BUF_ALIGN);
  for (let q = 0; q < queues; q++) {
    txBufs.push(p);
    p += txCount * bufSize;
    rxBufs.push(p);
    p += rxCount * bufSize;
  }
  return { txRing, rxRing, txBufs, rxBufs, end: p };
}

/** Bytes of DMA region a driver with these settings needs from `base`. */
export function dmaBytesNeeded(base: number, queues: number, txCount: number, rxCount: number, bufSize: number): number {
  return planDma(base, queues, txCount, rxCount, bufSize).end - base;
}
