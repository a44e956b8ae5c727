import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IovError, isIovError } from "../../../src/errors.js";
import type { Bdf } from "../../../src/pcie/bdf.js";
import { DumpParseError, dumpHeaderText, isDumpParseError, parseDump, writeDump } from "../../../src/pcie/dump.js";

const FIXTURES = "/work/shared/fixtures/real-sriov-dumps";
const fixtureFiles = readdirSync(FIXTURES).filter((f) => f.endsWith(".lspci-xxxx.txt"));

const line16 = (off: number, fill = "00"): string => `${off.toString(16).padStart(2, "0")}: ${Array(16).fill(fill).join(" ")}`;
/** A minimal valid function: header line and the 64-byte standard header. */
const header64 = (hdr = "01:00.0 x"): string[] => [hdr, line16(0), line16(0x10), line16(0x20), line16(0x30)];

function parseError(text: string): DumpParseError {
  try {
    parseDump(text, "bad.txt");
  } catch (e) {
    if (e instanceof DumpParseError) return e;
    throw e;
  }
  throw new Error("parseDump accepted bad input");
}

describe("writeDump: the lspci -x/-xxx/-xxxx format", () => {
  const bytes = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7 + 3) & 0xff);
  bytes.set([0x86, 0x80, 0xc9, 0x10], 0);
  bytes.set([0x01, 0x00, 0x00, 0x02], 8); // rev 01, class 0200
  const bdf: Bdf = { domain: 0, bus: 1, dev: 0, fn: 0 };

  it("writes a header line, 16 lowercase bytes a line, a blank line after the function", () => {
    const text = writeDump([{ bdf, bytes }], { mode: "x" });
    const lines = text.split("\n");
    expect(lines[0]).toBe("01:00.0 Ethernet controller: Intel Corporation 82576 Gigabit Network Connection (rev 01)");
    expect(lines[1]).toBe("00: 86 80 c9 10 1f 26 2d 34 01 00 00 02 57 5e 65 6c");
    expect(lines.slice(1, 5).every((l) => /^[0-9a-f]{2}:( [0-9a-f]{2}){16}$/.test(l))).toBe(true);
    expect(lines[5]).toBe("");
    expect(lines.length).toBe(7); // 4 data lines, blank line, final newline
  });

  it("-x writes 64 bytes, -xxx 256, -xxxx 4096 (offsets 00..f0 then 100..ff0)", () => {
    const count = (m: "x" | "xxx" | "xxxx"): string[] => writeDump([{ bdf, bytes }], { mode: m }).split("\n").filter((l) => /^[0-9a-f]+: /.test(l));
    expect(count("x").length).toBe(4);
    expect(count("xxx").length).toBe(16);
    const all = count("xxxx");
    expect(all.length).toBe(256);
    expect(all[15]?.startsWith("f0: ")).toBe(true);
    expect(all[16]?.startsWith("100: ")).toBe(true);
    expect(all[255]?.startsWith("ff0: ")).toBe(true);
  });

  it("writes a 256-byte function whole under -xxxx, as lspci does", () => {
    const lines = writeDump([{ bdf, bytes, length: 256 }], { mode: "xxxx" }).split("\n").filter((l) => /^[0-9a-f]+: /.test(l));
    expect(lines.length).toBe(16);
  });

  it("prints domains when any function has a non-zero domain, or when asked", () => {
    const two = [
      { bdf, bytes },
      { bdf: { domain: 2, bus: 1, dev: 0, fn: 0 }, bytes },
    ];
    const heads = writeDump(two, { mode: "x" }).split("\n").filter((l) => /^[0-9a-f]+:[0-9a-f]+/.test(l) && l.includes("."));
    expect(heads.map((h) => h.slice(0, 12))).toEqual(["0000:01:00.0", "0002:01:00.0"]);
    expect(writeDump([{ bdf, bytes }], { mode: "x", domains: true }).startsWith("0000:01:00.0 ")).toBe(true);
  });

  it("names IDs as lspci does, with -n and -nn styles", () => {
    expect(dumpHeaderText(bytes, 64, "numeric")).toBe("0200: 8086:10c9 (rev 01)");
    expect(dumpHeaderText(bytes, 64, "both")).toBe("Ethernet controller [0200]: Intel Corporation 82576 Gigabit Network Connection [8086:10c9] (rev 01)");
    const unknown = bytes.slice();
    unknown.set([0x34, 0x12, 0x78, 0x56, 0, 0, 0, 0, 0, 0, 0x12, 0x45], 0);
    expect(dumpHeaderText(unknown)).toBe("Class 4512: Device 1234:5678");
  });
});

describe("parseDump: real dumps", () => {
  it.each(fixtureFiles)("reads %s whole (4096 bytes a function)", (f) => {
    const text = readFileSync(join(FIXTURES, f), "utf8");
    const entries = parseDump(text, f);
    expect(entries.length).toBe(f.startsWith("cap-dvsec-cxl") ? 2 : 1);
    for (const e of entries) {
      expect(e.length).toBe(4096);
      expect(e.bytes.length).toBe(4096);
    }
    const first = text.split("\n")[0] ?? "";
    const slot = first.split(" ")[0] ?? "";
    const e0 = entries[0];
    expect(e0).toBeDefined();
    const parts = slot.split(/[:.]/).map((x) => parseInt(x, 16));
    const [dom, bus, dev, fn] = parts.length === 4 ? parts : [0, ...parts];
    expect(e0?.bdf).toEqual({ domain: dom, bus, dev, fn });
    // the first data line's bytes
    const l1 = (text.split("\n")[1] ?? "").slice(4).split(" ").map((x) => parseInt(x, 16));
    expect([...(e0?.bytes.subarray(0, 16) ?? [])]).toEqual(l1);
  });

  it.each(fixtureFiles)("%s: read → write → read gives the same bytes, write → read → write the same text", (f) => {
    const entries = parseDump(readFileSync(join(FIXTURES, f), "utf8"), f);
    const text = writeDump(entries);
    const again = parseDump(text, "again");
    expect(again.map((e) => [e.bdf, [...e.bytes], e.length])).toEqual(entries.map((e) => [e.bdf, [...e.bytes], e.length]));
    expect(writeDump(again)).toBe(text);
  });
});

describe("parseDump: what lspci -F accepts", () => {
  it("accepts CRLF, a trailing space, text after the address, a bare address, 5- and 6-digit domains", () => {
    const lines = header64("0000:02:03.4 Some text: here");
    lines[1] = `${lines[1] ?? ""} `;
    const crlf = `${lines.join("\r\n")}\r\n`;
    const [e] = parseDump(crlf);
    expect(e?.bdf).toEqual({ domain: 0, bus: 2, dev: 3, fn: 4 });
    expect(e?.length).toBe(64);
    expect(parseDump(header64("05:1f.7").join("\n"))[0]?.bdf).toEqual({ domain: 0, bus: 5, dev: 0x1f, fn: 7 });
    expect(parseDump(header64("10000:00:00.0 vmd").join("\n"))[0]?.bdf.domain).toBe(0x10000);
    expect(parseDump(header64("abcdef:00:00.0 x").join("\n"))[0]?.bdf.domain).toBe(0xabcdef);
  });

  it("reads several functions separated by blank lines or by the next header, 8-digit offsets", () => {
    const a = header64("01:00.0 a");
    const b = header64("01:00.1 b").map((l, i) => (i === 0 ? l : `000000${l}`));
    const entries = parseDump([...a, ...b, "", ...header64("02:00.0 c"), ""].join("\n"));
    expect(entries.map((e) => e.bdf.fn + e.bdf.bus * 10)).toEqual([10, 11, 20]);
    expect(entries.map((e) => e.line)).toEqual([1, 6, 12]);
  });

  it("gives unsupplied bytes the value 0xff, as lspci's dump reader does", () => {
    const [e] = parseDump(header64().join("\n"));
    expect(e?.bytes.length).toBe(256);
    expect(e?.bytes[0x40]).toBe(0xff);
    expect(e?.bytes[0x3f]).toBe(0);
  });
});

describe("parseDump: bad input names file:line:col, what was expected and what was found", () => {
  const base = header64();
  const cases: Array<{ name: string; text: string; line: number; col: number; expected: RegExp }> = [
    { name: "empty file", text: "", line: 1, col: 1, expected: /at least one function.*found an empty file/ },
    { name: "blank lines only", text: "\n\n  \n", line: 1, col: 1, expected: /found an empty file/ },
    { name: "data before any header", text: [line16(0), ...base].join("\n"), line: 1, col: 1, expected: /function header line.*found "00:"/ },
    { name: "garbage line in a function", text: [...base.slice(0, 2), "hello world"].join("\n"), line: 3, col: 1, expected: /data line.*found "hello"/ },
    { name: "truncated line", text: [...base.slice(0, 4), "30: 00 00 00"].join("\n"), line: 5, col: 13, expected: /16 bytes on the line \(truncated line\), found 3/ },
    { name: "truncated byte", text: [...base.slice(0, 4), `${line16(0x30).slice(0, -1)}`].join("\n"), line: 5, col: 50, expected: /two hex digits, found "0" at end of line \(truncated byte\)/ },
    { name: "non-hex byte", text: [...base.slice(0, 2), "10: 00 zz 00 00 00 00 00 00 00 00 00 00 00 00 00 00"].join("\n"), line: 3, col: 8, expected: /two hex digits, found "zz"/ },
    { name: "three-digit byte (misaligned)", text: [...base.slice(0, 2), "10: 00 000 00 00 00 00 00 00 00 00 00 00 00 00 00 00"].join("\n"), line: 3, col: 10, expected: /single space between bytes, found "0"/ },
    { name: "two spaces", text: [...base.slice(0, 2), "10: 00  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"].join("\n"), line: 3, col: 8, expected: /two hex digits, found " "/ },
    { name: "tab separator", text: [...base.slice(0, 2), "10:\t00 00"].join("\n"), line: 3, col: 4, expected: /a space after the offset/ },
    { name: "17 bytes", text: [...base.slice(0, 2), `${line16(0x10)} 00`].join("\n"), line: 3, col: 53, expected: /16 bytes on the line, found more/ },
    { name: "misaligned offset", text: [...base.slice(0, 2), line16(0x13)].join("\n"), line: 3, col: 1, expected: /multiple of 0x10.*found 0x13/ },
    { name: "offset out of order", text: [...base, line16(0x20)].join("\n"), line: 6, col: 1, expected: /offset 0x40 \(offsets in increasing order\), found 0x20/ },
    { name: "gap", text: [...base, line16(0x60)].join("\n"), line: 6, col: 1, expected: /offset 0x40 \(no gap.*found 0x60/ },
    { name: "offset beyond 4096", text: [...base, "1000: 00"].join("\n"), line: 6, col: 1, expected: /below 0x1000.*found 0x1000/ },
    { name: "9-digit offset", text: [...base, "000000040: 00"].join("\n"), line: 6, col: 1, expected: /2 to 8 hex digits/ },
    { name: "less than the standard header", text: base.slice(0, 3).join("\n"), line: 3, col: 1, expected: /at least 64 bytes.*0000:01:00.0, found 32/ },
    { name: "header without data", text: ["01:00.0 x", "", ...header64("02:00.0 y")].join("\n"), line: 1, col: 1, expected: /at least 64 bytes.*found 0/ },
    { name: "device number above 1f", text: header64("01:20.0 x").join("\n"), line: 1, col: 4, expected: /device number 00..1f, found "20"/ },
    { name: "function above 7", text: header64("01:00.8 x").join("\n"), line: 1, col: 7, expected: /function number 0..7, found "8"/ },
    { name: "duplicate function", text: [...base, "", ...base].join("\n"), line: 7, col: 1, expected: /each function once \(0000:01:00.0 was first given at line 1\)/ },
  ];

  it.each(cases)("$name", ({ text, line, col, expected }) => {
    const e = parseError(text);
    expect(isIovError(e, "EINVAL")).toBe(true);
    expect(isDumpParseError(e)).toBe(true);
    expect(e.message).toContain(`bad.txt:${line}:${col}: expected `);
    expect(e.message).toMatch(expected);
    expect({ line: e.line, col: e.col, file: e.file }).toEqual({ line, col, file: "bad.txt" });
    expect(e.detail).toMatchObject({ file: "bad.txt", line, col });
  });
});

describe("dump properties", () => {
  const bdfArb = fc.record({ domain: fc.constantFrom(0, 0, 1, 0xffff), bus: fc.nat(255), dev: fc.nat(31), fn: fc.nat(7) });

  it("write → read → write is byte-identical for random 4096-byte spaces", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(bdfArb, fc.uint8Array({ minLength: 4096, maxLength: 4096 })), { minLength: 1, maxLength: 3, selector: ([b]) => `${b.domain}:${b.bus}:${b.dev}.${b.fn}` }), (fns) => {
        const entries = fns.map(([bdf, bytes]) => ({ bdf, bytes }));
        const text = writeDump(entries);
        const back = parseDump(text, "p");
        expect(back.map((e) => e.bdf)).toEqual(entries.map((e) => e.bdf));
        back.forEach((e, i) => {
          expect(e.length).toBe(4096);
          expect(Buffer.from(e.bytes).equals(Buffer.from(entries[i]?.bytes ?? []))).toBe(true);
        });
        expect(writeDump(back)).toBe(text);
      }),
      { numRuns: 60 },
    );
  });

  it("write → read → write is byte-identical under -x and -xxx too", () => {
    fc.assert(
      fc.property(bdfArb, fc.uint8Array({ minLength: 4096, maxLength: 4096 }), fc.constantFrom("x" as const, "xxx" as const), (bdf, bytes, mode) => {
        const text = writeDump([{ bdf, bytes }], { mode });
        const back = parseDump(text);
        expect(back[0]?.length).toBe(mode === "x" ? 64 : 256);
        expect(writeDump(back, { mode })).toBe(text);
        expect(writeDump(back, { mode: "xxxx" })).toBe(text);
      }),
      { numRuns: 60 },
    );
  });

  it("the parser throws nothing but IovError on random garbage", () => {
    const token = fc.oneof(
      fc.constantFrom("01:00.0 x", "0000:01:00.0 y", "00:", "10:", "f0:", "100:", " ", "  ", "00", "0", "zz", "\r", "\t", "ff0:", "01:1f.7", ":"),
      fc.string({ maxLength: 6 }),
      fc.stringMatching(/^[0-9a-f]{1,3}$/),
    );
    const lineArb = fc.array(token, { maxLength: 20 }).map((t) => t.join(""));
    const docArb = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.array(lineArb, { maxLength: 30 }).map((ls) => ls.join("\n")),
      fc.tuple(fc.uint8Array({ minLength: 64, maxLength: 512 }), fc.nat(2000), fc.string({ maxLength: 4 })).map(([b, at, junk]) => {
        const good = writeDump([{ bdf: { domain: 0, bus: 1, dev: 0, fn: 0 }, bytes: b, length: b.length }]);
        const cut = Math.min(at, good.length);
        return good.slice(0, cut) + junk + good.slice(cut);
      }),
    );
    fc.assert(
      fc.property(docArb, (doc) => {
        try {
          const out = parseDump(doc, "g");
          for (const e of out) expect(e.length).toBeGreaterThanOrEqual(64);
        } catch (e) {
          expect(e).toBeInstanceOf(IovError);
          expect((e as IovError).message).toMatch(/^EINVAL: g:\d+:\d+: expected .+, found .+/);
        }
      }),
      { numRuns: 800 },
    );
  });
});
