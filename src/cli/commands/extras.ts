/** Commands that live in their own modules: the host shell, the backend comparison, the installation, the cost table and the sensitivity to it. */
import type { Command } from "commander";
import { registerShell } from "./shell.js";
import { registerCompare } from "./compare.js";
import { registerInfo } from "./info.js";
import { registerCosts } from "./costs.js";
import { registerSensitivity } from "./sensitivity.js";

export function registerExtras(program: Command): void {
  registerShell(program);
  registerCompare(program);
  registerInfo(program);
  registerCosts(program);
  registerSensitivity(program);
}
