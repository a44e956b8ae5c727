import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parseHostFile } from "../../../src/config/parse.js";
import { boot } from "../../../src/config/boot.js";

const st = boot(parseHostFile(readFileSync("examples/default.yaml", "utf8"), "default.yaml"), { smoke: false });
const nic = st.nics.find((n) => n.pf === "0000:01:00.0" && n.vfIndex === 0)!;
const g = st.guests.get(nic.guest)!;
const vfio = nic.vfio;
const vf = st.host.pf("0000:01:00.0").sriov.vfs[0]!;

describe("VFIO-like passthrough: the guest's view of a VF", () => {
  it("shows the real vendor/device IDs (the VF itself reads 0xFFFF)", () => {
    expect(vf.cfg.read(0, 4)).toBe(0xffffffff);
    expect(vfio.read(0, 2)).toBe(0x8086);
    expect(vfio.read(2, 2)).toBe(0x10ca);
    expect(vfio.read(0, 4)).toBe(0x10ca8086);
  });

  it("emulates BAR sizing with the VF BAR's size and flags, at the guest-physical address it mapped", () => {
    const before = vfio.read(0x10, 4);
    expect(before & ~0xf).toBe(vfio.barGpaOf(0) % 2 ** 32);
    vfio.write(0x10, 4, 0xffffffff);
    expect(vfio.read(0x10, 4)).toBe(((~(16384 - 1) & ~0xf) | 0x4) >>> 0); // 16 KiB, 64-bit, non-prefetchable
    vfio.write(0x10, 4, before);
    expect(vfio.read(0x10, 4)).toBe(before);
  });

  it("filters writes: Bus Master reaches the VF, Memory Space is virtual, IDs and INTx pin stay", () => {
    vfio.write(0x04, 2, 0x0007);
    expect(vf.cfg.read(0x04, 2)).toBe(0x0004);
    expect(vfio.read(0x04, 2) & 0x2).toBe(0x2);
    vfio.write(0x00, 4, 0x12345678);
    expect(vfio.read(0, 4)).toBe(0x10ca8086);
    expect(vfio.read(0x3d, 1)).toBe(0);
  });

  it("every guest config access is an exit; the BAR doorbell path is not", () => {
    const before = g.exits.configSpace;
    vfio.read(0x08, 4);
    vfio.write(0x0c, 1, 0x10);
    expect(g.exits.configSpace - before).toBe(2);
    const mmio = g.exits.mmio;
    g.mmioRead(vfio.barGpaOf(0) + 0x8, 4); // STATUS through the direct mapping
    expect(g.exits.mmio).toBe(mmio);
  });

  it("the MSI-X table page is trapped and programs an IRTE; the VF's real table holds a remappable message", () => {
    const irte = st.host.iommu.interrupts;
    const exits = g.exits.mmio;
    const table = vfio.barGpaOf(3);
    g.mmioWrite(table + 0x8, 4, 0x4c); // entry 0 data: vector 0x4c
    g.mmioWrite(table + 0xc, 4, 0); // unmask
    expect(g.exits.mmio - exits).toBe(2);
    const bar3 = st.host.pf("0000:01:00.0").sriov.vfBarAddress(0, 3);
    const addr = st.host.fabric.memRead(bar3, 4).value;
    expect(addr >>> 20).toBe(0xfee);
    expect(addr & 0x10).toBe(0x10); // interrupt format: remappable
    const handle = ((addr >>> 5) & 0x7fff) | ((addr & 0x4) << 13);
    expect(irte.irte(handle).present).toBe(true);
  });
});
