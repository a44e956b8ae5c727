/** Pure-TypeScript twins of the native data-plane helpers (native/dataplane.cc). Same bytes, same results. */

export function csumPartialTs(buf: Uint8Array, off: number, len: number, initial: number): number {
  let sum = initial >>> 0;
  let i = off;
  const end = off + len;
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

export function rxWritebackTs(ring: Uint8Array, first: number, count: number, ringLen: number, len: number, vlan: number): void {
  const DD = 0x01;
  const EOP = 0x02;
  for (let k = 0; k < count; k++) {
    const d = ((first + k) % ringLen) * 16;
    ring[d + 8] = len & 0xff;
    ring[d + 9] = (len >>> 8) & 0xff;
    ring[d + 12] = DD | EOP;
    ring[d + 13] = 0;
    ring[d + 14] = vlan & 0xff;
    ring[d + 15] = (vlan >>> 8) & 0xff;
  }
}
