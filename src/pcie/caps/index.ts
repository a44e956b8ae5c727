/**
 * Registry of every capability table the model knows, so that decoders (JSON, lspci text, dump
 * import) can name the registers of any capability found while walking a chain.
 * Filled by the capability modules in this folder.
 */
import type { CapDef } from "../regs.js";

export const CAP_DEFS: readonly CapDef[] = [];

/** The table for capability `id` in the standard (extended=false) or extended chain. */
export function findCapDef(id: number, extended: boolean): CapDef | undefined {
  return CAP_DEFS.find((d) => d.id === id && d.extended === extended);
}
