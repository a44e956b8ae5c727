/** The `pciov` command: parse, call, print. */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { registerLspci } from "./commands/lspci.js";
import { registerBoot } from "./commands/boot.js";
import { registerTemplates } from "./commands/templates.js";
import { registerExtras } from "./commands/extras.js";
import { EXIT_USAGE } from "./output.js";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("pciov")
    .description("SR-IOV/MR-IOV I/O virtualization manager and PCIe device model")
    .version(pkg.version)
    .showHelpAfterError()
    .exitOverride();
  registerLspci(program);
  registerBoot(program);
  registerTemplates(program);
  registerExtras(program);
  return program;
}

// A reader that stops early (`pciov costs | head`) closes the pipe: stop quietly, as Unix tools do.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

try {
  await buildProgram().parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : EXIT_USAGE);
  throw e;
}
