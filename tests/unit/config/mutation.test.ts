import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseHostFile } from "../../../src/config/parse.js";
import { ConfigError, type ConfigIssue } from "../../../src/config/issues.js";
import { resolveAssignments, validateHostFile } from "../../../src/config/validate.js";
import { GOOD, INVENTORY, readFixture } from "./hostfiles.js";

/** One edit of the text; positions are taken modulo its length so that any draw applies. */
type Mutation =
  | { kind: "deleteLine"; at: number }
  | { kind: "duplicateLine"; at: number }
  | { kind: "swapChars"; at: number }
  | { kind: "deleteChar"; at: number }
  | { kind: "insertChar"; at: number; ch: string }
  | { kind: "replaceChar"; at: number; ch: string };

/** Characters that change YAML's reading of a line, plus ones that change a value. */
const CHARS = [":", "-", " ", "\n", "\t", "{", "}", "[", "]", "#", "&", "*", "!", "|", ">", "'", '"', ",", "?", "%", "@", "0", "9", "x", "G", "\r"];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("deleteLine" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("duplicateLine" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("swapChars" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("deleteChar" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("insertChar" as const), at: fc.nat(), ch: fc.constantFrom(...CHARS) }),
  fc.record({ kind: fc.constant("replaceChar" as const), at: fc.nat(), ch: fc.constantFrom(...CHARS) }),
);

function apply(text: string, m: Mutation): string {
  const lines = text.split("\n");
  const n = text.length;
  switch (m.kind) {
    case "deleteLine":
      lines.splice(m.at % lines.length, 1);
      return lines.join("\n");
    case "duplicateLine": {
      const i = m.at % lines.length;
      lines.splice(i, 0, lines[i]!);
      return lines.join("\n");
    }
    case "swapChars": {
      if (n < 2) return text;
      const i = m.at % (n - 1);
      return text.slice(0, i) + text[i + 1]! + text[i]! + text.slice(i + 2);
    }
    case "deleteChar":
      return n === 0 ? text : text.slice(0, m.at % n) + text.slice((m.at % n) + 1);
    case "insertChar": {
      const i = m.at % (n + 1);
      return text.slice(0, i) + m.ch + text.slice(i);
    }
    case "replaceChar": {
      if (n === 0) return text;
      const i = m.at % n;
      return text.slice(0, i) + m.ch + text.slice(i + 1);
    }
  }
}

/** A reported position is inside the file: an existing line (breaks are CRLF, CR or LF, as in YAML),
 *  and a column on it or just past its end. */
function inside(text: string, i: ConfigIssue): boolean {
  const lines = text.split(/\r\n|\r|\n/);
  const line = lines[i.line - 1];
  return line !== undefined && i.col >= 1 && i.col <= line.length + 1;
}

function check(text: string): void {
  const fileName = "m.yaml";
  let issues: readonly ConfigIssue[] = [];
  try {
    const hf = parseHostFile(text, fileName);
    issues = validateHostFile(hf, INVENTORY);
    try {
      resolveAssignments(hf, INVENTORY);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      issues = [...issues, ...e.issues];
    }
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    issues = e.issues;
    expect(issues.length).toBeGreaterThan(0);
  }
  for (const i of issues) {
    expect(i.file).toBe(fileName);
    expect(inside(text, i), `${i.line}:${i.col} outside the file (${i.message})`).toBe(true);
    expect(i.message).not.toContain("\n");
  }
}

describe("parsing mutated host files", () => {
  for (const fixture of ["default.yaml", "anchors.yaml"]) {
    it(`throws nothing but ConfigError, always inside the file (${fixture})`, () => {
      const good = readFixture(GOOD + fixture);
      fc.assert(
        fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => check(ms.reduce(apply, good))),
        { numRuns: 600 },
      );
    });
  }

  it("handles degenerate texts", () => {
    for (const t of ["", "\n", " ", "\r\n", "---", "...", "~", "null", "[]", "{}", "0", "host:", "host: ~", "? [a]: b", "&a [*a]", "host: &h { memory: 1GiB, cpus: 1, x: *h }"]) {
      check(t);
    }
  });
});
