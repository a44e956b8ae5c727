/** `pciov boot` and `pciov plan`: boot-time assignment from a host file, and its dry run. */
import type { Command } from "commander";
import { boot, planBoot, report, type BootReport } from "../../config/boot.js";
import { die, loadHost } from "../load.js";
import { color, printJson, table } from "../output.js";

export function renderBootReport(r: BootReport): string {
  const out: string[] = [];
  out.push(color.head(`host ${r.host}: booted (${r.changes} of ${r.steps.length} steps changed something)`));
  out.push("");
  out.push(color.bold("Topology"));
  out.push(r.tree.trimEnd());
  out.push("");
  out.push(color.bold("VFs assigned to guests"));
  out.push(table(["VF", "PF", "vf", "MAC", "VLAN", "group", "guest", "nic"], r.vfs.map((v) => [v.bdf, v.pf, v.vf, v.mac, v.vlan === 0 ? "-" : v.vlan, v.group, v.guest, v.nic])));
  out.push("");
  out.push(color.bold("IOMMU groups"));
  for (const g of r.groups) out.push(`  group ${g.id}: ${g.members.join(" ")}${g.reasons.length > 0 ? color.dim(`  (${g.reasons.join("; ")})`) : ""}`);
  out.push("");
  out.push(color.bold("IOMMU faults"));
  out.push(r.faults.length === 0 ? "  none" : table(["source", "reason", "address", "access"], r.faults.map((f) => [f.sid, f.reason, f.address, f.write ? "write" : "read"])));
  out.push("");
  out.push(color.bold("VM exits so far"));
  out.push(table(["guest", "total", "mmio", "config", "interrupt", "eoi", "hypercall"], Object.entries(r.exits).map(([g, e]) => [g, e.total, e.mmio, e.configSpace, e.interrupt, e.eoi, e.hypercall])));
  if (r.smoke !== undefined) {
    out.push("");
    const s = r.smoke;
    out.push(
      s.pairs === 0
        ? color.warn("smoke test: no two guests share a PF and VLAN; nothing to exchange")
        : color.ok(`smoke test: ${s.frames} frames between ${s.pairs} guest pairs through the embedded switch, ${s.bytesVerified} bytes verified in the receivers' buffers`),
    );
  }
  return out.join("\n") + "\n";
}

export function registerBoot(program: Command): void {
  program
    .command("boot")
    .description("boot a host file: enumerate, create VFs, set knobs, check IOMMU groups, create guests, attach VFs, bring VF drivers up, smoke-test traffic")
    .argument("[HOSTFILE]", "host file (default: the bundled examples/default.yaml)")
    .option("--json", "the report as JSON")
    .option("--no-smoke", "skip the guest-to-guest smoke test")
    .option("--twice", "apply the same file again to the booted host and report the second run (it must change nothing)")
    .action(async (hostFile: string | undefined, o: { json?: boolean; smoke: boolean; twice?: boolean }) => {
      try {
        const hf = await loadHost(hostFile);
        let st = boot(hf, { smoke: o.smoke });
        if (o.twice === true) st = boot(hf, { smoke: o.smoke, state: st });
        const r = report(st);
        if (o.json === true) printJson(r);
        else process.stdout.write(renderBootReport(r));
      } catch (e) {
        die(e, o.json === true);
      }
    });

  program
    .command("plan")
    .description("the ordered steps `boot` would take and every warning (group viability, MMIO space, VF limits); boots nothing")
    .argument("<HOSTFILE>", "host file")
    .option("--json", "the plan as JSON")
    .action(async (hostFile: string, o: { json?: boolean }) => {
      try {
        const p = planBoot(await loadHost(hostFile));
        if (o.json === true) printJson(p);
        else {
          const lines: string[] = [color.head(`plan for ${hostFile}: ${p.ok ? "boot would succeed" : "boot would be refused"}`)];
          p.steps.forEach((s, i) => lines.push(`  ${String(i + 1).padStart(2)}. ${s}`));
          if (p.warnings.length > 0) {
            lines.push(color.bold("warnings"));
            for (const w of p.warnings) lines.push(`  ${color.warn("!")} ${w}`);
          }
          process.stdout.write(lines.join("\n") + "\n");
        }
        if (!p.ok) process.exitCode = 1;
      } catch (e) {
        die(e, o.json === true);
      }
    });
}
