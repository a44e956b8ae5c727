/**
 * `pciov compare [SCENARIO.yaml]`: run a scenario's sweep (every series at every VM count and frame
 * size) through the simulator and print a table; optionally write an SVG chart, a markdown table and
 * packet captures. Without a scenario, sim/scenarios/default.yaml (10 GbE bulk TCP, SR-IOV against
 * Xen PV, 1–60 VMs).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import cliProgress from "cli-progress";
import { IovError } from "../../errors.js";
import { isConfigError } from "../../config/issues.js";
import { loadScenario } from "../../../sim/scenario.js";
import { runCompare, tableRows, markdownTable, TABLE_HEADERS, type CompareOptions, type CompareReport } from "../../../sim/compare.js";
import { compareSvg } from "../../../sim/report/svg.js";
import { BACKENDS, type BackendName } from "../../../sim/params.js";
import { CaptureSet } from "../../../sim/model/capture.js";
import { FileSink } from "../../../sim/pcap/sink.js";
import { EXIT_USAGE, color, fail, printJson, table } from "../output.js";

export const DEFAULT_SCENARIO = fileURLToPath(new URL("../../../sim/scenarios/default.yaml", import.meta.url));

/** The options that choose a scenario's sweep, as the CLI gives them (compare, sensitivity). */
export interface SweepCliOptions {
  backends?: string;
  vms?: string;
  frame?: string;
  seed?: string;
  guestOffloads?: string;
}

interface CompareCliOptions extends SweepCliOptions {
  json?: boolean;
  svg?: string;
  markdown?: string;
  capture?: string;
}

/** A bad option value: exit 2 with the message. */
export function inputError(message: string): IovError {
  return new IovError("EINVAL", message, { input: true });
}

/** "1,8,32" → [1, 8, 32]; integers in [min, max]. */
export function parseIntList(flag: string, text: string, min: number, max: number): number[] {
  const parts = text.split(",").map((s) => s.trim());
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p)) throw inputError(`${flag}: expected a comma-separated list of integers, found ${JSON.stringify(p)}`);
    const n = Number(p);
    if (n < min || n > max) throw inputError(`${flag}: ${n} outside ${min}..${max}`);
    if (out.includes(n)) throw inputError(`${flag}: ${n} is listed twice (every point of the sweep runs once)`);
    out.push(n);
  }
  if (out.length === 0) throw inputError(`${flag}: empty list`);
  return out;
}

/** One integer seed, 0..2^53 − 1. */
export function parseSeed(text: string): number {
  const t = text.trim();
  if (!/^\d+$/.test(t)) throw inputError(`--seed: expected one integer from 0 to ${Number.MAX_SAFE_INTEGER}, found ${JSON.stringify(text)}`);
  const n = Number(t);
  if (n > Number.MAX_SAFE_INTEGER) throw inputError(`--seed: ${t} outside 0..${Number.MAX_SAFE_INTEGER}`);
  return n;
}

/** `--guest-offloads`: gro, gso and/or tso (comma-separated), or none. */
export function parseGuestOffloads(text: string): { gro: boolean; gso: boolean; tso: boolean } {
  const parts = text.split(",").map((s) => s.trim());
  if (parts.length === 1 && parts[0] === "none") return { gro: false, gso: false, tso: false };
  const out = { gro: false, gso: false, tso: false };
  for (const p of parts) {
    if (p !== "gro" && p !== "gso" && p !== "tso") throw inputError(`--guest-offloads: unknown offload ${JSON.stringify(p)} (expected gro, gso, tso, or none)`);
    if (out[p]) throw inputError(`--guest-offloads: ${p} is listed twice`);
    out[p] = true;
  }
  return out;
}

export function parseBackends(text: string): BackendName[] {
  const out: BackendName[] = [];
  for (const p of text.split(",").map((s) => s.trim())) {
    if (!(BACKENDS as readonly string[]).includes(p)) throw inputError(`--backends: unknown backend ${JSON.stringify(p)} (expected ${BACKENDS.join(", ")})`);
    if (out.includes(p as BackendName)) throw inputError(`--backends: ${p} is listed twice (every point of the sweep runs once)`);
    out.push(p as BackendName);
  }
  return out;
}

/** The sweep options given, parsed (each checked: an input error names its option); those not given are left out. */
export function parseSweep(o: SweepCliOptions): Pick<CompareOptions, "backends" | "vms" | "frameBytes" | "seed" | "guestOffloads"> {
  return {
    ...(o.backends !== undefined ? { backends: parseBackends(o.backends) } : {}),
    ...(o.vms !== undefined ? { vms: parseIntList("--vms", o.vms, 1, 256) } : {}),
    ...(o.frame !== undefined ? { frameBytes: parseIntList("--frame", o.frame, 64, 9018) } : {}),
    ...(o.seed !== undefined ? { seed: parseSeed(o.seed) } : {}),
    ...(o.guestOffloads !== undefined ? { guestOffloads: parseGuestOffloads(o.guestOffloads) } : {}),
  };
}

/** The guest-side interface a backend's first VM is captured on. */
function vmPort(b: BackendName): string {
  switch (b) {
    case "sriov":
      return "vf0";
    case "xen-pv":
      return "vif0";
    case "virtio":
      return "vnet0";
    case "e1000":
      return "e1000-0";
  }
}

const safe = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, "_");

function run(scenarioPath: string | undefined, o: CompareCliOptions): void {
  let report: CompareReport;
  try {
    const sc = loadScenario(scenarioPath ?? DEFAULT_SCENARIO);
    const sweep = parseSweep(o);
    const showBar = process.stderr.isTTY === true && o.json !== true;
    const bar = showBar ? new cliProgress.SingleBar({ stream: process.stderr, format: "{bar} {value}/{total} runs | {series} {vms} VMs", hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic) : undefined;
    const captures: CaptureSet[] = [];
    if (o.capture !== undefined) mkdirSync(o.capture, { recursive: true });
    let started = false;
    report = runCompare(sc, {
      ...sweep,
      onPoint: (done, total, p) => {
        if (bar === undefined) return;
        if (!started) {
          bar.start(total, 0, { series: p.series, vms: p.vms });
          started = true;
        }
        bar.update(done, { series: p.series, vms: p.vms });
      },
      runOptions: (series, n, frame, backend) => {
        if (o.capture === undefined) return {};
        const cap = new CaptureSet();
        const ports = ["wire", vmPort(backend)];
        if (backend !== "sriov") ports.push("bridge");
        for (const port of ports) cap.add(port, new FileSink(join(o.capture, `${safe(series)}-${n}vm-${frame}B-${port}.pcap`)));
        captures.push(cap);
        return { capture: cap };
      },
    });
    bar?.stop();
    for (const c of captures) c.close();
  } catch (e) {
    if (isConfigError(e)) {
      process.stderr.write(`${color.err("pciov:")} scenario has errors:\n${e.message.replace(/^EINVAL: /, "")}\n`);
      process.exit(EXIT_USAGE);
    }
    fail(e, o.json === true);
  }
  if (o.svg !== undefined) writeFileSync(o.svg, compareSvg(report));
  if (o.markdown !== undefined) writeFileSync(o.markdown, markdownTable(report) + "\n");
  if (o.json === true) {
    printJson(report);
    return;
  }
  process.stdout.write(`${color.head(report.scenario.name)}  ${color.dim(`(seed ${report.seed})`)}\n`);
  process.stdout.write(table(TABLE_HEADERS, tableRows(report)) + "\n");
  if (o.svg !== undefined) process.stderr.write(color.dim(`chart written to ${o.svg}\n`));
}

export function registerCompare(program: Command): void {
  program
    .command("compare")
    .description("simulate passthrough against paravirtual and emulated NICs: throughput, CPU, exits, interrupts, IOTLB, latency")
    .argument("[scenario]", "scenario file (default: sim/scenarios/default.yaml)")
    .option("--backends <list>", `comma-separated backends to run (${BACKENDS.join(",")}): the scenario's series of each, or one with the scenario's settings`)
    .option("--vms <list>", "comma-separated VM counts, e.g. 1,8,32,60")
    .option("--frame <list>", "comma-separated frame sizes in bytes (with FCS), e.g. 64,1518; TCP takes MTU = frame - 18 (594..9018)")
    .option("--seed <n>", "random seed (same scenario and seed: same results)")
    .option("--guest-offloads <list>", "the guests' offloads for every run: gro, gso, tso (comma-separated) or none, over the scenario's host.guestGro/guestGso and the devices' TSO (sriov.tso, virtio.tso, xen.gso, e1000.tso)")
    .option("--json", "print the full results as JSON")
    .option("--svg <file>", "write throughput and CPU charts as SVG")
    .option("--markdown <file>", "write the table as markdown")
    .option("--capture <dir>", "write pcap captures of the wire and the first VM's interface for every run")
    .action((scenario: string | undefined, o: CompareCliOptions) => run(scenario, o));
}
