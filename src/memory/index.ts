export { PhysMem, PAGE_SIZE, PAGE_SHIFT, PAGE_MASK, PHYS_ADDR_BITS, PHYS_ADDR_LIMIT } from "./physmem.js";
export { RangeAllocator } from "./alloc.js";
export { BufferPool } from "./buffer-pool.js";
