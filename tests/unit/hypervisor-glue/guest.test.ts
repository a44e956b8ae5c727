import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Hypervisor, HOST_MAP } from "../../../src/hypervisor-glue/hypervisor.js";
import { GUEST_CHUNK } from "../../../src/hypervisor-glue/guest.js";
import { totalExits } from "../../../src/hypervisor-glue/exits.js";
import { isIovError } from "../../../src/errors.js";

const GiB = 2 ** 30;

describe("guests", () => {
  it("guest RAM is backed by disjoint host chunks inside host RAM", () => {
    const hv = new Hypervisor({ hostMemoryBytes: 8 * GiB, cpus: 8 });
    const a = hv.createGuest("a", 1 * GiB, 2);
    const b = hv.createGuest("b", 512 * 2 ** 20, 1);
    const seen = new Set<number>();
    for (const g of [a, b])
      for (const c of g.ramChunks) {
        expect(c % GUEST_CHUNK).toBe(0);
        expect(c).toBeGreaterThanOrEqual(HOST_MAP.ramBase);
        expect(c + GUEST_CHUNK).toBeLessThanOrEqual(HOST_MAP.ramBase + 8 * GiB);
        expect(seen.has(c)).toBe(false);
        seen.add(c);
      }
    expect(hv.freeRamBytes).toBe(8 * GiB - 1.5 * GiB);
  });

  it("a guest's writes land only in its own host pages", () => {
    const hv = new Hypervisor({ hostMemoryBytes: 1 * GiB, cpus: 4 });
    const a = hv.createGuest("a", 64 * 2 ** 20, 1);
    const b = hv.createGuest("b", 64 * 2 ** 20, 1);
    fc.assert(
      fc.property(fc.nat({ max: 64 * 2 ** 20 - 4 }), fc.nat({ max: 0xffffffff }), (gpa, v) => {
        const before = b.read32(gpa);
        a.write32(gpa, v);
        expect(a.read32(gpa)).toBe(v >>> 0);
        expect(hv.mem.read32(a.gpaToHpa(gpa))).toBe(v >>> 0);
        expect(b.read32(gpa)).toBe(before);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses a guest larger than free host RAM with ENOMEM naming what is left, and frees on destroy", () => {
    const hv = new Hypervisor({ hostMemoryBytes: 2 * GiB, cpus: 4 });
    const a = hv.createGuest("a", 1.5 * GiB, 1);
    let e: unknown;
    try {
      hv.createGuest("b", 1 * GiB, 1);
    } catch (x) {
      e = x;
    }
    expect(isIovError(e, "ENOMEM")).toBe(true);
    expect((e as Error).message).toContain(`${0.5 * GiB} B free`);
    expect(hv.guests.length).toBe(1);
    hv.destroyGuest(a);
    expect(hv.createGuest("b", 1 * GiB, 1).memoryBytes).toBe(GiB);
  });

  it("directly mapped device memory costs no exit; trapped regions cost one per access", () => {
    const writes: Array<[number, number]> = [];
    const hv = new Hypervisor({ hostMemoryBytes: 1 * GiB, cpus: 1 }, {
      memRead: () => 0,
      memWrite: (addr, _s, v) => void writes.push([addr, v]),
    });
    const g = hv.createGuest("g", 256 * 2 ** 20, 1);
    g.mapDirect("vf-bar0", 0xf000_0000, 0x4000, 0x100_0000_0000);
    let trapped = 0;
    g.mapTrap("e1000", 0xf100_0000, 0x20000, { read: () => 0, write: () => void trapped++ });
    for (let i = 0; i < 100; i++) g.mmioWrite(0xf000_0000 + 0x3818, 4, i);
    expect(totalExits(g.exits)).toBe(0);
    expect(writes.length).toBe(100);
    expect(writes[5]).toEqual([0x100_0000_0000 + 0x3818, 5]);
    for (let i = 0; i < 10; i++) g.mmioWrite(0xf100_0000 + 0x3818, 4, i);
    expect(g.exits.mmio).toBe(10);
    expect(trapped).toBe(10);
  });

  it("interrupts: posted to a running vCPU cost no exits; injected ones cost an exit and an EOI exit", () => {
    const hv = new Hypervisor({ hostMemoryBytes: 1 * GiB, cpus: 1 });
    const g = hv.createGuest("g", 64 * 2 ** 20, 2);
    let seen = 0;
    g.onInterrupt(0x41, () => void seen++);
    g.deliverInterrupt(0, 0x41, true);
    expect(totalExits(g.exits)).toBe(0);
    g.deliverInterrupt(1, 0x41, false);
    expect(g.exits.interrupt).toBe(1);
    expect(g.exits.eoi).toBe(1);
    g.vcpus[0]!.running = false;
    g.deliverInterrupt(0, 0x41, true);
    expect(g.exits.interrupt).toBe(2);
    expect(seen).toBe(3);
  });
});
