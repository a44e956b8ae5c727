/**
 * Which MSI-X vector serves which cause, decided by the VF driver from the vectors its MSI-X
 * capability offers and the queues the PF granted (igbvf_set_interrupt_capability /
 * igbvf_assign_vector, ixgbevf_map_rings_to_vectors):
 * - enough vectors for 2·Q + 1: one per RX ring, one per TX ring, then "other" (igbvf's 3-vector
 *   layout for one queue pair: RX 0, TX 1, mailbox 2);
 * - fewer: RX and TX of a pair share a vector (ixgbevf's combined TxRx vectors), queues spread over
 *   what there is, the last used vector takes "other";
 * - one vector: everything on it.
 */
import { MAX_EICR_VECTORS } from "../nic/regs.js";

export interface VectorPlan {
  /** Vectors used: MSI-X entries 0..used-1. */
  readonly used: number;
  /** Vector of each queue's RX / TX cause (index = queue). */
  readonly rxVector: readonly number[];
  readonly txVector: readonly number[];
  /** Vector of the "other" cause (mailbox, link). */
  readonly miscVector: number;
  /** Per vector: bit q set when RX / TX of queue q is served by it. */
  readonly rxQueues: readonly number[];
  readonly txQueues: readonly number[];
  readonly style: "split" | "paired" | "single";
}

/** Plan for `entries` MSI-X table entries (capped at the 32 EICR bits) and `queues` queue pairs (1..16). */
export function planVectors(entries: number, queues: number): VectorPlan {
  const e = Math.min(entries, MAX_EICR_VECTORS);
  const rxVector: number[] = [];
  const txVector: number[] = [];
  let used: number;
  let miscVector: number;
  let style: VectorPlan["style"];
  if (e >= 2 * queues + 1) {
    for (let q = 0; q < queues; q++) {
      rxVector.push(q);
      txVector.push(queues + q);
    }
    miscVector = 2 * queues;
    used = 2 * queues + 1;
    style = "split";
  } else if (e >= 2) {
    const k = Math.min(queues, e - 1);
    for (let q = 0; q < queues; q++) {
      rxVector.push(q % k);
      txVector.push(q % k);
    }
    miscVector = k;
    used = k + 1;
    style = "paired";
  } else {
    for (let q = 0; q < queues; q++) {
      rxVector.push(0);
      txVector.push(0);
    }
    miscVector = 0;
    used = 1;
    style = "single";
  }
  const rxQueues = new Array<number>(used).fill(0);
  const txQueues = new Array<number>(used).fill(0);
  for (let q = 0; q < queues; q++) {
    rxQueues[rxVector[q]!] = rxQueues[rxVector[q]!]! | (1 << q);
    txQueues[txVector[q]!] = txQueues[txVector[q]!]! | (1 << q);
  }
  return { used, rxVector, txVector, miscVector, rxQueues, txQueues, style };
}

/** Bit mask of vectors 0..used-1 (for EIMS / EIAC / EIAM). */
export const vectorMask = (used: number): number => (used >= 32 ? 0xffffffff : (1 << used) - 1) >>> 0;
