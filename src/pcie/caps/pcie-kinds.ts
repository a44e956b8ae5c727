/**
 * What a PCI Express capability holds for each Device/Port Type (PCIe Base 4.0 §7.5.3): the reset
 * value and read-write / write-1-to-clear / sticky masks of every register, from the function kind
 * and the link, slot and feature options. ./pcie.ts turns them into the table's values and the
 * per-device overrides of `pcieCap`.
 */
import { IovError } from "../../errors.js";
import type { FunctionKind } from "../function.js";
import { checkRange, when } from "./common.js";
import * as E from "./pcie-regs.js";

export type PcieSpeed = 2.5 | 5 | 8 | 16 | 32; // GT/s
export type PcieWidth = 1 | 2 | 4 | 8 | 12 | 16 | 32;
export type AspmSupport = "none" | "l0s" | "l1" | "l0s-l1";
export type MaxPayload = 128 | 256 | 512 | 1024 | 2048 | 4096;

/** Link speed encoding of LNKCAP/LNKSTA/LNKCTL2 (1 = 2.5 GT/s ... 5 = 32 GT/s). */
export function linkSpeedCode(s: PcieSpeed): number {
  const code = [2.5, 5, 8, 16, 32].indexOf(s) + 1;
  if (code === 0) throw new IovError("ERANGE", `link speed ${String(s)} GT/s is not a PCIe speed`);
  return code;
}
/** GT/s of a link speed code, undefined for reserved codes. */
export function linkSpeedGts(code: number): PcieSpeed | undefined {
  return ([2.5, 5, 8, 16, 32] as const)[code - 1];
}
const WIDTHS: readonly number[] = [1, 2, 4, 8, 12, 16, 32];
const ASPM_CODE: Record<AspmSupport, number> = { none: 0, l0s: 1, l1: 2, "l0s-l1": 3 };

/** PCI_EXP_FLAGS_TYPE of each function kind; the conventional host bridge has no PCIe capability. */
export function pcieDeviceType(kind: FunctionKind): number {
  switch (kind) {
    case "endpoint":
      return E.PCI_EXP_TYPE_ENDPOINT;
    case "legacy-endpoint":
      return E.PCI_EXP_TYPE_LEG_END;
    case "root-port":
      return E.PCI_EXP_TYPE_ROOT_PORT;
    case "upstream-port":
      return E.PCI_EXP_TYPE_UPSTREAM;
    case "downstream-port":
      return E.PCI_EXP_TYPE_DOWNSTREAM;
    case "pci-bridge":
      return E.PCI_EXP_TYPE_PCI_BRIDGE;
    case "rciep":
      return E.PCI_EXP_TYPE_RC_END;
    case "rc-event-collector":
      return E.PCI_EXP_TYPE_RC_EC;
    case "host-bridge":
      throw new IovError("EINVAL", "a conventional host bridge has no PCI Express capability", { kind });
  }
}

/** Functions that own a link (everything but root-complex-integrated ones). */
export const pcieHasLink = (k: FunctionKind): boolean => k !== "rciep" && k !== "rc-event-collector" && k !== "host-bridge";
/** Ports whose link points away from the root: they own slots, ARI forwarding, link disable/retrain. */
export const pcieIsDownstreamPort = (k: FunctionKind): boolean => k === "root-port" || k === "downstream-port";
/** Functions with the Root Control/Capabilities/Status registers. */
export const pcieHasRootRegs = (k: FunctionKind): boolean => k === "root-port" || k === "rc-event-collector";
const isEndpointKind = (k: FunctionKind): boolean => k === "endpoint" || k === "legacy-endpoint" || k === "rciep";

export interface PcieSlotOptions {
  /** Physical Slot Number (0..8191). */
  readonly number: number;
  /** Hot-plug capable with attention button, power controller and both indicators. Default false. */
  readonly hotPlug?: boolean;
  /** Slot power limit in watts, 0..255 (scale 1.0x). Default 25. */
  readonly powerLimitWatts?: number;
  /** A card is present in the slot at reset. Default true. */
  readonly present?: boolean;
}

export interface PcieCapOptions {
  /** Maximum link speed; the link trains to it unless `linkSpeed` says otherwise. */
  readonly speed: PcieSpeed;
  readonly width: PcieWidth;
  /** Negotiated speed/width in Link Status at reset (defaults: the maxima). */
  readonly linkSpeed?: PcieSpeed;
  readonly linkWidth?: PcieWidth;
  /** Max_Payload_Size Supported (bytes). Default 256. */
  readonly maxPayload?: MaxPayload;
  readonly extTag?: boolean; // default true
  /** Function Level Reset capable (endpoints only). Default true for endpoints. */
  readonly flr?: boolean;
  /** ARI Forwarding Supported (root and downstream ports only). Default true for those. */
  readonly ariForwarding?: boolean;
  /** Completion Timeout Ranges Supported, 0..15 (0 = not programmable). Default 0xf (ranges A-D). */
  readonly completionTimeoutRanges?: number;
  readonly completionTimeoutDisable?: boolean; // default true
  readonly ltr?: boolean;
  readonly tag10BitCompleter?: boolean;
  readonly tag10BitRequester?: boolean;
  readonly aspm?: AspmSupport; // default "none"
  readonly clockPm?: boolean;
  readonly portNumber?: number;
  /** MSI/MSI-X vector used for this capability's interrupts (PCI_EXP_FLAGS_IRQ), 0..31. */
  readonly interruptMessageNumber?: number;
  /** Root and downstream ports only: the port has a slot. */
  readonly slot?: PcieSlotOptions;
}

export interface Vals {
  reset: number;
  rw: number;
  w1c: number;
  sticky: number;
}
const ro = (reset = 0): Vals => ({ reset: reset >>> 0, rw: 0, w1c: 0, sticky: 0 });

const PAYLOAD_CODE: Record<MaxPayload, number> = { 128: 0, 256: 1, 512: 2, 1024: 3, 2048: 4, 4096: 5 };
const DEVCTL_ERR_EN = E.PCI_EXP_DEVCTL_CERE | E.PCI_EXP_DEVCTL_NFERE | E.PCI_EXP_DEVCTL_FERE | E.PCI_EXP_DEVCTL_URRE;
const LNKCTL2_RWS =
  E.PCI_EXP_LNKCTL2_TLS |
  E.PCI_EXP_LNKCTL2_ENTER_COMP |
  E.PCI_EXP_LNKCTL2_HASD |
  E.PCI_EXP_LNKCTL2_TX_MARGIN |
  E.PCI_EXP_LNKCTL2_ENTER_MOD_COMP |
  E.PCI_EXP_LNKCTL2_COMP_SOS |
  E.PCI_EXP_LNKCTL2_COMP_PRESET;
const LNKSTA2_EQ_DONE = E.PCI_EXP_LNKSTA2_EQ_COMPLETE | E.PCI_EXP_LNKSTA2_EQ_PHASE1 | E.PCI_EXP_LNKSTA2_EQ_PHASE2 | E.PCI_EXP_LNKSTA2_EQ_PHASE3;
/** Endpoint L0s/L1 Acceptable Latency "no limit" (0b111 each). */
const DEVCAP_LATENCY_NO_LIMIT = E.PCI_EXP_DEVCAP_L0S | E.PCI_EXP_DEVCAP_L1;

/** Reset value and masks of every register for one kind of function. */
export function pcieRegValues(kind: FunctionKind, o: PcieCapOptions) {
  const type = pcieDeviceType(kind);
  const link = pcieHasLink(kind);
  const dsp = pcieIsDownstreamPort(kind);
  const root = pcieHasRootRegs(kind);
  const ep = isEndpointKind(kind);
  const maxCode = linkSpeedCode(o.speed);
  const curCode = linkSpeedCode(o.linkSpeed ?? o.speed);
  if (!WIDTHS.includes(o.width)) throw new IovError("ERANGE", `link width x${o.width} is not a PCIe width`);
  const curWidth = o.linkWidth ?? o.width;
  if (!WIDTHS.includes(curWidth) || curWidth > o.width || curCode > maxCode)
    throw new IovError("ERANGE", `negotiated link x${curWidth} at code ${curCode} exceeds the maximum x${o.width} at code ${maxCode}`);
  const slot = o.slot;
  if (slot !== undefined && !dsp) throw new IovError("EINVAL", `a ${kind} has no slot: only root and downstream ports do`, { kind });
  const ari = dsp && (o.ariForwarding ?? true);
  if (o.ariForwarding === true && !dsp) throw new IovError("EINVAL", `ARI Forwarding is a root/downstream port feature, not a ${kind}'s`, { kind });
  const flr = ep && (o.flr ?? true);
  if (o.flr === true && !ep) throw new IovError("EINVAL", `Function Level Reset is an endpoint feature, not a ${kind}'s`, { kind });
  const irq = checkRange("PCIe interrupt message number", o.interruptMessageNumber ?? 0, 0, 31);
  const ranges = checkRange("Completion Timeout Ranges Supported", o.completionTimeoutRanges ?? 0xf, 0, 15);
  const ctoDis = o.completionTimeoutDisable ?? true;
  const extTag = o.extTag ?? true;
  const port = checkRange("port number", o.portNumber ?? 0, 0, 255);

  const FLAGS = ro(E.PCI_EXP_FLAGS_VERS_2 | (type << 4) | when(slot !== undefined, E.PCI_EXP_FLAGS_SLOT) | (irq << 9));
  const DEVCAP = ro(
    PAYLOAD_CODE[o.maxPayload ?? 256] |
      when(extTag, E.PCI_EXP_DEVCAP_EXT_TAG) |
      (ep ? DEVCAP_LATENCY_NO_LIMIT : 0) |
      E.PCI_EXP_DEVCAP_RBER |
      when(flr, E.PCI_EXP_DEVCAP_FLR),
  );
  const DEVCTL: Vals = {
    // §7.5.3.4 defaults: Relaxed Ordering and No Snoop enabled, Max_Read_Request_Size 512 bytes.
    reset: E.PCI_EXP_DEVCTL_RELAX_EN | E.PCI_EXP_DEVCTL_NOSNOOP_EN | E.PCI_EXP_DEVCTL_READRQ_512B,
    rw:
      DEVCTL_ERR_EN |
      E.PCI_EXP_DEVCTL_RELAX_EN |
      E.PCI_EXP_DEVCTL_PAYLOAD |
      when(extTag, E.PCI_EXP_DEVCTL_EXT_TAG) |
      E.PCI_EXP_DEVCTL_AUX_PME |
      E.PCI_EXP_DEVCTL_NOSNOOP_EN |
      E.PCI_EXP_DEVCTL_READRQ |
      when(flr || kind === "pci-bridge", E.PCI_EXP_DEVCTL_BCR_FLR),
    w1c: 0,
    sticky: E.PCI_EXP_DEVCTL_AUX_PME, // RWS
  };
  const DEVSTA: Vals = { ...ro(), w1c: E.PCI_EXP_DEVSTA_CED | E.PCI_EXP_DEVSTA_NFED | E.PCI_EXP_DEVSTA_FED | E.PCI_EXP_DEVSTA_URD };

  let LNKCAP = ro();
  let LNKCTL = ro();
  let LNKSTA = ro();
  let LNKCAP2 = ro();
  let LNKCTL2 = ro();
  let LNKSTA2 = ro();
  if (link) {
    LNKCAP = ro(
      maxCode |
        (o.width << 4) |
        (ASPM_CODE[o.aspm ?? "none"] << 10) |
        when(o.clockPm, E.PCI_EXP_LNKCAP_CLKPM) |
        // Downstream ports report link-active changes and bandwidth changes (required above 5 GT/s
        // and for hot-plug; modelled on every root/downstream port).
        (dsp ? E.PCI_EXP_LNKCAP_DLLLARC | E.PCI_EXP_LNKCAP_LBNC | when(slot?.hotPlug, E.PCI_EXP_LNKCAP_SDERC) : 0) |
        E.PCI_EXP_LNKCAP_ASPM_COMP |
        (port << 24),
    );
    LNKCTL = {
      ...ro(),
      rw:
        E.PCI_EXP_LNKCTL_ASPMC |
        E.PCI_EXP_LNKCTL_CCC |
        E.PCI_EXP_LNKCTL_ES |
        E.PCI_EXP_LNKCTL_HAWD |
        // RCB: RW in endpoints and bridges, hardwired in root ports, reserved in switch ports.
        when(ep || kind === "pci-bridge", E.PCI_EXP_LNKCTL_RCB) |
        // Clock PM: upstream components only.
        when(o.clockPm && !dsp, E.PCI_EXP_LNKCTL_CLKREQ_EN) |
        (dsp ? E.PCI_EXP_LNKCTL_LD | E.PCI_EXP_LNKCTL_RL | E.PCI_EXP_LNKCTL_LBMIE | E.PCI_EXP_LNKCTL_LABIE : 0),
    };
    LNKSTA = {
      ...ro(curCode | (curWidth << E.PCI_EXP_LNKSTA_NLW_SHIFT) | E.PCI_EXP_LNKSTA_SLC | when(dsp, E.PCI_EXP_LNKSTA_DLLLA)),
      w1c: dsp ? E.PCI_EXP_LNKSTA_LBMS | E.PCI_EXP_LNKSTA_LABS : 0,
    };
    let sls = 0;
    for (let c = 1; c <= maxCode; c++) sls |= 1 << c;
    LNKCAP2 = ro(sls);
    LNKCTL2 = { reset: maxCode, rw: LNKCTL2_RWS, w1c: 0, sticky: LNKCTL2_RWS };
    // At 8 GT/s and above the link has equalized by the time software looks (ROS bits).
    LNKSTA2 =
      maxCode >= E.PCI_EXP_LNKCAP_SLS_8_0GB
        ? { reset: curCode >= E.PCI_EXP_LNKCAP_SLS_8_0GB ? LNKSTA2_EQ_DONE : 0, rw: 0, w1c: E.PCI_EXP_LNKSTA2_LINK_EQ_REQ, sticky: LNKSTA2_EQ_DONE | E.PCI_EXP_LNKSTA2_LINK_EQ_REQ }
        : ro();
  }

  let SLTCAP = ro();
  let SLTCTL = ro();
  // Presence Detect State reads 1 on downstream ports without a slot (§7.5.3.11).
  let SLTSTA = dsp ? { ...ro(E.PCI_EXP_SLTSTA_PDS), w1c: E.PCI_EXP_SLTSTA_DLLSC } : ro();
  if (slot !== undefined) {
    const psn = checkRange("physical slot number", slot.number, 0, 0x1fff);
    const watts = checkRange("slot power limit (W)", slot.powerLimitWatts ?? 25, 0, 255);
    const hp = slot.hotPlug === true;
    const hpCaps = E.PCI_EXP_SLTCAP_ABP | E.PCI_EXP_SLTCAP_PCP | E.PCI_EXP_SLTCAP_AIP | E.PCI_EXP_SLTCAP_PIP | E.PCI_EXP_SLTCAP_HPC;
    // No Command Completed Support: slot commands take effect at once (no Command Completed event).
    SLTCAP = ro((hp ? hpCaps | E.PCI_EXP_SLTCAP_NCCS : 0) | (watts << 7) | ((psn * 2 ** 19) >>> 0));
    SLTCTL = hp
      ? {
          ...ro(E.PCI_EXP_SLTCTL_ATTN_IND_OFF | ((slot.present ?? true) ? E.PCI_EXP_SLTCTL_PWR_IND_ON : E.PCI_EXP_SLTCTL_PWR_IND_OFF)),
          rw:
            E.PCI_EXP_SLTCTL_ABPE |
            E.PCI_EXP_SLTCTL_PFDE |
            E.PCI_EXP_SLTCTL_PDCE |
            E.PCI_EXP_SLTCTL_HPIE |
            E.PCI_EXP_SLTCTL_AIC |
            E.PCI_EXP_SLTCTL_PIC |
            E.PCI_EXP_SLTCTL_PCC |
            E.PCI_EXP_SLTCTL_DLLSCE,
        }
      : { ...ro(), rw: E.PCI_EXP_SLTCTL_DLLSCE };
    SLTSTA = {
      ...ro((slot.present ?? true) ? E.PCI_EXP_SLTSTA_PDS : 0),
      w1c: (hp ? E.PCI_EXP_SLTSTA_ABP | E.PCI_EXP_SLTSTA_PFD | E.PCI_EXP_SLTSTA_PDC : 0) | E.PCI_EXP_SLTSTA_DLLSC,
    };
  }

  const RTCTL = root
    ? {
        ...ro(),
        rw: E.PCI_EXP_RTCTL_SECEE | E.PCI_EXP_RTCTL_SENFEE | E.PCI_EXP_RTCTL_SEFEE | E.PCI_EXP_RTCTL_PMEIE | E.PCI_EXP_RTCTL_CRSSVE,
      }
    : ro();
  // The model answers Configuration Requests with CRS while a function is not ready: root ports can show it.
  const RTCAP = ro(when(root, E.PCI_EXP_RTCAP_CRSVIS));
  const RTSTA = root ? { ...ro(), w1c: E.PCI_EXP_RTSTA_PME } : ro();

  const DEVCAP2 = ro(
    ranges |
      when(ctoDis, E.PCI_EXP_DEVCAP2_COMP_TMOUT_DIS) |
      when(ari, E.PCI_EXP_DEVCAP2_ARI) |
      when(o.ltr, E.PCI_EXP_DEVCAP2_LTR) |
      when(o.tag10BitCompleter, E.PCI_EXP_DEVCAP2_TAG10_COMP) |
      when(o.tag10BitRequester, E.PCI_EXP_DEVCAP2_TAG10_REQ),
  );
  const DEVCTL2: Vals = {
    ...ro(),
    rw:
      when(ranges !== 0, E.PCI_EXP_DEVCTL2_COMP_TIMEOUT) |
      when(ctoDis, E.PCI_EXP_DEVCTL2_COMP_TMOUT_DIS) |
      when(ari, E.PCI_EXP_DEVCTL2_ARI) |
      when(o.ltr, E.PCI_EXP_DEVCTL2_LTR_EN) |
      when(o.tag10BitRequester, E.PCI_EXP_DEVCTL2_TAG10_REQ_EN),
  };

  return {
    FLAGS,
    DEVCAP,
    DEVCTL,
    DEVSTA,
    LNKCAP,
    LNKCTL,
    LNKSTA,
    SLTCAP,
    SLTCTL,
    SLTSTA,
    RTCTL,
    RTCAP,
    RTSTA,
    DEVCAP2,
    DEVCTL2,
    DEVSTA2: ro(),
    LNKCAP2,
    LNKCTL2,
    LNKSTA2,
    SLTCAP2: ro(),
    SLTCTL2: ro(),
    SLTSTA2: ro(),
  };
}
