/** Loading a host file for a command: parse, build, boot; input errors become exit code 2. */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadHostFile } from "../config/parse.js";
import { boot, type BootState } from "../config/boot.js";
import { isConfigError, formatIssue } from "../config/issues.js";
import type { HostFile } from "../config/types.js";
import { isDumpParseError } from "../pcie/dump.js";
import { IovError } from "../errors.js";
import { EXIT_FAIL, EXIT_USAGE, printJson } from "./output.js";
import chalk from "chalk";

/** The bundled default host file. */
export function defaultHostFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const p = join(dir, "examples", "default.yaml");
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return "examples/default.yaml";
}

export async function loadHost(path: string | undefined): Promise<HostFile> {
  return loadHostFile(path ?? defaultHostFile());
}

export async function bootHost(path: string | undefined, smoke = true): Promise<BootState> {
  return boot(await loadHost(path), { smoke });
}

/** Report an error the CLI way and exit: input errors (config, dump, arguments) → 2, others → 1. */
export function die(e: unknown, json = false): never {
  if (isConfigError(e)) {
    if (json) process.stderr.write(JSON.stringify({ error: { code: "EINVAL", issues: e.issues } }) + "\n");
    else for (const i of e.issues) process.stderr.write(`${formatIssue(i)}\n`);
    process.exit(EXIT_USAGE);
  }
  const input = isDumpParseError(e) || (e instanceof IovError && (e.detail as { input?: boolean }).input === true);
  if (json) printErr({ error: e instanceof IovError ? { code: e.code, message: e.message } : { code: "EINTERNAL", message: String(e) } });
  else process.stderr.write(`${chalk.red("pciov:")} ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(input ? EXIT_USAGE : EXIT_FAIL);
}

function printErr(v: unknown): void {
  process.stderr.write(JSON.stringify(v) + "\n");
}
export { printJson };
