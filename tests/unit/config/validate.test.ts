import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseHostFile } from "../../../src/config/parse.js";
import { ConfigError, formatIssue } from "../../../src/config/issues.js";
import {
  assertValidHostFile,
  poolMembers,
  resolveAssignments,
  validateHostFile,
  type Inventory,
} from "../../../src/config/validate.js";
import type { HostFile } from "../../../src/config/types.js";
import { GOOD, INVENTORY, issuesOf, readFixture } from "./hostfiles.js";

const parse = (text: string, name = "v.yaml"): HostFile => parseHostFile(text, name);
const HOST = "host: { memory: 8GiB, cpus: 4 }\n";

describe("validateHostFile", () => {
  it("finds nothing wrong with the good files against their inventory", () => {
    for (const f of ["default.yaml", "minimal.yaml"]) {
      expect(validateHostFile(parse(readFixture(GOOD + f), f), INVENTORY)).toEqual([]);
    }
    const anchors = parse(readFixture(`${GOOD}anchors.yaml`));
    const inv: Inventory = {
      hostMemoryBytes: 16 * 2 ** 30,
      pfs: [
        { bdf: "0000:01:00.0", vendorId: 0x8086, vfDeviceId: 0x10ed, totalVfs: 63 },
        { bdf: "0000:02:00.0", vendorId: 0x8086, vfDeviceId: 0x10ed, totalVfs: 63 },
      ],
    };
    expect(validateHostFile(anchors, inv)).toEqual([]);
  });

  it("runs the file-only checks on a HostFile built without the parser", () => {
    const hf = parse(readFixture(`${GOOD}default.yaml`), "default.yaml");
    const g = hf.guests[0]!;
    const edited: HostFile = { ...hf, guests: [...hf.guests, { ...g, src: { ...g.src } }] };
    expect(validateHostFile(edited).map(formatIssue)).toEqual([
      'default.yaml:45:11: guests[2].name: expected a name no other guest has, found "vm1", already used by guests[0].name at default.yaml:45:11',
      "default.yaml:49:13: guests[2].nics[0].vf: expected a VF no other NIC has, found 0000:01:00.0#3, already given to guest vm1 by guests[0].nics[0] at default.yaml:49:13",
    ]);
    expect(() => assertValidHostFile(edited)).toThrowError(/guests\[2\]\.name/);
  });

  it("lets pools overlap when guests draw from at most one of them", () => {
    const text = `${HOST}pfs: [ { pf: 01:00.0, numVfs: 4 } ]
pools:
  - { name: a, match: { vendor: 0x8086 } }
  - { name: b }
  - { name: c, match: { pf: "01:00.0#0" } }
guests:
  - { name: g, memory: 1GiB, nics: [ { pool: c }, { pool: c } ] }
`;
    expect(validateHostFile(parse(text), INVENTORY).map(formatIssue)).toEqual([
      'v.yaml:8:59: guests[0].nics[1].pool: expected a free VF in pool "c" (0000:01:00.0#0), found none (taken by g)',
    ]);
  });

  it("checks the guests' memory against the inventory's, not the file's, when it has one", () => {
    const hf = parse(`${HOST}guests: [ { name: g, memory: 6GiB } ]\n`);
    expect(validateHostFile(hf)).toEqual([]);
    expect(validateHostFile(hf, { pfs: [], hostMemoryBytes: 4 * 2 ** 30 }).map(formatIssue)).toEqual([
      "v.yaml:2:30: guests[0].memory: expected the guests' memory to fit in the host's 4GiB, found 6GiB with this guest (g 6GiB)",
    ]);
  });

  it("says when the fabric has no SR-IOV PF at all", () => {
    const hf = parse(`${HOST}pfs: [ { pf: 01:00.0, numVfs: 1 } ]\n`);
    expect(validateHostFile(hf, { pfs: [], hostMemoryBytes: 8 * 2 ** 30 }).map(formatIssue)).toEqual([
      "v.yaml:2:14: pfs[0].pf: expected an SR-IOV PF (the fabric has none), found 0000:01:00.0",
    ]);
  });
});

describe("resolveAssignments", () => {
  it("gives specific VFs first, then ranges, then pools, each in file order", () => {
    const hf = parse(readFixture(`${GOOD}default.yaml`));
    expect(resolveAssignments(hf, INVENTORY)).toEqual([
      { guest: "vm1", nicIndex: 0, pf: "0000:01:00.0", vfIndex: 3 },
      { guest: "vm1", nicIndex: 1, pf: "0000:01:00.0", vfIndex: 0 },
      { guest: "vm2", nicIndex: 1, pf: "0000:04:00.0", vfIndex: 0 },
      { guest: "vm1", nicIndex: 2, pf: "0000:01:00.0", vfIndex: 1 },
      { guest: "vm2", nicIndex: 0, pf: "0000:04:00.0", vfIndex: 1 },
    ]);
  });

  it("is a function of its inputs: the same answer every time, inputs untouched", () => {
    const hf = parse(readFixture(`${GOOD}default.yaml`));
    const before = JSON.stringify(hf);
    const a = resolveAssignments(hf, INVENTORY);
    expect(resolveAssignments(hf, INVENTORY)).toEqual(a);
    expect(JSON.stringify(hf)).toBe(before);
  });

  it("hands out a range's and a pool's lowest free VF, skipping specific ones, across PFs in address order", () => {
    const text = `${HOST}pfs:
  - { pf: 0000:04:00.0, numVfs: 2 }
  - { pf: 0000:01:00.0, numVfs: 3 }
pools: [ { name: intel, match: { vendor: 0x8086 } } ]
guests:
  - { name: a, memory: 1GiB, nics: [ { pool: intel }, { pool: intel }, { pool: intel } ] }
  - { name: b, memory: 1GiB, nics: [ { pf: 01:00.0, vfs: "1,2" }, { vf: "01:00.0#1" } ] }
`;
    expect(resolveAssignments(parse(text), INVENTORY)).toEqual([
      { guest: "b", nicIndex: 1, pf: "0000:01:00.0", vfIndex: 1 },
      { guest: "b", nicIndex: 0, pf: "0000:01:00.0", vfIndex: 2 },
      { guest: "a", nicIndex: 0, pf: "0000:01:00.0", vfIndex: 0 },
      { guest: "a", nicIndex: 1, pf: "0000:04:00.0", vfIndex: 0 },
      { guest: "a", nicIndex: 2, pf: "0000:04:00.0", vfIndex: 1 },
    ]);
  });

  it("throws ConfigError when a request cannot be met", () => {
    const text = `${HOST}pfs: [ { pf: 01:00.0, numVfs: 1 } ]\npools: [ { name: p } ]\nguests: [ { name: g, memory: 1GiB, nics: [ { pool: p }, { pool: p } ] } ]\n`;
    expect(issuesOf(() => resolveAssignments(parse(text), INVENTORY))).toEqual([
      'v.yaml:4:65: guests[0].nics[1].pool: expected a free VF in pool "p" (0000:01:00.0#0), found none (taken by g)',
    ]);
  });
});

describe("poolMembers", () => {
  const hf = parse(`${HOST}pfs:
  - { pf: 0000:01:00.0, numVfs: 7 }
  - { pf: 0000:04:00.0, numVfs: 3 }
  - { pf: 0000:05:00.0, numVfs: 2 }
  - { pf: 0000:09:00.0, numVfs: 2 }
pools:
  - { name: all }
  - { name: kawela, match: { device: 0x10ca } }
  - { name: picked, match: { pf: [ "0000:01:00.0#5-9", 04:00.0#1, 04:00.0 ] } }
  - { name: narrowed, match: { pf: [ "01:00.0#0,2", "05:00.0#1" ], vendor: [ 0x15b3, 0x8086 ] } }
  - { name: nothing, match: { vendor: 0x15b3 } }
`);
  const members = (i: number): string[] => poolMembers(hf, hf.pools[i]!, INVENTORY).map((v) => `${v.pf}#${v.vf}`);

  it("matches enabled VFs of PFs the inventory has, ordered by PF then index", () => {
    expect(members(0)).toEqual([
      ...[0, 1, 2, 3, 4, 5, 6].map((i) => `0000:01:00.0#${i}`),
      "0000:04:00.0#0",
      "0000:04:00.0#1",
      "0000:04:00.0#2",
      "0000:05:00.0#0",
      "0000:05:00.0#1",
    ]);
    expect(members(1)).toEqual([...[0, 1, 2, 3, 4, 5, 6].map((i) => `0000:01:00.0#${i}`), "0000:05:00.0#0", "0000:05:00.0#1"]);
  });

  it("narrows to VF ranges the way the device plugin's PF#range selectors do", () => {
    // Indices beyond numVfs select nothing; a bare PF selector widens to all of its VFs.
    expect(members(2)).toEqual(["0000:01:00.0#5", "0000:01:00.0#6", "0000:04:00.0#0", "0000:04:00.0#1", "0000:04:00.0#2"]);
    expect(members(3)).toEqual(["0000:01:00.0#0", "0000:01:00.0#2", "0000:05:00.0#1"]);
    expect(members(4)).toEqual([]);
  });
});

describe("resolveAssignments on generated host files", () => {
  // PFs the inventory has with room for 7 VFs; references below are indices into the generated list,
  // folded into range at render time, so that most files are consistent and the allocator is what varies.
  const PFS = ["0000:01:00.0", "0000:04:00.0", "0000:05:00.0"];
  const MACS = ["52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03", "52:54:00:00:00:04", "52:54:00:00:00:05", "52:54:00:00:00:06"];
  const POOLS = ["a", "b", "c"];
  const ref = fc.record({ pf: fc.nat(), lo: fc.nat(), n: fc.nat(3) });
  const gen = fc.record({
    pfs: fc.uniqueArray(
      fc.record({
        pf: fc.constantFrom(...PFS),
        numVfs: fc.integer({ min: 1, max: 7 }),
        vfs: fc.uniqueArray(fc.record({ vf: fc.nat(6), mac: fc.option(fc.constantFrom(...MACS), { nil: undefined, freq: 2 }) }), { selector: (v) => v.vf, maxLength: 3 }),
      }),
      { selector: (p) => p.pf, minLength: 1, maxLength: 3 },
    ),
    pools: fc.uniqueArray(
      fc.record({
        name: fc.constantFrom(...POOLS),
        vendor: fc.option(fc.constantFrom("0x8086", "0x15b3"), { nil: undefined, freq: 2 }),
        device: fc.option(fc.constantFrom("0x10ca", "0x1889"), { nil: undefined, freq: 2 }),
        pf: fc.option(fc.array(fc.record({ ref, whole: fc.boolean() }), { minLength: 1, maxLength: 2 }), { nil: undefined }),
      }),
      { selector: (p) => p.name },
    ),
    guests: fc.uniqueArray(
      fc.record({
        name: fc.constantFrom("g1", "g2", "g3", "g4"),
        memory: fc.integer({ min: 1, max: 16 }),
        nics: fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant("vf" as const), ref }),
            fc.record({ kind: fc.constant("pf" as const), ref, whole: fc.boolean() }),
            fc.record({ kind: fc.constant("pool" as const), pool: fc.constantFrom(...POOLS) }),
          ),
          { maxLength: 3 },
        ),
      }),
      { selector: (g) => g.name },
    ),
  });
  type Gen = typeof gen extends fc.Arbitrary<infer T> ? T : never;
  type Ref = { pf: number; lo: number; n: number };

  function render(g: Gen): string {
    const pfOf = (r: Ref): { bdf: string; numVfs: number } => {
      const p = g.pfs[r.pf % g.pfs.length]!;
      return { bdf: p.pf, numVfs: p.numVfs };
    };
    const span = (r: Ref): { bdf: string; lo: number; hi: number } => {
      const p = pfOf(r);
      const lo = r.lo % p.numVfs;
      return { bdf: p.bdf, lo, hi: Math.min(p.numVfs - 1, lo + r.n) };
    };
    const lines = ["host: { memory: 64GiB, cpus: 8 }", "pfs:"];
    for (const p of g.pfs) {
      const vfs = p.vfs.filter((v) => v.vf < p.numVfs).map((v) => `{ vf: ${v.vf}${v.mac === undefined ? "" : `, mac: ${v.mac}`} }`);
      lines.push(`  - { pf: ${p.pf}, numVfs: ${p.numVfs}, vfs: [ ${vfs.join(", ")} ] }`);
    }
    lines.push("pools:");
    for (const p of g.pools) {
      const sel = [
        p.vendor === undefined ? "" : `vendor: ${p.vendor}`,
        p.device === undefined ? "" : `device: ${p.device}`,
        p.pf === undefined ? "" : `pf: [ ${p.pf.map(({ ref: r, whole }) => (whole ? pfOf(r).bdf : `"${span(r).bdf}#${span(r).lo}-${span(r).hi}"`)).join(", ")} ]`,
      ].filter((x) => x !== "");
      lines.push(`  - { name: ${p.name}, match: { ${sel.join(", ")} } }`);
    }
    lines.push("guests:");
    for (const q of g.guests) {
      const nics = q.nics.map((n) => {
        if (n.kind === "pool") return `{ pool: ${n.pool} }`;
        const s = span(n.ref);
        if (n.kind === "vf") return `{ vf: "${s.bdf}#${s.lo}" }`;
        return n.whole ? `{ pf: ${s.bdf} }` : `{ pf: ${s.bdf}, vfs: "${s.lo}-${s.hi}" }`;
      });
      lines.push(`  - { name: ${q.name}, memory: ${q.memory}GiB, nics: [ ${nics.join(", ")} ] }`);
    }
    return `${lines.join("\n")}\n`;
  }
  it("gives every NIC a distinct, enabled VF it asked for whenever validation finds nothing", () => {
    fc.assert(
      fc.property(gen, (g) => {
        const text = render(g);
        let hf: HostFile;
        try {
          hf = parseHostFile(text, "gen.yaml");
        } catch (e) {
          expect(e).toBeInstanceOf(ConfigError);
          return;
        }
        const issues = validateHostFile(hf, INVENTORY);
        if (issues.length > 0) {
          // Resolution either still succeeds (the issues are elsewhere) or fails with a ConfigError.
          try {
            resolveAssignments(hf, INVENTORY);
          } catch (e) {
            expect(e).toBeInstanceOf(ConfigError);
          }
          return;
        }
        const got = resolveAssignments(hf, INVENTORY);
        expect(got).toHaveLength(hf.guests.reduce((n, q) => n + q.nics.length, 0));
        expect(new Set(got.map((a) => `${a.pf}#${a.vfIndex}`)).size).toBe(got.length);
        for (const a of got) {
          const guest = hf.guests.find((q) => q.name === a.guest)!;
          const nic = guest.nics[a.nicIndex]!;
          const pf = hf.pfs.find((p) => p.pf === a.pf)!;
          expect(a.vfIndex).toBeLessThan(pf.numVfs);
          if (nic.kind === "vf") expect([nic.pf, nic.vf]).toEqual([a.pf, a.vfIndex]);
          if (nic.kind === "range") {
            expect(nic.pf).toBe(a.pf);
            if (nic.vfs !== undefined) expect(nic.vfs.indices).toContain(a.vfIndex);
          }
          if (nic.kind === "pool") {
            const pool = hf.pools.find((p) => p.name === nic.pool)!;
            expect(poolMembers(hf, pool, INVENTORY)).toContainEqual({ pf: a.pf, vf: a.vfIndex });
          }
        }
      }),
      { numRuns: 400 },
    );
  });
});
