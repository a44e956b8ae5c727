import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PhysMem } from "../../../src/memory/physmem.js";
import { IDENTITY_TRANSLATOR } from "../../../src/pcie/dma.js";
import { buildFnLayout, buildMsixLayout, msixLayoutInfo } from "../../../src/nic/layout.js";
import type { MailboxPort } from "../../../src/nic/mmio.js";
import { Nic } from "../../../src/nic/nic.js";
import { defaultVfPortConfig } from "../../../src/nic/port-config.js";
import type { RegHookSink } from "../../../src/nic/regfile.js";
import { MmioRegs } from "../../../src/nic/regfile.js";
import {
  E1000_CTRL,
  E1000_CTRL_EXT,
  E1000_EIAM,
  E1000_EICR,
  E1000_EICS,
  E1000_EIMC,
  E1000_EIMS,
  E1000_EITR,
  E1000_ICR,
  E1000_IMS,
  E1000_IVAR_MISC,
  E1000_IVAR_VALID,
  E1000_RDBAL,
  E1000_RDH,
  E1000_RDLEN,
  E1000_RDT,
  E1000_RXDCTL,
  E1000_STATUS,
  E1000_STATUS_IOV_MODE,
  E1000_STATUS_LU,
  E1000_TDBAL,
  E1000_TDT,
  E1000_TXDCTL,
  E1000_V2PMAILBOX,
  E1000_VFGPRC,
  E1000_VMBMEM,
  MSIX_PBA_OFFSET,
} from "../../../src/nic/regs.js";
import { RecordingMsi } from "./tiny-driver.js";

const NULL_SINK: RegHookSink = { regWritten: () => undefined, regRead: (_o, _h, _i, _k, v) => v };

function nicWith(mailbox?: MailboxPort, maxVfs = 2) {
  const msi = new RecordingMsi();
  const nic = new Nic({ mem: new PhysMem(), translator: IDENTITY_TRANSLATOR, msiSink: msi, template: { maxVfs, queuesPerVf: 2 }, ...(mailbox === undefined ? {} : { mailbox }) });
  nic.setNumVfs(maxVfs);
  return { nic, msi };
}

describe("NIC register files", () => {
  it("offsets are igb/igbvf's (Linux igbvf regs.h)", () => {
    expect([E1000_CTRL, E1000_STATUS, E1000_EICS, E1000_EIMS, E1000_EIMC, E1000_EICR, E1000_IVAR_MISC]).toEqual([0, 8, 0x1520, 0x1524, 0x1528, 0x1580, 0x1740]);
    expect([E1000_RDBAL(0), E1000_RDLEN(1), E1000_RDH(0), E1000_RDT(0), E1000_RXDCTL(3), E1000_RDBAL(4)]).toEqual([0x2800, 0x2908, 0x2810, 0x2818, 0x2b28, 0xc100]);
    expect([E1000_TDBAL(0), E1000_TDT(1), E1000_TXDCTL(0), E1000_EITR(2), E1000_VFGPRC]).toEqual([0x3800, 0x3918, 0x3828, 0x1688, 0xf10]);
    expect([E1000_VMBMEM(0), E1000_V2PMAILBOX(0)]).toEqual([0x800, 0xc40]);
  });

  it("every register: all-ones reads back its writable bits, W1C clears, reserved bits read 0, reset restores (PF, VF, MSI-X)", () => {
    const layouts = [buildFnLayout(true, 4, 10), buildFnLayout(false, 8, 3), buildMsixLayout(msixLayoutInfo(3, 10))];
    for (const L of layouts) {
      const r = new MmioRegs(L, NULL_SINK, 0);
      for (const p of L.regs) {
        const s = p.slot;
        r.write(p.offset, 4, 0xffffffff);
        const want = ((L.reset[s]! & ~L.rw[s]! & ~L.w1c[s]!) | L.rw[s]!) >>> 0;
        expect(r.read(p.offset, 4), `${L.name} ${L.nameAt(p.offset)}`).toBe(want);
        expect(r.read(p.offset, 4) & ~(L.rw[s]! | L.reset[s]!)).toBe(0);
      }
      r.reset();
      for (const p of L.regs) expect(r.read(p.offset, 4)).toBe(L.reset[p.slot]!);
    }
  });

  it("sub-dword writes change only their bytes; unmapped and misaligned accesses read 0 and write nothing", () => {
    const L = buildFnLayout(false, 2, 3);
    fc.assert(
      fc.property(fc.constantFrom(...L.regs), fc.integer({ min: 0, max: 3 }), fc.constantFrom<1 | 2>(1, 2), fc.nat(0xffff), (p, lane, size, v) => {
        if (lane + size > 4) return;
        const r = new MmioRegs(L, NULL_SINK, 0);
        const before = r.read(p.offset, 4);
        r.write(p.offset + lane, size, v);
        const mask = (size === 1 ? 0xff : 0xffff) * 2 ** (8 * lane);
        const after = r.read(p.offset, 4);
        expect((after & ~mask) >>> 0).toBe((before & ~mask) >>> 0);
      }),
      { numRuns: 300 },
    );
    const r = new MmioRegs(L, NULL_SINK, 0);
    r.write(0x1234, 4, 0xffffffff);
    expect(r.read(0x1234, 4)).toBe(0);
    r.write(E1000_RDBAL(0) + 2, 4, 0xffffffff); // crosses the dword
    expect(r.read(E1000_RDBAL(0), 4)).toBe(0);
    expect(r.read(0x10_0000, 4)).toBe(0);
  });

  it("trace names come from the tables", () => {
    const { nic } = nicWith();
    expect(nic.regName(0, E1000_RDT(1))).toBe("rxq[1].RDT");
    expect(nic.regName("pf", E1000_EICR)).toBe("EICR");
    expect(nic.regName("pf", E1000_ICR)).toBe("ICR");
  });

  it("EICS raises, EIMS enables (pending causes fire on enable), EIMC disables, EIAM auto-masks, EICR is W1C", () => {
    const { nic, msi } = nicWith();
    const vf = nic.vfMmio(0);
    nic.setMsixControl(0, true, false);
    vf.mmioWrite(3, 0x10, 4, 0xfee0_0000);
    vf.mmioWrite(3, 0x18, 4, 0x31);
    vf.mmioWrite(3, 0x1c, 4, 0); // unmask vector 1
    vf.mmioWrite(0, E1000_EICS, 4, 0b10);
    expect(vf.mmioRead(0, E1000_EICR, 4)).toBe(0b10);
    expect(msi.writes).toHaveLength(0); // not enabled in EIMS
    vf.mmioWrite(0, E1000_EIAM, 4, 0b10);
    vf.mmioWrite(0, E1000_EIMS, 4, 0b10);
    expect(msi.writes).toEqual([{ rid: nic.requesterId(0), addr: 0xfee0_0000, data: 0x31 }]);
    expect(vf.mmioRead(0, E1000_EIMS, 4)).toBe(0); // auto-masked
    vf.mmioWrite(0, E1000_EICS, 4, 0b10);
    expect(msi.writes).toHaveLength(1);
    vf.mmioWrite(0, E1000_EICR, 4, 0b10);
    expect(vf.mmioRead(0, E1000_EICR, 4)).toBe(0);
    vf.mmioWrite(0, E1000_EIAM, 4, 0);
    vf.mmioWrite(0, E1000_EIMS, 4, 0b110);
    vf.mmioWrite(0, E1000_EIMC, 4, 0b100);
    expect(vf.mmioRead(0, E1000_EIMS, 4)).toBe(0b10);
  });

  it("MSI-X: a masked vector sets its PBA bit and is delivered on unmask; Function Mask holds everything", () => {
    const { nic, msi } = nicWith();
    const vf = nic.vfMmio(1);
    nic.setMsixControl(1, true, false);
    vf.mmioWrite(3, 0x00, 4, 0xfee0_2000);
    vf.mmioWrite(3, 0x08, 4, 0x55); // vector 0 stays masked (reset value)
    vf.mmioWrite(0, E1000_EIMS, 4, 1);
    vf.mmioWrite(0, E1000_EICS, 4, 1);
    expect(msi.writes).toHaveLength(0);
    expect(vf.mmioRead(3, MSIX_PBA_OFFSET, 4)).toBe(1);
    vf.mmioWrite(3, 0x0c, 4, 0);
    expect(msi.writes).toEqual([{ rid: nic.requesterId(1), addr: 0xfee0_2000, data: 0x55 }]);
    expect(vf.mmioRead(3, MSIX_PBA_OFFSET, 4)).toBe(0);
    nic.setMsixControl(1, true, true);
    vf.mmioWrite(0, E1000_EICS, 4, 1);
    expect(msi.writes).toHaveLength(1);
    expect(vf.mmioRead(3, MSIX_PBA_OFFSET, 4)).toBe(1);
    nic.setMsixControl(1, true, false);
    expect(msi.writes).toHaveLength(2);
    expect(nic.stats(1)).toMatchObject({ msixMessages: 2, msixPended: 2 });
  });

  it("EITR throttles a vector in simulated time; poll delivers the held message", () => {
    const { nic, msi } = nicWith();
    const vf = nic.vfMmio(0);
    nic.setMsixControl(0, true, false);
    vf.mmioWrite(3, 0x0c, 4, 0);
    vf.mmioWrite(0, E1000_EITR(0), 4, 100 << 2); // 100 µs
    vf.mmioWrite(0, E1000_EIMS, 4, 1);
    nic.poll(1_000);
    vf.mmioWrite(0, E1000_EICS, 4, 1);
    vf.mmioWrite(0, E1000_EICS, 4, 1);
    expect(msi.writes).toHaveLength(1);
    expect(nic.nextWakeNs()).toBe(101_000);
    expect(nic.takeNewWakeNs()).toBe(101_000); // registered when the vector was deferred
    expect(nic.takeNewWakeNs()).toBe(Infinity); // and taken
    nic.poll(50_000);
    expect(nic.takeNewWakeNs()).toBe(Infinity); // a poll before the deadline leaves it deferred, nothing new
    expect(msi.writes).toHaveLength(1);
    nic.poll(101_000);
    expect(msi.writes).toHaveLength(2);
  });

  it("STATUS.LU follows the wire (PF) and the VF link state; PF STATUS reports IOV mode", () => {
    const { nic } = nicWith();
    nic.setVfConfig(1, { ...defaultVfPortConfig(), linkState: "enable" });
    expect(nic.pfMmio.mmioRead(0, E1000_STATUS, 4) & (E1000_STATUS_LU | E1000_STATUS_IOV_MODE)).toBe(E1000_STATUS_LU | E1000_STATUS_IOV_MODE);
    expect(nic.vfMmio(0).mmioRead(0, E1000_STATUS, 4) & E1000_STATUS_LU).toBe(E1000_STATUS_LU);
    nic.setWireLink(false);
    expect(nic.pfMmio.mmioRead(0, E1000_STATUS, 4) & E1000_STATUS_LU).toBe(0);
    expect(nic.vfMmio(0).mmioRead(0, E1000_STATUS, 4) & E1000_STATUS_LU).toBe(0);
    expect(nic.vfMmio(1).mmioRead(0, E1000_STATUS, 4) & E1000_STATUS_LU).toBe(E1000_STATUS_LU);
    expect(nic.pfMmio.mmioRead(0, E1000_ICR, 4) & 0x4).toBe(0x4); // LSC
  });

  it("the PF's misc vector fires for ICR causes enabled in IMS (mailbox, link)", () => {
    const { nic, msi } = nicWith();
    const pf = nic.pfMmio;
    nic.setMsixControl("pf", true, false);
    pf.mmioWrite(3, 9 * 16 + 8, 4, 0x99);
    pf.mmioWrite(3, 9 * 16 + 12, 4, 0);
    pf.mmioWrite(0, E1000_IVAR_MISC, 4, 9 | E1000_IVAR_VALID);
    pf.mmioWrite(0, E1000_EIMS, 4, 1 << 9);
    nic.raiseMailboxInterrupt("pf");
    expect(msi.writes).toHaveLength(0); // VMMB not in IMS
    pf.mmioWrite(0, E1000_IMS, 4, 0x100);
    expect(msi.writes.map((w) => w.data)).toEqual([0x99]);
    expect(pf.mmioRead(0, E1000_ICR, 4)).toBe(0x100);
    expect(pf.mmioRead(0, E1000_ICR, 4)).toBe(0);
  });

  it("a ring's head can be written only while the queue is disabled", () => {
    const { nic } = nicWith();
    const vf = nic.vfMmio(0);
    vf.mmioWrite(0, E1000_RDH(0), 4, 5);
    expect(vf.mmioRead(0, E1000_RDH(0), 4)).toBe(5);
    vf.mmioWrite(0, E1000_RXDCTL(0), 4, 0x02000000);
    vf.mmioWrite(0, E1000_RDH(0), 4, 9);
    expect(vf.mmioRead(0, E1000_RDH(0), 4)).toBe(5);
    vf.mmioWrite(0, E1000_TDBAL(0), 4, 0x1234_5678);
    expect(vf.mmioRead(0, E1000_TDBAL(0), 4)).toBe(0x1234_5600); // 128-byte aligned
    vf.mmioWrite(0, E1000_RDLEN(0), 4, 0xffff_ffff);
    expect(vf.mmioRead(0, E1000_RDLEN(0), 4)).toBe(0x000f_ff80);
    expect(vf.mmioRead(0, E1000_TXDCTL(0), 4)).toBe(0);
    expect(vf.mmioRead(0, E1000_VFGPRC, 4)).toBe(0);
  });

  it("mailbox ranges go to the mailbox unit with the function's own offsets; its interrupts reach the PF and VFs", () => {
    const calls: string[] = [];
    const mb: MailboxPort = {
      vfRead: (vf, off, size) => (calls.push(`vfR ${vf} ${off.toString(16)} ${size}`), 0xabc),
      vfWrite: (vf, off, size, v) => void calls.push(`vfW ${vf} ${off.toString(16)} ${size} ${v}`),
      pfRead: (off, size) => (calls.push(`pfR ${off.toString(16)} ${size}`), 0xdef),
      pfWrite: (off, size, v) => void calls.push(`pfW ${off.toString(16)} ${size} ${v}`),
      vfReset: (vf) => void calls.push(`reset ${vf}`),
      pfResetDone: () => void calls.push("pfrstd"),
      pfReset: () => void calls.push("pf reset"),
      onPfInterrupt: () => undefined,
      onVfInterrupt: () => undefined,
    };
    const { nic, msi } = nicWith(mb, 20);
    expect(nic.vfMmio(1).mmioRead(0, 0x800, 4)).toBe(0xabc);
    nic.vfMmio(1).mmioWrite(0, 0x83c, 4, 7);
    nic.vfMmio(1).mmioWrite(0, 0xc40, 4, 1);
    expect(nic.vfMmio(1).mmioRead(0, 0x840, 4)).toBe(0); // past VMBMEM: not the mailbox
    expect(nic.pfMmio.mmioRead(0, 0x800 + 64 * 3 + 4, 4)).toBe(0xdef);
    nic.pfMmio.mmioWrite(0, 0xc00 + 4 * 5, 4, 8);
    nic.pfMmio.mmioRead(0, 0xc88, 4);
    nic.pfMmio.mmioWrite(0, 0x4000 + 4 * 17, 4, 9);
    nic.pfMmio.mmioRead(0, 0x8000 + 64 * 19 + 60, 2);
    nic.pfMmio.mmioRead(0, E1000_ICR, 4); // clear
    nic.vfMmio(2).mmioWrite(0, E1000_CTRL, 4, 0x04000000);
    nic.pfMmio.mmioWrite(0, E1000_CTRL_EXT, 4, 0x4000);
    expect(calls).toEqual(["vfR 1 800 4", "vfW 1 83c 4 7", "vfW 1 c40 4 1", "pfR 8c4 4", "pfW c14 4 8", "pfR c88 4", "pfW 4044 4 9", "pfR 84fc 2", "reset 2", "pfrstd"]);
    expect(nic.pfMmio.mmioRead(0, E1000_ICR, 4) & 0x100).toBe(0x100); // the VF reset is a VMMB event
    // the NIC wired the unit's callbacks: a VF mailbox interrupt goes out on the VF's misc vector
    const vf = nic.vfMmio(3);
    nic.setMsixControl(3, true, false);
    vf.mmioWrite(3, 2 * 16 + 8, 4, 0x77);
    vf.mmioWrite(3, 2 * 16 + 12, 4, 0);
    vf.mmioWrite(0, E1000_IVAR_MISC, 4, 2 | E1000_IVAR_VALID);
    vf.mmioWrite(0, E1000_EIMS, 4, 1 << 2);
    mb.onVfInterrupt!(3);
    expect(msi.writes.map((w) => w.data)).toEqual([0x77]);
    mb.onPfInterrupt!(0);
    expect(nic.pfMmio.mmioRead(0, E1000_ICR, 4) & 0x100).toBe(0x100);
    nic.pfMmio.mmioWrite(0, E1000_CTRL, 4, 0x04000000); // PF reset: the mailboxes go into reset
    expect(calls.at(-1)).toBe("pf reset");
  });

  it("control-plane arguments are checked", () => {
    const { nic } = nicWith();
    expect(() => nic.vfMmio(2)).toThrow(/no VF 2/);
    expect(() => nic.setVfConfig(0, { ...defaultVfPortConfig(), vlan: 4096 })).toThrow(/VLAN/);
    expect(() => nic.setVfConfig(0, { ...defaultVfPortConfig(), mac: 0x0100_0000_0001 })).toThrow(/unicast/);
    expect(() => nic.setMulticast(0, [0x0200_0000_0001])).toThrow(/group/);
    expect(() => nic.setVlanFilter(0, [0])).toThrow(/VLAN/);
    expect(() => new Nic({ mem: new PhysMem(), translator: IDENTITY_TRANSLATOR, msiSink: new RecordingMsi(), template: { maxVfs: 1, queuesPerVf: 17 } })).toThrow(/queuesPerVf/);
    const many = Array.from({ length: 17 }, (_, i) => 0x0200_0000_1000 + i);
    nic.setMacFilters(0, many);
    expect(() => nic.setVfConfig(0, { ...defaultVfPortConfig(), mac: 0x0200_0000_0001 })).toThrow(/ENOSPC/);
    expect(nic.vfConfig(0).mac).toBe(0); // nothing half-applied
    expect(nic.macFilters(0)).toEqual(many);
    expect(() => nic.setMacFilters(0, [...many, 0x0200_0000_2000])).toThrow(/ENOSPC/);
    expect(nic.macFilters(0)).toEqual(many);
    expect(nic.msixPlacement("vf")).toEqual({ vectors: 3, tableBir: 3, tableOffset: 0, pbaBir: 3, pbaOffset: MSIX_PBA_OFFSET });
  });
});
