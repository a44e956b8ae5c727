/**
 * Small, fast runs: the base of the simulator's tests and of the monotonicity sweep
 * (tools/monotonicity-sweep.ts): 4 guest cores, 2 host and 2 vhost cores, 2 PF queues, 128-entry
 * rings, a 64 KiB TCP window, 100 µs of warm-up and 400 µs measured unless asked otherwise.
 */
import { DEFAULT_HOST, DEFAULT_RUN, type BackendName, type RunParams } from "./params.js";
import type { Direction, TrafficKind, TrafficSpec } from "./traffic.js";

export interface Small {
  backend?: BackendName;
  vms?: number;
  kind?: TrafficKind;
  direction?: Direction;
  frameBytes?: number;
  rateMbps?: number;
  measureUs?: number;
  seed?: number;
  costs?: Record<string, number>;
  traffic?: Partial<TrafficSpec>;
  host?: Partial<RunParams["host"]>;
  sriov?: Partial<RunParams["sriov"]>;
  xen?: Partial<RunParams["xen"]>;
  virtio?: Partial<RunParams["virtio"]>;
  e1000?: Partial<RunParams["e1000"]>;
}

export function small(o: Small = {}): RunParams {
  return {
    ...DEFAULT_RUN,
    backend: o.backend ?? "sriov",
    vms: o.vms ?? 2,
    seed: o.seed ?? 1,
    warmupUs: 100,
    measureUs: o.measureUs ?? 400,
    drainUs: 20000,
    costs: o.costs ?? {},
    host: { ...DEFAULT_HOST, guestCores: 4, hostCores: 2, vhostCores: 2, hostQueues: 2, ringEntries: 128, ...o.host },
    sriov: { ...DEFAULT_RUN.sriov, ...o.sriov },
    xen: { ...DEFAULT_RUN.xen, ...o.xen },
    virtio: { ...DEFAULT_RUN.virtio, ...o.virtio },
    e1000: { ...DEFAULT_RUN.e1000, ...o.e1000 },
    traffic: {
      ...DEFAULT_RUN.traffic,
      kind: o.kind ?? "udp",
      direction: o.direction ?? "tx",
      frameBytes: o.frameBytes ?? 512,
      rateMbps: o.rateMbps ?? 0,
      windowBytes: 64 * 1024,
      ...o.traffic,
    },
  };
}

export const ALL_BACKENDS: readonly BackendName[] = ["sriov", "xen-pv", "virtio", "e1000"];
