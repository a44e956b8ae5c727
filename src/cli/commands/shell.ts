/** `pciov shell` (interactive) and `pciov exec` (one-shot, for scripts) on a simulated host. */
import { createInterface } from "node:readline";
import type { Command } from "commander";
import { SimHost } from "../../config/host.js";
import { boot } from "../../config/boot.js";
import { HostShell, type ShellResult } from "../shell.js";
import { die, loadHost } from "../load.js";
import { printJson } from "../output.js";

/** The host as Linux would have it after boot: enumerated, PF drivers loaded, no VFs yet (unless --boot). */
async function shellHost(hostFile: string | undefined, booted: boolean): Promise<SimHost> {
  const hf = await loadHost(hostFile);
  if (booted) return boot(hf, { smoke: false }).host;
  const host = new SimHost(hf);
  host.enumerateAndProbe();
  return host;
}

export function registerShell(program: Command): void {
  program
    .command("shell")
    .description("an interactive prompt on the simulated host: lspci, cat/echo on sysfs (sriov_numvfs ...), ip link")
    .argument("[HOSTFILE]", "host file (default: the bundled examples/default.yaml)")
    .option("--boot", "boot the host file first (VFs enabled and assigned)")
    .action(async (hostFile: string | undefined, o: { boot?: boolean }) => {
      let sh: HostShell;
      try {
        sh = new HostShell(await shellHost(hostFile, o.boot === true));
      } catch (e) {
        die(e);
      }
      const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: "pciov# ", terminal: process.stdin.isTTY === true });
      rl.prompt();
      for await (const line of rl) {
        if (/^\s*(exit|quit|logout)\s*$/.test(line)) break;
        const r = await sh.run(line);
        process.stdout.write(r.stdout);
        process.stderr.write(r.stderr);
        rl.prompt();
      }
      rl.close();
    });

  program
    .command("exec")
    .description("run shell commands on the simulated host, e.g. pciov exec 'echo 8 > /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs' 'lspci -vvv -s 01:00.0'")
    .argument("<COMMAND...>", "command lines, run in order on one host")
    .option("--host <HOSTFILE>", "host file (default: the bundled examples/default.yaml)")
    .option("--boot", "boot the host file first (VFs enabled and assigned)")
    .option("--json", "results as JSON: [{command, stdout, stderr, code}]")
    .action(async (commands: string[], o: { host?: string; boot?: boolean; json?: boolean }) => {
      let sh: HostShell;
      try {
        sh = new HostShell(await shellHost(o.host, o.boot === true));
      } catch (e) {
        die(e, o.json === true);
      }
      const results: Array<ShellResult & { command: string }> = [];
      for (const c of commands) {
        const r = await sh.run(c);
        results.push({ command: c, ...r });
        if (o.json !== true) {
          process.stdout.write(r.stdout);
          process.stderr.write(r.stderr);
        }
      }
      if (o.json === true) printJson(results);
      process.exitCode = results.find((r) => r.code !== 0)?.code ?? 0;
    });
}
