/**
 * The host: physical memory, where host RAM lives in the physical address map, and the guests
 * created on it. Guest RAM comes from host RAM in 2 MiB chunks; creation fails with ENOMEM
 * (naming what is left) and destruction returns the chunks.
 */
import { IovError } from "../errors.js";
import { PhysMem } from "../memory/physmem.js";
import { RangeAllocator } from "../memory/alloc.js";
import { Guest, GUEST_CHUNK, type HostMmio } from "./guest.js";

/** Host physical address map of the model (x86-like). */
export const HOST_MAP = {
  /** Hypervisor-private memory: IOMMU tables, IRTEs, posted descriptors, rings of host drivers. */
  privateBase: 0x0100_0000, // 16 MiB
  privateLimit: 0x4000_0000, // 1 GiB
  /** 32-bit MMIO window for non-prefetchable BARs and bridge windows. */
  mmio32Base: 0xc000_0000,
  mmio32Limit: 0xfec0_0000,
  /** Host RAM handed to guests starts at 4 GiB. */
  ramBase: 0x1_0000_0000,
  /** 64-bit MMIO window for prefetchable 64-bit BARs (VF BARs), far above RAM. */
  mmio64Base: 0x100_0000_0000, // 1 TiB
  mmio64Limit: 0x200_0000_0000,
} as const;

export interface HypervisorOptions {
  hostMemoryBytes: number;
  cpus: number;
}

export class Hypervisor {
  readonly mem = new PhysMem();
  readonly ram: RangeAllocator;
  readonly priv: RangeAllocator;
  readonly guests: Guest[] = [];
  private nextId = 1;

  constructor(readonly opts: HypervisorOptions, private readonly hostMmio?: HostMmio) {
    this.ram = new RangeAllocator(HOST_MAP.ramBase, HOST_MAP.ramBase + opts.hostMemoryBytes, "host RAM");
    this.priv = new RangeAllocator(HOST_MAP.privateBase, HOST_MAP.privateLimit, "hypervisor private memory");
  }

  /** Bytes of host RAM not backing any guest. */
  get freeRamBytes(): number {
    return this.opts.hostMemoryBytes - this.usedRam;
  }
  private usedRam = 0;

  createGuest(name: string, memoryBytes: number, vcpus: number): Guest {
    if (this.guests.some((g) => g.name === name)) throw new IovError("EEXIST", `guest ${name} already exists`);
    if (!Number.isSafeInteger(memoryBytes) || memoryBytes <= 0) throw new IovError("EINVAL", `guest ${name}: memory must be positive`);
    if (!Number.isInteger(vcpus) || vcpus < 1) throw new IovError("EINVAL", `guest ${name}: needs at least one vCPU`);
    const n = Math.ceil(memoryBytes / GUEST_CHUNK);
    const chunks: number[] = [];
    try {
      for (let i = 0; i < n; i++) chunks.push(this.ram.alloc(GUEST_CHUNK, GUEST_CHUNK));
    } catch (e) {
      for (const c of chunks.reverse()) this.ram.release(c, GUEST_CHUNK);
      throw new IovError("ENOMEM", `guest ${name}: needs ${memoryBytes} B of RAM, host has ${this.freeRamBytes} B free`, {
        need: memoryBytes,
        cause: (e as Error).message,
      });
    }
    this.usedRam += n * GUEST_CHUNK;
    const g = new Guest(this.nextId++, name, memoryBytes, vcpus, this.mem, chunks, this.hostMmio);
    this.guests.push(g);
    return g;
  }

  destroyGuest(g: Guest): void {
    const i = this.guests.indexOf(g);
    if (i < 0) return;
    this.guests.splice(i, 1);
    this.usedRam -= g.ramChunks.length * GUEST_CHUNK;
    for (const c of g.ramChunks) {
      this.ram.release(c, GUEST_CHUNK);
      this.mem.discard(c, GUEST_CHUNK);
    }
  }

  guest(name: string): Guest {
    const g = this.guests.find((x) => x.name === name);
    if (g === undefined) throw new IovError("ENOENT", `no guest named ${name}`);
    return g;
  }
}
