/**
 * The MAC a VF driver chooses when the PF hands out none (Linux eth_random_addr: locally
 * administered, unicast). The model has no entropy source worth the name, so the address is derived
 * from a seed (a hash of what identifies the driver instance) and an attempt number: the same host
 * boots the same way every time, and a collision NACKed by the PF ("mac-in-use") moves to the next.
 */
import type { Mac } from "../nic/port-config.js";
import { isMulticastMac } from "../nic/port-config.js";

/** First octet of every chosen address: locally administered (bit 1), unicast (bit 0 clear). */
export const LOCAL_MAC_PREFIX = 0x02;
const LOW40 = 2 ** 40;

/** FNV-1a over a string: a stable seed. */
export function macSeed(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Candidate number `attempt` for `seed`: 02:xx:xx:xx:xx:xx, never 02:00:00:00:00:00. */
export function localMacCandidate(seed: number, attempt: number): Mac {
  const mixed = (Math.imul((seed ^ Math.imul(attempt + 1, 0x9e3779b1)) >>> 0, 0x85ebca6b) >>> 0) ^ (seed >>> 7);
  const low = (((mixed >>> 0) * 0x100 + ((seed + attempt) & 0xff)) % LOW40) || 1;
  return LOCAL_MAC_PREFIX * LOW40 + low;
}

/** A MAC a VF may use as its own: nonzero, 48 bits, not a group address. */
export const isUsableUnicast = (m: Mac): boolean => Number.isInteger(m) && m > 0 && m < 2 ** 48 && !isMulticastMac(m);

/** Locally administered bit (IEEE 802: bit 1 of the first octet). */
export const isLocallyAdministered = (m: Mac): boolean => (Math.floor(m / LOW40) & 0x02) !== 0;
