/**
 * `pciov lspci`: the simulated host's functions the way pciutils shows a Linux host — tree (-t),
 * text (-v/-vv/-vvv, -n/-nn), hex (-x/-xxx/-xxxx), one slot (-s), a dump file (-F), or JSON.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { decodeFunction } from "../../pcie/decode.js";
import { parseDump, writeDump } from "../../pcie/dump.js";
import { renderLspci, type LspciFunction } from "../../pcie/lspci-text.js";
import { renderTree } from "../../pcie/topology.js";
import { parseBdf, formatBdf, type Bdf } from "../../pcie/bdf.js";
import type { PciFunction } from "../../pcie/function.js";
import type { SimHost } from "../../config/host.js";
import { IovError } from "../../errors.js";
import { bootHost, die } from "../load.js";

export interface LspciArgs {
  tree?: boolean;
  verbose?: number;
  hex?: number;
  slot?: string;
  file?: string;
  numeric?: number;
  json?: boolean;
  domains?: boolean;
}

/**
 * A host function as lspci reads it on Linux: config bytes, with a VF's Vendor/Device ID filled in from
 * the PF for the decoded views (lspci takes IDs from sysfs `vendor`/`device`; the VF itself reads
 * 0xFFFF, and hex dumps show those raw bytes: `raw`), BAR sizes from the OS.
 */
export function hostFunctions(host: SimHost): Array<LspciFunction & { raw: Uint8Array }> {
  const out: Array<LspciFunction & { raw: Uint8Array }> = [];
  const bars = (fn: PciFunction): (number | undefined)[] => {
    const s: (number | undefined)[] = [undefined, undefined, undefined, undefined, undefined, undefined];
    for (const b of fn.bars) s[b.index] = b.size;
    return s;
  };
  for (const fn of host.fabric.functions()) {
    const raw = fn.cfg.snapshot();
    const bytes = raw.slice();
    const pf = host.pfs.find((p) => p.sriov.vfs.includes(fn));
    if (pf !== undefined) {
      bytes[0] = pf.template.vendorId & 0xff;
      bytes[1] = pf.template.vendorId >> 8;
      bytes[2] = pf.template.vfDeviceId & 0xff;
      bytes[3] = pf.template.vfDeviceId >> 8;
    }
    const owner = host.pfs.find((p) => p.fn === fn);
    out.push({
      bdf: fn.bdf,
      bytes,
      raw,
      sizes: bars(fn),
      ...(owner !== undefined ? { driver: owner.driverName } : pf !== undefined ? { driver: "vfio-pci" } : {}),
    });
  }
  return out;
}

/** Match lspci's -s: [[domain:]bus:]dev.fn with parts optional. */
function slotMatches(spec: string, b: Bdf): boolean {
  const m = /^(?:(?:([0-9a-f]{1,4}):)?([0-9a-f]{0,2}):)?([0-9a-f]{0,2})(?:\.([0-7]?))?$/i.exec(spec);
  if (m === null) throw new IovError("EINVAL", `-s ${spec}: expected [[domain:]bus:][slot][.func]`, { input: true });
  const [, d, bus, dev, fn] = m;
  return (
    (d === undefined || d === "" || parseInt(d, 16) === b.domain) &&
    (bus === undefined || bus === "" || parseInt(bus, 16) === b.bus) &&
    (dev === undefined || dev === "" || parseInt(dev, 16) === b.dev) &&
    (fn === undefined || fn === "" || parseInt(fn, 10) === b.fn)
  );
}

export async function runLspci(args: LspciArgs, hostFile: string | undefined, onHost?: SimHost): Promise<string> {
  let fns: Array<LspciFunction & { raw?: Uint8Array }>;
  let host: SimHost | undefined = onHost;
  if (args.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(args.file, "utf8");
    } catch (e) {
      throw new IovError("ENOENT", `${args.file}: ${(e as Error).message}`, { input: true });
    }
    fns = parseDump(text, args.file).map((e) => ({ bdf: e.bdf, bytes: e.bytes, length: e.length }));
  } else {
    host ??= (await bootHost(hostFile, false)).host;
    fns = hostFunctions(host);
  }
  const bdfOf = (f: LspciFunction): Bdf => (typeof f.bdf === "string" ? parseBdf(f.bdf) : f.bdf);
  if (args.slot !== undefined) fns = fns.filter((f) => slotMatches(args.slot!, bdfOf(f)));
  if (args.json === true) {
    if (args.tree === true && host !== undefined) return JSON.stringify({ tree: renderTree(host.fabric) }, null, 2);
    return JSON.stringify(
      fns.map((f) => ({ ...decodeFunction({ bdf: formatBdf(bdfOf(f)), bytes: f.bytes, ...(f.length !== undefined ? { length: f.length } : {}) }), ...(f.driver !== undefined ? { driver: f.driver } : {}) })),
      null,
      2,
    );
  }
  if (args.tree === true) {
    if (host === undefined) throw new IovError("EINVAL", "-t needs a host (not -F): a dump has no topology", { input: true });
    return renderTree(host.fabric);
  }
  const ids = args.numeric === 1 ? "numeric" : args.numeric !== undefined && args.numeric >= 2 ? "both" : "names";
  const verbose = Math.min(3, args.verbose ?? 0) as 0 | 1 | 2 | 3;
  if ((args.hex ?? 0) > 0) {
    const mode = args.hex! >= 4 ? "xxxx" : args.hex! >= 2 ? "xxx" : "x";
    if (verbose === 0) return writeDump(fns.map((f) => ({ bdf: bdfOf(f), bytes: f.raw ?? f.bytes, idBytes: f.bytes, ...(f.length !== undefined ? { length: f.length } : {}) })), { mode });
    // lspci -v -x: the text of each function followed by its hex
    return fns
      .map((f) => renderLspci([f], { verbose, ids }) + writeDump([{ bdf: bdfOf(f), bytes: f.raw ?? f.bytes, idBytes: f.bytes }], { mode }).split("\n").slice(1).join("\n"))
      .join("");
  }
  return renderLspci(fns, { verbose, ids, ...(args.domains === true ? { domains: true } : {}) });
}

const count = (_v: string, prev: number): number => prev + 1;

export function registerLspci(program: Command): void {
  program
    .command("lspci")
    .description("list the simulated host's PCI functions like pciutils' lspci")
    .argument("[HOSTFILE]", "host file (default: the bundled examples/default.yaml)")
    .option("-t", "tree of buses, bridges and functions")
    .option("-v", "verbose (-v, -vv, -vvv)", count, 0)
    .option("-x", "hex dump: -x (64 B), -xxx (256 B), -xxxx (4096 B)", count, 0)
    .option("-n", "numeric IDs (-n), or names and numbers (-nn)", count, 0)
    .option("-D", "always show PCI domains")
    .option("-s <slot>", "only functions matching [[domain:]bus:][slot][.func]")
    .option("-F <dumpfile>", "read functions from an lspci -x/-xxx/-xxxx dump instead of a host")
    .option("--json", "JSON: bdf, vendorId, deviceId, classCode, headerType, bars, capabilities")
    .action(async (hostFile: string | undefined, o: { t?: boolean; v: number; x: number; n: number; D?: boolean; s?: string; F?: string; json?: boolean }) => {
      try {
        const out = await runLspci(
          { tree: o.t === true, verbose: o.v, hex: o.x, numeric: o.n, json: o.json === true, domains: o.D === true, ...(o.s !== undefined ? { slot: o.s } : {}), ...(o.F !== undefined ? { file: o.F } : {}) },
          hostFile,
        );
        process.stdout.write(out.endsWith("\n") ? out : out + "\n");
      } catch (e) {
        die(e, o.json === true);
      }
    });
}
