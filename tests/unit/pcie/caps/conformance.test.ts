/**
 * Conformance tests generated from the register tables, for every table in the capability registry,
 * every per-device variant the helpers make, and the type 0/1 headers (see cases.ts). The expected
 * values are computed here from each placed register's own reset/rw/w1c/sticky (layout.regs), not
 * from the layout's byte masks, so a wrong mask derivation shows up as a mismatch.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ConfigSpace } from "../../../../src/pcie/configspace.js";
import type { ConfigLayout, PlacedReg } from "../../../../src/pcie/layout.js";
import type { RegSize } from "../../../../src/pcie/regs.js";
import { fieldMask } from "../../../../src/pcie/regs.js";
import { CASES, layoutOf } from "./cases.js";

const full = (size: number): number => (size === 4 ? 0xffffffff : 2 ** (size * 8) - 1);
const u32 = (x: number): number => x >>> 0;

function readLE(b: Uint8Array, off: number, size: number): number {
  let v = 0;
  for (let i = 0; i < size; i++) v += (b[off + i] ?? 0) * 2 ** (8 * i);
  return v;
}

/** Reset value as the layout's image holds it (next pointers and Status.CapList included). */
const imageOf = (L: ConfigLayout, r: PlacedReg): number => readLE(L.resetImage, r.abs, r.spec.size);

/** Bits no field names, software cannot change and the reset value does not set: they must read 0. */
function reservedOf(L: ConfigLayout, r: PlacedReg): number {
  let named = 0;
  for (const f of Object.values(r.spec.fields)) named |= fieldMask(f);
  return u32(full(r.spec.size) & ~named & ~r.rw & ~r.w1c & ~imageOf(L, r));
}

/** End of the part of config space any register of the layout occupies (dword rounded). */
function regionEnd(L: ConfigLayout): number {
  let end = 0x40;
  for (const r of L.regs) end = Math.max(end, r.abs + r.spec.size);
  for (const c of L.caps) end = Math.max(end, c.offset + c.def.size);
  return (end + 3) & ~3;
}

/** Offsets where two byte images differ. */
function diffBytes(a: Uint8Array, b: Uint8Array): number[] {
  const out: number[] = [];
  for (let o = 0; o < a.length; o++) if (a[o] !== b[o]) out.push(o);
  return out;
}

/** Bytes of config space owned by no register. */
function uncovered(L: ConfigLayout, end: number): number[] {
  const out: number[] = [];
  for (let o = 0; o < end; o++) if ((L.regAt[o] ?? -1) < 0) out.push(o);
  return out;
}

/** Put every register into a random hardware state, then hammer it with all-ones writes. */
function scramble(cs: ConfigSpace, L: ConfigLayout, seed: number): void {
  let x = seed >>> 0 || 1;
  const rnd = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  for (const r of L.regs) cs.setHw(r.abs, r.spec.size, rnd() % (full(r.spec.size) + 1));
  for (const r of L.regs) if (rnd() % 2 === 0) cs.write(r.abs, r.spec.size, full(r.spec.size));
}

type Op = { kind: "write"; slot: number; size: RegSize; value: number } | { kind: "hw"; reg: number; value: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("write" as const), slot: fc.nat(), size: fc.constantFrom<RegSize>(1, 2, 4), value: fc.integer({ min: 0, max: 0xffffffff }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("hw" as const), reg: fc.nat(), value: fc.integer({ min: 0, max: 0xffffffff }) }) },
);

for (const c of CASES) {
  describe(`register file conformance: ${c.name}`, () => {
    const L = layoutOf(c);
    const end = regionEnd(L);

    it("an all-ones write reads back its RW bits set, W1C bits clear, RO bits at reset, and touches nothing else", () => {
      for (const r of L.regs) {
        const cs = new ConfigSpace(L);
        const size = r.spec.size;
        const img = imageOf(L, r);
        cs.write(r.abs, size, full(size));
        expect(cs.read(r.abs, size), `${cs.nameAt(r.abs)}`).toBe(u32(((img & ~r.rw) | r.rw) & ~r.w1c & full(size)));
        const changed = diffBytes(cs.snapshot(), L.resetImage).filter((o) => o < r.abs || o >= r.abs + size);
        expect(changed, `bytes changed by writing ${cs.nameAt(r.abs)}`).toEqual([]);
      }
    });

    it("W1C bits clear when written 1, one at a time, and are unaffected by writing 0", () => {
      for (const r of L.regs) {
        if (r.w1c === 0) continue;
        const size = r.spec.size;
        const img = imageOf(L, r);
        const cs = new ConfigSpace(L);
        cs.setHw(r.abs, size, img | r.w1c);
        cs.write(r.abs, size, 0);
        expect(u32(cs.read(r.abs, size) & r.w1c), `${cs.nameAt(r.abs)} after writing 0`).toBe(r.w1c);
        for (let b = 0; b < size * 8; b++) {
          const m = u32(2 ** b);
          if ((r.w1c & m) === 0) continue;
          cs.setHw(r.abs, size, img | r.w1c);
          cs.write(r.abs, size, m);
          // the written 1 clears its own bit only; the other W1C bits stay set
          expect(u32(cs.read(r.abs, size) & r.w1c), `${cs.nameAt(r.abs)} bit ${b}`).toBe(u32(r.w1c & ~m));
        }
        cs.setHw(r.abs, size, img | r.w1c);
        cs.write(r.abs, size, r.w1c);
        expect(cs.read(r.abs, size), `${cs.nameAt(r.abs)} after writing all W1C bits`).toBe(u32((img | r.w1c) & ~r.rw & ~r.w1c));
      }
    });

    it("reserved bits and bytes outside every register read 0 and cannot be set", () => {
      const cs = new ConfigSpace(L);
      for (const r of L.regs) cs.write(r.abs, r.spec.size, full(r.spec.size));
      for (const o of uncovered(L, end)) cs.write(o, 1, 0xff);
      for (const r of L.regs) {
        const res = reservedOf(L, r);
        expect(u32(cs.read(r.abs, r.spec.size) & res), `${cs.nameAt(r.abs)} reserved 0x${res.toString(16)}`).toBe(0);
      }
      const set = uncovered(L, end).filter((o) => cs.read(o, 1) !== 0 || L.resetImage[o] !== 0);
      expect(set, "bytes outside every register that read non-zero").toEqual([]);
    });

    it("reset() restores the image; reset(true) keeps exactly the sticky bits", () => {
      for (const seed of [1, 0xdeadbeef, 12345]) {
        const cs = new ConfigSpace(L);
        scramble(cs, L, seed);
        const before = cs.snapshot();
        cs.reset(true);
        const want = new Uint8Array(L.size);
        want.set(L.resetImage);
        for (const r of L.regs) {
          const keep = u32(r.sticky);
          const v = u32((imageOf(L, r) & ~keep) | (readLE(before, r.abs, r.spec.size) & keep));
          for (let i = 0; i < r.spec.size; i++) want[r.abs + i] = Math.floor(v / 2 ** (8 * i)) & 0xff;
        }
        expect(diffBytes(cs.snapshot(), want).map((o) => cs.nameAt(o)), "bytes wrong after reset(true)").toEqual([]);
        cs.reset();
        expect(cs.isPrivate).toBe(false);
        expect(diffBytes(cs.snapshot(), L.resetImage), "bytes wrong after reset()").toEqual([]);
      }
    });

    it("byte, word and dword reads agree at every naturally aligned offset", () => {
      const cs = new ConfigSpace(L);
      scramble(cs, L, 0x9e3779b9);
      for (let o = 0; o < L.size; o += 4) {
        const b = [cs.read(o, 1), cs.read(o + 1, 1), cs.read(o + 2, 1), cs.read(o + 3, 1)];
        expect(cs.read(o, 4)).toBe(u32(b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)));
        expect(cs.read(o, 2)).toBe(b[0]! | (b[1]! << 8));
        expect(cs.read(o + 2, 2)).toBe(b[2]! | (b[3]! << 8));
      }
    });

    it("a dword or word write has the effect of the same bytes written one at a time", () => {
      fc.assert(
        fc.property(fc.nat(), fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom<2 | 4>(2, 4), fc.nat(), (slot, v, size, seed) => {
          const off = (slot % (end / size)) * size;
          const a = new ConfigSpace(L);
          const b = new ConfigSpace(L);
          scramble(a, L, seed);
          b.load(a.snapshot());
          a.write(off, size, v);
          for (let i = 0; i < size; i++) b.write(off + i, 1, (v >>> (8 * i)) & 0xff);
          expect(diffBytes(a.snapshot(), b.snapshot())).toEqual([]);
        }),
        { numRuns: 40 },
      );
    });

    it("random writes of random sizes follow new = (old & ~wm) | (v & wm), then clear v & w1c, register by register", () => {
      const holes = uncovered(L, end);
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 24 }), (ops) => {
          const cs = new ConfigSpace(L);
          const model = L.regs.map((r) => imageOf(L, r));
          for (const op of ops) {
            if (op.kind === "hw") {
              const i = op.reg % L.regs.length;
              const r = L.regs[i]!;
              const v = op.value % (full(r.spec.size) + 1);
              cs.setHw(r.abs, r.spec.size, v);
              model[i] = v;
            } else {
              const off = (op.slot % (end / op.size)) * op.size;
              cs.write(off, op.size, op.value);
              L.regs.forEach((r, i) => {
                let be = 0;
                let vr = 0;
                for (let k = 0; k < r.spec.size; k++) {
                  const o = r.abs + k;
                  if (o < off || o >= off + op.size) continue;
                  be += 0xff * 2 ** (8 * k);
                  vr += ((op.value >>> (8 * (o - off))) & 0xff) * 2 ** (8 * k);
                }
                if (be === 0) return;
                const old = model[i]!;
                model[i] = u32(((old & ~(r.rw & be)) | (vr & r.rw & be)) & ~(vr & r.w1c & be));
              });
            }
            const wrong = L.regs.filter((r, i) => cs.readRaw(r.abs, r.spec.size) !== model[i]).map((r) => cs.nameAt(r.abs));
            expect(wrong, `registers off the model after ${JSON.stringify(op)}`).toEqual([]);
            expect(holes.filter((o) => cs.read(o, 1) !== L.resetImage[o])).toEqual([]);
          }
        }),
        { numRuns: 25 },
      );
    });
  });
}
