/**
 * The NIC's DMA engine: every descriptor and buffer access is a request (requester ID, IOVA, length,
 * read|write) through the one DmaTranslator, split at 4 KiB boundaries. A refused request returns
 * false and the access does not happen. Writes are planned first (every page translated) and copied
 * second, so a frame lands whole or not at all. Bytes move with index loops on PhysMem's page
 * arrays: nothing is allocated per packet.
 */
import type { PhysMem } from "../memory/physmem.js";
import { PAGE_MASK, PAGE_SIZE } from "../memory/physmem.js";
import type { DmaTranslator } from "../pcie/dma.js";
import { DMA_FAULT } from "../pcie/dma.js";
import { ETH_TYPE_OFF } from "./frame.js";
import { copyBytes } from "../memory/bytes.js";

/** Planned write chunks per frame: ≤ 10 buffers of ≥ 1 KiB for a 9,736-byte frame, ≤ 2 pages each. */
const MAX_CHUNKS = 64;

export class DmaEngine {
  private readonly chunkHpa = new Float64Array(MAX_CHUNKS);
  private readonly chunkLen = new Int32Array(MAX_CHUNKS);
  private chunks = 0;
  /** Host addresses at or past this are not memory: the request completes as a fault (master abort). */
  private readonly limit: number;

  constructor(
    readonly mem: PhysMem,
    public translator: DmaTranslator,
  ) {
    this.limit = mem.sizeLimit;
  }

  /** Translate `len` bytes (within one page); DMA_FAULT when refused or outside memory. */
  private xlate(rid: number, iova: number, len: number, write: boolean): number {
    const h = this.translator.translate(rid, iova, len, write);
    return h === DMA_FAULT || h + len > this.limit ? DMA_FAULT : h;
  }

  /** Translate a dword access (head write-back); DMA_FAULT when refused. */
  word(rid: number, iova: number, write: boolean): number {
    return this.xlate(rid, iova, 4, write);
  }

  /** Translate a 16-byte descriptor access; DMA_FAULT when refused. */
  desc(rid: number, iova: number, write: boolean): number {
    return this.xlate(rid, iova, 16, write);
  }

  /** Little-endian 64-bit buffer address at host address `hpa` (descriptor-aligned: one page). */
  read64(hpa: number): number {
    const p = this.mem.pageForRead(hpa);
    const o = hpa & PAGE_MASK;
    const lo = (p[o]! | (p[o + 1]! << 8) | (p[o + 2]! << 16) | (p[o + 3]! << 24)) >>> 0;
    const hi = (p[o + 4]! | (p[o + 5]! << 8) | (p[o + 6]! << 16) | (p[o + 7]! << 24)) >>> 0;
    return hi * 0x1_0000_0000 + lo;
  }

  /** DMA read of `len` bytes at `iova` into `dst[off..]`; false on a fault (dst may hold a prefix). */
  gather(rid: number, iova: number, len: number, dst: Uint8Array, off: number): boolean {
    let done = 0;
    while (done < len) {
      const a = iova + done;
      const n = Math.min(len - done, PAGE_SIZE - (a & PAGE_MASK));
      const h = this.xlate(rid, a, n, false);
      if (h === DMA_FAULT) return false;
      copyBytes(dst, off + done, this.mem.pageForRead(h), h & PAGE_MASK, n);
      done += n;
    }
    return true;
  }

  beginPlan(): void {
    this.chunks = 0;
  }

  /** Translate `len` bytes at `iova` for writing and append them to the plan; false on a fault. */
  plan(rid: number, iova: number, len: number): boolean {
    let done = 0;
    while (done < len) {
      const a = iova + done;
      const n = Math.min(len - done, PAGE_SIZE - (a & PAGE_MASK));
      if (this.chunks === MAX_CHUNKS) return false;
      const h = this.xlate(rid, a, n, true);
      if (h === DMA_FAULT) return false;
      this.chunkHpa[this.chunks] = h;
      this.chunkLen[this.chunks] = n;
      this.chunks++;
      done += n;
    }
    return true;
  }

  /**
   * Copy the frame src[start..start+len+strip) into the planned chunks, leaving out the `strip`
   * bytes of VLAN tag(s) that follow the two MAC addresses (hardware VLAN strip).
   */
  commit(src: Uint8Array, start: number, strip: number): void {
    let v = 0; // offset in the frame as delivered
    for (let c = 0; c < this.chunks; c++) {
      const h = this.chunkHpa[c]!;
      const n = this.chunkLen[c]!;
      const page = this.mem.pageForWrite(h);
      const o = h & PAGE_MASK;
      let i = 0;
      if (v < ETH_TYPE_OFF) {
        const k = Math.min(n, ETH_TYPE_OFF - v);
        copyBytes(page, o, src, start + v, k);
        i = k;
      }
      copyBytes(page, o + i, src, start + v + i + strip, n - i);
      v += n;
    }
  }
}
