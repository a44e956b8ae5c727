/** `pciov templates`: the NIC templates and where their values come from. */
import type { Command } from "commander";
import { NIC_TEMPLATES } from "../../nic/templates/catalog.js";
import { printJson, table } from "../output.js";

export function registerTemplates(program: Command): void {
  program
    .command("templates")
    .description("list the NIC templates (IDs, SR-IOV geometry, BARs) and their sources")
    .option("--json", "as JSON")
    .action((o: { json?: boolean }) => {
      const rows = NIC_TEMPLATES.map((t) => ({
        name: t.name,
        description: t.description,
        pf: `${t.vendorId.toString(16).padStart(4, "0")}:${t.deviceId.toString(16).padStart(4, "0")}`,
        vf: `${t.vendorId.toString(16).padStart(4, "0")}:${t.vfDeviceId.toString(16).padStart(4, "0")}`,
        ports: t.ports,
        totalVfs: t.totalVfs,
        offsetStride: t.offsetStrideRule,
        vfBars: t.vfBars.map((b) => `BAR${b.index} ${b.size / 1024} KiB ${b.kind}${b.prefetchable ? " pref" : ""}`),
        link: `${t.linkSpeed} x${t.linkWidth}`,
        sources: t.sources,
      }));
      if (o.json === true) printJson(rows);
      else process.stdout.write(table(["template", "PF", "VF", "ports", "TotalVFs", "offset/stride", "link"], rows.map((r) => [r.name, r.pf, r.vf, r.ports, r.totalVfs, r.offsetStride, r.link])) + "\n");
    });
}
