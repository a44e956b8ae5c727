/** Commands contributed by other modules (shell/exec, compare), registered when present. */
import type { Command } from "commander";

export function registerExtras(program: Command): void {
  void program;
}
