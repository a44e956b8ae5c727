import { describe, expect, it } from "vitest";
import { runOnce } from "../../../sim/run.js";
import { parseScenario } from "../../../sim/scenario.js";
import { runCompare } from "../../../sim/compare.js";
import { ALL_BACKENDS, small } from "./helpers.js";

describe("determinism: the same scenario and seed give identical results", () => {
  for (const backend of ALL_BACKENDS)
    it(`${backend}: two runs, identical JSON`, () => {
      const p = small({ backend, kind: "tcp", direction: "rx", vms: 3 });
      expect(JSON.stringify(runOnce(p))).toBe(JSON.stringify(runOnce(p)));
    });

  it("a scenario sweep twice: identical reports", () => {
    const sc = parseScenario(
      ["name: t", "backends: [sriov, virtio]", "vms: [1, 2]", "traffic: { kind: udp, direction: g2g }", "run: { warmupUs: 50, measureUs: 200 }"].join("\n").replace("vms: [1, 2]", "vms: [2, 3]"),
      "t.yaml",
    );
    const a = runCompare(sc, { seed: 5 });
    const b = runCompare(sc, { seed: 5 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.points).toHaveLength(4);
  });
});
