/**
 * Where a ring driver (rings.ts) puts its descriptor rings and packet buffers in the memory it owns
 * (pure arithmetic). Per queue pair, from a 4 KiB boundary: the TX ring, the RX ring, each rounded up
 * to whole 4 KiB pages as igb does (ALIGN(size, 4096) for dma_alloc_coherent), so a ring never shares
 * a page with a buffer; then the TX buffers and the RX buffers, buffer i at base + i × stride
 * (stride ≥ the buffer size: a larger stride spreads the buffers over more pages, which sets the DMA
 * working set an IOTLB has to cover). RX slot i keeps buffer i; the TX buffers are a pool the driver
 * takes from, last freed first (rings.ts). Addresses are the driver's (GPAs for a guest driver).
 */
import { DESC_SIZE } from "../nic/descriptors.js";

/** RDBAL/TDBAL keep bits 31:7: rings must start on 128 bytes (they start on pages here). */
export const RING_ALIGN = 128;
export const PAGE_ALIGN = 4096;

export interface DmaLayout {
  readonly txRing: readonly number[];
  readonly rxRing: readonly number[];
  /** First TX / RX buffer of each queue; buffer i is at base + i × stride. */
  readonly txBufs: readonly number[];
  readonly rxBufs: readonly number[];
  readonly stride: number;
  /** First byte past the layout. */
  readonly end: number;
}

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;

export function planDma(base: number, queues: number, txCount: number, rxCount: number, bufSize: number, stride = bufSize): DmaLayout {
  const s = Math.max(stride, bufSize);
  let p = alignUp(base, PAGE_ALIGN);
  const txRing: number[] = [];
  const rxRing: number[] = [];
  const txBufs: number[] = [];
  const rxBufs: number[] = [];
  for (let q = 0; q < queues; q++) {
    txRing.push(p);
    p += alignUp(txCount * DESC_SIZE, PAGE_ALIGN);
    rxRing.push(p);
    p += alignUp(rxCount * DESC_SIZE, PAGE_ALIGN);
    txBufs.push(p);
    p += txCount * s;
    rxBufs.push(p);
    p = alignUp(p + rxCount * s, PAGE_ALIGN);
  }
  return { txRing, rxRing, txBufs, rxBufs, stride: s, end: p };
}

/** Bytes of memory a driver with these settings needs from `base`. */
export function dmaBytesNeeded(base: number, queues: number, txCount: number, rxCount: number, bufSize: number, stride = bufSize): number {
  return planDma(base, queues, txCount, rxCount, bufSize, stride).end - base;
}
