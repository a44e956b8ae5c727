/**
 * IOMMU groups as Linux computes them (drivers/iommu/iommu.c pci_device_group with
 * drivers/pci/pci.c pci_acs_enabled / pci_acs_path_enabled), and the VFIO viability verdict.
 *
 * Rules modelled (classic algorithm, before the 2025 PCI_ACS_ISOLATED rework):
 * - Required ACS controls: SV | RR | CR | UF (REQ_ACS_FLAGS). A control the ACS capability does not
 *   implement counts as hard-wired enabled, except Egress Control.
 * - Root and downstream ports must have the ACS capability with those controls enabled; endpoints,
 *   upstream ports and RCiEPs need ACS only when they are part of a multifunction device;
 *   PCI/PCI-X bridges (and RC event collectors) never provide isolation; single-function devices
 *   of the other kinds are isolated.
 * - Walking up from a device: at each bus with a bridge above it, if the whole path from that bridge
 *   to the root has ACS, stop; otherwise the device joins the bridge's group.
 * - Functions of one multifunction slot without ACS share a group.
 * - VFs are never multifunction (Linux clears the flag), so each VF is its own group when the path
 *   above it isolates.
 * Not modelled: device-specific ACS quirks, DMA-alias quirks (devices behind a PCIe-to-PCI bridge are
 * grouped with the bridge through the walk above).
 */
import { IovError } from "../errors.js";
import type { FunctionKind } from "../pcie/function.js";
import { PCI_ACS_CR, PCI_ACS_EC, PCI_ACS_RR, PCI_ACS_SV, PCI_ACS_UF } from "../pcie/caps/acs.js";


/** drivers/iommu/iommu.c REQ_ACS_FLAGS. */
export const REQ_ACS_FLAGS = PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF;

const ACS_NAMES: Array<[number, string]> = [
  [PCI_ACS_SV, "SrcValid"],
  [PCI_ACS_RR, "ReqRedir"],
  [PCI_ACS_CR, "CmpltRedir"],
  [PCI_ACS_UF, "UpstreamFwd"],
];

/** What the group computation needs to know about one function. */
export interface GroupNode {
  readonly bdf: string;
  readonly bus: number;
  readonly devfn: number;
  readonly kind: FunctionKind;
  /** Header Type bit 7 as Linux stores it in pci_dev->multifunction (false for VFs). */
  readonly multifunction: boolean;
  /** ACS capability registers, or undefined when the function has no ACS capability. */
  readonly acs: { readonly cap: number; readonly ctrl: number } | undefined;
  /** The bridge above this function's bus (bus->self), undefined on the root bus. */
  readonly upstream: GroupNode | undefined;
  readonly isVirtfn: boolean;
}

/** pci_acs_flags_enabled: required controls enabled, unimplemented ones (except EC) count as hard-wired on. */
export function acsFlagsEnabled(n: GroupNode, flags = REQ_ACS_FLAGS): boolean {
  if (n.acs === undefined) return false;
  const want = flags & (n.acs.cap | PCI_ACS_EC);
  return (n.acs.ctrl & want) === want;
}

/** pci_acs_enabled by PCIe type. */
export function acsEnabled(n: GroupNode, flags = REQ_ACS_FLAGS): boolean {
  switch (n.kind) {
    case "pci-bridge":
    case "rc-event-collector":
      return false;
    case "downstream-port":
    case "root-port":
      return acsFlagsEnabled(n, flags);
    case "endpoint":
    case "upstream-port":
    case "legacy-endpoint":
    case "rciep":
      return n.multifunction ? acsFlagsEnabled(n, flags) : true;
    case "host-bridge":
      return true;
  }
}

/** pci_acs_path_enabled(start, NULL, flags): every function from `start` up to the root bus. */
export function acsPathEnabled(start: GroupNode, flags = REQ_ACS_FLAGS): boolean {
  for (let n: GroupNode | undefined = start; n !== undefined; n = n.upstream) if (!acsEnabled(n, flags)) return false;
  return true;
}

export interface IommuGroup {
  readonly id: number;
  readonly members: GroupNode[];
  /** Why the members share a group (empty for singleton groups). */
  readonly reasons: string[];
}

/** Which ACS controls are missing on a port, for messages ("ReqRedir- CmpltRedir-"). */
export function missingAcs(n: GroupNode): string {
  if (n.acs === undefined) return "no ACS capability";
  const miss = ACS_NAMES.filter(([b]) => (b & (n.acs!.cap | PCI_ACS_EC)) !== 0 && (n.acs!.ctrl & b) === 0).map(([, s]) => `${s}-`);
  return miss.length === 0 ? "ACS enabled" : `ACS controls off: ${miss.join(" ")}`;
}

/**
 * Compute groups for functions given in Linux's device-add order (enumeration order; VFs after
 * their PF when SR-IOV is enabled). Returns groups numbered from 0 in creation order.
 */
export function computeGroups(nodes: readonly GroupNode[]): { groups: IommuGroup[]; groupOf: Map<GroupNode, IommuGroup> } {
  const groupOf = new Map<GroupNode, IommuGroup>();
  const groups: IommuGroup[] = [];
  const alloc = (): IommuGroup => {
    const g: IommuGroup = { id: groups.length, members: [], reasons: [] };
    groups.push(g);
    return g;
  };
  const join = (n: GroupNode, g: IommuGroup, reason: string): IommuGroup => {
    g.members.push(n);
    if (reason !== "" && !g.reasons.includes(reason)) g.reasons.push(reason);
    groupOf.set(n, g);
    return g;
  };
  for (const dev of nodes) {
    let pdev = dev;
    let found: IommuGroup | undefined;
    let reason = "";
    // Walk upstream until the path above is ACS-isolated.
    for (let up = dev.upstream; up !== undefined; up = up.upstream) {
      if (acsPathEnabled(up)) break;
      const culprit = firstNonAcs(up);
      reason = `${culprit.bdf} (${culprit.kind}) has ${missingAcs(culprit)}`;
      pdev = up;
      found = groupOf.get(up);
      if (found !== undefined) break;
    }
    if (found !== undefined) {
      join(dev, found, reason);
      continue;
    }
    // Functions of the same multifunction slot without ACS.
    if (pdev.multifunction && !acsEnabled(pdev)) {
      const slot = pdev.devfn >> 3;
      for (const [other, g] of groupOf) {
        if (other === pdev || other.bus !== pdev.bus || other.devfn >> 3 !== slot || acsEnabled(other)) continue;
        found = g;
        reason = `${pdev.bdf} and ${other.bdf} are functions of one multifunction device with ${missingAcs(pdev)}`;
        break;
      }
    }
    if (pdev !== dev && found === undefined) {
      // the bridge we stopped at has no group yet (caller gave an order without it): group with it.
      found = groupOf.get(pdev) ?? join(pdev, alloc(), "");
    }
    join(dev, found ?? alloc(), found === undefined ? "" : reason);
  }
  return { groups, groupOf };
}

function firstNonAcs(start: GroupNode): GroupNode {
  for (let n: GroupNode | undefined = start; n !== undefined; n = n.upstream) if (!acsEnabled(n)) return n;
  return start;
}

export type Binding = { kind: "host"; driver: string } | { kind: "vfio"; guest: string } | { kind: "none" };

export interface Viability {
  readonly ok: boolean;
  readonly group: number;
  readonly message: string;
}

/**
 * VFIO's rule: a group is viable for a guest only if every member is bound to vfio for that guest,
 * to no driver, or is a bridge (pcieport). Returns the verdict with the reason and the fix.
 */
export function checkViability(
  target: GroupNode,
  guest: string,
  groups: { groupOf: Map<GroupNode, IommuGroup> },
  bindingOf: (n: GroupNode) => Binding,
): Viability {
  const g = groups.groupOf.get(target);
  if (g === undefined) throw new IovError("ENODEV", `${target.bdf} is in no IOMMU group`);
  for (const m of g.members) {
    if (m === target) continue;
    const b = bindingOf(m);
    const isBridge = m.kind === "root-port" || m.kind === "downstream-port" || m.kind === "upstream-port" || m.kind === "pci-bridge";
    if (isBridge) continue;
    if (b.kind === "host" || (b.kind === "vfio" && b.guest !== guest)) {
      const owner = b.kind === "host" ? `bound to the host (${b.driver})` : `assigned to guest ${b.guest}`;
      const why = g.reasons.length > 0 ? ` The group is shared because ${g.reasons.join("; ")}.` : "";
      return {
        ok: false,
        group: g.id,
        message:
          `group ${g.id} also holds ${m.bdf}, ${owner}: assigning ${target.bdf} to ${guest} would let it reach that device.${why}` +
          ` Fix: assign every device of group ${g.id} to ${guest}, unbind ${m.bdf}, or use a slot behind a port with ACS (SrcValid+ ReqRedir+ CmpltRedir+ UpstreamFwd+).`,
      };
    }
  }
  return { ok: true, group: g.id, message: `group ${g.id} is viable for ${guest}` };
}
