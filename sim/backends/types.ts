/**
 * What every backend receives to build itself on a platform, and what it returns to the run.
 */
import type { Guest } from "../../src/hypervisor-glue/guest.js";
import type { CostTable, TimeCostsNs } from "../costs.js";
import type { Core, Workers } from "../model/cpu.js";
import type { CaptureSet } from "../model/capture.js";
import type { GuestApp, GuestKernel } from "../model/guest-kernel.js";
import type { Ledger } from "../model/ledger.js";
import type { Platform } from "../model/platform.js";
import type { RunParams } from "../params.js";

export interface CoreSet {
  readonly guest: readonly Core[];
  readonly host: readonly Core[];
  readonly vhost: readonly Core[];
}

export interface BackendContext {
  readonly p: RunParams;
  readonly platform: Platform;
  readonly workers: Workers;
  readonly cores: CoreSet;
  readonly costs: CostTable;
  readonly t: TimeCostsNs;
  /** ns per byte of an ordinary memory copy (memcpyPerByte at the core clock). */
  readonly copyNsPerByte: number;
  readonly ledger: Ledger;
  readonly capture: CaptureSet | undefined;
  readonly apps: readonly GuestApp[];
  /** Largest frame (no FCS) the traffic creates. */
  readonly maxFrame: number;
}

export interface BackendInstance {
  readonly kernels: readonly GuestKernel[];
  /** The VMs. */
  readonly guests: readonly Guest[];
  /** Dom0, or the host kernel's memory (paravirtual and emulated backends). */
  readonly host: Guest | undefined;
  /** Backend-specific counters for the report (kicks, grant copies, …). */
  counters(): Record<string, number>;
}

/** Guest-physical layout shared by the backends' guest drivers. */
export const GUEST_DATA_BASE = 0x10_0000; // 1 MiB: rings and buffers from here
/** Where a VF's BAR0 (or an emulated device's registers) appear in the guest's physical space. */
export const GUEST_BAR_GPA = 0xf000_0000;
export const GUEST_BAR_SIZE = 0x2_0000;
export const MiB = 1024 * 1024;

/** Guest RAM to hold `dataBytes` of driver memory above GUEST_DATA_BASE, in whole 2 MiB chunks. */
export function guestRamFor(dataBytes: number): number {
  return Math.ceil((GUEST_DATA_BASE + dataBytes) / (2 * MiB)) * 2 * MiB;
}

/** Receive buffer size for frames up to `maxFrame` bytes: 2 KiB, or whole KiB above. */
export function rxBufferFor(maxFrame: number): number {
  return Math.max(2048, Math.ceil(maxFrame / 1024) * 1024);
}

/** Interrupt vectors used by the model's guests and hosts (x86 vector numbers). */
export const GUEST_NET_VECTOR = 0x31;
export const POSTED_NOTIFICATION_VECTOR = 0xf2; // Linux's POSTED_INTR_VECTOR
export const HOST_DEVICE_VECTOR = 0x41;
/** Destination IDs: posted notifications to VM i's vCPU, remapped interrupts for VM i, host cores. */
export const VCPU_DEST_BASE = 0x1000;
export const VM_IRQ_DEST_BASE = 0x2000;
export const HOST_DEST_BASE = 0x3000;
