/** `pciov info`: what this installation runs with — the data-plane engine and the peer tools the tests use. */
import { spawnSync } from "node:child_process";
import type { Command } from "commander";
import { nativeStatus } from "../../native/index.js";
import { printJson, table } from "../output.js";

function tool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error !== undefined || r.status !== 0) return "not found";
  return (r.stdout || r.stderr).split("\n")[0]!.trim();
}

export function registerInfo(program: Command): void {
  program
    .command("info")
    .description("the data-plane engine in use (native addon or TypeScript fallback, and why) and the peer tools found")
    .option("--json", "as JSON")
    .action((o: { json?: boolean }) => {
      const native = nativeStatus();
      const info = {
        node: process.version,
        dataplane: native,
        lspci: tool("lspci", ["--version"]),
        tshark: tool("tshark", ["--version"]),
      };
      if (o.json === true) printJson(info);
      else
        process.stdout.write(
          table(
            ["component", "status"],
            [
              ["node", info.node],
              ["data plane", `${native.engine} (${native.reason})`],
              ["lspci", info.lspci],
              ["tshark", info.tshark],
            ],
          ) + "\n",
        );
    });
}
