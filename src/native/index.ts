/**
 * The data-plane engine: the native addon (node-addon-api, built by cmake-js) when it loaded,
 * else the pure-TypeScript twins. `nativeStatus()` says which one is in use and why.
 */
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { csumPartialTs, rxWritebackTs } from "./dataplane-ts.js";

export interface DataplaneEngine {
  readonly kind: "native" | "ts";
  csumPartial(buf: Uint8Array, off: number, len: number, initial: number): number;
  rxWriteback(ring: Uint8Array, first: number, count: number, ringLen: number, len: number, vlan: number): void;
}

export const tsEngine: DataplaneEngine = { kind: "ts", csumPartial: csumPartialTs, rxWriteback: rxWritebackTs };

interface NativeAddon {
  abi: number;
  csumPartial(buf: Uint8Array, off: number, len: number, initial: number): number;
  rxWriteback(ring: Uint8Array, first: number, count: number, ringLen: number, len: number, vlan: number): void;
}

function findAddon(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, "build", "Release", "pciov_native.node");
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return undefined;
}

let status: { engine: "native" | "ts"; reason: string; path?: string } = { engine: "ts", reason: "not loaded yet" };
let native: DataplaneEngine | undefined;

function load(): DataplaneEngine | undefined {
  if (process.env.PCIOV_NO_NATIVE === "1") {
    status = { engine: "ts", reason: "disabled by PCIOV_NO_NATIVE=1" };
    return undefined;
  }
  const path = findAddon();
  if (path === undefined) {
    status = { engine: "ts", reason: "build/Release/pciov_native.node not found (run npm run build:native)" };
    return undefined;
  }
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    status = { engine: "native", reason: "loaded", path };
    return { kind: "native", csumPartial: addon.csumPartial, rxWriteback: addon.rxWriteback };
  } catch (e) {
    status = { engine: "ts", reason: `load failed: ${(e as Error).message}` };
    return undefined;
  }
}

native = load();

/** The native engine if available, else undefined. */
export function nativeEngine(): DataplaneEngine | undefined {
  return native;
}
/** The engine the data plane uses: native when loaded, else TypeScript. */
export function dataplane(): DataplaneEngine {
  return native ?? tsEngine;
}
export function nativeStatus(): { engine: "native" | "ts"; reason: string; path?: string } {
  return status;
}
