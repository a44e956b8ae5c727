/**
 * `pciov sensitivity [SCENARIO.yaml]`: which costs a scenario's results rest on. Each chosen cost
 * (by default every assumption [A] of the cost table) runs at ÷f and ×f over the whole sweep; the
 * table gives, per cost, the largest goodput and CPU changes and where, and how many points moved
 * against the cost (raised cost, more goodput).
 */
import type { Command } from "commander";
import cliProgress from "cli-progress";
import { IovError } from "../../errors.js";
import { isConfigError } from "../../config/issues.js";
import { loadScenario } from "../../../sim/scenario.js";
import { FACTOR_MAX, FACTOR_MIN_EXCLUSIVE, runSensitivity, selectCosts, type CostSelection, type Extreme, type SensitivityReport } from "../../../sim/sensitivity.js";
import { DEFAULT_SCENARIO, inputError, parseSweep, type SweepCliOptions } from "./compare.js";
import { EXIT_USAGE, color, fail, printJson, table } from "../output.js";

interface SensitivityCliOptions extends SweepCliOptions {
  costs?: string;
  factor?: string;
  json?: boolean;
}

/** `--costs`: assumed, time, or a comma-separated list of cost keys (each checked: known, and a time). */
export function parseCostSelection(text: string): CostSelection {
  const t = text.trim();
  if (t === "assumed" || t === "time") return t;
  const parts = t.split(",").map((s) => s.trim());
  if (parts.some((p) => p === "")) throw inputError(`--costs: expected assumed, time or a comma-separated list of cost keys, found ${JSON.stringify(text)}`);
  try {
    return selectCosts(parts);
  } catch (e) {
    if (e instanceof IovError) throw inputError(`--costs: ${e.message.slice(e.code.length + 2)}`);
    throw e;
  }
}

/** `--factor`: a number above 1, at most 100. */
export function parseFactor(text: string): number {
  const t = text.trim();
  const n = Number(t);
  if (t === "" || !Number.isFinite(n) || !(n > FACTOR_MIN_EXCLUSIVE && n <= FACTOR_MAX))
    throw inputError(`--factor: expected a number above ${FACTOR_MIN_EXCLUSIVE} and at most ${FACTOR_MAX}, found ${JSON.stringify(text)}`);
  return n;
}

const pct = (x: number): string => `${x > 0 ? "+" : x < 0 ? "−" : "±"}${Math.abs(100 * x).toFixed(1)}%`;
const cores = (x: number): string => `${x > 0 ? "+" : x < 0 ? "−" : "±"}${Math.abs(x) >= 0.01 ? Math.abs(x).toFixed(2) : Math.abs(x).toPrecision(1)}`;
const cell = (e: Extreme, f: (x: number) => string): string => (e.at === "" || e.change === 0 ? "0" : `${f(e.change)} ${color.dim(e.at)}`);

function print(rep: SensitivityReport): void {
  const f = rep.factor;
  const fs = Number.isInteger(f) ? String(f) : f.toFixed(2);
  process.stdout.write(`${color.head(rep.scenario.name)}  ${color.dim(`(seed ${rep.seed}; each cost ÷${fs} and ×${fs}; ${rep.runs} runs)`)}\n`);
  const rows = rep.costs.map((c) => {
    const n = c.points.length;
    return [
      c.key,
      c.tag,
      c.value === c.defaultValue ? `${c.value} ${c.unit}` : `${c.value} ${c.unit} (default ${c.defaultValue})`,
      cell(c.goodputLow, pct),
      cell(c.goodputHigh, pct),
      cell(c.coresLow, cores),
      cell(c.coresHigh, cores),
      c.nonMonotone === 0 ? `0/${n}` : color.warn(`${c.nonMonotone}/${n} (${pct(c.against.change)} ${c.against.at})`),
    ];
  });
  process.stdout.write(table(["cost", "tag", "value", `goodput ÷${fs}`, `goodput ×${fs}`, `cores ÷${fs}`, `cores ×${fs}`, "against"], rows) + "\n");
  process.stdout.write(
    color.dim(
      "goodput: the relative change of largest magnitude over the points; cores: CPU busy (guest + host + vhost) in cores; at series@VMs.\n" +
        "against: points where the raised cost delivered more goodput or the lowered one less (the largest such change).\n",
    ),
  );
  if (rep.unmoved.length > 0) process.stdout.write(color.dim(`no effect on this scenario: ${rep.unmoved.join(", ")}\n`));
}

function run(scenarioPath: string | undefined, o: SensitivityCliOptions): void {
  let report: SensitivityReport;
  try {
    const sc = loadScenario(scenarioPath ?? DEFAULT_SCENARIO);
    const costs = o.costs === undefined ? "assumed" : parseCostSelection(o.costs);
    const factor = o.factor === undefined ? 2 : parseFactor(o.factor);
    const sweep = parseSweep(o);
    const showBar = process.stderr.isTTY === true && o.json !== true;
    const bar = showBar ? new cliProgress.SingleBar({ stream: process.stderr, format: "{bar} {value}/{total} runs", hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic) : undefined;
    let started = false;
    report = runSensitivity(sc, {
      costs,
      factor,
      ...sweep,
      onRun: (done, total) => {
        if (bar === undefined) return;
        if (!started) {
          bar.start(total, 0);
          started = true;
        }
        bar.update(done);
      },
    });
    bar?.stop();
  } catch (e) {
    if (isConfigError(e)) {
      process.stderr.write(`${color.err("pciov:")} scenario has errors:\n${e.message.replace(/^EINVAL: /, "")}\n`);
      process.exit(EXIT_USAGE);
    }
    fail(e, o.json === true);
  }
  if (o.json === true) printJson(report);
  else print(report);
}

export function registerSensitivity(program: Command): void {
  program
    .command("sensitivity")
    .description("which costs a scenario's results rest on: each cost at ÷f and ×f over the whole sweep, the largest goodput and CPU changes")
    .argument("[scenario]", "scenario file (default: sim/scenarios/default.yaml)")
    .option("--costs <list>", "assumed (every [A] time cost, the default), time (every time cost) or comma-separated cost keys")
    .option("--factor <f>", "each cost runs at value ÷ f and value × f (above 1, at most 100; default 2)")
    .option("--backends <list>", "comma-separated backends to run, as for compare")
    .option("--vms <list>", "comma-separated VM counts")
    .option("--frame <list>", "comma-separated frame sizes in bytes (with FCS)")
    .option("--seed <n>", "random seed")
    .option("--guest-offloads <list>", "the guests' offloads for every run (gro, gso, tso or none), as for compare")
    .option("--json", "every cost's change at every point as JSON")
    .action((scenario: string | undefined, o: SensitivityCliOptions) => run(scenario, o));
}
