/**
 * Model-based test: random map / unmap / invalidate / translate sequences against a reference model
 * that knows only (a) what the page tables map now and (b) which translations the IOTLB may still
 * hold because they were used since the last invalidation covering them. Rules checked:
 *  - a translation the tables permit always succeeds, with the tables' address or a cached one;
 *  - anything else succeeds only with an address that was cached and not invalidated since;
 *  - hence after unmap + invalidate an IOVA never translates; without the invalidation it may,
 *    but only to where it pointed when it was last used.
 * Host-side errors (EEXIST, ENOENT, EINVAL) must match the model's view of the tables.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { isIovError } from "../../../../src/errors.js";
import { DMA_FAULT } from "../../../../src/pcie/dma.js";
import { PAGE_2M, PAGE_4K, type PageSize } from "../../../../src/hypervisor-glue/iommu/defs.js";
import type { DmaPerms } from "../../../../src/hypervisor-glue/iommu/host.js";
import { RAM, rig } from "./helpers.js";

const REGIONS = 2; // 2 MiB IOVA regions per domain (few, so that sequences revisit addresses)
const PAGES = 2; // 4 KiB pages used at the start of each region
const IOVA0 = 0x4000_0000;
const DOMAINS = [
  { did: 1, rid: 0x0100, levels: 4 as const },
  { did: 2, rid: 0x0208, levels: 3 as const },
];

interface Unit {
  base: number;
  size: number;
  hpa: number;
  perm: number;
}
type Op =
  | { k: "map"; d: number; r: number; j: number; large: boolean; perm: DmaPerms; frame: number }
  | { k: "unmap"; d: number; r: number; j: number; large: boolean }
  | { k: "invPage"; d: number; r: number; j: number; large: boolean }
  | { k: "unmapStrict"; d: number; r: number; j: number; large: boolean }
  | { k: "invDomain"; d: number }
  | { k: "invGlobal" }
  | { k: "dma"; d: number; r: number; j: number; off: number; write: boolean };

const d = fc.integer({ min: 0, max: DOMAINS.length - 1 });
const r = fc.integer({ min: 0, max: REGIONS - 1 });
const j = fc.integer({ min: 0, max: PAGES - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant("map" as const), d, r, j, large: fc.boolean(), perm: fc.constantFrom<DmaPerms>("r", "w", "rw"), frame: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("unmap" as const), d, r, j, large: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("invPage" as const), d, r, j, large: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("unmapStrict" as const), d, r, j, large: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("invDomain" as const), d }) },
  { weight: 1, arbitrary: fc.constant({ k: "invGlobal" as const }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant("dma" as const), d, r, j, off: fc.integer({ min: 0, max: PAGE_4K - 8 }), write: fc.boolean() }) },
);

const permBits = (p: DmaPerms): number => (p === "r" ? 1 : p === "w" ? 2 : 3);
const regionBase = (reg: number): number => IOVA0 + reg * PAGE_2M;

function run(ops: Op[], invalidation: "queued" | "register", iotlbEntries: number): void {
  const { hw, host } = rig({ invalidation, iotlbEntries });
  for (const x of DOMAINS) {
    host.createDomain(x.did, x.levels);
    host.attach(x.did, x.rid);
  }
  const tables = DOMAINS.map(() => new Map<number, Unit>()); // base → unit
  const cached = DOMAINS.map(() => [] as Unit[]);
  const covering = (di: number, iova: number): Unit | undefined => [...tables[di]!.values()].find((u) => iova >= u.base && iova < u.base + u.size);
  const overlaps = (di: number, base: number, size: number): boolean => [...tables[di]!.values()].some((u) => u.base < base + size && base < u.base + u.size);
  const invalidate = (di: number, start: number, end: number) => {
    cached[di] = cached[di]!.filter((u) => !(u.base < end && start < u.base + u.size));
  };
  const expectCode = (fn: () => unknown, code: string | undefined) => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    if (code === undefined) expect(err).toBeUndefined();
    else expect(isIovError(err) && err.code === code, `expected ${code}, got ${String(err)}`).toBe(true);
  };

  for (const o of ops) {
    switch (o.k) {
      case "map": {
        const size: PageSize = o.large ? PAGE_2M : PAGE_4K;
        const base = regionBase(o.r) + (o.large ? 0 : o.j * PAGE_4K);
        const hpa = RAM + o.frame * PAGE_2M + (o.large ? 0 : o.j * PAGE_4K);
        const conflict = overlaps(o.d, base, size);
        expectCode(() => host.map(DOMAINS[o.d]!.did, base, hpa, size, o.perm, size), conflict ? "EEXIST" : undefined);
        if (!conflict) tables[o.d]!.set(base, { base, size, hpa, perm: permBits(o.perm) });
        break;
      }
      case "unmap":
      case "unmapStrict": {
        const size = o.large ? PAGE_2M : PAGE_4K;
        const base = regionBase(o.r) + (o.large ? 0 : o.j * PAGE_4K);
        const u = covering(o.d, base);
        let code: string | undefined;
        if (o.large) code = u?.size === PAGE_2M ? undefined : "ENOENT";
        else code = u === undefined ? "ENOENT" : u.size === PAGE_2M ? "EINVAL" : undefined;
        const did = DOMAINS[o.d]!.did;
        expectCode(() => (o.k === "unmap" ? host.unmap(did, base, size) : host.unmapAndInvalidate(did, base, size)), code);
        if (code === undefined) {
          tables[o.d]!.delete(base);
          if (o.k === "unmapStrict") invalidate(o.d, base, base + size);
        }
        break;
      }
      case "invPage": {
        const size = o.large ? PAGE_2M : PAGE_4K;
        const base = regionBase(o.r) + (o.large ? 0 : o.j * PAGE_4K);
        host.invalidateIotlb({ kind: "page", did: DOMAINS[o.d]!.did, iova: base, size });
        invalidate(o.d, base, base + size); // the hardware may drop more (an aligned block): never less
        break;
      }
      case "invDomain":
        host.invalidateIotlb({ kind: "domain", did: DOMAINS[o.d]!.did });
        cached[o.d] = [];
        break;
      case "invGlobal":
        host.invalidateIotlb({ kind: "global" });
        for (let i = 0; i < cached.length; i++) cached[i] = [];
        break;
      case "dma": {
        const iova = regionBase(o.r) + o.j * PAGE_4K + o.off;
        const need = o.write ? 2 : 1;
        const got = hw.translate(DOMAINS[o.d]!.rid, iova, 8, o.write);
        const cur = covering(o.d, iova);
        const legal = new Set<number>();
        if (cur !== undefined && (cur.perm & need) !== 0) legal.add(cur.hpa + (iova - cur.base));
        for (const u of cached[o.d]!) if (iova >= u.base && iova < u.base + u.size && (u.perm & need) !== 0) legal.add(u.hpa + (iova - u.base));
        if (cur !== undefined && (cur.perm & need) !== 0) {
          expect(legal.has(got), `dma ${JSON.stringify(o)} → ${got}, legal ${[...legal].join(",")}`).toBe(true);
        } else if (legal.size === 0) {
          expect(got, `dma ${JSON.stringify(o)} must fault`).toBe(DMA_FAULT);
        } else {
          expect(got === DMA_FAULT || legal.has(got), `dma ${JSON.stringify(o)} → ${got}`).toBe(true);
        }
        // What the walk would have cached (an over-approximation is safe).
        if (cur !== undefined && got === cur.hpa + (iova - cur.base)) cached[o.d]!.push({ ...cur });
        break;
      }
    }
  }
  const s = hw.stats();
  expect(s.translations).toBe(ops.filter((o) => o.k === "dma").length);
  expect(s.iotlbEntries).toBeLessThanOrEqual(iotlbEntries);
}

describe("map / unmap / invalidate / translate against a reference model", () => {
  for (const invalidation of ["queued", "register"] as const) {
    it(`agrees with the model (${invalidation} invalidation, small and large IOTLB)`, () => {
      fc.assert(
        fc.property(fc.array(op, { minLength: 10, maxLength: 80, size: "max" }), fc.constantFrom(4, 512), (ops, cap) => run(ops, invalidation, cap)),
        { numRuns: 300 },
      );
    });
  }

  it("after unmap + invalidate an address never translates again (directed)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: PAGES - 1 }), fc.boolean(), fc.boolean(), (page, large, write) => {
        const ops: Op[] = [
          { k: "map", d: 0, r: 1, j: page, large, perm: "rw", frame: 2 },
          { k: "dma", d: 0, r: 1, j: page, off: 16, write },
          { k: "unmap", d: 0, r: 1, j: page, large },
          { k: "dma", d: 0, r: 1, j: page, off: 16, write },
          { k: "invPage", d: 0, r: 1, j: page, large },
          { k: "dma", d: 0, r: 1, j: page, off: 16, write },
        ];
        run(ops, "queued", 512);
      }),
      { numRuns: 30 },
    );
  });
});
