import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  E1000_MBVFICR_VFACK_VF1,
  E1000_MBVFICR_VFREQ_VF1,
  E1000_P2VMAILBOX_ACK,
  E1000_P2VMAILBOX_PFU,
  E1000_P2VMAILBOX_RVFU,
  E1000_P2VMAILBOX_STS,
  E1000_P2VMAILBOX_VFU,
  E1000_V2PMAILBOX_ACK,
  E1000_V2PMAILBOX_PFACK,
  E1000_V2PMAILBOX_PFSTS,
  E1000_V2PMAILBOX_PFU,
  E1000_V2PMAILBOX_REQ,
  E1000_V2PMAILBOX_RSTD,
  E1000_V2PMAILBOX_RSTI,
  E1000_V2PMAILBOX_VFU,
  MBX_PF_REGS,
  MBX_VF_REGS,
  MBX_VFACK_WIDE,
  MBX_VFIMR_WIDE,
  MBX_VFREQ_WIDE,
  MailboxHw,
} from "../../../src/nic/mailbox-hw.js";
import { decode } from "../../../src/pcie/regs.js";
import {
  E1000_MBVFICR,
  E1000_MBVFIMR,
  E1000_P2VMAILBOX,
  E1000_V2PMAILBOX,
  E1000_VFLRE,
  E1000_VMBMEM,
  PF_P2VMAILBOX_WIDE,
  PF_VMBMEM_WIDE,
} from "../../../src/nic/regs.js";
import { isIovError } from "../../../src/errors.js";
import type { MailboxPort } from "../../../src/nic/mmio.js";
import { pfMailboxOffset } from "../../../src/nic/mmio.js";

const V2P = E1000_V2PMAILBOX(0);
const MEM = E1000_VMBMEM(0);

function ready(n: number): { hw: MailboxHw; pfIrq: number[]; vfIrq: number[] } {
  const hw = new MailboxHw(n);
  const pfIrq: number[] = [];
  const vfIrq: number[] = [];
  hw.onPfInterrupt = (vf) => pfIrq.push(vf);
  hw.onVfInterrupt = (vf) => vfIrq.push(vf);
  hw.pfResetDone();
  hw.vfRead(0, V2P, 4); // consume RSTD of VF 0
  vfIrq.length = 0;
  return { hw, pfIrq, vfIrq };
}

describe("mailbox hardware: ownership", () => {
  it("VFU and PFU exclude each other; the loser's buffer writes are dropped", () => {
    const { hw } = ready(2);
    hw.pfWrite(E1000_P2VMAILBOX(0), 4, E1000_P2VMAILBOX_PFU);
    expect(hw.pfRead(E1000_P2VMAILBOX(0), 4)).toBe(E1000_P2VMAILBOX_PFU);
    // The VF tries to take the buffer while the PF owns it.
    hw.vfWrite(0, V2P, 4, E1000_V2PMAILBOX_VFU);
    expect(hw.vfRead(0, V2P, 4) & (E1000_V2PMAILBOX_VFU | E1000_V2PMAILBOX_PFU)).toBe(E1000_V2PMAILBOX_PFU);
    hw.pfWrite(E1000_VMBMEM(0), 4, 0x11111111);
    hw.vfWrite(0, MEM, 4, 0xdeadbeef);
    expect(hw.vfRead(0, MEM, 4)).toBe(0x11111111);
    // PF releases; now the VF gets it and the PF is locked out.
    hw.pfWrite(E1000_P2VMAILBOX(0), 4, 0);
    hw.vfWrite(0, V2P, 4, E1000_V2PMAILBOX_VFU);
    expect(hw.vfRead(0, V2P, 4) & E1000_V2PMAILBOX_VFU).toBe(E1000_V2PMAILBOX_VFU);
    hw.pfWrite(E1000_P2VMAILBOX(0), 4, E1000_P2VMAILBOX_PFU);
    expect(hw.pfRead(E1000_P2VMAILBOX(0), 4)).toBe(E1000_P2VMAILBOX_VFU);
    hw.pfWrite(E1000_VMBMEM(0), 4, 0x22222222);
    expect(hw.pfRead(E1000_VMBMEM(0), 4)).toBe(0x11111111);
    // RVFU: the PF reclaims a buffer a stuck VF holds.
    hw.pfWrite(E1000_P2VMAILBOX(0), 4, E1000_P2VMAILBOX_RVFU);
    expect(hw.pfRead(E1000_P2VMAILBOX(0), 4)).toBe(0);
  });

  it("byte and halfword access to the buffer", () => {
    const { hw } = ready(1);
    hw.vfWrite(0, MEM + 4, 4, 0x44332211);
    expect(hw.vfRead(0, MEM + 5, 1)).toBe(0x22);
    expect(hw.vfRead(0, MEM + 6, 2)).toBe(0x4433);
    hw.vfWrite(0, MEM + 7, 1, 0xaa);
    expect(hw.pfRead(E1000_VMBMEM(0) + 4, 4)).toBe(0xaa332211);
    // Misaligned accesses are ignored.
    hw.vfWrite(0, MEM + 5, 2, 0xffff);
    expect(hw.vfRead(0, MEM + 5, 2)).toBe(0);
    expect(hw.vfRead(0, MEM + 4, 4)).toBe(0xaa332211);
  });
});

describe("mailbox hardware: signalling", () => {
  it("REQ and ACK set MBVFICR and interrupt the PF only when MBVFIMR enables the VF", () => {
    const { hw, pfIrq } = ready(4);
    hw.vfWrite(2, V2P, 4, E1000_V2PMAILBOX_REQ);
    expect(hw.pfRead(E1000_MBVFICR, 4)).toBe(E1000_MBVFICR_VFREQ_VF1 << 2);
    expect(pfIrq).toEqual([]);
    // Unmasking with a pending cause raises it.
    hw.pfWrite(E1000_MBVFIMR, 4, 0xf);
    expect(pfIrq).toEqual([2]);
    hw.vfWrite(3, V2P, 4, E1000_V2PMAILBOX_ACK);
    expect(pfIrq).toEqual([2, 3]);
    expect(hw.pfRead(E1000_MBVFICR, 4)).toBe(((E1000_MBVFICR_VFREQ_VF1 << 2) | (E1000_MBVFICR_VFACK_VF1 << 3)) >>> 0);
    // Write 1 to clear.
    hw.pfWrite(E1000_MBVFICR, 4, E1000_MBVFICR_VFREQ_VF1 << 2);
    expect(hw.pfRead(E1000_MBVFICR, 4)).toBe(E1000_MBVFICR_VFACK_VF1 << 3);
    expect(decode(MBX_PF_REGS.regs.MBVFICR, hw.pfRead(E1000_MBVFICR, 4))).toEqual({ VFREQ: 0, VFACK: 1 << 3 });
  });

  it("STS and ACK from the PF interrupt the VF; PFSTS, PFACK and RSTD clear on read, RSTI does not", () => {
    const { hw, vfIrq } = ready(2);
    hw.pfWrite(E1000_P2VMAILBOX(1), 4, E1000_P2VMAILBOX_STS | E1000_P2VMAILBOX_ACK);
    expect(vfIrq).toEqual([1]);
    const v = hw.vfRead(1, V2P, 4);
    expect(decode(MBX_VF_REGS.regs.V2PMAILBOX, v)).toMatchObject({ PFSTS: 1, PFACK: 1, RSTD: 1 });
    expect(hw.vfRead(1, V2P, 4)).toBe(0);
    hw.pfReset();
    expect(hw.vfRead(1, V2P, 4)).toBe(E1000_V2PMAILBOX_RSTI);
    expect(hw.vfRead(1, V2P, 4)).toBe(E1000_V2PMAILBOX_RSTI);
    hw.pfResetDone();
    expect(hw.vfRead(1, V2P, 4)).toBe(E1000_V2PMAILBOX_RSTD);
    expect(hw.vfRead(1, V2P, 4)).toBe(0);
  });

  it("a VF reset clears its mailbox, sets VFLRE (W1C) and RSTD, and interrupts the PF even when masked", () => {
    const { hw, pfIrq } = ready(3);
    hw.vfWrite(1, MEM, 4, 0x12345678);
    hw.vfWrite(1, V2P, 4, E1000_V2PMAILBOX_VFU | E1000_V2PMAILBOX_REQ);
    hw.vfReset(1);
    expect(pfIrq).toEqual([1]);
    expect(hw.pfRead(E1000_VFLRE(0), 4)).toBe(0b10);
    const s = hw.vfSnapshot(1);
    expect(s.mem.every((w) => w === 0)).toBe(true);
    expect(s.vfreq).toBe(false);
    expect(s.v2p).toBe(E1000_V2PMAILBOX_RSTD);
    hw.pfWrite(E1000_VFLRE(0), 4, 0b10);
    expect(hw.pfRead(E1000_VFLRE(0), 4)).toBe(0);
    // While the PF is in reset a VF reset does not report reset done.
    hw.pfReset();
    hw.vfReset(2);
    expect(hw.vfRead(2, V2P, 4)).toBe(E1000_V2PMAILBOX_RSTI);
  });

  it("the PF owning the buffer shows as PFU to the VF", () => {
    const { hw } = ready(1);
    hw.pfWrite(E1000_P2VMAILBOX(0), 4, E1000_P2VMAILBOX_PFU);
    expect(hw.vfRead(0, V2P, 4)).toBe(E1000_V2PMAILBOX_PFU);
    hw.pfWrite(E1000_P2VMAILBOX(0), 4, E1000_P2VMAILBOX_STS);
    expect(hw.vfRead(0, V2P, 4)).toBe(E1000_V2PMAILBOX_PFSTS);
    expect(hw.pfRead(E1000_P2VMAILBOX(0), 4) & E1000_P2VMAILBOX_VFU).toBe(0);
    expect(E1000_V2PMAILBOX_PFACK).toBe(0x20);
  });
});

describe("mailbox hardware: layout", () => {
  it("more than 16 VFs: legacy windows reach VFs 0..15, the wide windows reach all", () => {
    const { hw, pfIrq } = ready(40);
    hw.vfWrite(37, MEM + 8, 4, 0xcafe);
    expect(hw.pfRead(PF_VMBMEM_WIDE(37) + 8, 4)).toBe(0xcafe);
    expect(hw.pfRead(PF_VMBMEM_WIDE(3) + 0, 4)).toBe(hw.pfRead(E1000_VMBMEM(3), 4));
    hw.vfWrite(37, V2P, 4, E1000_V2PMAILBOX_VFU);
    expect(hw.pfRead(PF_P2VMAILBOX_WIDE(37), 4)).toBe(E1000_P2VMAILBOX_VFU);
    hw.vfWrite(37, V2P, 4, E1000_V2PMAILBOX_REQ);
    expect(hw.pfRead(MBX_VFREQ_WIDE(1), 4)).toBe(1 << 5);
    expect(hw.pfRead(E1000_MBVFICR, 4)).toBe(0);
    hw.pfWrite(MBX_VFIMR_WIDE(1), 4, 0xffffffff);
    expect(pfIrq).toEqual([37]);
    hw.vfWrite(20, V2P, 4, E1000_V2PMAILBOX_ACK);
    expect(hw.pfRead(MBX_VFACK_WIDE(0), 4)).toBe(1 << 20);
    hw.pfWrite(MBX_VFREQ_WIDE(1), 4, 1 << 5);
    expect(hw.pfRead(MBX_VFREQ_WIDE(1), 4)).toBe(0);
    hw.vfReset(33);
    expect(hw.pfRead(E1000_VFLRE(1), 4)).toBe(1 << 1);
    // VF 16's legacy slot does not exist: 0xC00 + 4·16 is not P2VMAILBOX.
    expect(hw.pfRead(E1000_P2VMAILBOX(16), 4)).toBe(0);
  });

  it("fits the NIC's MailboxPort, and every PF offset it decodes lies in the NIC's mailbox windows", () => {
    const port: MailboxPort = new MailboxHw(256);
    expect(typeof port.vfReset).toBe("function");
    for (const off of [E1000_VMBMEM(15) + 60, E1000_P2VMAILBOX(15), E1000_MBVFICR, E1000_MBVFIMR, E1000_VFLRE(0), E1000_VFLRE(7)]) {
      expect(pfMailboxOffset(off)).toBe(true);
    }
    for (const off of [PF_P2VMAILBOX_WIDE(255), PF_VMBMEM_WIDE(255) + 60, MBX_VFREQ_WIDE(7), MBX_VFACK_WIDE(7), MBX_VFIMR_WIDE(7)]) {
      expect(pfMailboxOffset(off)).toBe(true);
    }
  });

  it("rejects an impossible VF count (host-side error)", () => {
    expect(() => new MailboxHw(0)).toThrow();
    try {
      new MailboxHw(257);
    } catch (e) {
      expect(isIovError(e, "ERANGE")).toBe(true);
    }
  });

  it("guest accesses never throw; a VF's accesses change no other VF's mailbox", () => {
    const access = fc.record({
      write: fc.boolean(),
      off: fc.oneof(fc.integer({ min: -8, max: 0x2000 }), fc.constantFrom(V2P, MEM, MEM + 60, 0xc80, 0xc84, 0xc88), fc.double()),
      size: fc.constantFrom(1, 2, 3, 4, 8, 0),
      value: fc.integer({ min: -(2 ** 31), max: 2 ** 32 }),
    });
    fc.assert(
      fc.property(fc.array(access, { maxLength: 60 }), (ops) => {
        const { hw } = ready(3);
        hw.pfWrite(E1000_VMBMEM(0), 4, 7);
        hw.pfWrite(E1000_VMBMEM(2), 4, 9);
        const before0 = hw.vfSnapshot(0);
        const before2 = hw.vfSnapshot(2);
        for (const o of ops) {
          if (o.write) hw.vfWrite(1, o.off, o.size, o.value);
          else hw.vfRead(1, o.off, o.size);
        }
        expect(hw.vfSnapshot(0)).toEqual(before0);
        expect(hw.vfSnapshot(2)).toEqual(before2);
        // Out-of-range VF indices are ignored too.
        hw.vfWrite(3, V2P, 4, E1000_V2PMAILBOX_REQ);
        expect(hw.vfRead(-1, V2P, 4)).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});
