/**
 * Peer tests against the real lspci (pciutils 3.9): pciov's dumps are read by `lspci -F`, and what
 * lspci prints for them is compared with pciov's own decode (JSON) and text, on the real fixture dumps,
 * on the functions pciov models, on random config spaces, and on this machine's own devices.
 * These tests fail (they do not skip) when lspci is missing.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { DecodedFunction } from "../../src/pcie/decode.js";
import { decodeFunction } from "../../src/pcie/decode.js";
import type { DumpMode } from "../../src/pcie/dump.js";
import { DUMP_MODE_BYTES, parseDump, writeDump } from "../../src/pcie/dump.js";
import { renderLspci } from "../../src/pcie/lspci-text.js";
import type { IdStyle } from "../../src/pcie/names.js";
import { readSysfsFunctions } from "../../src/pcie/sysfs-read.js";
import { randomFunctions } from "./cfggen.js";
import type { LspciBlock } from "./lspci-parse.js";
import { blocks, capBody, capLines, comparable, isModelledTitle, lspci, lspciVersion, ourIdsFile, regionLines, tempFile, terseIds } from "./lspci-parse.js";
import { modelledFunctions } from "./modelled.js";

const FIXTURES = "/work/shared/fixtures/real-sriov-dumps";
const ID_FLAG: Record<IdStyle, string[]> = { names: [], numeric: ["-n"], both: ["-nn"] };
const vflag = (v: 1 | 2 | 3): string => `-${"v".repeat(v)}`;

/** lspci -F on `text` (written to a temp file) with pciov's names. */
function lspciOnDump(text: string, args: readonly string[]): string {
  return lspci(["-i", ourIdsFile(), "-F", tempFile("dump.txt", text), ...args]);
}

beforeAll(() => {
  lspciVersion(); // throws "lspci (pciutils 3.9) is not installed" when absent
});

describe("the peer", () => {
  it("is lspci 3.9 (the version whose output pciov's text matches)", () => {
    expect(lspciVersion()).toMatch(/^lspci version 3\.9(\.\d+)?$/);
  });
});

describe("real dumps: lspci -F on the fixtures and pciov print the same", () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".lspci-xxxx.txt"));
  it.each(files)("%s", (f) => {
    const path = join(FIXTURES, f);
    const theirs = lspci(["-i", ourIdsFile(), "-F", path, "-vvv", "-nn"]);
    const ours = renderLspci(parseDump(readFileSync(path, "utf8"), f), { verbose: 3, ids: "both" });
    expect(ours).toBe(comparable(theirs));
  });
});

describe("modelled functions (the NIC templates' PFs, root and downstream ports)", () => {
  const fns = modelledFunctions();
  const dump = writeDump(fns);
  const decoded = new Map(fns.map((f) => [f.bdf.bus * 256 + f.bdf.dev * 8 + f.bdf.fn, decodeFunction({ bdf: f.bdf, bytes: f.bytes })]));
  const text = lspciOnDump(dump, ["-vvv", "-nn"]);
  const blockList = blocks(text);
  const decodedOf = (b: LspciBlock): DecodedFunction => {
    const [bus, dev, fn] = b.slot.split(/[:.]/).map((x) => parseInt(x, 16));
    const d = decoded.get((bus ?? 0) * 256 + (dev ?? 0) * 8 + (fn ?? 0));
    if (d === undefined) throw new Error(`no decode for ${b.slot}`);
    return d;
  };
  const capOf = (d: DecodedFunction, id: number, ext: boolean): Record<string, number | boolean> => {
    const c = d.capabilities.find((x) => x.id === id && x.extended === ext);
    if (c === undefined) throw new Error(`${d.bdf} has no capability ${id.toString(16)}`);
    return c.registers;
  };
  const capText = (b: LspciBlock, prefix: string): string[] => {
    const l = capLines(b).find((c) => c.title.startsWith(prefix));
    if (l === undefined) throw new Error(`${b.slot}: lspci shows no "${prefix}"`);
    return capBody(b, l.at);
  };
  const pm = (s: string): boolean => s === "+";

  it("lspci reads every function of pciov's dump", () => {
    expect(blockList.map((b) => b.slot).sort()).toEqual(fns.map((f) => `${f.bdf.bus.toString(16).padStart(2, "0")}:${f.bdf.dev.toString(16).padStart(2, "0")}.${f.bdf.fn}`).sort());
  });

  it.each([1, 2, 3] as const)("text is identical to lspci's at verbosity %s, with names, -n and -nn", (v) => {
    for (const ids of ["numeric", "both", "names"] as const) expect(renderLspci(fns, { verbose: v, ids })).toBe(lspciOnDump(dump, [vflag(v), ...ID_FLAG[ids]]));
  });

  it("lspci decodes every modelled capability (no <?>, no Unknown)", () => {
    for (const b of blockList)
      for (const c of capLines(b)) {
        expect(isModelledTitle(c.title), `${b.slot} ${c.title}`).toBe(true);
        for (const l of capBody(b, c.at)) expect(l, `${b.slot}`).not.toMatch(/<\?>|Unknown/);
      }
  });

  it("IDs, class, revision and BARs agree", () => {
    for (const b of blockList) {
      const d = decodedOf(b);
      expect(terseIds(b.lines[0] ?? "")).toEqual({ cls: d.classCode >> 8, vendor: d.vendorId, device: d.deviceId, rev: d.revision });
      const regions = regionLines(b);
      const upper = new Set(d.bars.filter((x) => x.kind === "mem64").map((x) => x.index + 1));
      expect(d.bars.map((x) => ({ index: x.index, kind: x.kind, prefetchable: x.prefetchable, address: x.addressHex.padStart(x.kind === "io" ? 4 : 8, "0") }))).toEqual(
        regions.filter((r) => !(upper.has(r.index) && r.address === "<unassigned>")),
      );
    }
  });

  it("MSI-X table size, PCIe device type, link speed and width, ARI forwarding agree", () => {
    const typeName: Record<number, string> = { 0: "Endpoint", 4: "Root Port", 6: "Downstream Port" };
    const speed: Record<number, string> = { 1: "2.5GT/s", 2: "5GT/s", 3: "8GT/s", 4: "16GT/s", 5: "32GT/s" };
    for (const b of blockList) {
      const d = decodedOf(b);
      const exp = capOf(d, 0x10, false);
      const title = capText(b, "Express")[0] ?? "";
      expect(title).toContain(`Express (v${String(exp.capVersion)}) ${typeName[Number(exp.deviceType)] ?? "?"}`);
      const body = capText(b, "Express").join("\n");
      const lnkCap = /LnkCap:\tPort #(\d+), Speed (\S+), Width x(\d+)/.exec(body);
      const lnkSta = /LnkSta:\tSpeed (\S+?)(?: \(\w+\))?, Width x(\d+)/.exec(body);
      expect([lnkCap?.[1], lnkCap?.[2], lnkCap?.[3]]).toEqual([String(exp.portNumber), speed[Number(exp.maxLinkSpeed)], String(exp.maxLinkWidth)]);
      expect([lnkSta?.[1], lnkSta?.[2]]).toEqual([speed[Number(exp.currentLinkSpeed)], String(exp.negotiatedLinkWidth)]);
      if (exp.deviceType === 4 || exp.deviceType === 6) {
        expect(/DevCap2: [^]*?ARIFwd([+-])/.exec(body)?.[1]).toBe(exp.ariForwardingSupported ? "+" : "-");
        expect(/DevCtl2: [^\n]*ARIFwd([+-])/.exec(body)?.[1]).toBe(exp.ariForwardingEnable ? "+" : "-");
      }
      if (d.headerType === 0) {
        const msix = capOf(d, 0x11, false);
        const m = /MSI-X: Enable([+-]) Count=(\d+) Masked([+-])/.exec(capText(b, "MSI-X")[0] ?? "");
        expect([pm(m?.[1] ?? ""), Number(m?.[2]), pm(m?.[3] ?? "")]).toEqual([msix.msixEnable, Number(msix.tableSize) + 1, msix.functionMask]);
        const vt = /Vector table: BAR=(\d) offset=([0-9a-f]{8})/.exec(capText(b, "MSI-X").join("\n"));
        expect([Number(vt?.[1]), parseInt(vt?.[2] ?? "", 16)]).toEqual([msix.tableBir, Number(msix.tableOffsetQwords) * 8]);
      }
    }
  });

  it("ARI and ACS agree bit for bit", () => {
    for (const b of blockList) {
      const d = decodedOf(b);
      if (d.capabilities.some((c) => c.id === 0x0e && c.extended)) {
        const ari = capOf(d, 0x0e, true);
        const t = capText(b, "Alternative Routing-ID").join("\n");
        const cap = /ARICap:\tMFVC([+-]) ACS([+-]), Next Function: (\d+)/.exec(t);
        const ctl = /ARICtl:\tMFVC([+-]) ACS([+-]), Function Group: (\d+)/.exec(t);
        expect([pm(cap?.[1] ?? ""), pm(cap?.[2] ?? ""), Number(cap?.[3])]).toEqual([ari.mfvcFunctionGroups, ari.acsFunctionGroups, ari.nextFunction]);
        expect([pm(ctl?.[1] ?? ""), pm(ctl?.[2] ?? ""), Number(ctl?.[3])]).toEqual([ari.mfvcFunctionGroupsEnable, ari.acsFunctionGroupsEnable, ari.functionGroup]);
      }
      if (d.capabilities.some((c) => c.id === 0x0d && c.extended)) {
        const acs = capOf(d, 0x0d, true);
        const t = capText(b, "Access Control Services").join("\n");
        const names = ["SrcValid", "TransBlk", "ReqRedir", "CmpltRedir", "UpstreamFwd", "EgressCtrl", "DirectTrans"];
        const capF = ["sourceValidation", "translationBlocking", "p2pRequestRedirect", "p2pCompletionRedirect", "upstreamForwarding", "p2pEgressControl", "directTranslatedP2p"];
        for (const [row, suffix] of [["ACSCap", ""], ["ACSCtl", "Enable"]] as const) {
          const line = new RegExp(`${row}:\\t(.*)`).exec(t)?.[1] ?? "";
          names.forEach((n, i) => expect(line.includes(`${n}${acs[`${capF[i] ?? ""}${suffix}`] ? "+" : "-"}`), `${row} ${n}`).toBe(true));
        }
      }
    }
  });

  it("every SR-IOV field lspci prints agrees with the decode", () => {
    let seen = 0;
    for (const b of blockList) {
      const d = decodedOf(b);
      if (!d.capabilities.some((c) => c.id === 0x10 && c.extended)) continue;
      seen++;
      const r = capOf(d, 0x10, true);
      const t = capText(b, "Single Root I/O Virtualization").join("\n");
      const f = (re: RegExp): string[] => {
        const m = re.exec(t);
        if (m === null) throw new Error(`${b.slot}: no ${re.source} in\n${t}`);
        return m.slice(1);
      };
      const [mig, tag, imn] = f(/IOVCap:\tMigration([+-]) 10BitTagReq([+-]) Interrupt Message Number: ([0-9a-f]{3})/);
      expect([pm(mig ?? ""), pm(tag ?? ""), parseInt(imn ?? "", 16)]).toEqual([r.vfMigrationCapable, r.vf10BitTagRequesterSupported, r.vfMigrationInterruptMessageNumber]);
      const ctl = f(/IOVCtl:\tEnable([+-]) Migration([+-]) Interrupt([+-]) MSE([+-]) ARIHierarchy([+-]) 10BitTagReq([+-])/).map(pm);
      expect(ctl).toEqual([r.vfEnable, r.vfMigrationEnable, r.vfMigrationInterruptEnable, r.vfMse, r.ariCapableHierarchy, r.vf10BitTagRequesterEnable]);
      expect(pm(f(/IOVSta:\tMigration([+-])/)[0] ?? "")).toBe(r.vfMigrationStatus);
      const counts = f(/Initial VFs: (\d+), Total VFs: (\d+), Number of VFs: (\d+), Function Dependency Link: ([0-9a-f]{2})/);
      expect([Number(counts[0]), Number(counts[1]), Number(counts[2]), parseInt(counts[3] ?? "", 16)]).toEqual([r.initialVFs, r.totalVFs, r.numVFs, r.functionDependencyLink]);
      const geo = f(/VF offset: (\d+), stride: (\d+), Device ID: ([0-9a-f]{4})/);
      expect([Number(geo[0]), Number(geo[1]), parseInt(geo[2] ?? "", 16)]).toEqual([r.firstVfOffset, r.vfStride, r.vfDeviceId]);
      const pg = f(/Supported Page Size: ([0-9a-f]{8}), System Page Size: ([0-9a-f]{8})/).map((x) => parseInt(x, 16));
      expect(pg).toEqual([r.supportedPageSizes, r.systemPageSize]);
      const regions = [...t.matchAll(/Region (\d): Memory at ([0-9a-f]+) \((32|64)-bit, (non-)?prefetchable\)/g)].map((m) => ({
        index: Number(m[1]),
        address: BigInt(`0x${m[2] ?? "0"}`),
        is64: m[3] === "64",
        prefetchable: m[4] === undefined,
      }));
      const vfBar = (i: number): number => Number(r[`vfBar${i}`] ?? 0);
      const expected: typeof regions = [];
      for (let i = 0; i < 6; i++) {
        const lo = vfBar(i);
        if (lo === 0) continue;
        const is64 = (lo & 6) === 4;
        const hi = is64 ? vfBar(i + 1) : 0;
        expected.push({ index: i, address: (BigInt(hi) << 32n) | BigInt((lo & ~0xf) >>> 0), is64, prefetchable: (lo & 8) !== 0 });
        if (is64) i++;
      }
      expect(regions).toEqual(expected);
      const vfm = f(/VF Migration: offset: ([0-9a-f]{8}), BIR: (\d)/);
      expect([parseInt(vfm[0] ?? "", 16), Number(vfm[1])]).toEqual([Number(r.vfMigrationStateOffsetQwords) * 8, r.vfMigrationStateBir]);
    }
    expect(seen).toBe(6);
  });
});

describe("random config spaces: pciov's text equals lspci's, line for line", () => {
  it("at every verbosity, ID style and dump size", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 0x7fffffff }),
        fc.constantFrom(1 as const, 2 as const, 3 as const),
        fc.constantFrom<IdStyle>("names", "numeric", "both"),
        fc.constantFrom<DumpMode>("xxxx", "xxxx", "xxx", "x"),
        (seed, v, ids, mode) => {
          const fns = randomFunctions(seed, 40);
          const theirs = lspciOnDump(writeDump(fns, { mode }), [vflag(v), ...ID_FLAG[ids]]);
          const ours = renderLspci(
            fns.map((f) => ({ ...f, length: DUMP_MODE_BYTES[mode] })),
            { verbose: v, ids },
          );
          expect(ours).toBe(theirs);
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe("this machine: /sys/bus/pci/devices next to the real lspci", () => {
  const fns = readSysfsFunctions();
  const slot = (d: { bdf: { bus: number; dev: number; fn: number } }): string =>
    `${d.bdf.bus.toString(16).padStart(2, "0")}:${d.bdf.dev.toString(16).padStart(2, "0")}.${d.bdf.fn}`;

  it("has functions to compare", () => {
    expect(fns.length).toBeGreaterThan(0);
  });

  it("pciov's -xxxx dump of sysfs is byte-identical to `lspci -xxxx -n`, and parses back to the same bytes", () => {
    const theirs = lspci(["-xxxx", "-n"]);
    expect(writeDump(fns, { mode: "xxxx", ids: "numeric" })).toBe(theirs);
    const back = parseDump(theirs, "lspci -xxxx");
    expect(back.map((e) => [e.bdf, e.length, Buffer.from(e.bytes.subarray(0, e.length)).toString("hex")])).toEqual(
      fns.map((f) => [f.bdf, f.length, Buffer.from(f.bytes).toString("hex")]),
    );
  });

  it("decoded IDs, class and capability list agree with `lspci -vvv -nn`", () => {
    const bl = blocks(lspci(["-vvv", "-nn"]));
    expect(bl.map((b) => b.slot)).toEqual(fns.map(slot));
    fns.forEach((f, i) => {
      const b = bl[i] as LspciBlock;
      const d = decodeFunction(f);
      expect(terseIds(b.lines[0] ?? "")).toEqual({ cls: d.classCode >> 8, vendor: d.vendorId, device: d.deviceId, rev: d.revision });
      const cl = capLines(b);
      expect(d.capabilities.map((c) => [c.offset, c.extended])).toEqual(cl.map((c) => [c.offset, c.extended]));
      d.capabilities.forEach((c, k) => expect(cl[k]?.title.startsWith(c.name), `${slot(f)} [${c.offset.toString(16)}] ${cl[k]?.title}`).toBe(true));
    });
  });

  it.each([1, 2, 3] as const)("pciov's text of sysfs equals lspci -n at verbosity %s, for what pciov renders", (v) => {
    expect(renderLspci(fns, { verbose: v, ids: "numeric" })).toBe(comparable(lspci([vflag(v), "-n"])));
  });
});
