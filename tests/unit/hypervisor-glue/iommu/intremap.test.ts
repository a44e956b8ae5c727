import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  IRQ_ATTR_DLM_SHIFT,
  IRQ_ATTR_LEVEL,
  IRQ_ATTR_LOGICAL,
  compatibilityMsi,
  encodeIrte,
  pidDrain,
  pidRead,
  pidSetNotification,
  pidSetSuppress,
  remappableMsi,
  type InterruptTarget,
} from "../../../../src/hypervisor-glue/iommu/intremap.js";
import { writeEntry128 } from "../../../../src/hypervisor-glue/iommu/formats.js";
import { DMA_GCMD_IRE, DMA_GCMD_QIE, DMA_GCMD_SIRTP, DMA_GCMD_TE, DMAR_GCMD_REG, DMAR_IRTA_REG, VtdFault } from "../../../../src/hypervisor-glue/iommu/defs.js";
import { expectIovError, RecordingTarget, RID_A, RID_B, RID_C, rig, type Rig } from "./helpers.js";

function irRig(opts: { x2apic?: boolean; allowCompat?: boolean; memSize?: number; target?: InterruptTarget } = {}): Rig & { target: RecordingTarget } {
  const target = new RecordingTarget();
  const r = rig({ interruptTarget: opts.target ?? target, ...(opts.memSize === undefined ? {} : { memSize: opts.memSize }) });
  r.host.interrupts.enable({ entries: 64, x2apic: opts.x2apic ?? true, allowCompat: opts.allowCompat ?? false });
  return { ...r, target };
}
function send(r: Rig, rid: number, m: { address: number; data: number }): void {
  r.hw.ir.msiWrite(rid, m.address, m.data);
}
function lastFault(r: Rig) {
  const f = r.host.faults();
  expect(f.length).toBeGreaterThan(0);
  return f.at(-1)!;
}

describe("interrupt remapping: remapped-format IRTEs", () => {
  it("delivers the IRTE's vector to its 32-bit destination with its modes (x2APIC)", () => {
    const r = irRig();
    r.host.interrupts.setIrte(5, { mode: "remapped", vector: 0x45, dest: 0x1_0002, level: true, logical: true, deliveryMode: 1 });
    send(r, RID_A, r.host.interrupts.msiMessage(5));
    expect(r.target.got).toEqual([{ dest: 0x1_0002, vector: 0x45, attrs: IRQ_ATTR_LEVEL | IRQ_ATTR_LOGICAL | (1 << IRQ_ATTR_DLM_SHIFT) }]);
    expect(r.hw.ir.stats()).toMatchObject({ remapped: 1, blocked: 0, iecMisses: 1 });
    send(r, RID_A, r.host.interrupts.msiMessage(5));
    expect(r.hw.ir.stats()).toMatchObject({ remapped: 2, iecHits: 1 });
  });

  it("xAPIC mode takes the 8-bit destination from DST[15:8]", () => {
    const r = irRig({ x2apic: false });
    r.host.interrupts.setIrte(1, { mode: "remapped", vector: 0x30, dest: 0x0c });
    send(r, RID_A, r.host.interrupts.msiMessage(1));
    expect(r.target.got).toEqual([{ dest: 0x0c, vector: 0x30, attrs: 0 }]);
  });

  it("a subhandle (SHV) is added to the handle: one address, many vectors (multi-message MSI)", () => {
    const r = irRig();
    for (let i = 0; i < 4; i++) r.host.interrupts.setIrte(8 + i, { mode: "remapped", vector: 0x50 + i, dest: 1 });
    for (let i = 0; i < 4; i++) send(r, RID_A, r.host.interrupts.msiMessage(8, i));
    expect(r.target.got.map((g) => g.vector)).toEqual([0x50, 0x51, 0x52, 0x53]);
  });

  it("IRTE changes need an interrupt-entry-cache invalidation (setIrte does it; a raw write does not)", () => {
    const r = irRig();
    r.host.interrupts.setIrte(3, { mode: "remapped", vector: 0x40, dest: 1 });
    send(r, RID_A, r.host.interrupts.msiMessage(3));
    writeEntry128(r.mem, r.hw.ir.tableBase + 3 * 16, encodeIrte({ mode: "remapped", vector: 0x41, dest: 1 }, true));
    send(r, RID_A, r.host.interrupts.msiMessage(3));
    r.host.invalidateInterruptEntries({ kind: "index", index: 3 });
    send(r, RID_A, r.host.interrupts.msiMessage(3));
    r.host.interrupts.setIrte(3, { mode: "remapped", vector: 0x42, dest: 1 });
    send(r, RID_A, r.host.interrupts.msiMessage(3));
    expect(r.target.got.map((g) => g.vector)).toEqual([0x40, 0x40, 0x41, 0x42]);
  });

  it("compatibility format: passes with IR off or CFI set, blocked (0x25) otherwise", () => {
    const off = rig({ interruptTarget: new RecordingTarget() });
    const t = new RecordingTarget();
    off.hw.ir.target = t;
    send(off, RID_A, compatibilityMsi(7, 0x33, { level: true }));
    expect(t.got).toEqual([{ dest: 7, vector: 0x33, attrs: IRQ_ATTR_LEVEL }]);
    const strict = irRig();
    send(strict, RID_B, compatibilityMsi(7, 0x33));
    expect(strict.target.got).toHaveLength(0);
    expect(lastFault(strict)).toMatchObject({ reason: VtdFault.IR_REQ_COMPAT, sid: RID_B, interruptIndex: 0, write: true });
    const lax = irRig({ allowCompat: true });
    send(lax, RID_B, compatibilityMsi(9, 0x34));
    expect(lax.target.got).toEqual([{ dest: 9, vector: 0x34, attrs: 0 }]);
    expect(lax.hw.ir.stats().compat).toBe(1);
  });
});

describe("interrupt remapping faults 0x20..0x26 (with source ID and interrupt index)", () => {
  it("0x20 reserved fields: address outside 0xFEEx_xxxx, data[31:16] with SHV", () => {
    const r = irRig();
    r.host.interrupts.setIrte(2, { mode: "remapped", vector: 0x40, dest: 1 });
    r.hw.ir.msiWrite(RID_A, 0xfed0_0010, 0);
    expect(lastFault(r)).toMatchObject({ reason: VtdFault.IR_REQ_RSVD, sid: RID_A });
    const m = remappableMsi(2, 0);
    r.hw.ir.msiWrite(RID_C, m.address, 0x1_0000);
    expect(lastFault(r)).toMatchObject({ reason: VtdFault.IR_REQ_RSVD, sid: RID_C, interruptIndex: 2 });
    expect(r.target.got).toHaveLength(0);
  });
  it("0x21 index beyond the table", () => {
    const r = irRig();
    send(r, RID_A, remappableMsi(64));
    expect(lastFault(r)).toMatchObject({ reason: VtdFault.IR_INDEX_OVER, sid: RID_A, interruptIndex: 64 });
    send(r, RID_A, remappableMsi(60, 10)); // 60 + 10 ≥ 64
    expect(lastFault(r)).toMatchObject({ reason: VtdFault.IR_INDEX_OVER, interruptIndex: 70 });
  });
  it("0x22 IRTE not present; its FPD bit suppresses the record", () => {
    const r = irRig();
    send(r, RID_B, r.host.interrupts.msiMessage(4));
    expect(lastFault(r)).toMatchObject({ reason: VtdFault.IR_ENTRY_P, sid: RID_B, interruptIndex: 4 });
    writeEntry128(r.mem, r.hw.ir.tableBase + 6 * 16, { lo: 2n, hi: 0n }); // P = 0, FPD = 1
    send(r, RID_B, r.host.interrupts.msiMessage(6));
    expect(r.host.faults()).toHaveLength(1);
    expect(r.hw.ir.stats().blocked).toBe(2);
  });
  it("0x23 the interrupt remapping table cannot be fetched", () => {
    const r = irRig({ memSize: 2 ** 34 });
    r.hw.mmioWrite(DMAR_IRTA_REG, 8, BigInt(2 ** 35) | 5n);
    r.hw.mmioWrite(DMAR_GCMD_REG, 4, (DMA_GCMD_TE | DMA_GCMD_QIE | DMA_GCMD_IRE | DMA_GCMD_SIRTP) >>> 0);
    send(r, RID_A, remappableMsi(1));
    expect(lastFault(r)).toMatchObject({ reason: VtdFault.IR_ROOT_INVAL, sid: RID_A, interruptIndex: 1 });
  });
  it("0x24 reserved IRTE fields: bits 14:12, SVT 3, xAPIC destination bits, a posted descriptor outside memory", () => {
    const cases: Array<[bigint, bigint, boolean]> = [
      [encodeIrte({ mode: "remapped", vector: 1, dest: 1 }, true).lo | 0x1000n, 0n, true],
      [encodeIrte({ mode: "remapped", vector: 1, dest: 1 }, true).lo, 3n << 18n, true],
      [encodeIrte({ mode: "remapped", vector: 1, dest: 1 }, false).lo | (1n << 32n), 0n, false],
      [encodeIrte({ mode: "posted", vector: 1, pda: 0x40 }, true).lo | 0x4n, 0n, true],
    ];
    for (const [lo, hi, x2] of cases) {
      const r = irRig({ x2apic: x2 });
      writeEntry128(r.mem, r.hw.ir.tableBase + 7 * 16, { lo, hi });
      send(r, RID_C, remappableMsi(7));
      expect(lastFault(r)).toMatchObject({ reason: VtdFault.IR_IRTE_RSVD, sid: RID_C, interruptIndex: 7 });
    }
    const small = irRig({ memSize: 2 ** 34 });
    small.host.interrupts.setIrte(7, { mode: "posted", vector: 1, pda: 2 ** 35 });
    send(small, RID_C, remappableMsi(7));
    expect(lastFault(small).reason).toBe(VtdFault.IR_IRTE_RSVD);
  });
  it("0x26 source-ID validation: requester with SQ masks, and bus ranges", () => {
    const r = irRig();
    r.host.interrupts.setIrte(10, { mode: "remapped", vector: 0x60, dest: 1, source: { svt: "requester", sid: RID_A } });
    r.host.interrupts.setIrte(11, { mode: "remapped", vector: 0x61, dest: 1, source: { svt: "requester", sid: RID_A, sq: 3 } });
    r.host.interrupts.setIrte(12, { mode: "remapped", vector: 0x62, dest: 1, source: { svt: "bus", startBus: 2, endBus: 4 } });
    send(r, RID_A, r.host.interrupts.msiMessage(10));
    send(r, RID_B, r.host.interrupts.msiMessage(10)); // function 1 ≠ function 0
    send(r, RID_B, r.host.interrupts.msiMessage(11)); // SQ 3 ignores the function
    send(r, RID_B, r.host.interrupts.msiMessage(12)); // bus 3 in 2..4
    send(r, RID_C, r.host.interrupts.msiMessage(12)); // bus 5 outside
    expect(r.target.got.map((g) => g.vector)).toEqual([0x60, 0x61, 0x62]);
    expect(r.host.faults().map((f) => [f.reason, f.sid, f.interruptIndex])).toEqual([
      [VtdFault.IR_SID_ERR, RID_B, 10],
      [VtdFault.IR_SID_ERR, RID_C, 12],
    ]);
  });
});

/**
 * A CPU side for posted interrupts: vCPU 0 runs on pCPU `running` (or is blocked / preempted). The
 * posted-interrupt notification vector (0xF2) arriving where the vCPU runs is consumed by the CPU
 * without a VM exit (PIR → virtual IRR); the wakeup vector (0xF1) goes to the host, which wakes it.
 */
const PI_VECTOR = 0xf2;
const WAKEUP_VECTOR = 0xf1;
class PostedCpu implements InterruptTarget {
  running: number | undefined = 2;
  pda = 0;
  mem: Rig["mem"] | undefined;
  virr: number[] = [];
  exits = 0;
  wakeups = 0;
  host: Array<{ dest: number; vector: number }> = [];
  deliver(destId: number, vector: number): void {
    if (vector === PI_VECTOR && destId === this.running) {
      this.virr.push(...pidDrain(this.mem!, this.pda)); // posted-interrupt processing, no exit
      return;
    }
    if (vector === WAKEUP_VECTOR) this.wakeups++;
    this.host.push({ dest: destId, vector });
  }
}

describe("posted interrupts", () => {
  it("sets PIR and ON, notifies once, coalesces while ON, drains on processing", () => {
    const r = irRig();
    const pda = r.host.interrupts.allocPostedDescriptor(PI_VECTOR, 2);
    r.host.interrupts.setIrte(9, { mode: "posted", vector: 0x61, pda });
    r.host.interrupts.setIrte(10, { mode: "posted", vector: 0x62, pda });
    send(r, RID_A, r.host.interrupts.msiMessage(9));
    expect(pidRead(r.mem, pda, true)).toMatchObject({ pending: [0x61], on: true, sn: false, nv: PI_VECTOR, ndst: 2 });
    expect(r.target.got).toEqual([{ dest: 2, vector: PI_VECTOR, attrs: 0 }]);
    send(r, RID_A, r.host.interrupts.msiMessage(10));
    send(r, RID_A, r.host.interrupts.msiMessage(9));
    expect(r.target.got).toHaveLength(1);
    expect(pidRead(r.mem, pda, true).pending).toEqual([0x61, 0x62]);
    expect(r.hw.ir.stats()).toMatchObject({ posted: 3, notifications: 1, coalesced: 2, remapped: 0 });
    expect(pidDrain(r.mem, pda)).toEqual([0x61, 0x62]);
    expect(pidRead(r.mem, pda, true)).toMatchObject({ pending: [], on: false });
    send(r, RID_A, r.host.interrupts.msiMessage(10));
    expect(r.target.got).toHaveLength(2);
  });

  it("SN suppresses notifications except for urgent IRTEs", () => {
    const r = irRig();
    const pda = r.host.interrupts.allocPostedDescriptor(PI_VECTOR, 3);
    r.host.interrupts.setIrte(1, { mode: "posted", vector: 0x70, pda });
    r.host.interrupts.setIrte(2, { mode: "posted", vector: 0x71, pda, urgent: true });
    pidSetSuppress(r.mem, pda, true);
    send(r, RID_A, r.host.interrupts.msiMessage(1));
    expect(r.target.got).toHaveLength(0);
    expect(pidRead(r.mem, pda, true)).toMatchObject({ pending: [0x70], on: false, sn: true });
    send(r, RID_A, r.host.interrupts.msiMessage(2));
    expect(r.target.got).toEqual([{ dest: 3, vector: PI_VECTOR, attrs: 0 }]);
    expect(r.hw.ir.stats()).toMatchObject({ suppressed: 1, notifications: 1 });
  });

  it("running vCPU: no exit; blocked vCPU: a wakeup notification; preempted: PIR waits for it", () => {
    const cpu = new PostedCpu();
    const r = irRig({ target: cpu });
    cpu.mem = r.mem;
    cpu.pda = r.host.interrupts.allocPostedDescriptor(PI_VECTOR, 2);
    r.host.interrupts.setIrte(0, { mode: "posted", vector: 0x80, pda: cpu.pda });
    // Running on pCPU 2: delivered straight into the virtual IRR.
    send(r, RID_A, r.host.interrupts.msiMessage(0));
    send(r, RID_A, r.host.interrupts.msiMessage(0));
    expect(cpu.virr).toEqual([0x80, 0x80]);
    expect([cpu.exits, cpu.wakeups, cpu.host.length]).toEqual([0, 0, 0]);
    // Blocked (halted): the hypervisor points NV at its wakeup vector.
    cpu.running = undefined;
    pidSetNotification(r.mem, cpu.pda, WAKEUP_VECTOR, 0, true);
    send(r, RID_A, r.host.interrupts.msiMessage(0));
    expect(cpu.wakeups).toBe(1);
    expect(pidRead(r.mem, cpu.pda, true).pending).toEqual([0x80]);
    // Scheduled in again on pCPU 1: the hypervisor drains PIR itself, then notifications resume.
    cpu.running = 1;
    pidSetNotification(r.mem, cpu.pda, PI_VECTOR, 1, true);
    cpu.virr.push(...pidDrain(r.mem, cpu.pda));
    // Preempted: SN set, the interrupt is posted silently.
    pidSetSuppress(r.mem, cpu.pda, true);
    send(r, RID_A, r.host.interrupts.msiMessage(0));
    expect(r.hw.ir.stats()).toMatchObject({ posted: 4, notifications: 3, suppressed: 1 });
    expect(cpu.virr).toEqual([0x80, 0x80, 0x80]);
    expect(pidRead(r.mem, cpu.pda, true)).toMatchObject({ pending: [0x80], sn: true, on: false });
  });

  it("PIR collects exactly the posted vectors; one notification per ON 0 → 1 (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0x20, max: 0xff }), fc.constant(-1)), { minLength: 1, maxLength: 40, size: "max" }), (seq) => {
        const r = irRig();
        const pda = r.host.interrupts.allocPostedDescriptor(PI_VECTOR, 5);
        const pending = new Set<number>();
        let on = false;
        let notes = 0;
        const drained: number[] = [];
        for (const v of seq) {
          if (v < 0) {
            drained.push(...pidDrain(r.mem, pda));
            pending.clear();
            on = false;
            continue;
          }
          r.host.interrupts.setIrte(v & 63, { mode: "posted", vector: v, pda });
          send(r, RID_A, r.host.interrupts.msiMessage(v & 63));
          pending.add(v);
          if (!on) notes++;
          on = true;
          expect(pidRead(r.mem, pda, true).pending).toEqual([...pending].sort((a, b) => a - b));
        }
        expect(r.hw.ir.stats().notifications).toBe(notes);
        expect(r.target.got).toHaveLength(notes);
        expect(r.hw.ir.stats().posted).toBe(seq.filter((v) => v >= 0).length);
      }),
      { numRuns: 100 },
    );
  });
});

describe("interrupt remapping host API misuse", () => {
  it("is refused with the right codes", () => {
    const r = rig();
    expectIovError(() => r.host.interrupts.setIrte(0, { mode: "remapped", vector: 1, dest: 1 }), "EINVAL");
    expectIovError(() => r.host.interrupts.allocPostedDescriptor(1, 1), "EINVAL");
    expectIovError(() => r.host.interrupts.enable({ entries: 3 }), "EINVAL");
    r.host.interrupts.enable({ entries: 16 });
    expectIovError(() => r.host.interrupts.enable({ entries: 16 }), "EEXIST");
    expectIovError(() => r.host.interrupts.setIrte(16, { mode: "remapped", vector: 1, dest: 1 }), "ERANGE");
    expectIovError(() => r.host.interrupts.setIrte(1, { mode: "remapped", vector: 256, dest: 1 }), "EINVAL");
    const reg = rig({ invalidation: "register" });
    expectIovError(() => reg.host.interrupts.enable({ entries: 16 }), "EINVAL");
    const xa = rig({ x2apic: false });
    expectIovError(() => xa.host.interrupts.enable({ entries: 16, x2apic: true }), "ERANGE");
    xa.host.interrupts.enable({ entries: 16 });
    expectIovError(() => xa.host.interrupts.setIrte(1, { mode: "remapped", vector: 1, dest: 0x100 }), "ERANGE");
    r.host.interrupts.clearIrte(1);
    expect(r.host.interrupts.irte(1)).toEqual({ present: false, fpd: false });
  });
});
