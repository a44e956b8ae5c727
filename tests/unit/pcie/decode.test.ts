import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findCapDef } from "../../../src/pcie/caps/index.js";
import type { DecodedFunction } from "../../../src/pcie/decode.js";
import { ConfigBytes, capName, decodeFunction, walkCapabilities } from "../../../src/pcie/decode.js";
import { parseDump } from "../../../src/pcie/dump.js";
import { NIC_TEMPLATES } from "../../../src/nic/templates/catalog.js";
import { blocks, capLines, regionLines, terseIds } from "../../peer/lspci-parse.js";
import { buildPf, buildPort } from "../../peer/modelled.js";

const FIXTURES = "/work/shared/fixtures/real-sriov-dumps";
const stems = readdirSync(FIXTURES)
  .filter((f) => f.endsWith(".lspci-xxxx.txt"))
  .map((f) => f.replace(".lspci-xxxx.txt", ""));

interface Fixture {
  stem: string;
  fn: DecodedFunction;
  hostBlock: ReturnType<typeof blocks>[number];
}
const fixtures: Fixture[] = stems.flatMap((stem) => {
  const entries = parseDump(readFileSync(join(FIXTURES, `${stem}.lspci-xxxx.txt`), "utf8"), stem);
  const host = blocks(readFileSync(join(FIXTURES, `${stem}.host-lspci-F-vvv-nn.txt`), "latin1"));
  return entries.map((e, i) => {
    const hostBlock = host[i];
    if (hostBlock === undefined) throw new Error(`${stem}: no lspci text for function ${i}`);
    return { stem, fn: decodeFunction(e), hostBlock };
  });
});

interface SriovFact {
  file: string;
  commit: string;
  bdf: string;
  vendor: string;
  device: string;
  sriov_cap_offset: string;
  sriov_cap_version: number;
  iov_cap: string;
  iov_ctl: string;
  vf_enable: boolean;
  vf_mse: boolean;
  ari_capable_hierarchy: boolean;
  iov_sta: string;
  initial_vfs: number;
  total_vfs: number;
  num_vfs: number;
  function_dependency_link: number;
  vf_offset: number;
  vf_stride: number;
  vf_device_id: string;
  supported_page_sizes: string;
  system_page_size: string;
  vf_bar_raw: string[];
  vf_migration_state_array: string;
}
const facts = JSON.parse(readFileSync(join(FIXTURES, "sriov-facts.json"), "utf8")) as SriovFact[];

const hexn = (s: string): number => parseInt(s, 16);

describe("decode of real dumps agrees with what lspci 3.9 printed for them", () => {
  it("covers all seven functions of the six fixture files", () => {
    expect(fixtures.length).toBe(7);
  });

  it.each(fixtures.map((f) => [`${f.stem} ${f.fn.bdf}`, f] as const))("%s: IDs, class, revision", (_n, f) => {
    const ids = terseIds(f.hostBlock.lines[0] ?? "");
    expect({ cls: f.fn.classCode >> 8, vendor: f.fn.vendorId, device: f.fn.deviceId, rev: f.fn.revision }).toEqual(ids);
    expect(f.hostBlock.slot.padStart(12, "0000:")).toBe(f.fn.bdf);
  });

  it.each(fixtures.map((f) => [`${f.stem} ${f.fn.bdf}`, f] as const))("%s: BARs as the Region lines show them", (_n, f) => {
    const regions = regionLines(f.hostBlock);
    // lspci (reading a dump) also lists a 64-bit BAR's non-zero upper dword as "<unassigned>" 32-bit
    // memory; that slot is not a BAR and the decode does not list it.
    const upper = new Set(f.fn.bars.filter((b) => b.kind === "mem64").map((b) => b.index + 1));
    const real = regions.filter((r) => !(upper.has(r.index) && r.address === "<unassigned>"));
    expect(f.fn.bars.map((b) => ({ index: b.index, kind: b.kind, prefetchable: b.prefetchable, address: b.address === 0 ? "<unassigned>" : b.addressHex.padStart(b.kind === "io" ? 4 : 8, "0") }))).toEqual(
      real.map((r) => ({ index: r.index, kind: r.kind, prefetchable: r.prefetchable, address: r.address })),
    );
  });

  it.each(fixtures.map((f) => [`${f.stem} ${f.fn.bdf}`, f] as const))("%s: capability list (offset, chain, version, name)", (_n, f) => {
    const lines = capLines(f.hostBlock);
    expect(f.fn.capabilities.map((c) => ({ offset: c.offset, extended: c.extended }))).toEqual(lines.map((l) => ({ offset: l.offset, extended: l.extended })));
    f.fn.capabilities.forEach((c, i) => {
      const l = lines[i];
      expect(l).toBeDefined();
      if (c.extended) expect(c.version).toBe(l?.version);
      expect(l?.title.startsWith(c.name), `${l?.title} starts with ${c.name}`).toBe(true);
    });
    expect(f.fn.chainError).toBeUndefined();
  });

  it("names every capability of the fixtures, modelled or not", () => {
    const names = new Set(fixtures.flatMap((f) => f.fn.capabilities.map((c) => c.name)));
    for (const n of ["Data Object Exchange", "Enhanced Allocation (EA)", "Designated Vendor-Specific", "Extended Capability ID 0x2a", "Physical Layer 16.0 GT/s", "Virtual Channel"])
      expect(names.has(n), n).toBe(true);
    const unknown = fixtures.flatMap((f) => f.fn.capabilities).filter((c) => c.name.startsWith("Extended Capability ID"));
    expect(unknown.every((c) => Object.keys(c.registers).length === 0)).toBe(true);
  });

  it.each(facts.map((x) => [`${x.file}@${x.commit.slice(0, 7)}`, x] as const))("%s: every SR-IOV field equals sriov-facts.json", (_n, fact) => {
    expect(findCapDef(0x10, true), "the SR-IOV table is registered in src/pcie/caps").toBeDefined();
    const f = fixtures.find((x) => x.fn.vendorId === hexn(fact.vendor) && x.fn.bdf.endsWith(fact.bdf) && x.fn.capabilities.some((c) => c.offset === hexn(fact.sriov_cap_offset) && c.id === 0x10));
    expect(f, fact.bdf).toBeDefined();
    const cap = f?.fn.capabilities.find((c) => c.id === 0x10 && c.extended);
    expect(cap?.offset).toBe(hexn(fact.sriov_cap_offset));
    expect(cap?.version).toBe(fact.sriov_cap_version);
    expect(cap?.name).toBe("Single Root I/O Virtualization (SR-IOV)");
    const r = cap?.registers ?? {};
    expect({
      sriovCap: r.sriovCap,
      sriovCtrl: r.sriovCtrl,
      vfEnable: r.vfEnable,
      vfMse: r.vfMse,
      ariCapableHierarchy: r.ariCapableHierarchy,
      sriovStatus: r.sriovStatus,
      initialVFs: r.initialVFs,
      totalVFs: r.totalVFs,
      numVFs: r.numVFs,
      functionDependencyLink: r.functionDependencyLink,
      firstVfOffset: r.firstVfOffset,
      vfStride: r.vfStride,
      vfDeviceId: r.vfDeviceId,
      supportedPageSizes: r.supportedPageSizes,
      systemPageSize: r.systemPageSize,
      vfBars: [0, 1, 2, 3, 4, 5].map((i) => r[`vfBar${i}`]),
      vfMigrationState: r.vfMigrationState,
    }).toEqual({
      sriovCap: hexn(fact.iov_cap),
      sriovCtrl: hexn(fact.iov_ctl),
      vfEnable: fact.vf_enable,
      vfMse: fact.vf_mse,
      ariCapableHierarchy: fact.ari_capable_hierarchy,
      sriovStatus: hexn(fact.iov_sta),
      initialVFs: fact.initial_vfs,
      totalVFs: fact.total_vfs,
      numVFs: fact.num_vfs,
      functionDependencyLink: fact.function_dependency_link,
      firstVfOffset: fact.vf_offset,
      vfStride: fact.vf_stride,
      vfDeviceId: hexn(fact.vf_device_id),
      supportedPageSizes: hexn(fact.supported_page_sizes),
      systemPageSize: hexn(fact.system_page_size),
      vfBars: fact.vf_bar_raw.map(hexn),
      vfMigrationState: hexn(fact.vf_migration_state_array),
    });
  });

  it("decodes a JSON-able object", () => {
    for (const f of fixtures) expect(JSON.parse(JSON.stringify(f.fn))).toEqual(f.fn);
  });
});

/** A 4096-byte endpoint with a PCI Express capability at 0x40 and the status capability bit set. */
function endpoint(): Uint8Array {
  const b = new Uint8Array(4096);
  b.set([0x86, 0x80, 0xc9, 0x10, 0, 0, 0x10, 0, 1, 0, 0, 2], 0);
  b[0x34] = 0x40;
  b.set([0x10, 0x00, 0x02, 0x00], 0x40);
  return b;
}
const put32 = (b: Uint8Array, off: number, v: number): void => {
  for (let i = 0; i < 4; i++) b[off + i] = (v >>> (8 * i)) & 0xff;
};
const extHdr = (id: number, ver: number, next: number): number => (id | (ver << 16) | (next << 20)) >>> 0;
const bdf = "0000:01:00.0";

describe("chain walks by lspci's rules, reporting what is wrong instead of failing", () => {
  it("walks both chains in order", () => {
    const b = endpoint();
    b[0x41] = 0x50;
    b.set([0x05, 0x00, 0x80, 0x00], 0x50); // MSI
    put32(b, 0x100, extHdr(0x01, 2, 0x148));
    put32(b, 0x148, extHdr(0x10, 1, 0));
    const d = decodeFunction({ bdf, bytes: b });
    expect(d.capabilities.map((c) => [c.offset, c.id, c.extended, c.version, c.name])).toEqual([
      [0x40, 0x10, false, 2, "Express"],
      [0x50, 0x05, false, 0, "MSI"],
      [0x100, 0x01, true, 2, "Advanced Error Reporting"],
      [0x148, 0x10, true, 1, "Single Root I/O Virtualization (SR-IOV)"],
    ]);
    expect(d.chainError).toBeUndefined();
  });

  it("reports a standard chain that loops, and stops", () => {
    const b = endpoint();
    b[0x41] = 0x50;
    b.set([0x05, 0x40], 0x50);
    const d = decodeFunction({ bdf, bytes: b });
    expect(d.capabilities.map((c) => c.offset)).toEqual([0x40, 0x50]);
    expect(d.chainError).toEqual(["standard capability chain loops back to 0x40"]);
  });

  it("reports an extended chain that loops", () => {
    const b = endpoint();
    put32(b, 0x100, extHdr(0x0e, 1, 0x200));
    put32(b, 0x200, extHdr(0x0d, 1, 0x100));
    const d = decodeFunction({ bdf, bytes: b });
    expect(d.capabilities.filter((c) => c.extended).map((c) => c.offset)).toEqual([0x100, 0x200]);
    expect(d.chainError).toEqual(["extended capability chain loops back to 0x100"]);
  });

  it("reports ID 0xff as a broken chain", () => {
    const b = endpoint();
    b[0x41] = 0x60;
    b[0x60] = 0xff;
    expect(decodeFunction({ bdf, bytes: b }).chainError).toEqual(["standard capability chain broken at 0x60 (ID 0xff)"]);
  });

  it("follows, and reports, pointers lspci follows but the spec forbids", () => {
    const b = endpoint();
    b[0x41] = 0x11; // into the header, low bits set
    put32(b, 0x100, extHdr(0x01, 1, 0x040));
    const d = decodeFunction({ bdf, bytes: b });
    expect(d.capabilities.map((c) => c.offset)).toEqual([0x40, 0x10, 0x100, 0x40]);
    expect(d.chainError).toEqual([
      "next pointer 0x11 at 0x40 is not dword aligned (low bits ignored)",
      "capability pointer 0x10 points into the standard header",
      "extended capability pointer 0x40 points below 0x100",
    ]);
  });

  it("reports pointers beyond the bytes supplied (a 64-byte -x dump, a 256-byte -xxx dump)", () => {
    const b = endpoint();
    const short = decodeFunction({ bdf, bytes: b, length: 64 });
    expect(short.capabilities).toEqual([]);
    expect(short.chainError).toEqual(["capability at 0x40 lies beyond the 64 bytes supplied"]);
    put32(b, 0x100, extHdr(0x01, 1, 0x800));
    const mid = decodeFunction({ bdf, bytes: b, length: 256 });
    expect(mid.capabilities.map((c) => c.offset)).toEqual([0x40]);
    expect(mid.chainError).toBeUndefined(); // no extended space in a 256-byte dump is no error
    const cut = decodeFunction({ bdf, bytes: b, length: 0x400 });
    expect(cut.chainError).toEqual(["extended capability at 0x800 lies beyond the 1024 bytes supplied"]);
  });

  it("walks no capability without Status.CapList, and no extended one without PCIe or PCI-X", () => {
    const b = endpoint();
    put32(b, 0x100, extHdr(0x01, 1, 0));
    b[0x06] = 0;
    expect(decodeFunction({ bdf, bytes: b }).capabilities).toEqual([]);
    b[0x06] = 0x10;
    b[0x40] = 0x01; // PM, not PCIe
    expect(decodeFunction({ bdf, bytes: b }).capabilities.map((c) => c.id)).toEqual([0x01]);
  });

  it("ends the extended chain at a header of 0 or all-ones", () => {
    const b = endpoint();
    put32(b, 0x100, 0xffffffff);
    expect(decodeFunction({ bdf, bytes: b }).capabilities.length).toBe(1);
  });

  it("names capabilities as lspci does, with its fallback for unknown IDs", () => {
    expect(capName(0x11, false)).toBe("MSI-X");
    expect(capName(0x15, false)).toBe("Capability ID 0x15");
    expect(capName(0x0c, true)).toBe("Extended Capability ID 0xc");
    expect(capName(0x2e, true)).toBe("Data Object Exchange");
  });

  it("never throws on random bytes, and stays inside the bytes supplied", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 4096 }), fc.boolean(), (raw, forceCaps) => {
        const bytes = raw.slice();
        if (forceCaps && bytes.length > 0x41) {
          bytes[0x06] = (bytes[0x06] ?? 0) | 0x10;
          bytes[0x0e] = (bytes[0x0e] ?? 0) & 0x81;
        }
        const d = decodeFunction({ bdf, bytes });
        expect(JSON.parse(JSON.stringify(d))).toEqual(d);
        for (const c of d.capabilities) expect(c.offset + 4).toBeLessThanOrEqual(bytes.length);
        const walk = walkCapabilities(new ConfigBytes(bytes));
        expect(walk.caps.length).toBe(d.capabilities.length);
      }),
      { numRuns: 300 },
    );
  });
});

describe("BARs", () => {
  it("lists BARs by lspci's rules: empty and all-ones slots skipped, 64-bit BARs joined", () => {
    const b = endpoint();
    b[0x04] = 0x02; // Memory Space
    put32(b, 0x10, 0xd000000c); // 64-bit prefetchable
    put32(b, 0x14, 0x00000020);
    put32(b, 0x18, 0xffffffff);
    put32(b, 0x1c, 0x00001021); // I/O
    put32(b, 0x24, 0x00000004); // 64-bit in the last slot
    const d = decodeFunction({ bdf, bytes: b });
    expect(d.bars).toEqual([
      { index: 0, kind: "mem64", prefetchable: true, address: 0x20d0000000, addressHex: "20d0000000", enabled: true },
      { index: 3, kind: "io", prefetchable: false, address: 0x1020, addressHex: "1020", enabled: false },
      { index: 5, kind: "mem64", prefetchable: false, address: 0, addressHex: "0", enabled: true, note: "invalid-64bit-slot" },
    ]);
  });

  it("takes sizes from sizing masks (what a BAR reads after writing all-ones) or from the OS", () => {
    const b = endpoint();
    put32(b, 0x10, 0xe000000c);
    put32(b, 0x14, 0);
    put32(b, 0x18, 0xe1000000);
    put32(b, 0x1c, 0x00002001);
    const masks = [0xfff8000c, 0xffffffff, 0xffffc000, 0xffffffe1, 0, 0];
    const d = decodeFunction({ bdf, bytes: b, sizeMasks: masks });
    expect(d.bars.map((x) => [x.index, x.size])).toEqual([
      [0, 512 * 1024],
      [2, 16 * 1024],
      [3, 32],
    ]);
    const o = decodeFunction({ bdf, bytes: b, sizes: [1 << 20] });
    expect(o.bars[0]?.size).toBe(1 << 20);
  });

  it("decodes the bridge header: bus numbers and windows", () => {
    const port = buildPort("root-port", { domain: 0, bus: 0, dev: 1, fn: 0 }, 0x10);
    const d = decodeFunction({ bdf: port.bdf, bytes: port.bytes });
    expect(d.headerType).toBe(1);
    expect(d.subsystemVendorId).toBeUndefined();
    expect(d.bridge).toMatchObject({
      primaryBus: 0,
      secondaryBus: 0x10,
      subordinateBus: 0x10,
      memory: { base: 0xe0000000, limit: 0xe0ffffff, open: true, width: 32 },
      prefetchable: { open: false, width: 64 },
    });
  });
});

describe("registers are named by the capability tables of src/pcie/caps", () => {
  const t = NIC_TEMPLATES[1];
  if (t === undefined) throw new Error("no NIC template");
  const pf = buildPf(t, { domain: 0, bus: 3, dev: 0, fn: 0 }, 4, true);
  const d = decodeFunction({ bdf: pf.bdf, bytes: pf.bytes });
  const cap = (id: number, ext: boolean) => d.capabilities.find((c) => c.id === id && c.extended === ext)?.registers ?? {};

  it("reports the modelled values under the tables' JSON names", () => {
    expect(d.vendorId).toBe(t.vendorId);
    expect(d.classCode).toBe(t.classCode);
    expect(d.multiFunction).toBe(t.ports > 1);
    expect(cap(0x11, false).tableSize).toBe(t.pfMsixVectors - 1);
    expect(cap(0x10, false).deviceType).toBe(0);
    expect(cap(0x0e, true).nextFunction).toBe(1);
    const os = t.offsetStride(4, true);
    expect(cap(0x10, true)).toMatchObject({
      numVFs: 4,
      totalVFs: t.totalVfs,
      initialVFs: t.initialVfs,
      vfDeviceId: t.vfDeviceId,
      vfEnable: true,
      vfMse: true,
      ariCapableHierarchy: true,
      firstVfOffset: os.offset,
      vfStride: os.stride,
      supportedPageSizes: t.supportedPageSizes,
      systemPageSize: 1,
    });
  });

  it("keeps every register of a table the bytes cover, and marks a capability cut short", () => {
    const sr = d.capabilities.find((c) => c.id === 0x10 && c.extended);
    const def = findCapDef(0x10, true);
    expect(def).toBeDefined();
    for (const spec of Object.values(def?.regs ?? {})) expect(sr?.registers).toHaveProperty(spec.json);
    const cut = decodeFunction({ bdf: pf.bdf, bytes: pf.bytes, length: 0x170 });
    expect(cut.capabilities.find((c) => c.id === 0x10 && c.extended)?.truncated).toBe(true);
  });
});
