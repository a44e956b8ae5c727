/**
 * Reading lspci's text back, for comparing it with pciov's decode: device blocks, the terse line's IDs,
 * Region lines, capability title lines, and the lines of one capability.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toPciIds } from "../../src/pcie/names.js";

/** Run the real lspci; throws a clear error when it is not installed. Output is read as Latin-1 (lspci prints raw bytes). */
export function lspci(args: readonly string[]): string {
  try {
    return execFileSync("lspci", [...args], { encoding: "latin1", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 28 });
  } catch (e) {
    const err = e as { code?: string; stderr?: string; message?: string };
    if (err.code === "ENOENT") throw new Error("lspci (pciutils 3.9) is not installed: the peer tests need it on PATH (apt-get install pciutils)");
    throw new Error(`lspci ${args.join(" ")} failed: ${err.stderr ?? err.message ?? String(e)}`);
  }
}

/** lspci's version string ("lspci version 3.9.0"). */
export function lspciVersion(): string {
  return lspci(["--version"]).trim();
}

let idsFile: string | undefined;
/** A pci.ids holding exactly the names pciov knows, so lspci and pciov name devices alike. */
export function ourIdsFile(): string {
  if (idsFile === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "pciov-ids-"));
    idsFile = join(dir, "pci.ids");
    writeFileSync(idsFile, toPciIds());
  }
  return idsFile;
}

/** Write `text` to a temporary file and return its path. */
export function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "pciov-dump-"));
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

export interface LspciBlock {
  readonly slot: string;
  readonly lines: readonly string[];
}

/** Split `lspci -v…` output into one block per device (blocks end with a blank line). */
export function blocks(text: string): LspciBlock[] {
  return text
    .split("\n\n")
    .map((b) => b.split("\n").filter((l) => l !== ""))
    .filter((ls) => ls.length > 0)
    .map((ls) => ({ slot: (ls[0] ?? "").split(" ")[0] ?? "", lines: ls }));
}

export interface TerseIds {
  readonly cls: number;
  readonly vendor: number;
  readonly device: number;
  readonly rev: number;
}

/** IDs from a `-nn` terse line: `01:00.0 Ethernet controller [0200]: Intel ... [8086:10c9] (rev 01)`. */
export function terseIds(line: string): TerseIds {
  const m = /^\S+ .*?\[([0-9a-f]{4})\]: .*\[([0-9a-f]{4}):([0-9a-f]{4})\](?: \(rev ([0-9a-f]{2})\))?/.exec(line);
  if (m === null) throw new Error(`not an lspci -nn device line: ${line}`);
  return { cls: parseInt(m[1] ?? "", 16), vendor: parseInt(m[2] ?? "", 16), device: parseInt(m[3] ?? "", 16), rev: m[4] === undefined ? 0 : parseInt(m[4], 16) };
}

export interface RegionLine {
  readonly index: number;
  readonly kind: "io" | "mem32" | "mem64" | "other";
  readonly prefetchable: boolean;
  /** Hex address, or "<unassigned>". */
  readonly address: string;
}

/** `Region N:` lines of the header part (before the first capability), from -vv or more. */
export function regionLines(b: LspciBlock): RegionLine[] {
  const out: RegionLine[] = [];
  for (const l of b.lines) {
    if (l.startsWith("\tCapabilities:")) break;
    const m = /^\tRegion (\d): (?:Memory at (\S+) \(([^,]+), (non-)?prefetchable\)|I\/O ports at (\S+))/.exec(l);
    if (m === null) continue;
    const index = Number(m[1]);
    if (m[5] !== undefined) out.push({ index, kind: "io", prefetchable: false, address: m[5] });
    else out.push({ index, kind: m[3] === "64-bit" ? "mem64" : m[3] === "32-bit" ? "mem32" : "other", prefetchable: m[4] === undefined, address: m[2] ?? "" });
  }
  return out;
}

export interface CapLine {
  readonly offset: number;
  readonly extended: boolean;
  readonly version?: number;
  readonly title: string;
  /** Index of the title line in the block. */
  readonly at: number;
}

/** `Capabilities: [xx] …` (standard) and `[xxx vN] …` (extended) title lines. */
export function capLines(b: LspciBlock): CapLine[] {
  const out: CapLine[] = [];
  b.lines.forEach((l, at) => {
    const m = /^\tCapabilities: \[([0-9a-f]+)(?: v(\d+))?\] (.*)$/.exec(l);
    if (m === null) return;
    const hex = m[1] ?? "";
    out.push({ offset: parseInt(hex, 16), extended: hex.length === 3, ...(m[2] !== undefined ? { version: Number(m[2]) } : {}), title: m[3] ?? "", at });
  });
  return out;
}

/** The lines of the capability whose title line is at `at` (title included). */
export function capBody(b: LspciBlock, at: number): string[] {
  const out = [b.lines[at] ?? ""];
  for (let i = at + 1; i < b.lines.length && (b.lines[i] ?? "").startsWith("\t\t"); i++) out.push(b.lines[i] ?? "");
  return out;
}

/** Titles of the capabilities pciov renders in full (every line lspci prints). */
const MODELLED_TITLES = [
  "Power Management version",
  "MSI:",
  "MSI-X:",
  "Express ",
  "Advanced Error Reporting",
  "Access Control Services",
  "Alternative Routing-ID Interpretation (ARI)",
  "Address Translation Service (ATS)",
  "Page Request Interface (PRI)",
  "Process Address Space ID (PASID)",
  "Single Root I/O Virtualization (SR-IOV)",
  "Device Serial Number",
  "Vendor Specific Information: VirtIO:",
];

export const isModelledTitle = (title: string): boolean => MODELLED_TITLES.some((t) => title.startsWith(t));

/**
 * lspci's text with what pciov does not render removed: the detail lines of capabilities it shows by
 * title only, and "Kernel modules:" (which lspci takes from libkmod).
 */
export function comparable(text: string): string {
  const out: string[] = [];
  let skipping = false;
  for (const l of text.split("\n")) {
    const m = /^\tCapabilities: \[[0-9a-f]+(?: v\d+)?\] (.*)$/.exec(l);
    if (m !== null) skipping = !isModelledTitle(m[1] ?? "");
    else if (!l.startsWith("\t\t")) skipping = false;
    if (skipping && m === null) continue;
    if (l.startsWith("\tKernel modules:")) continue;
    out.push(l);
  }
  return out.join("\n");
}
