/**
 * The VF driver's public shapes: what it is given, what probe reports, what it counts.
 */
import type { Guest } from "../hypervisor-glue/guest.js";
import type { ConfigAccess } from "../pcie/function.js";
import type { MbxApiVersion } from "../nic/mailbox-proto.js";
import type { Mac } from "../nic/port-config.js";
import type { MailboxClientOptions, MbxClientError } from "./mailbox-client.js";

/** The guest's view of the VF's configuration space (config cycles; what the hypervisor shows). */
export type VfConfigAccess = ConfigAccess;

export interface VfDriverOptions {
  /** Descriptors per TX / RX ring: a multiple of 8 in 8..4096 (igbvf's limits). */
  readonly txRing: number;
  readonly rxRing: number;
  /** Bytes per packet buffer: a multiple of 1024 in 1024..16384 (SRRCTL.BSIZEPKT is in KiB). */
  readonly bufSize: number;
  /** Queue pairs wanted (1..16); the PF may grant fewer (GET_QUEUES, API 1.1+). */
  readonly queues: number;
  /** MAC to use when the PF assigns none (default: a locally administered one derived from the guest). */
  readonly mac?: Mac;
  /** Largest RX frame to ask the PF for (E1000_VF_SET_LPE); at most bufSize. Default: the PF's (1522). */
  readonly maxFrame?: number;
  /** Interrupt throttle for queue vectors, µs (EITR; 0 = none, the default). */
  readonly itrUs?: number;
  /** Descriptors one interrupt-driven RX poll round may take (NAPI weight, default 64). */
  readonly napiBudget?: number;
  /** Mailbox polling interval and timeout (default igbvf's 500 µs / 1 s). */
  readonly mailbox?: MailboxClientOptions;
}

export interface VfDriverInit {
  readonly guest: Guest;
  readonly cfg: VfConfigAccess;
  /** Guest-physical addresses where the hypervisor put the VF's BAR0 and the BAR holding the MSI-X table. */
  readonly bar0Gpa: number;
  readonly msixBarGpa: number;
  /** Guest RAM the driver owns for rings and buffers (DMA addresses are GPAs: IOVA = GPA). */
  readonly dmaBaseGpa: number;
  readonly dmaBytes: number;
  /**
   * What the guest OS programs into MSI-X entry n: address `msiAddress`, data `msiDataBase + n`.
   * The guest sees entry n as interrupt vector (msiDataBase + n) & 0xff (x86 MSI data bits 7:0).
   */
  readonly msiAddress: number;
  readonly msiDataBase: number;
  readonly options: VfDriverOptions;
  /** The guest kernel's delay (udelay): lets simulated time pass while the driver polls the mailbox. */
  readonly delay?: (ns: number) => void;
}

export type VfProbeStep = "config" | "msix" | "reset" | "mailbox" | "mac" | "queues" | "rings" | "interrupts";

export interface VfProbeInfo {
  /** IDs as the guest's config space reports them (a bare VF reads 0xFFFF; a hypervisor shows real ones). */
  readonly vendorId: number;
  readonly deviceId: number;
  /** Where the capability walk found MSI-X, and the table size it reports. */
  readonly msixCap: number;
  readonly msixEntries: number;
  readonly vectorsUsed: number;
  readonly vectorStyle: "split" | "paired" | "single";
  readonly mac: Mac;
  /** "pf": assigned by the administrator through the PF; "driver": chosen here and accepted by SET_MAC. */
  readonly macSource: "pf" | "driver";
  readonly apiVersion: MbxApiVersion;
  readonly queues: number;
  /** The PF inserts/strips a port VLAN (from GET_QUEUES; false when not asked). */
  readonly portVlan: boolean;
  readonly linkUp: boolean;
}

export type VfProbeResult =
  | { readonly ok: true; readonly info: VfProbeInfo }
  | { readonly ok: false; readonly step: VfProbeStep; readonly reason: string; readonly mailbox?: MbxClientError };

/** What the ring driver counts (one object, updated in place). */
export interface RingCounters {
  /** Frames accepted by xmit, and completed by the device (DD written back) with their bytes. */
  txQueued: number;
  txPackets: number;
  txBytes: number;
  /** xmit refused: no free descriptors. */
  txRingFull: number;
  /** xmit refused: bad length or queue (or, counted by the VF driver, a driver that is not up). */
  txInvalid: number;
  /** TDT writes (one per kicked queue) and RDT writes (one per queue a poll took descriptors from). */
  txDoorbells: number;
  rxDoorbells: number;
  rxPackets: number;
  rxBytes: number;
  /** Write-backs not handed up: a frame spanning buffers (unless rxChains), or a length of 0 or > bufSize. */
  rxErrors: number;
  /** poll / pollCopy rounds (called directly or, in the VF driver, from an interrupt). */
  rxPolls: number;
}

/** What the VF driver counts: its rings' counters and its own (one object, updated in place). */
export interface VfDriverCounters extends RingCounters {
  /** MSI-X interrupts taken, and per cause served. */
  interrupts: number;
  irqRx: number;
  irqTx: number;
  irqMisc: number;
  /** Every MMIO access the driver made on its BARs (each is one exit when the BAR is trapped). */
  mmioReads: number;
  mmioWrites: number;
  /** PF notifications read from the mailbox, link transitions seen, reset requests from the PF. */
  mailboxNotifications: number;
  linkChanges: number;
  resetRequests: number;
}

export function newVfDriverCounters(): VfDriverCounters {
  return {
    txQueued: 0,
    txPackets: 0,
    txBytes: 0,
    txRingFull: 0,
    txInvalid: 0,
    txDoorbells: 0,
    rxDoorbells: 0,
    rxPackets: 0,
    rxBytes: 0,
    rxErrors: 0,
    rxPolls: 0,
    interrupts: 0,
    irqRx: 0,
    irqTx: 0,
    irqMisc: 0,
    mmioReads: 0,
    mmioWrites: 0,
    mailboxNotifications: 0,
    linkChanges: 0,
    resetRequests: 0,
  };
}

/** Receives a frame: its buffer's GPA and length. The bytes are valid until the poll returns. */
export type RxHandler = (gpa: number, len: number) => void;
