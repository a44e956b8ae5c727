/** Commands that live in their own modules: the host shell and the backend comparison. */
import type { Command } from "commander";
import { registerShell } from "./shell.js";
import { registerCompare } from "./compare.js";
import { registerInfo } from "./info.js";

export function registerExtras(program: Command): void {
  registerShell(program);
  registerCompare(program);
  registerInfo(program);
}
