import { IovError } from "../errors.js";
import type { Pos } from "./types.js";

/**
 * One problem in a host file. `message` starts with the path of the offending node
 * ("guests[0].memory: expected a size like 2GiB, found \"lots\""), except for YAML syntax errors,
 * which have no path.
 */
export interface ConfigIssue {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** Dotted path of the node ("guests[0].memory"); "" for the whole file or a syntax error. */
  readonly path: string;
  readonly message: string;
}

export function makeIssue(file: string, pos: Pos, path: string, text: string): ConfigIssue {
  return { file, line: pos.line, col: pos.col, path, message: path === "" ? text : `${path}: ${text}` };
}

/** "default.yaml:12:9: guests[0].memory: expected a size like 2GiB, found \"lots\"". */
export const formatIssue = (i: ConfigIssue): string => `${i.file}:${i.line}:${i.col}: ${i.message}`;

/** "default.yaml:12:9", for messages that point at a second place. */
export const formatPos = (file: string, p: Pos): string => `${file}:${p.line}:${p.col}`;

/** By file, line, column, then message; a new array. */
export function sortIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.line - b.line ||
      a.col - b.col ||
      (a.message < b.message ? -1 : a.message > b.message ? 1 : 0),
  );
}

/** A host file that cannot be used: every issue found, sorted by position. Code EINVAL. */
export class ConfigError extends IovError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    const sorted = sortIssues(issues);
    super("EINVAL", sorted.map(formatIssue).join("\n"), { issues: sorted });
    this.issues = sorted;
  }
}

export function isConfigError(e: unknown): e is ConfigError {
  return e instanceof ConfigError;
}
