/**
 * Link training between a downstream port and the device plugged below it: both ends advertise
 * Max Link Speed / Maximum Link Width in LNKCAP; the link comes up at the highest speed and widest
 * width both support (optionally limited, as a slot wired narrower would), and both ends report it
 * in LNKSTA (PCIe Base §7.5.3.6–7.5.3.8). The port also reports Data Link Layer Link Active when it
 * advertises that reporting.
 */
import type { FabricNode } from "./fabric.js";
import type { PcieSpeed, PcieWidth } from "./caps/pcie.js";
import { linkSpeedCode, linkSpeedGts } from "./caps/pcie.js";
import {
  PCI_EXP_LNKCAP,
  PCI_EXP_LNKCAP_DLLLARC,
  PCI_EXP_LNKCAP_MLW,
  PCI_EXP_LNKCAP_SLS,
  PCI_EXP_LNKSTA,
  PCI_EXP_LNKSTA_CLS,
  PCI_EXP_LNKSTA_DLLLA,
  PCI_EXP_LNKSTA_NLW_SHIFT,
  PCI_EXP_LNKSTA_SLC,
} from "./caps/pcie-regs.js";

/** A trained (or requested) link: speed in GT/s and width in lanes. */
export interface LinkSpec {
  readonly speed: PcieSpeed;
  readonly width: PcieWidth;
}

const WIDTHS: readonly PcieWidth[] = [1, 2, 4, 8, 12, 16, 32];

function lnkcap(n: FabricNode): { speed: number; width: number } | undefined {
  if (n.pcieCap === 0) return undefined;
  const v = n.fn.cfg.readRaw(n.pcieCap + PCI_EXP_LNKCAP, 4);
  const speed = v & PCI_EXP_LNKCAP_SLS;
  const width = (v & PCI_EXP_LNKCAP_MLW) >>> PCI_EXP_LNKSTA_NLW_SHIFT;
  return speed === 0 || width === 0 ? undefined : { speed, width };
}

function setLnksta(n: FabricNode, v: number): void {
  if (n.pcieCap === 0) return;
  const keep = n.fn.cfg.readRaw(n.pcieCap + PCI_EXP_LNKSTA, 2) & PCI_EXP_LNKSTA_SLC;
  n.fn.cfg.setHw(n.pcieCap + PCI_EXP_LNKSTA, 2, v | keep);
}

/**
 * Train the link between `port` and the functions of the device below it. Returns the link, or
 * undefined when either end has no link registers (then nothing changes).
 */
export function applyLink(port: FabricNode, device: readonly FabricNode[], limit?: LinkSpec): LinkSpec | undefined {
  const p = lnkcap(port);
  const up = device.find((d) => d.fn.devfn === 0 || (d.fn.devfn & 7) === 0) ?? device[0];
  const d = up === undefined ? undefined : lnkcap(up);
  if (p === undefined || d === undefined) return undefined;
  let speed = Math.min(p.speed, d.speed);
  let width = Math.min(p.width, d.width);
  if (limit !== undefined) {
    speed = Math.min(speed, linkSpeedCode(limit.speed));
    width = Math.min(width, limit.width);
  }
  const w = [...WIDTHS].reverse().find((x) => x <= width) ?? 1;
  const sta = speed | (w << PCI_EXP_LNKSTA_NLW_SHIFT);
  const portCap = port.fn.cfg.readRaw(port.pcieCap + PCI_EXP_LNKCAP, 4);
  setLnksta(port, sta | ((portCap & PCI_EXP_LNKCAP_DLLLARC) !== 0 ? PCI_EXP_LNKSTA_DLLLA : 0));
  for (const n of device) if (lnkcap(n) !== undefined) setLnksta(n, sta);
  return { speed: linkSpeedGts(speed) ?? 2.5, width: w };
}

/** The port's link went down (device removed): Link Status shows no speed, width or activity. */
export function linkDown(port: FabricNode): void {
  if (lnkcap(port) !== undefined) setLnksta(port, 0);
}

/** The link a function reports in LNKSTA now (undefined without link registers or when down). */
export function currentLink(n: FabricNode): LinkSpec | undefined {
  if (lnkcap(n) === undefined) return undefined;
  const v = n.fn.cfg.readRaw(n.pcieCap + PCI_EXP_LNKSTA, 2);
  const speed = linkSpeedGts(v & PCI_EXP_LNKSTA_CLS);
  const width = (v >> PCI_EXP_LNKSTA_NLW_SHIFT) & 0x3f;
  if (speed === undefined || !WIDTHS.includes(width as PcieWidth)) return undefined;
  return { speed, width: width as PcieWidth };
}
