/**
 * Capability list walks through any config accessor: the raw bytes of a ConfigSpace (the fabric's
 * own bookkeeping) or real config cycles (enumeration), so both see the same chain.
 */
import { PCI_CAPABILITY_LIST, PCI_STATUS, PCI_STATUS_CAP_LIST } from "./header.js";
import { PCI_CAP_LIST_ID, PCI_CAP_LIST_NEXT, PCI_CFG_SPACE_SIZE, PCI_EXT_CAP_ID, PCI_EXT_CAP_NEXT } from "./decode.js";

/** A config read of 1, 2 or 4 bytes. */
export type CfgReader = (off: number, size: 1 | 2 | 4) => number;

/** At most this many standard capabilities fit between 0x40 and 0xff (guards against pointer loops). */
const MAX_STD_CAPS = 48;
/** At most this many extended capabilities fit in 0x100..0xfff. */
const MAX_EXT_CAPS = (4096 - 256) / 8;

/** Offset of the first standard capability with `id`, or 0 (Linux pci_find_capability). */
export function findCapability(read: CfgReader, id: number): number {
  if ((read(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST) === 0) return 0;
  let pos = read(PCI_CAPABILITY_LIST, 1) & ~3;
  for (let n = 0; n < MAX_STD_CAPS && pos >= 0x40; n++) {
    const capId = read(pos + PCI_CAP_LIST_ID, 1);
    if (capId === 0xff) return 0;
    if (capId === id) return pos;
    pos = read(pos + PCI_CAP_LIST_NEXT, 1) & ~3;
  }
  return 0;
}

/** Offset of the first extended capability with `id`, or 0 (Linux pci_find_ext_capability). */
export function findExtCapability(read: CfgReader, id: number): number {
  let pos = PCI_CFG_SPACE_SIZE;
  for (let n = 0; n < MAX_EXT_CAPS && pos >= PCI_CFG_SPACE_SIZE; n++) {
    const h = read(pos, 4);
    if (h === 0 || h === 0xffffffff) return 0;
    if (PCI_EXT_CAP_ID(h) === id) return pos;
    pos = PCI_EXT_CAP_NEXT(h);
  }
  return 0;
}
