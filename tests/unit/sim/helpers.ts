/** Small, fast runs for the simulator's tests (the same base as the monotonicity sweep). */
export { ALL_BACKENDS, small, type Small } from "../../../sim/small.js";
