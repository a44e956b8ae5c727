/**
 * The Internet checksum (RFC 1071) over bytes in memory: the primitives the NIC's checksum and
 * segmentation offloads use, and the simulator's frame builders with them.
 */

/** Ones'-complement sum of big-endian 16-bit words (an odd last byte is padded with zero), not folded. */
export function onesComplementSum(buf: Uint8Array, offset: number, length: number, initial = 0): number {
  let sum = initial;
  const end = offset + length - 1;
  let i = offset;
  for (; i < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i === end) sum += buf[i]! << 8;
  return sum;
}

/** Folds a sum to 16 bits and complements it: the Internet checksum (RFC 1071). */
export function foldChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}
