/**
 * CLI output conventions: colours only on a TTY (chalk decides from the stream), errors on stderr,
 * `--json` prints one JSON document on stdout, exit codes: 0 ok, 1 operation failed, 2 bad input.
 */
import chalk from "chalk";
import { IovError } from "../errors.js";

export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;

export const color = {
  ok: (s: string) => chalk.green(s),
  warn: (s: string) => chalk.yellow(s),
  err: (s: string) => chalk.red(s),
  dim: (s: string) => chalk.dim(s),
  bold: (s: string) => chalk.bold(s),
  head: (s: string) => chalk.cyan.bold(s),
};

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x), 2) + "\n");
}

/** Error exit: message on stderr, code 2 for input errors (EINVAL in a file/argument), 1 otherwise. */
export function fail(e: unknown, json = false): never {
  const isInput = e instanceof IovError && (e.code === "EINVAL" || e.code === "ENOENT") && (e.detail as { input?: boolean }).input === true;
  const code = isInput ? EXIT_USAGE : EXIT_FAIL;
  if (json) {
    const err = e instanceof IovError ? { code: e.code, message: e.message, detail: e.detail } : { code: "EINTERNAL", message: String(e) };
    process.stderr.write(JSON.stringify({ error: err }) + "\n");
  } else {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`${chalk.red("pciov:")} ${msg}\n`);
  }
  process.exit(code);
}

/** Render rows as an aligned text table. */
export function table(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cells = [headers.map(String), ...rows.map((r) => r.map(String))];
  const w = headers.map((_, i) => Math.max(...cells.map((r) => stripAnsi(r[i] ?? "").length)));
  return cells
    .map((r, ri) => {
      const line = r.map((c, i) => c + " ".repeat(Math.max(0, w[i]! - stripAnsi(c).length))).join("  ").trimEnd();
      return ri === 0 ? color.bold(line) : line;
    })
    .join("\n");
}

const ANSI = /\u001b\[[0-9;]*m/g;
export const stripAnsi = (s: string): string => s.replace(ANSI, "");
