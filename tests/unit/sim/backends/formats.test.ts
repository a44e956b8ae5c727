import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Hypervisor } from "../../../../src/hypervisor-glue/hypervisor.js";
import { VringDevice, VringDriver, vringLayout, vringNeedEvent } from "../../../../sim/backends/virtio/vring.js";
import { GrantOps, GrantTable, GNTST_okay, GNTST_permission_denied } from "../../../../sim/backends/xen/grant.js";
import { SharedRing, TX_SLOT, needNotify, ringSize, writeTxRequest } from "../../../../sim/backends/xen/netif.js";
import { E1000Device } from "../../../../sim/backends/e1000/device.js";
import { E1000_IMS, E1000_TDBAL, E1000_TDLEN, E1000_TDT, E1000_TXD_CMD_EOP, E1000_TXD_CMD_RS } from "../../../../sim/backends/e1000/regs.js";

const MiB = 2 ** 20;
const mkGuest = () => {
  const hv = new Hypervisor({ hostMemoryBytes: 256 * MiB, cpus: 2 });
  return { hv, g: hv.createGuest("g", 16 * MiB, 1), dom0: hv.createGuest("dom0", 16 * MiB, 1) };
};

describe("virtio split virtqueue", () => {
  it("vring_need_event matches its definition over the 16-bit wrap", () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffff }), fc.nat({ max: 0xffff }), fc.nat({ max: 300 }), (ev, old, add) => {
        const nw = (old + add) & 0xffff;
        // notify iff ev lies in [old, new) modulo 2^16
        const inWindow = ((ev - old) & 0xffff) < add;
        expect(vringNeedEvent(ev, nw, old)).toBe(inWindow);
      }),
    );
  });

  it("TX frames travel driver → device with real bytes; the device's event index suppresses kicks while busy", () => {
    const { g } = mkGuest();
    const L = vringLayout(0x10000, 256);
    const drv = new VringDriver(g, L, 0x100000, 2048);
    const dev = new VringDevice(g, L);
    dev.enableNotify();
    const frame = Uint8Array.from({ length: 60 }, (_, i) => i + 1);
    expect(drv.addOutbuf(frame, 60)).toBe(true);
    expect(drv.kickPrepare()).toBe(true); // device idle: asked for a kick
    dev.disableNotify(); // vhost busy-polling
    for (let i = 0; i < 10; i++) drv.addOutbuf(frame, 60);
    expect(drv.kickPrepare()).toBe(false);
    const out = new Uint8Array(2048);
    let n = 0;
    while (dev.popTx(out) >= 0) n++;
    expect(n).toBe(11);
    expect(Array.from(out.subarray(0, 60))).toEqual(Array.from(frame));
    expect(drv.reclaim()).toBe(0); // used entries are written, not yet published
    dev.publishUsed();
    expect(drv.reclaim()).toBe(11);
    expect(drv.free).toBe(256);
  });

  it("RX buffers posted by the driver are filled by the device and read back", () => {
    const { g } = mkGuest();
    const L = vringLayout(0x20000, 64);
    const drv = new VringDriver(g, L, 0x200000, 2048);
    const dev = new VringDevice(g, L);
    for (let i = 0; i < 64; i++) drv.addInbuf();
    const frame = Uint8Array.from({ length: 100 }, (_, i) => 255 - i);
    expect(dev.pushRx(frame, 100)).toBe(true);
    dev.publishUsed();
    const got: number[] = [];
    drv.reclaim((gpa, len) => {
      for (let i = 0; i < len; i++) got.push(g.read8(gpa + i));
    });
    expect(got).toEqual(Array.from(frame));
  });
});

describe("Xen grants and netif rings", () => {
  it("grant copy checks the entry: the granted domain copies, any other domain is refused", () => {
    const { g, dom0 } = mkGuest();
    const gt = new GrantTable(g, 0x1000, 64);
    g.writeBytes(0x50000 + 100, Uint8Array.of(9, 8, 7, 6));
    const ref = gt.grant(0, 0x50000, true);
    const ops = new GrantOps(g, 0x1000, 64);
    const dst = dom0.gpaToHpa(0x3000);
    expect(ops.copyFrom(0, ref, 100, 4, dst)).toBe(GNTST_okay);
    expect(Array.from(dom0.mem.read(dst, 4))).toEqual([9, 8, 7, 6]);
    expect(ops.copyFrom(5, ref, 100, 4, dst)).toBe(GNTST_permission_denied);
    expect(ops.copyTo(0, ref, 0, 4, dst)).toBe(GNTST_permission_denied); // read-only grant
    expect(ops.failures).toBe(2);
  });

  it("ring notification follows RING_PUSH_REQUESTS_AND_CHECK_NOTIFY", () => {
    const { g } = mkGuest();
    const r = new SharedRing(g, 0x8000, TX_SLOT);
    r.init();
    expect(r.size).toBe(ringSize(TX_SLOT));
    expect(r.size).toBe(256);
    writeTxRequest(g, r.slotGpa(0), 1, 0, 0, 0, 60);
    expect(r.pushRequests(1)).toBe(true); // req_event starts at 1
    expect(r.pushRequests(2)).toBe(false); // backend has not asked again
    expect(r.finalCheckForRequests(2)).toBe(false);
    expect(r.pushRequests(3)).toBe(true);
    expect(needNotify(5, 10, 4)).toBe(true);
    expect(needNotify(11, 10, 4)).toBe(false);
  });
});

describe("emulated e1000", () => {
  it("a TDT write traps, the model copies the frame out, writes DD and raises TXDW", () => {
    const { g } = mkGuest();
    const dev = new E1000Device(g);
    g.mapTrap("e1000", 0xf000_0000, 0x20000, dev);
    let tx = 0;
    let irq = 0;
    dev.onTx = (f, len) => {
      tx++;
      expect(len).toBe(64);
      expect(f[0]).toBe(0xaa);
    };
    dev.onInterrupt = () => void irq++;
    g.mmioWrite(0xf000_0000 + E1000_TDBAL, 4, 0x40000);
    g.mmioWrite(0xf000_0000 + E1000_TDLEN, 4, 16 * 16);
    g.mmioWrite(0xf000_0000 + E1000_IMS, 4, 0x1);
    g.writeBytes(0x60000, new Uint8Array(64).fill(0xaa));
    g.write64n(0x40000, 0x60000);
    g.write16(0x40000 + 8, 64);
    g.write8(0x40000 + 11, E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS);
    const before = g.exits.mmio;
    g.mmioWrite(0xf000_0000 + E1000_TDT, 4, 1);
    expect(g.exits.mmio - before).toBe(1);
    expect(tx).toBe(1);
    expect(g.read8(0x40000 + 12) & 1).toBe(1);
    expect(irq).toBe(1);
  });
});
