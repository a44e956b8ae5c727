/**
 * Semantic checks on a HostFile. Without an inventory, the checks that need only the file (the
 * parser runs these); with the inventory of the built fabric, also whether the PFs exist, whether
 * numVfs fits TotalVFs, whether pools overlap or run dry, and whether guest memory fits the host.
 * Every issue points at the offending node; conflicts name the other place too.
 */
import { formatMac, type Mac } from "../nic/port-config.js";
import { allocate, formatVfList, inventoryByBdf, poolMembers, type Assignment, type Inventory, type VfAddr } from "./assign.js";
import { ConfigError, formatPos, makeIssue, sortIssues, type ConfigIssue } from "./issues.js";
import { formatSize } from "./values.js";
import { fieldPos, type HostFile, type Pos } from "./types.js";

export { resolveAssignments, poolMembers, type Assignment, type Inventory, type InventoryPf, type VfAddr } from "./assign.js";

/** How many guests a memory message lists before "+ N more". */
const MEMORY_LIST_MAX = 8;

interface Keyed<T> {
  readonly key: T;
  readonly path: string;
  readonly at: Pos;
  /** The value as the message shows it. */
  readonly shown: string;
}

class Checker {
  readonly issues: ConfigIssue[] = [];
  constructor(readonly hf: HostFile) {}

  report(at: Pos, path: string, text: string): void {
    this.issues.push(makeIssue(this.hf.file, at, path, text));
  }

  /** "guests[0].nics[1] at default.yaml:40:13" */
  where(path: string, at: Pos): string {
    return `${path} at ${formatPos(this.hf.file, at)}`;
  }

  /** Report every item whose key an earlier item has: "expected <expected>, found <shown>, already <already(first)>". */
  unique<T, I extends Keyed<T>>(items: readonly I[], expected: string, already: (first: I) => string): void {
    const first = new Map<T, I>();
    for (const it of items) {
      const prev = first.get(it.key);
      if (prev === undefined) first.set(it.key, it);
      else this.report(it.at, it.path, `expected ${expected}, found ${it.shown}, already ${already(prev)}`);
    }
  }
}

// ---- checks that need only the file ------------------------------------------------------------

function checkSlots(c: Checker): void {
  const { rootPorts, integrated } = c.hf.fabric;
  const slot = (kind: string, p: { slot: number; src: { at: Pos; fields: { slot?: Pos } } }, i: number): Keyed<number> => ({
    key: p.slot,
    path: `fabric.${kind}[${i}].slot`,
    at: p.src.fields.slot ?? p.src.at,
    shown: `${p.slot}`,
  });
  c.unique(
    [...rootPorts.map((p, i) => slot("rootPorts", p, i)), ...integrated.map((p, i) => slot("integrated", p, i))],
    "a slot no other port or endpoint uses",
    (prev) => `used by ${c.where(prev.path, prev.at)}`,
  );
}

function checkNames(c: Checker): void {
  c.unique(
    c.hf.guests.map((g, i) => ({ key: g.name, path: `guests[${i}].name`, at: fieldPos(g.src, "name"), shown: JSON.stringify(g.name) })),
    "a name no other guest has",
    (prev) => `used by ${c.where(prev.path, prev.at)}`,
  );
  c.unique(
    c.hf.pools.map((p, i) => ({ key: p.name, path: `pools[${i}].name`, at: fieldPos(p.src, "name"), shown: JSON.stringify(p.name) })),
    "a name no other pool has",
    (prev) => `used by ${c.where(prev.path, prev.at)}`,
  );
}

function checkPfs(c: Checker): void {
  c.unique(
    c.hf.pfs.map((p, i) => ({ key: p.pf, path: `pfs[${i}].pf`, at: fieldPos(p.src, "pf"), shown: p.pf })),
    "a PF not listed before",
    (prev) => `listed by ${c.where(prev.path, prev.at)}`,
  );
  c.hf.pfs.forEach((pf, i) => {
    const configured = new Map<number, { path: string; at: Pos }>();
    pf.vfs.forEach((s, j) => {
      const path = `pfs[${i}].vfs[${j}].vf`;
      const at = fieldPos(s.src, "vf");
      if (s.vfs.indices.some((v) => v >= pf.numVfs)) {
        c.report(at, path, `expected VF indices below numVfs (${pf.numVfs}), found "${s.vfs.text}"`);
        return;
      }
      const again = s.vfs.indices.find((v) => configured.has(v));
      const prev = again === undefined ? undefined : configured.get(again);
      if (prev !== undefined) {
        c.report(at, path, `expected VFs not configured before, found VF ${again}, already configured by ${c.where(prev.path, prev.at)}`);
        return;
      }
      for (const v of s.vfs.indices) configured.set(v, { path, at });
    });
  });
}

function checkMacs(c: Checker): void {
  const items: Array<Keyed<Mac> & { vf: string }> = [];
  c.hf.pfs.forEach((pf, i) =>
    pf.vfs.forEach((s, j) => {
      const mac = s.port.mac;
      if (mac === undefined || s.vfs.indices.length !== 1) return;
      const path = `pfs[${i}].vfs[${j}].mac`;
      items.push({ key: mac, path, at: fieldPos(s.src, "mac"), shown: formatMac(mac), vf: `${pf.pf}#${s.vfs.indices[0]}` });
    }),
  );
  c.unique(items, "a MAC no other VF has", (prev) => `given to ${prev.vf} by ${c.where(prev.path, prev.at)}`);
}

function checkIommu(c: Checker): void {
  const { iommu, guests } = c.hf;
  const users = guests.filter((g) => g.nics.length > 0).map((g) => g.name);
  if (iommu.enabled || users.length === 0) return;
  c.report(
    fieldPos(iommu.src, "enabled"),
    "iommu.enabled",
    `expected true, since guests ${users.join(", ")} are given VFs and VFIO assigns devices only behind an IOMMU, found false`,
  );
}

function checkMemory(c: Checker, hostBytes: number): void {
  let total = 0;
  for (const [i, g] of c.hf.guests.entries()) {
    total += g.memoryBytes;
    if (total <= hostBytes) continue;
    const upTo = c.hf.guests.slice(0, i + 1);
    const shown = upTo.slice(0, MEMORY_LIST_MAX).map((x) => `${x.name} ${formatSize(x.memoryBytes)}`);
    if (upTo.length > MEMORY_LIST_MAX) shown.push(`${upTo.length - MEMORY_LIST_MAX} more`);
    c.report(
      fieldPos(g.src, "memory"),
      `guests[${i}].memory`,
      `expected the guests' memory to fit in the host's ${formatSize(hostBytes)}, found ${formatSize(total)} with this guest (${shown.join(" + ")})`,
    );
    return;
  }
}

// ---- checks that need the inventory ------------------------------------------------------------

function checkInventory(c: Checker, inv: Inventory): void {
  const byBdf = inventoryByBdf(inv);
  const known = [...byBdf.keys()].sort();
  const expectedPf = known.length === 0 ? "an SR-IOV PF (the fabric has none)" : `one of the fabric's SR-IOV PFs (${known.join(", ")})`;
  c.hf.pfs.forEach((pf, i) => {
    const ip = byBdf.get(pf.pf);
    if (ip === undefined) {
      c.report(fieldPos(pf.src, "pf"), `pfs[${i}].pf`, `expected ${expectedPf}, found ${pf.pf}`);
      return;
    }
    if (pf.numVfs > ip.totalVfs) {
      c.report(fieldPos(pf.src, "numVfs"), `pfs[${i}].numVfs`, `expected at most ${ip.totalVfs} (TotalVFs of ${pf.pf}), found ${pf.numVfs}`);
    }
  });
  c.hf.pools.forEach((pool, i) =>
    pool.match.pfs?.forEach((s, j) => {
      if (!byBdf.has(s.pf)) c.report(s.at, `pools[${i}].match.pf[${j}]`, `expected ${expectedPf}, found ${s.pf}`);
    }),
  );
}

/** Pools that guests draw from must not share a VF: otherwise which VF a guest gets, and whether a
 *  pool runs dry, would depend on the order of unrelated guests. */
function checkPoolOverlap(c: Checker, inv: Inventory): void {
  const drawn = new Set(c.hf.guests.flatMap((g) => g.nics.flatMap((n) => (n.kind === "pool" ? [n.pool] : []))));
  const pools: Array<{ name: string; path: string; at: Pos; matchAt: Pos; vfs: Map<string, VfAddr> }> = [];
  c.hf.pools.forEach((pool, i) => {
    if (!drawn.has(pool.name) || pools.some((p) => p.name === pool.name)) return;
    const vfs = new Map(poolMembers(c.hf, pool, inv).map((v) => [`${v.pf}#${v.vf}`, v]));
    pools.push({ name: pool.name, path: `pools[${i}]`, at: pool.src.at, matchAt: fieldPos(pool.src, "match"), vfs });
  });
  pools.forEach((pb, b) => {
    const pa = pools.slice(0, b).find((p) => [...pb.vfs.keys()].some((k) => p.vfs.has(k)));
    if (pa === undefined) return;
    const shared = [...pb.vfs].filter(([k]) => pa.vfs.has(k)).map(([, v]) => v);
    c.report(
      pb.matchAt,
      `${pb.path}.match`,
      `expected no VF in two pools that guests draw from, found ${formatVfList(shared)} also in pool "${pa.name}" (${c.where(pa.path, pa.at)})`,
    );
  });
}

// ---- entry points ------------------------------------------------------------------------------

/**
 * Everything wrong with the host file, sorted by position. Without `inventory`, only what the
 * file alone shows (parseHostFile already ran these); with it, also what needs the built fabric.
 */
export function validateHostFile(hostFile: HostFile, inventory?: Inventory): ConfigIssue[] {
  const c = new Checker(hostFile);
  checkSlots(c);
  checkNames(c);
  checkPfs(c);
  checkMacs(c);
  checkIommu(c);
  checkMemory(c, inventory?.hostMemoryBytes ?? hostFile.host.memoryBytes);
  if (inventory !== undefined) {
    checkInventory(c, inventory);
    checkPoolOverlap(c, inventory);
  }
  const alloc = allocate(hostFile, inventory);
  c.issues.push(...alloc.issues);
  if (inventory !== undefined && alloc.issues.length === 0) checkVectors(c, inventory, alloc.assignments);
  return sortIssues(c.issues);
}

/** Guest interrupt vectors the boot hands to device MSI-X entries: 0x40..0xef (below the system vectors). */
export const GUEST_MSI_VECTOR_BASE = 0x40;
export const GUEST_MSI_VECTOR_LIMIT = 0xf0;

/** Every guest's VFs must fit its interrupt vectors: the NIC that would overflow them is reported. */
function checkVectors(c: Checker, inventory: Inventory, assignments: readonly Assignment[]): void {
  const byPf = inventoryByBdf(inventory);
  const room = GUEST_MSI_VECTOR_LIMIT - GUEST_MSI_VECTOR_BASE;
  const used = new Map<string, number>();
  for (const a of [...assignments].sort((x, y) => x.nicIndex - y.nicIndex)) {
    const n = byPf.get(a.pf)?.vfMsixVectors;
    if (n === undefined) continue;
    const before = used.get(a.guest) ?? 0;
    used.set(a.guest, before + n);
    if (before + n <= room || before > room) continue; // report the first NIC that overflows, once
    const gi = c.hf.guests.findIndex((g) => g.name === a.guest);
    const nic = c.hf.guests[gi]!.nics[a.nicIndex]!;
    const [key, at] = nic.kind === "vf" ? ["vf", fieldPos(nic.src, "vf")] : nic.kind === "pool" ? ["pool", fieldPos(nic.src, "pool")] : ["pf", fieldPos(nic.src, "pf")];
    c.report(
      at,
      `guests[${gi}].nics[${a.nicIndex}].${key}`,
      `expected NICs whose MSI-X vectors fit guest ${a.guest}'s ${room} interrupt vectors (0x40..0xef), found ${before + n} with this one (${n} per VF of ${a.pf})`,
    );
  }
}

/** validateHostFile, throwing ConfigError (EINVAL) with every issue when there is any. */
export function assertValidHostFile(hostFile: HostFile, inventory?: Inventory): void {
  const issues = validateHostFile(hostFile, inventory);
  if (issues.length > 0) throw new ConfigError(issues);
}
