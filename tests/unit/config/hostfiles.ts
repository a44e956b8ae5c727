/** Shared by the config tests: fixture paths and the inventory the fixtures are written against. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ConfigError, formatIssue } from "../../../src/config/issues.js";
import type { Inventory } from "../../../src/config/validate.js";

export const FIXTURES = fileURLToPath(new URL("../../fixtures/hostfiles/", import.meta.url));
export const GOOD = `${FIXTURES}good/`;
export const BAD = `${FIXTURES}bad/`;

export const readFixture = (path: string): string => readFileSync(path, "utf8");

export const GiB = 2 ** 30;

/** What building tests/fixtures/hostfiles/good/default.yaml's fabric yields. */
export const INVENTORY: Inventory = {
  hostMemoryBytes: 64 * GiB,
  pfs: [
    { bdf: "0000:01:00.0", vendorId: 0x8086, vfDeviceId: 0x10ca, totalVfs: 7, vfMsixVectors: 3 }, // 82576
    { bdf: "04:00.0", vendorId: 0x8086, vfDeviceId: 0x1889, totalVfs: 128, vfMsixVectors: 17 }, // E810 (short form on purpose)
    { bdf: "0000:05:00.0", vendorId: 0x8086, vfDeviceId: 0x10ca, totalVfs: 7 }, // the dumped 82576
    { bdf: "0000:00:04.0", vendorId: 0x8086, vfDeviceId: 0x154c, totalVfs: 64 }, // X710, integrated
  ],
};

/** The formatted issues of a ConfigError thrown by `f`; fails the test on anything else. */
export function issuesOf(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map(formatIssue);
    throw e;
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}
