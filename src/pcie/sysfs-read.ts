/**
 * This machine's own PCI functions, read from Linux sysfs: `/sys/bus/pci/devices/DDDD:BB:DD.F/config`
 * (256 or 4096 bytes as root, the 64-byte header otherwise), plus what lspci also takes from sysfs —
 * BAR sizes from `resource`, the routed IRQ from `irq`, the bound driver from the `driver` link — so
 * the same functions can be decoded and rendered next to the real lspci's view of them.
 */
import { readFileSync, readdirSync, readlinkSync, existsSync } from "node:fs";
import { basename, join } from "node:path";
import { IovError } from "../errors.js";
import type { Bdf } from "./bdf.js";

export const SYSFS_PCI_DEVICES = "/sys/bus/pci/devices";

export interface SysfsFunction {
  readonly bdf: Bdf;
  /** Config bytes as the kernel returned them. */
  readonly bytes: Uint8Array;
  readonly length: number;
  /** BAR sizes from `resource` (index = BAR slot; undefined where the kernel assigned nothing). */
  readonly sizes: readonly (number | undefined)[];
  /** Kernel resource flags of the six BARs (IORESOURCE_*; low bits repeat the BAR's flag bits). */
  readonly resourceFlags: readonly number[];
  /** Expansion ROM size from `resource` line 6, when assigned. */
  readonly romSize?: number;
  /** The IRQ the kernel routed (`irq`). */
  readonly irq?: number;
  /** Bound driver (basename of the `driver` link). */
  readonly driver?: string;
  /** The sysfs directory. */
  readonly path: string;
}

/** Parse a sysfs `resource` file: one `start end flags` line per resource (6 BARs, then the ROM). */
export function parseSysfsResource(text: string): Array<{ start: bigint; end: bigint; flags: bigint }> {
  const out: Array<{ start: bigint; end: bigint; flags: bigint }> = [];
  for (const line of text.split("\n")) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 3) continue;
    try {
      out.push({ start: BigInt(parts[0] ?? "0"), end: BigInt(parts[1] ?? "0"), flags: BigInt(parts[2] ?? "0") });
    } catch {
      continue;
    }
  }
  return out;
}

const sizeOf = (r: { start: bigint; end: bigint } | undefined): number | undefined =>
  r === undefined || (r.start === 0n && r.end === 0n) || r.end < r.start ? undefined : Number(r.end - r.start + 1n);

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

const SYSFS_NAME_RE = /^([0-9a-fA-F]{4,8}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/;

/** A sysfs device directory name ("0000:00:03.0"; VMD domains have more than 4 digits). */
export function parseSysfsName(name: string): Bdf {
  const m = SYSFS_NAME_RE.exec(name);
  if (m === null) throw new IovError("EINVAL", `"${name}" is not a sysfs PCI device name (expected DDDD:BB:DD.F)`);
  return { domain: parseInt(m[1] ?? "", 16), bus: parseInt(m[2] ?? "", 16), dev: parseInt(m[3] ?? "", 16), fn: parseInt(m[4] ?? "", 10) };
}

/** Read one function's directory (e.g. `/sys/bus/pci/devices/0000:00:03.0`). */
export function readSysfsFunction(dir: string): SysfsFunction {
  const bdf = parseSysfsName(basename(dir));
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(join(dir, "config")));
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new IovError(code === "EACCES" ? "EPERM" : "ENOENT", `cannot read ${join(dir, "config")}: ${(e as Error).message}`, { path: dir });
  }
  const res = parseSysfsResource(readOptional(join(dir, "resource")) ?? "");
  const sizes = [0, 1, 2, 3, 4, 5].map((i) => sizeOf(res[i]));
  const romSize = sizeOf(res[6]);
  const resourceFlags = [0, 1, 2, 3, 4, 5].map((i) => Number((res[i]?.flags ?? 0n) & 0xffffffffn));
  const irqText = readOptional(join(dir, "irq"));
  const irq = irqText === undefined ? undefined : Number.parseInt(irqText.trim(), 10);
  let driver: string | undefined;
  try {
    driver = basename(readlinkSync(join(dir, "driver")));
  } catch {
    driver = undefined;
  }
  return {
    bdf,
    bytes,
    length: bytes.length,
    sizes,
    resourceFlags,
    ...(romSize !== undefined ? { romSize } : {}),
    ...(irq !== undefined && Number.isFinite(irq) ? { irq } : {}),
    ...(driver !== undefined ? { driver } : {}),
    path: dir,
  };
}

/**
 * Every function under `root` (default /sys/bus/pci/devices), sorted by address.
 * @throws IovError ENOENT when `root` does not exist (no sysfs, not Linux).
 */
export function readSysfsFunctions(root: string = SYSFS_PCI_DEVICES): SysfsFunction[] {
  if (!existsSync(root)) throw new IovError("ENOENT", `${root} does not exist (no Linux sysfs PCI view on this machine)`, { path: root });
  const names = readdirSync(root).filter((n) => SYSFS_NAME_RE.test(n));
  const fns = names.map((n) => readSysfsFunction(join(root, n)));
  fns.sort((a, b) => a.bdf.domain - b.bdf.domain || a.bdf.bus - b.bdf.bus || a.bdf.dev - b.bdf.dev || a.bdf.fn - b.bdf.fn);
  return fns;
}
