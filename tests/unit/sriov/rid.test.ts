import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  chooseSystemPageSize,
  checkOffsetStride,
  lastVfBus,
  pageSizeFromMask,
  vfIdFromRid,
  virtfnBus,
  virtfnDevfn,
  virtfnRid,
} from "../../../src/sriov/rid.js";
import { isIovError } from "../../../src/errors.js";

const geom = fc.record({
  bus: fc.integer({ min: 0, max: 255 }),
  devfn: fc.integer({ min: 0, max: 255 }),
  offset: fc.integer({ min: 1, max: 0xffff }),
  stride: fc.integer({ min: 0, max: 0xffff }),
  numVfs: fc.integer({ min: 1, max: 0xffff }),
});

describe("SR-IOV routing-ID arithmetic", () => {
  it("bus/devfn form and 16-bit RID form agree, including the carry into higher buses", () => {
    fc.assert(
      fc.property(geom, fc.nat(), ({ bus, devfn, offset, stride, numVfs }, kSeed) => {
        const k = kSeed % numVfs;
        const pfRid = (bus << 8) | devfn;
        const r = virtfnRid(pfRid, offset, stride, k);
        const b = virtfnBus(bus, devfn, offset, stride, k);
        const df = virtfnDevfn(devfn, offset, stride, k);
        if (r === -1) expect(b).toBeGreaterThan(255);
        else {
          expect(b).toBe(r >> 8);
          expect(df).toBe(r & 0xff);
          // carry: VF bus is the PF bus plus whole 256-function steps
          expect(b - bus).toBe(Math.floor((devfn + offset + stride * k) / 256));
        }
      }),
    );
  });

  it("vfIdFromRid inverts virtfnRid for every VF, and rejects RIDs between VFs", () => {
    fc.assert(
      fc.property(geom, fc.nat(), ({ bus, devfn, offset, stride, numVfs }, kSeed) => {
        const pfRid = (bus << 8) | devfn;
        const n = stride === 0 ? 1 : numVfs;
        const k = kSeed % n;
        const r = virtfnRid(pfRid, offset, stride, k);
        fc.pre(r !== -1);
        expect(vfIdFromRid(pfRid, offset, stride, n, r)).toBe(k);
        if (stride > 1) expect(vfIdFromRid(pfRid, offset, stride, n, r + 1)).toBe(-1);
        expect(vfIdFromRid(pfRid, offset, stride, n, pfRid + offset - 1)).toBe(-1);
      }),
    );
  });

  it("ARI off vs on: a non-ARI device keeps VFs at device numbers its 3-bit function field can reach", () => {
    // 82576 (real dumps): offset 384 without ARI, 128 with; stride 2; PF at 01:00.0.
    const nonAri = Array.from({ length: 8 }, (_, k) => virtfnRid(0x0100, 384, 2, k));
    expect(nonAri.map((r) => r.toString(16))).toEqual(["280", "282", "284", "286", "288", "28a", "28c", "28e"]);
    // bus 2, device 16..17 — as Linux shows 82576 VFs on the bus after the PF's when ARI is off
    expect(nonAri.map((r) => `${(r >> 8).toString(16)}:${((r >> 3) & 0x1f).toString(16)}.${r & 7}`)[1]).toBe("2:10.2");
    const ari = Array.from({ length: 8 }, (_, k) => virtfnRid(0x0100, 128, 2, k));
    expect(ari[0]).toBe(0x0180);
    expect(ari[7]).toBe(0x018e);
  });

  it("lastVfBus: 65,535 VFs with stride 1 from 00:00.0 need buses up to 255", () => {
    expect(lastVfBus(0, 0, 1, 1, 0xffff)).toBe(255);
    expect(lastVfBus(1, 0, 1, 1, 255)).toBe(1);
    expect(lastVfBus(1, 0, 1, 1, 256)).toBe(2);
  });

  it("offset/stride validation follows Linux (EIO for offset 0, or stride 0 with NumVFs > 1)", () => {
    expect(() => checkOffsetStride(0, 1, 1)).toThrow(/EIO/);
    expect(() => checkOffsetStride(1, 0, 2)).toThrow(/EIO/);
    expect(() => checkOffsetStride(1, 0, 1)).not.toThrow();
  });

  it("System Page Size: the smallest supported size ≥ the host page, exactly one bit", () => {
    expect(chooseSystemPageSize(0x553, 4096)).toBe(0x1);
    expect(chooseSystemPageSize(0x553, 65536)).toBe(0x10);
    expect(pageSizeFromMask(0x10)).toBe(65536);
    let e: unknown;
    try {
      chooseSystemPageSize(0x1, 65536);
    } catch (x) {
      e = x;
    }
    expect(isIovError(e, "EIO")).toBe(true);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0x1fffff }), fc.integer({ min: 0, max: 8 }), (sup, hostShift) => {
        const host = 4096 * 2 ** hostShift;
        let v: number;
        try {
          v = chooseSystemPageSize(sup, host);
        } catch {
          expect(sup >> hostShift).toBe(0);
          return;
        }
        expect(v & (v - 1)).toBe(0);
        expect(v & sup).toBe(v);
        expect(pageSizeFromMask(v)).toBeGreaterThanOrEqual(host);
      }),
    );
  });
});
