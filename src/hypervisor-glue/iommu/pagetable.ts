/**
 * Host software's side of a VT-d second-level page table (what drivers/iommu/intel/iommu.c does in
 * __domain_mapping / dma_pte_clear_range): build and edit the table in host memory, in the
 * hardware's format. It never touches the remapping unit: changing a table does not invalidate any
 * cached translation (see IommuHost's invalidation helpers).
 *
 * Multi-step edits are all-or-nothing: conflicts are found before anything is written, and a
 * table-page allocation failure part-way undoes what was written.
 */
import { IovError } from "../../errors.js";
import type { PhysMem } from "../../memory/physmem.js";
import { DMA_PTE_LARGE_PAGE, DMA_PTE_READ, DMA_PTE_WRITE, PAGE_1G, PAGE_2M, PAGE_4K, TWO32, levelShift, type PageSize } from "./defs.js";

/** Where table pages come from (RangeAllocator fits). */
export interface TableAllocator {
  alloc(size: number, align?: number): number;
  release(base: number, size: number): void;
}

export interface Leaf {
  /** Level of the leaf entry (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB). */
  level: number;
  /** Host physical address of the entry. */
  ea: number;
  /** First IOVA the entry maps and its page size. */
  base: number;
  pageSize: number;
  hpa: number;
  perm: number;
}

const LEVEL_OF_PAGE: Readonly<Record<number, number>> = { [PAGE_4K]: 1, [PAGE_2M]: 2, [PAGE_1G]: 3 };
const NON_LEAF = DMA_PTE_READ | DMA_PTE_WRITE;

export class SlPageTable {
  /** Table pages this table owns (root included). */
  private readonly pages = new Set<number>();
  /** Top-level table (what a context entry's SLPTPTR points at). */
  readonly root: number;

  constructor(
    private readonly mem: PhysMem,
    private readonly alloc: TableAllocator,
    readonly levels: 3 | 4,
    /** Host address width: entry address bits above it are not the table's. */
    private readonly hawHi: number,
  ) {
    this.root = this.newTable();
  }

  get tablePages(): number {
    return this.pages.size;
  }

  private newTable(): number {
    const t = this.alloc.alloc(PAGE_4K, PAGE_4K);
    this.mem.fill(t, PAGE_4K, 0);
    this.pages.add(t);
    return t;
  }
  private freeTable(t: number): void {
    this.pages.delete(t);
    this.alloc.release(t, PAGE_4K);
  }

  private ea(table: number, iova: number, level: number): number {
    return table + (Math.floor(iova / 2 ** levelShift(level)) % 512) * 8;
  }
  private lo(ea: number): number {
    return this.mem.read32(ea);
  }
  private addrOf(ea: number): number {
    return (this.mem.read32(ea + 4) & this.hawHi) * TWO32 + ((this.mem.read32(ea) & 0xffff_f000) >>> 0);
  }
  private writeEntry(ea: number, addr: number, flags: number): void {
    this.mem.write32(ea + 4, Math.floor(addr / TWO32));
    this.mem.write32(ea, ((addr % TWO32) | flags) >>> 0);
  }
  private clearEntry(ea: number): void {
    this.mem.write32(ea, 0);
    this.mem.write32(ea + 4, 0);
  }

  /** The leaf entry mapping `iova`, if any. */
  lookup(iova: number): Leaf | undefined {
    let table = this.root;
    for (let level: number = this.levels; level >= 1; level--) {
      const ea = this.ea(table, iova, level);
      const lo = this.lo(ea);
      if ((lo & NON_LEAF) === 0) return undefined;
      if (level === 1 || (lo & DMA_PTE_LARGE_PAGE) !== 0) {
        const pageSize = 2 ** levelShift(level);
        const base = Math.floor(iova / pageSize) * pageSize;
        return { level, ea, base, pageSize, hpa: this.addrOf(ea), perm: lo & NON_LEAF };
      }
      table = this.addrOf(ea);
    }
    return undefined;
  }

  /** True if no entry in the subtree under `table` (a level-`level` table) maps anything. */
  private subtreeEmpty(table: number, level: number): boolean {
    for (let i = 0; i < 512; i++) {
      const ea = table + i * 8;
      const lo = this.lo(ea);
      if ((lo & NON_LEAF) === 0) continue;
      if (level === 1 || (lo & DMA_PTE_LARGE_PAGE) !== 0) return false;
      if (!this.subtreeEmpty(this.addrOf(ea), level - 1)) return false;
    }
    return true;
  }
  private subtreePages(table: number, level: number, out: number[]): void {
    out.push(table);
    if (level === 1) return;
    for (let i = 0; i < 512; i++) {
      const ea = table + i * 8;
      const lo = this.lo(ea);
      if ((lo & NON_LEAF) !== 0 && (lo & DMA_PTE_LARGE_PAGE) === 0) this.subtreePages(this.addrOf(ea), level - 1, out);
    }
  }

  /** Map [iova, iova+size) → [hpa, ...) with pages of `pageSize`. EEXIST if any part is mapped. */
  map(iova: number, hpa: number, size: number, perm: number, pageSize: PageSize): void {
    const target = LEVEL_OF_PAGE[pageSize];
    if (target === undefined || target > this.levels) throw new IovError("EINVAL", `page size ${pageSize} not usable in a ${this.levels}-level table`);
    const end = iova + size;
    // 1. Find conflicts before writing anything.
    for (let a = iova; a < end; a += pageSize) {
      let table = this.root;
      for (let level: number = this.levels; level >= target; level--) {
        const ea = this.ea(table, a, level);
        const lo = this.lo(ea);
        if ((lo & NON_LEAF) === 0) break;
        const leaf = level === 1 || (lo & DMA_PTE_LARGE_PAGE) !== 0;
        if (leaf || (level === target && !this.subtreeEmpty(this.addrOf(ea), level - 1)))
          throw new IovError("EEXIST", `IOVA 0x${a.toString(16)} is already mapped`, { iova: a });
        table = this.addrOf(ea);
      }
    }
    // 2. Write, remembering what to undo.
    const created: Array<{ table: number; parentEa: number }> = [];
    const written: number[] = [];
    const replaced: Array<{ table: number; level: number }> = [];
    try {
      for (let a = iova, h = hpa; a < end; a += pageSize, h += pageSize) {
        let table = this.root;
        for (let level: number = this.levels; level > target; level--) {
          const ea = this.ea(table, a, level);
          if ((this.lo(ea) & NON_LEAF) !== 0) {
            table = this.addrOf(ea);
            continue;
          }
          const t = this.newTable();
          this.writeEntry(ea, t, NON_LEAF);
          created.push({ table: t, parentEa: ea });
          table = t;
        }
        const ea = this.ea(table, a, target);
        if ((this.lo(ea) & NON_LEAF) !== 0) replaced.push({ table: this.addrOf(ea), level: target - 1 });
        this.writeEntry(ea, h, perm | (target > 1 ? DMA_PTE_LARGE_PAGE : 0));
        written.push(ea);
      }
    } catch (e) {
      for (const ea of written.reverse()) this.clearEntry(ea);
      for (const c of created.reverse()) {
        this.clearEntry(c.parentEa);
        this.freeTable(c.table);
      }
      throw e;
    }
    // 3. Empty tables displaced by large pages go back to the allocator.
    for (const r of replaced) {
      const pages: number[] = [];
      this.subtreePages(r.table, r.level, pages);
      for (const p of pages) this.freeTable(p);
    }
  }

  /**
   * Clear the leaf entries mapping [iova, iova+size). ENOENT if a page in the range is not mapped,
   * EINVAL if the range cuts a large page. Tables stay allocated. Returns the bytes unmapped.
   */
  unmap(iova: number, size: number): number {
    const end = iova + size;
    const leaves: number[] = [];
    for (let a = iova; a < end; ) {
      const l = this.lookup(a);
      if (l === undefined) throw new IovError("ENOENT", `IOVA 0x${a.toString(16)} is not mapped`, { iova: a });
      if (l.base < iova || l.base + l.pageSize > end)
        throw new IovError("EINVAL", `range 0x${iova.toString(16)}+0x${size.toString(16)} cuts the ${l.pageSize / 1024} KiB page at 0x${l.base.toString(16)}`, {
          iova: l.base,
          pageSize: l.pageSize,
        });
      leaves.push(l.ea);
      a = l.base + l.pageSize;
    }
    for (const ea of leaves) this.clearEntry(ea);
    return size;
  }

  /** Give every table page back (the domain is being destroyed). */
  destroy(): void {
    for (const p of [...this.pages]) this.freeTable(p);
  }
}
