/**
 * Host description files: YAML text → a typed HostFile, or a ConfigError listing every problem as
 * `file:line:col: path: expected …, found …`. Phases: YAML syntax, then the grammar (keys, types,
 * notations), then the checks that need only the file (validate.ts). A phase runs only when the one
 * before it found nothing, so that one mistake is not reported again as its consequences.
 */
import { access, readFile } from "node:fs/promises";
import { constants as fsConstants } from "node:fs";
import { parseDocument, type YAMLError } from "yaml";
import { IovError, type IovErrorCode } from "../errors.js";
import { readHostFile } from "./grammar.js";
import { ConfigError, makeIssue, type ConfigIssue } from "./issues.js";
import { Reader } from "./schema.js";
import { BUILTIN_NIC_TEMPLATES, fieldPos, type DeviceSpec, type HostFile } from "./types.js";
import { validateHostFile } from "./validate.js";

export interface ParseOptions {
  /** NIC template names `device.template` accepts; default BUILTIN_NIC_TEMPLATES. */
  readonly templates?: readonly string[];
}

/** After one syntax error the YAML parser reports every following token of the broken construct;
 *  those are consequences, not news. Keep the first per line, and at most this many. */
export const MAX_YAML_ISSUES = 10;

function yamlMessage(e: YAMLError, warning: boolean): string {
  if (e.code === "MULTIPLE_DOCS") return "YAML syntax error: expected one document, found a second one";
  const text = e.message.replace(/\s+/g, " ").trim();
  return warning ? `YAML: ${text}` : `YAML syntax error: ${text}`;
}

function reportYaml(r: Reader, errors: readonly YAMLError[], warning: boolean): void {
  const lines = new Set<number>();
  for (const e of errors) {
    const at = r.posAt(e.pos[0]);
    if (lines.has(at.line)) continue;
    if (lines.size === MAX_YAML_ISSUES) break;
    lines.add(at.line);
    r.report(at, "", yamlMessage(e, warning));
  }
}

/**
 * Parse a host file. `fileName` names the file in messages and is the base for relative dump paths.
 * Throws ConfigError (EINVAL) with every issue found, sorted by position.
 */
export function parseHostFile(text: string, fileName: string, options: ParseOptions = {}): HostFile {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, version: "1.2", merge: false });
  const r = new Reader(fileName, text, doc);
  reportYaml(r, doc.errors, false);
  reportYaml(r, doc.warnings, true);
  if (r.issues.length > 0) throw new ConfigError(r.issues);

  const hostFile = readHostFile(r, fileName, { templates: options.templates ?? BUILTIN_NIC_TEMPLATES });
  if (r.issues.length > 0) throw new ConfigError(dedupe(r.issues));

  const semantic = validateHostFile(hostFile);
  if (semantic.length > 0) throw new ConfigError(semantic);
  return hostFile;
}

/** An alias read twice reports its problem twice; keep one. */
function dedupe(issues: readonly ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.line}:${i.col}:${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Every device the fabric section places, with its path in the file. */
export function fabricDevices(hostFile: HostFile): Array<{ path: string; device: DeviceSpec }> {
  const out: Array<{ path: string; device: DeviceSpec }> = [];
  hostFile.fabric.rootPorts.forEach((rp, i) => {
    const base = `fabric.rootPorts[${i}]`;
    if (rp.device !== undefined) out.push({ path: `${base}.device`, device: rp.device });
    rp.switch?.ports.forEach((p, j) => {
      if (p.device !== undefined) out.push({ path: `${base}.switch.ports[${j}].device`, device: p.device });
    });
  });
  hostFile.fabric.integrated.forEach((ep, i) => out.push({ path: `fabric.integrated[${i}].device`, device: ep.device }));
  return out;
}

function errnoCode(e: unknown): IovErrorCode {
  const code = (e as { code?: unknown }).code;
  if (code === "ENOENT" || code === "ENOTDIR") return "ENOENT";
  if (code === "EACCES" || code === "EPERM") return "EPERM";
  return "EIO";
}

/**
 * Read and parse a host file, then check that every dump file it names can be read.
 * A file that cannot be read throws IovError (ENOENT, EPERM or EIO); a bad file throws ConfigError.
 */
export async function loadHostFile(path: string, options: ParseOptions = {}): Promise<HostFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new IovError(errnoCode(e), `cannot read host file ${path}: ${(e as Error).message}`, { path });
  }
  const hostFile = parseHostFile(text, path, options);
  const issues: ConfigIssue[] = [];
  for (const { path: devPath, device } of fabricDevices(hostFile)) {
    if (device.kind !== "dump") continue;
    try {
      await access(device.dumpPath, fsConstants.R_OK);
    } catch {
      const found = JSON.stringify(device.dump);
      issues.push(makeIssue(path, fieldPos(device.src, "dump"), `${devPath}.dump`, `expected a readable lspci -xxxx dump file, found ${found} (no readable file at ${device.dumpPath})`));
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return hostFile;
}
