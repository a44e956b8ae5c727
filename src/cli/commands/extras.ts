/** Commands that live in their own modules: the host shell, the backend comparison, the installation and the cost table. */
import type { Command } from "commander";
import { registerShell } from "./shell.js";
import { registerCompare } from "./compare.js";
import { registerInfo } from "./info.js";
import { registerCosts } from "./costs.js";

export function registerExtras(program: Command): void {
  registerShell(program);
  registerCompare(program);
  registerInfo(program);
  registerCosts(program);
}
