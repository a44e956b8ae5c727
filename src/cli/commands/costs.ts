/**
 * `pciov costs`: the timing model's cost table — every default with its unit and source — and, with
 * `--evidence`, the published measurements each per-packet default is checked against and the verdict.
 */
import type { Command } from "commander";
import { COST_KEYS, DEFAULT_COSTS, applyCostOverrides, parseCostOverrides, sourceTag, type CostTable } from "../../../sim/costs.js";
import { COST_EVIDENCE, evidenceKeys, evidenceModelNs, evidenceVerdict, type Verdict } from "../../../sim/cost-evidence.js";
import { color, fail, printJson, table } from "../output.js";
import { IovError } from "../../errors.js";

interface CostsCliOptions {
  json?: boolean;
  evidence?: boolean;
  set?: string;
}

const paint = (v: Verdict): string => (v === "agrees" ? color.ok(v) : color.warn(v));
const round = (x: number): number => Math.round(x * 10) / 10;

function run(o: CostsCliOptions): void {
  let t: CostTable = DEFAULT_COSTS;
  try {
    if (o.set !== undefined) t = applyCostOverrides(parseCostOverrides(o.set));
  } catch (e) {
    if (e instanceof IovError) fail(new IovError("EINVAL", `--set: ${e.message.slice(e.code.length + 2)}`, { ...(e.detail as object), input: true }), o.json === true);
    throw e;
  }
  const costs = COST_KEYS.map((k) => ({ key: k, value: t[k].value, unit: t[k].unit, tag: sourceTag(t[k].source) ?? "override", source: t[k].source }));
  if (o.evidence !== true) {
    if (o.json === true) printJson({ costs });
    else process.stdout.write(table(["cost", "value", "unit", "tag", "source"], costs.map((c) => [c.key, c.value, c.unit, c.tag, c.source])) + "\n");
    return;
  }
  const evidence = COST_EVIDENCE.map((e) => ({
    id: e.id,
    keys: evidenceKeys(e),
    covers: e.covers,
    modelNs: round(evidenceModelNs(e, t)),
    publishedNs: { lo: round(e.loNs), hi: round(e.hiNs), kind: e.kind },
    verdict: evidenceVerdict(e, t),
    figure: e.figure,
    tag: e.tag,
    source: e.source,
  }));
  if (o.json === true) {
    printJson({ costs, evidence });
    return;
  }
  const bracket = (p: { lo: number; hi: number; kind: string }): string =>
    p.kind === "at-most" ? `≤ ${p.hi}` : p.kind === "at-least" ? `≥ ${p.lo}` : p.lo === p.hi ? `${p.lo}` : `${p.lo}–${p.hi}`;
  process.stdout.write(
    table(
      ["check", "model ns", "published ns", "verdict", "costs"],
      evidence.map((e) => [e.id, e.modelNs, bracket(e.publishedNs), paint(e.verdict), e.keys.join(" + ")]),
    ) + "\n",
  );
  process.stdout.write(color.dim("ns on the model's 2.5 GHz core; `--json` gives each figure, its arithmetic and its source\n"));
}

export function registerCosts(program: Command): void {
  program
    .command("costs")
    .description("the timing model's cost table (value, unit, source of every default); --evidence: each per-packet default against published measurements")
    .option("--evidence", "the checks against published measurements, with the verdict for each")
    .option("--set <list>", "cost overrides key=value,... applied first (as a scenario's costs: section)")
    .option("--json", "as JSON")
    .action((o: CostsCliOptions) => run(o));
}
