/** Small, fast runs for the simulator's tests (the same base as the monotonicity sweep). */
export { ALL_BACKENDS, small, type Small } from "../../../sim/small.js";

import fc from "fast-check";
import { IovError } from "../../../src/errors.js";
import { ALL_BACKENDS, small } from "../../../sim/small.js";
import type { RunParams } from "../../../sim/params.js";

/**
 * Random small runs: any backend, UDP / TCP / request-response, TX / RX / guest to guest, `vms` VMs,
 * a frame size of 64..9018 B and a rate (0: as fast as possible), measured for `measureUs`.
 */
export function anySmallRun(vms: { min: number; max: number }, measureUs: number): fc.Arbitrary<RunParams> {
  return fc
    .tuple(
      fc.constantFrom(...ALL_BACKENDS),
      fc.constantFrom("udp" as const, "tcp" as const, "rr" as const),
      fc.constantFrom("tx" as const, "rx" as const, "g2g" as const),
      fc.integer(vms),
      fc.integer({ min: 64, max: 9018 }),
      fc.constantFrom(0, 200, 3000),
    )
    .map(([backend, kind, direction, n, frameBytes, rateMbps]) => small({ backend, kind, direction, vms: n, frameBytes, rateMbps, measureUs }));
}

/** The IovError `fn` throws (anything else thrown goes on; not throwing fails the test). */
export function catchErr(fn: () => unknown): IovError {
  try {
    fn();
  } catch (e) {
    if (e instanceof IovError) return e;
    throw e;
  }
  throw new Error("expected an IovError");
}
