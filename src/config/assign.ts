/**
 * Which VF each guest NIC gets. Deterministic: first every specific VF (`vf: PF#n`), then every
 * range (`pf:` + `vfs:`), then every pool, each pass in file order (guests, then their NICs); a
 * range or pool hands out its lowest free VF, ordered by PF address then VF index.
 * Pools need the inventory (vendor and device IDs live in the built fabric); without one, only the
 * first two passes run, which is what parsing checks.
 */
import { formatPos, makeIssue, ConfigError, type ConfigIssue } from "./issues.js";
import { canonicalBdf, formatVfAddrs, suggest } from "./values.js";
import { fieldPos, type GuestConfig, type HostFile, type NicRequest, type PfConfig, type PoolConfig, type Pos } from "./types.js";

/** What the built fabric really has; the boot code provides it after enumeration. */
export interface InventoryPf {
  /** The PF's address (any form parseBdf accepts). */
  readonly bdf: string;
  readonly vendorId: number;
  /** The VF Device ID from the PF's SR-IOV capability. */
  readonly vfDeviceId: number;
  readonly totalVfs: number;
  /** MSI-X vectors a guest's VF driver takes for each of the PF's VFs (interrupt vectors in the guest). */
  readonly vfMsixVectors?: number;
}

export interface Inventory {
  /** SR-IOV capable PFs only. */
  readonly pfs: readonly InventoryPf[];
  readonly hostMemoryBytes: number;
}

export interface Assignment {
  readonly guest: string;
  readonly nicIndex: number;
  readonly pf: string;
  readonly vfIndex: number;
}

export interface VfAddr {
  readonly pf: string;
  readonly vf: number;
}

/** The inventory's PFs by canonical address. */
export function inventoryByBdf(inv: Inventory): Map<string, InventoryPf> {
  const m = new Map<string, InventoryPf>();
  for (const p of inv.pfs) {
    const c = canonicalBdf(p.bdf);
    m.set(c.ok ? c.value : p.bdf, p);
  }
  return m;
}

/** The first `pfs:` entry of each PF, ordered by address (canonical addresses sort as numbers do). */
function pfEntries(hf: HostFile): PfConfig[] {
  const seen = new Map<string, PfConfig>();
  for (const p of hf.pfs) if (!seen.has(p.pf)) seen.set(p.pf, p);
  return [...seen.values()].sort((a, b) => (a.pf < b.pf ? -1 : a.pf > b.pf ? 1 : 0));
}

/** Every enabled VF the pool's selectors match, ordered by PF address then VF index. */
export function poolMembers(hf: HostFile, pool: PoolConfig, inv: Inventory): VfAddr[] {
  const byBdf = inventoryByBdf(inv);
  const m = pool.match;
  const out: VfAddr[] = [];
  for (const pf of pfEntries(hf)) {
    const ip = byBdf.get(pf.pf);
    if (ip === undefined) continue;
    if (m.vendors !== undefined && !m.vendors.includes(ip.vendorId)) continue;
    if (m.devices !== undefined && !m.devices.includes(ip.vfDeviceId)) continue;
    let allowed: ReadonlySet<number> | "all" = "all";
    if (m.pfs !== undefined) {
      const sels = m.pfs.filter((s) => s.pf === pf.pf);
      if (sels.length === 0) continue;
      if (sels.every((s) => s.vfs !== undefined)) allowed = new Set(sels.flatMap((s) => s.vfs ?? []));
    }
    const enabled = Math.min(pf.numVfs, ip.totalVfs);
    for (let vf = 0; vf < enabled; vf++) if (allowed === "all" || allowed.has(vf)) out.push({ pf: pf.pf, vf });
  }
  return out;
}

/** "0000:01:00.0#0-3, 0000:02:00.0#1" for a list ordered by PF. */
export function formatVfList(vfs: readonly VfAddr[]): string {
  const byPf = new Map<string, number[]>();
  for (const v of vfs) {
    const l = byPf.get(v.pf);
    if (l === undefined) byPf.set(v.pf, [v.vf]);
    else l.push(v.vf);
  }
  return [...byPf].map(([pf, idx]) => formatVfAddrs(pf, idx)).join(", ");
}

interface Holder {
  readonly guest: string;
  readonly path: string;
  readonly at: Pos;
}

/** The allocation and everything wrong with the NIC requests. */
export function allocate(hf: HostFile, inv: Inventory | undefined): { assignments: Assignment[]; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const out: Assignment[] = [];
  const report = (at: Pos, path: string, text: string): void => void issues.push(makeIssue(hf.file, at, path, text));
  const pfs = new Map(pfEntries(hf).map((p) => [p.pf, p]));
  const taken = new Map<string, Holder>();
  const key = (pf: string, vf: number): string => `${pf}#${vf}`;
  const take = (g: GuestConfig, nicIndex: number, path: string, at: Pos, pf: string, vf: number): void => {
    taken.set(key(pf, vf), { guest: g.name, path, at });
    out.push({ guest: g.name, nicIndex, pf, vfIndex: vf });
  };
  /** "all 4 are taken by vm1, vm2" / "taken by vm1" */
  const takenBy = (vfs: readonly VfAddr[]): string => {
    const names = [...new Set(vfs.map((v) => taken.get(key(v.pf, v.vf))?.guest ?? "?"))].join(", ");
    return vfs.length === 1 ? `taken by ${names}` : `all ${vfs.length} are taken by ${names}`;
  };
  const each = (kind: NicRequest["kind"], f: (g: GuestConfig, n: NicRequest, ni: number, path: string) => void): void =>
    hf.guests.forEach((g, gi) => g.nics.forEach((n, ni) => n.kind === kind && f(g, n, ni, `guests[${gi}].nics[${ni}]`)));

  // Pass 1: specific VFs.
  each("vf", (g, n, ni, path) => {
    if (n.kind !== "vf") return;
    const at = fieldPos(n.src, "vf");
    const name = `${n.pf}#${n.vf}`;
    const pf = pfs.get(n.pf);
    if (pf === undefined) return report(at, `${path}.vf`, `expected a VF of a PF listed under pfs, found ${name}`);
    if (n.vf >= pf.numVfs) return report(at, `${path}.vf`, `expected a VF index below numVfs (${pf.numVfs}) of ${n.pf}, found ${name}`);
    const prev = taken.get(key(n.pf, n.vf));
    if (prev !== undefined) {
      return report(at, `${path}.vf`, `expected a VF no other NIC has, found ${name}, already given to guest ${prev.guest} by ${prev.path} at ${formatPos(hf.file, prev.at)}`);
    }
    take(g, ni, path, at, n.pf, n.vf);
  });

  // Pass 2: the next free VF of a PF's range.
  each("range", (g, n, ni, path) => {
    if (n.kind !== "range") return;
    const at = fieldPos(n.src, "pf");
    const pf = pfs.get(n.pf);
    if (pf === undefined) return report(at, `${path}.pf`, `expected a PF listed under pfs, found ${n.pf}`);
    if (n.vfs !== undefined && n.vfs.indices.some((i) => i >= pf.numVfs)) {
      return report(fieldPos(n.src, "vfs"), `${path}.vfs`, `expected VF indices below numVfs (${pf.numVfs}) of ${n.pf}, found "${n.vfs.text}"`);
    }
    const range = (n.vfs?.indices ?? Array.from({ length: pf.numVfs }, (_, i) => i)).map((vf) => ({ pf: n.pf, vf }));
    const free = range.find((v) => !taken.has(key(v.pf, v.vf)));
    if (free !== undefined) return take(g, ni, path, at, free.pf, free.vf);
    const where = range.length === 0 ? `${n.pf}, found none (it has no VFs enabled)` : `${formatVfList(range)}, found none (${takenBy(range)})`;
    report(at, `${path}.pf`, `expected a free VF in ${where}`);
  });

  // Pass 3: the next free VF of a pool.
  const pools = new Map<string, PoolConfig>();
  for (const p of hf.pools) if (!pools.has(p.name)) pools.set(p.name, p);
  const members = new Map<string, VfAddr[]>();
  each("pool", (g, n, ni, path) => {
    if (n.kind !== "pool") return;
    const at = fieldPos(n.src, "pool");
    const pool = pools.get(n.pool);
    if (pool === undefined) {
      const names = [...pools.keys()];
      const near = suggest(n.pool, names);
      const expected = names.length === 0 ? "the name of a pool (none are defined under pools)" : `one of the pools ${names.join(", ")}`;
      return report(at, `${path}.pool`, `expected ${expected}, found "${n.pool}"${near === undefined ? "" : ` (did you mean "${near}"?)`}`);
    }
    if (inv === undefined) return;
    let list = members.get(pool.name);
    if (list === undefined) members.set(pool.name, (list = poolMembers(hf, pool, inv)));
    const free = list.find((v) => !taken.has(key(v.pf, v.vf)));
    if (free !== undefined) return take(g, ni, path, at, free.pf, free.vf);
    const why = list.length === 0 ? "the pool matches no enabled VF" : takenBy(list);
    const span = list.length === 0 ? "" : ` (${formatVfList(list)})`;
    report(at, `${path}.pool`, `expected a free VF in pool "${pool.name}"${span}, found none (${why})`);
  });
  return { assignments: out, issues };
}

/**
 * The VF each guest NIC gets, in allocation order (specific VFs, then ranges, then pools, each in
 * file order). Pure. Throws ConfigError when a request cannot be met.
 */
export function resolveAssignments(hostFile: HostFile, inventory: Inventory): Assignment[] {
  const { assignments, issues } = allocate(hostFile, inventory);
  if (issues.length > 0) throw new ConfigError(issues);
  return assignments;
}
