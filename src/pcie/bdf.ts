import { IovError } from "../errors.js";

/** A PCI address: domain (segment), bus, device, function; "0000:01:00.0". */
export interface Bdf {
  readonly domain: number;
  readonly bus: number;
  readonly dev: number;
  readonly fn: number;
}

export const PCI_DEVFN = (slot: number, fn: number): number => ((slot & 0x1f) << 3) | (fn & 0x07);
export const PCI_SLOT = (devfn: number): number => (devfn >> 3) & 0x1f;
export const PCI_FUNC = (devfn: number): number => devfn & 0x07;

const hex = (n: number, w: number): string => n.toString(16).padStart(w, "0");

export function formatBdf(b: Bdf): string {
  return `${hex(b.domain, 4)}:${hex(b.bus, 2)}:${hex(b.dev, 2)}.${b.fn.toString(16)}`;
}
/** lspci's short form "01:00.0" (domain omitted when 0). */
export function formatBdfShort(b: Bdf): string {
  return b.domain === 0 ? `${hex(b.bus, 2)}:${hex(b.dev, 2)}.${b.fn.toString(16)}` : formatBdf(b);
}
export function bdfFromRid(domain: number, rid: number): Bdf {
  return { domain, bus: (rid >> 8) & 0xff, dev: PCI_SLOT(rid & 0xff), fn: PCI_FUNC(rid & 0xff) };
}
export function bdfToRid(b: Bdf): number {
  return (b.bus << 8) | PCI_DEVFN(b.dev, b.fn);
}

const BDF_RE = /^(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$/;

/** Parse "0000:01:00.0" or "01:00.0". Throws IovError EINVAL naming what was expected. */
export function parseBdf(s: string): Bdf {
  const m = BDF_RE.exec(s.trim());
  if (m === null) throw new IovError("EINVAL", `"${s}" is not a PCI address (expected DDDD:BB:DD.F, e.g. 0000:01:00.0)`);
  const dev = parseInt(m[3]!, 16);
  if (dev > 0x1f) throw new IovError("EINVAL", `"${s}": device number 0x${dev.toString(16)} above 0x1f`);
  return { domain: m[1] === undefined ? 0 : parseInt(m[1], 16), bus: parseInt(m[2]!, 16), dev, fn: parseInt(m[4]!, 10) };
}
