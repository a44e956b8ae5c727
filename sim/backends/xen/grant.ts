/**
 * Xen grant tables (v1) in the granting guest's memory: 8-byte entries {flags u16, domid u16,
 * frame u32} (xen/include/public/grant_table.h). The guest grants a page to a domain; the hypervisor
 * checks the entry on every grant copy or map. A failed check is a status code, never an exception.
 */
import type { Guest } from "../../../src/hypervisor-glue/guest.js";

export const GTF_permit_access = 1;
export const GTF_readonly = 1 << 2;
export const GTF_reading = 1 << 3;
export const GTF_writing = 1 << 4;
export const GNTST_okay = 0;
export const GNTST_bad_gntref = -4;
export const GNTST_permission_denied = -8;
export const GRANT_ENTRY_SIZE = 8;
export const XEN_PAGE = 4096;

/** The guest's side: a grant table at `gpa` with `entries` slots. */
export class GrantTable {
  private nextFree = 0;
  private readonly freeList: number[] = [];
  constructor(readonly g: Guest, readonly gpa: number, readonly entries: number) {
    for (let i = 0; i < entries; i++) g.write32(gpa + i * GRANT_ENTRY_SIZE, 0);
  }
  /** Grant `frameGpa`'s page to `domid`; returns the grant reference, or -1 when the table is full. */
  grant(domid: number, frameGpa: number, readonly: boolean): number {
    const ref = this.freeList.length > 0 ? this.freeList.pop()! : this.nextFree < this.entries ? this.nextFree++ : -1;
    if (ref < 0) return -1;
    const e = this.gpa + ref * GRANT_ENTRY_SIZE;
    this.g.write32(e + 4, Math.floor(frameGpa / XEN_PAGE));
    this.g.write16(e + 2, domid);
    this.g.write16(e, GTF_permit_access | (readonly ? GTF_readonly : 0)); // flags last (barrier in real code)
    return ref;
  }
  /** End foreign access; refused (false) while the remote side still has it mapped. */
  endAccess(ref: number): boolean {
    const e = this.gpa + ref * GRANT_ENTRY_SIZE;
    const f = this.g.read16(e);
    if (f & (GTF_reading | GTF_writing)) return false;
    this.g.write16(e, 0);
    this.freeList.push(ref);
    return true;
  }
}

/**
 * The hypervisor's grant operations on behalf of backend domain `domid` against a granting guest.
 * Allocation-free: results are status codes and counters.
 */
export class GrantOps {
  copies = 0;
  copiedBytes = 0;
  maps = 0;
  failures = 0;
  constructor(readonly granter: Guest, readonly tableGpa: number, readonly entries: number) {}

  private check(ref: number, domid: number, write: boolean): number {
    if (ref < 0 || ref >= this.entries) return GNTST_bad_gntref;
    const e = this.tableGpa + ref * GRANT_ENTRY_SIZE;
    const f = this.granter.read16(e);
    if (!(f & GTF_permit_access) || this.granter.read16(e + 2) !== domid) return GNTST_permission_denied;
    if (write && f & GTF_readonly) return GNTST_permission_denied;
    return GNTST_okay;
  }
  /** GPA of the page behind `ref` (after a successful check). */
  private frame(ref: number): number {
    return this.granter.read32(this.tableGpa + ref * GRANT_ENTRY_SIZE + 4) * XEN_PAGE;
  }

  /** GNTTABOP_copy from the granted page (ref, offset) into host memory at `dstHpa`. */
  copyFrom(domid: number, ref: number, offset: number, len: number, dstHpa: number): number {
    const st = this.check(ref, domid, false);
    if (st !== GNTST_okay || offset + len > XEN_PAGE) {
      this.failures++;
      return st !== GNTST_okay ? st : GNTST_bad_gntref;
    }
    this.granter.mem.copy(dstHpa, this.granter.gpaToHpa(this.frame(ref) + offset), len);
    this.copies++;
    this.copiedBytes += len;
    return GNTST_okay;
  }
  /** GNTTABOP_copy into the granted page from host memory. */
  copyTo(domid: number, ref: number, offset: number, len: number, srcHpa: number): number {
    const st = this.check(ref, domid, true);
    if (st !== GNTST_okay || offset + len > XEN_PAGE) {
      this.failures++;
      return st !== GNTST_okay ? st : GNTST_bad_gntref;
    }
    this.granter.mem.copy(this.granter.gpaToHpa(this.frame(ref) + offset), srcHpa, len);
    this.copies++;
    this.copiedBytes += len;
    return GNTST_okay;
  }
  /** GNTTABOP_map_grant_ref: returns the host address of the mapped page (negative status on failure). */
  map(domid: number, ref: number, write: boolean): number {
    const st = this.check(ref, domid, write);
    if (st !== GNTST_okay) {
      this.failures++;
      return st;
    }
    const e = this.tableGpa + ref * GRANT_ENTRY_SIZE;
    this.granter.write16(e, this.granter.read16(e) | (write ? GTF_writing : GTF_reading));
    this.maps++;
    return this.granter.gpaToHpa(this.frame(ref));
  }
  unmap(ref: number): void {
    const e = this.tableGpa + ref * GRANT_ENTRY_SIZE;
    this.granter.write16(e, this.granter.read16(e) & ~(GTF_reading | GTF_writing));
  }
}
