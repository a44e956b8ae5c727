import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  canonicalBdf,
  editDistance,
  formatSize,
  formatVfSet,
  parseHexId,
  parsePfSelector,
  parseSize,
  parseVfRef,
  parseVfSet,
  suggest,
} from "../../../src/config/values.js";
import { LineIndex } from "../../../src/config/schema.js";

describe("sizes", () => {
  it("reads binary units and bare bytes, refuses decimal units with a hint", () => {
    expect(parseSize("64GiB")).toEqual({ ok: true, value: 64 * 2 ** 30 });
    expect(parseSize("512M")).toEqual({ ok: true, value: 512 * 2 ** 20 });
    expect(parseSize("1.5K")).toEqual({ ok: true, value: 1536 });
    expect(parseSize("7B")).toEqual({ ok: true, value: 7 });
    expect(parseSize("2GB")).toEqual({ ok: false, reason: "sizes are binary: did you mean 2GiB?" });
    expect(parseSize("1.3B")).toEqual({ ok: false, reason: "not a whole number of bytes" });
    expect(parseSize("99999999TiB")).toEqual({ ok: false, reason: "too large" });
    for (const bad of ["", "GiB", "-1G", "1 2G", "1gib", "1constructor", "0x10"]) expect(parseSize(bad).ok).toBe(false);
  });

  it("formats in the largest exact unit and reads back what it writes", () => {
    expect(formatSize(64 * 2 ** 30)).toBe("64GiB");
    expect(formatSize(1536 * 2 ** 20)).toBe("1536MiB");
    expect(formatSize(1000)).toBe("1000B");
    expect(formatSize(0)).toBe("0B");
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 50 }), (n) => {
        expect(parseSize(formatSize(n))).toEqual({ ok: true, value: n });
      }),
    );
  });
});

describe("VF index sets", () => {
  it("reads single indices, ranges and lists", () => {
    expect(parseVfSet("3")).toEqual({ ok: true, value: [3] });
    expect(parseVfSet("1-3")).toEqual({ ok: true, value: [1, 2, 3] });
    expect(parseVfSet(" 5, 0 ,2 - 3")).toEqual({ ok: true, value: [0, 2, 3, 5] });
    expect(parseVfSet("3-1")).toEqual({ ok: false, reason: "range 3-1 ends below its start" });
    expect(parseVfSet("1,1")).toEqual({ ok: false, reason: "VF 1 is listed twice" });
    expect(parseVfSet("0-65536")).toEqual({ ok: false, reason: "VF indices stop at 65535" });
    expect(parseVfSet("1,")).toEqual({ ok: false, reason: "empty item" });
    for (const bad of ["", "a", "1-", "-1", "1..3", "1-2-3"]) expect(parseVfSet(bad).ok).toBe(false);
  });

  it("formats to the shortest list and reads back the same set", () => {
    expect(formatVfSet([0, 1, 2, 3, 5, 7, 8])).toBe("0-3,5,7-8");
    expect(formatVfSet([])).toBe("");
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(300), { minLength: 1, maxLength: 40 }), (xs) => {
        const sorted = [...xs].sort((a, b) => a - b);
        expect(parseVfSet(formatVfSet(sorted))).toEqual({ ok: true, value: sorted });
      }),
    );
  });
});

describe("PCI addresses, VF references and PF selectors", () => {
  it("canonicalises addresses", () => {
    expect(canonicalBdf("01:00.0")).toEqual({ ok: true, value: "0000:01:00.0" });
    expect(canonicalBdf("0000:3B:1f.7")).toEqual({ ok: true, value: "0000:3b:1f.7" });
    expect(canonicalBdf("00:20.0")).toEqual({ ok: false, reason: "device number 0x20 is above 0x1f" });
    expect(canonicalBdf("eth0").ok).toBe(false);
  });

  it("reads PF#index and PF#ranges", () => {
    expect(parseVfRef("01:00.0#12")).toEqual({ ok: true, value: { pf: "0000:01:00.0", vf: 12 } });
    expect(parseVfRef("01:00.0")).toEqual({ ok: false, reason: "missing #index" });
    expect(parseVfRef("01:00.0#1-2").ok).toBe(false);
    expect(parsePfSelector("0000:86:00.0#0-1,3,4")).toEqual({ ok: true, value: { pf: "0000:86:00.0", vfs: [0, 1, 3, 4] } });
    expect(parsePfSelector("86:00.0")).toEqual({ ok: true, value: { pf: "0000:86:00.0" } });
    expect(parsePfSelector("netpf0#0,2-7,9").ok).toBe(false);
  });

  it("reads hex IDs", () => {
    expect(parseHexId("8086")).toEqual({ ok: true, value: 0x8086 });
    expect(parseHexId("0x10CA")).toEqual({ ok: true, value: 0x10ca });
    expect(parseHexId("0x10000").ok).toBe(false);
    expect(parseHexId("intel").ok).toBe(false);
  });
});

describe("suggestions", () => {
  it("counts adjacent transpositions as one edit", () => {
    expect(editDistance("memroy", "memory")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("kitten", "sitting")).toBe(3);
  });

  it("suggests only near misses, ignoring case", () => {
    const keys = ["name", "memory", "vcpus", "nics"];
    expect(suggest("memroy", keys)).toBe("memory");
    expect(suggest("NICS", keys)).toBe("nics");
    expect(suggest("vcpu", keys)).toBe("vcpus");
    expect(suggest("colour", keys)).toBeUndefined();
    expect(suggest("x", keys)).toBeUndefined();
  });
});

describe("LineIndex", () => {
  it("counts CRLF, CR and LF as one line break each, and clamps past the end", () => {
    const ix = new LineIndex("ab\r\ncd\ref\ngh");
    expect(ix.pos(0)).toEqual({ line: 1, col: 1 });
    expect(ix.pos(2)).toEqual({ line: 1, col: 3 });
    expect(ix.pos(3)).toEqual({ line: 1, col: 3 });
    expect(ix.pos(4)).toEqual({ line: 2, col: 1 });
    expect(ix.pos(7)).toEqual({ line: 3, col: 1 });
    expect(ix.pos(10)).toEqual({ line: 4, col: 1 });
    expect(ix.pos(99)).toEqual({ line: 4, col: 2 });
    expect(new LineIndex("").pos(5)).toEqual({ line: 1, col: 1 });
  });
});
