/**
 * Per-function counters (IFLA_VF_STATS plus drop reasons and device events), kept in one
 * Float64Array per function so the data plane counts without allocating. `stats()` turns them into
 * named fields for the control plane.
 */

export type DropReason = "spoof" | "vlan" | "link-down" | "no-buffer" | "dma-fault" | "oversize" | "runt";
export const DROP_REASONS: readonly DropReason[] = ["spoof", "vlan", "link-down", "no-buffer", "dma-fault", "oversize", "runt"];

export const C_RX_PACKETS = 0;
export const C_RX_BYTES = 1;
export const C_RX_BROADCAST = 2;
export const C_RX_MULTICAST = 3;
export const C_TX_PACKETS = 4;
export const C_TX_BYTES = 5;
export const C_TX_BROADCAST = 6;
export const C_TX_MULTICAST = 7;
export const C_RX_LB_PACKETS = 8; // received from another function of this NIC (hairpin)
export const C_RX_LB_BYTES = 9;
export const C_TX_LB_PACKETS = 10; // delivered to at least one other function of this NIC
export const C_TX_LB_BYTES = 11;
export const C_RX_DROPPED = 12;
export const C_TX_DROPPED = 13;
export const C_DROP_SPOOF = 14;
export const C_DROP_VLAN = 15;
export const C_DROP_LINK_DOWN = 16;
export const C_DROP_NO_BUFFER = 17;
export const C_DROP_DMA_FAULT = 18;
export const C_DROP_OVERSIZE = 19;
export const C_DROP_RUNT = 20;
export const C_DMA_FAULTS = 21; // translations refused (one frame can cause one)
export const C_TX_QUEUE_STOPS = 22; // TX queues disabled by the device (malicious-driver detection)
export const C_RATE_STALLS = 23; // times a TX queue waited for rate tokens
export const C_MSIX_MESSAGES = 24; // MSI-X messages sent
export const C_MSIX_PENDED = 25; // messages held in the PBA because the vector was masked
export const C_RESETS = 26; // function resets (CTRL.RST or FLR)
export const C_COUNT = 27;

/** Counter index of each drop reason. */
export const DROP_INDEX: Readonly<Record<DropReason, number>> = {
  spoof: C_DROP_SPOOF,
  vlan: C_DROP_VLAN,
  "link-down": C_DROP_LINK_DOWN,
  "no-buffer": C_DROP_NO_BUFFER,
  "dma-fault": C_DROP_DMA_FAULT,
  oversize: C_DROP_OVERSIZE,
  runt: C_DROP_RUNT,
};

export interface NicFnStats {
  rxPackets: number;
  rxBytes: number;
  rxBroadcast: number;
  rxMulticast: number;
  txPackets: number;
  txBytes: number;
  txBroadcast: number;
  txMulticast: number;
  rxLoopbackPackets: number;
  rxLoopbackBytes: number;
  txLoopbackPackets: number;
  txLoopbackBytes: number;
  rxDropped: number;
  txDropped: number;
  drops: Record<DropReason, number>;
  dmaFaults: number;
  txQueueStops: number;
  rateStalls: number;
  msixMessages: number;
  msixPended: number;
  resets: number;
}

export function statsOf(c: Float64Array): NicFnStats {
  const drops = {} as Record<DropReason, number>;
  for (const r of DROP_REASONS) drops[r] = c[DROP_INDEX[r]]!;
  return {
    rxPackets: c[C_RX_PACKETS]!,
    rxBytes: c[C_RX_BYTES]!,
    rxBroadcast: c[C_RX_BROADCAST]!,
    rxMulticast: c[C_RX_MULTICAST]!,
    txPackets: c[C_TX_PACKETS]!,
    txBytes: c[C_TX_BYTES]!,
    txBroadcast: c[C_TX_BROADCAST]!,
    txMulticast: c[C_TX_MULTICAST]!,
    rxLoopbackPackets: c[C_RX_LB_PACKETS]!,
    rxLoopbackBytes: c[C_RX_LB_BYTES]!,
    txLoopbackPackets: c[C_TX_LB_PACKETS]!,
    txLoopbackBytes: c[C_TX_LB_BYTES]!,
    rxDropped: c[C_RX_DROPPED]!,
    txDropped: c[C_TX_DROPPED]!,
    drops,
    dmaFaults: c[C_DMA_FAULTS]!,
    txQueueStops: c[C_TX_QUEUE_STOPS]!,
    rateStalls: c[C_RATE_STALLS]!,
    msixMessages: c[C_MSIX_MESSAGES]!,
    msixPended: c[C_MSIX_PENDED]!,
    resets: c[C_RESETS]!,
  };
}

/** Counters of the uplink (wire) port. */
export interface NicWireStats {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  /** Frames from the wire that no function's filter took. */
  rxUnmatched: number;
  /** Frames not sent or not received because the wire link was down. */
  linkDownDrops: number;
  /** Frames from the wire outside 14..MAX_FRAME bytes. */
  rxMalformed: number;
}
