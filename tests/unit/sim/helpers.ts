/** Small, fast runs for the simulator's tests (the same base as the monotonicity sweep). */
export { ALL_BACKENDS, small, type Small } from "../../../sim/small.js";

import { IovError } from "../../../src/errors.js";

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
