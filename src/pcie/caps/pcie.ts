/**
 * PCI Express capability, version 2 (PCI_CAP_ID_EXP 0x10; PCIe Base 4.0 §7.5.3), as one table.
 * Which registers a function implements and which of their bits are writable depend on its
 * Device/Port Type; `pcieCap(kind, opts)` gives the per-kind reset values and masks as layout
 * overrides of the one table `PCIE_CAP` (whose own values are those of a x1 2.5 GT/s endpoint).
 *
 * Per kind (§7.5.3): link registers exist on functions with a link (not on RCiEPs and event
 * collectors); slot registers on root and downstream ports that have a slot; root registers on
 * root ports and event collectors; ARI Forwarding (DEVCAP2/DEVCTL2 bit 5), Link Disable, Retrain
 * Link, the bandwidth-notification bits and Link Active reporting on root and downstream ports;
 * Initiate FLR on endpoints that support FLR, Bridge Configuration Retry Enable on PCIe-to-PCI bridges.
 *
 * Trigger bits (Initiate FLR, Retrain Link) always read 0 on hardware. They are writable here so
 * that a post-write hook sees the 0→1 edge; the hook that acts on them clears them (see sriov/pf.ts).
 *
 * JSON names:
 * pcieFlags { capVersion, deviceType, slotImplemented, interruptMessageNumber }
 * devCap { maxPayloadSupported, phantomFunctionsSupported, extTagSupported, l0sAcceptableLatency,
 *   l1AcceptableLatency, roleBasedErrorReporting, capturedSlotPowerLimitValue,
 *   capturedSlotPowerLimitScale, flrCapable }
 * devCtl { correctableErrorReporting, nonFatalErrorReporting, fatalErrorReporting,
 *   unsupportedRequestReporting, relaxedOrdering, maxPayloadSize, extTagEnable, phantomFunctionsEnable,
 *   auxPowerPmEnable, noSnoop, maxReadRequestSize, initiateFlr }
 * devSta { correctableErrorDetected, nonFatalErrorDetected, fatalErrorDetected,
 *   unsupportedRequestDetected, auxPowerDetected, transactionsPending }
 * lnkCap { maxLinkSpeed, maxLinkWidth, aspmSupport, l0sExitLatency, l1ExitLatency, clockPm,
 *   surpriseDownReporting, dllLinkActiveReporting, linkBandwidthNotification,
 *   aspmOptionalityCompliance, portNumber }
 * lnkCtl { aspmControl, readCompletionBoundary, linkDisable, retrainLink, commonClock, extendedSynch,
 *   clockPmEnable, hwAutonomousWidthDisable, linkBandwidthMgmtIntEnable, linkAutonomousBandwidthIntEnable }
 * lnkSta { currentLinkSpeed, negotiatedLinkWidth, linkTraining, slotClock, dllLinkActive,
 *   linkBandwidthMgmtStatus, linkAutonomousBandwidthStatus }
 * sltCap { attentionButtonPresent, powerControllerPresent, mrlSensorPresent, attentionIndicatorPresent,
 *   powerIndicatorPresent, hotPlugSurprise, hotPlugCapable, slotPowerLimitValue, slotPowerLimitScale,
 *   interlockPresent, noCommandCompletedSupport, physicalSlotNumber }
 * sltCtl { attentionButtonPressedEnable, powerFaultDetectedEnable, mrlSensorChangedEnable,
 *   presenceDetectChangedEnable, commandCompletedIntEnable, hotPlugIntEnable, attentionIndicatorControl,
 *   powerIndicatorControl, powerControllerControl, interlockControl, dllStateChangedEnable,
 *   autoSlotPowerLimitDisable, inBandPdDisable }
 * sltSta { attentionButtonPressed, powerFaultDetected, mrlSensorChanged, presenceDetectChanged,
 *   commandCompleted, mrlSensorState, presenceDetectState, interlockStatus, dllStateChanged }
 * rootCtl { serrOnCorrectable, serrOnNonFatal, serrOnFatal, pmeIntEnable, crsVisibilityEnable }
 * rootCap { crsVisibility }  rootSta { pmeRequesterId, pmeStatus, pmePending }
 * devCap2 { completionTimeoutRanges, completionTimeoutDisableSupported, ariForwardingSupported,
 *   atomicOpRouting, atomicOp32Completer, atomicOp64Completer, cas128Completer, ltrSupported,
 *   tphCompleter, tag10BitCompleter, tag10BitRequester, obffSupported, endEndTlpPrefix }
 * devCtl2 { completionTimeoutValue, completionTimeoutDisable, ariForwardingEnable,
 *   atomicOpRequesterEnable, atomicOpEgressBlocking, idoRequestEnable, idoCompletionEnable, ltrEnable,
 *   tag10BitRequesterEnable, obffEnable }
 * devSta2, lnkCap2 { supportedLinkSpeeds, crosslinkSupported }
 * lnkCtl2 { targetLinkSpeed, enterCompliance, hwAutonomousSpeedDisable, selectableDeemphasis,
 *   transmitMargin, enterModifiedCompliance, complianceSos, compliancePreset }
 * lnkSta2 { currentDeemphasis, equalizationComplete, equalizationPhase1, equalizationPhase2,
 *   equalizationPhase3, linkEqualizationRequest }
 * sltCap2 { inBandPdDisableSupported }, sltCtl2, sltSta2
 */
import type { FunctionKind } from "../function.js";
import type { Overrides } from "../layout.js";
import { bit, bits, defineCap, reg } from "../regs.js";
import type { CapConfig } from "./common.js";
import type { PcieCapOptions, Vals } from "./pcie-kinds.js";
import { pcieRegValues } from "./pcie-kinds.js";
import * as E from "./pcie-regs.js";

export type { AspmSupport, MaxPayload, PcieCapOptions, PcieSlotOptions, PcieSpeed, PcieWidth } from "./pcie-kinds.js";
export { linkSpeedCode, linkSpeedGts, pcieDeviceType, pcieHasLink, pcieHasRootRegs, pcieIsDownstreamPort } from "./pcie-kinds.js";

/** The values the table itself carries: a x1 2.5 GT/s endpoint with FLR. */
const BASE = pcieRegValues("endpoint", { speed: 2.5, width: 1 });

export const PCIE_CAP = defineCap("PCI Express", E.PCI_CAP_ID_EXP, E.PCI_CAP_EXP_SIZEOF_V2, {
  FLAGS: reg(E.PCI_EXP_FLAGS, 2, {
    ...BASE.FLAGS,
    json: "pcieFlags",
    fields: { VERS: bits(3, 0, "capVersion"), TYPE: bits(7, 4, "deviceType"), SLOT: bit(8, "slotImplemented"), IRQ: bits(13, 9, "interruptMessageNumber") },
  }),
  DEVCAP: reg(E.PCI_EXP_DEVCAP, 4, {
    ...BASE.DEVCAP,
    json: "devCap",
    fields: {
      PAYLOAD: bits(2, 0, "maxPayloadSupported"),
      PHANTOM: bits(4, 3, "phantomFunctionsSupported"),
      EXT_TAG: bit(5, "extTagSupported"),
      L0S: bits(8, 6, "l0sAcceptableLatency"),
      L1: bits(11, 9, "l1AcceptableLatency"),
      RBER: bit(15, "roleBasedErrorReporting"),
      PWR_VAL: bits(25, 18, "capturedSlotPowerLimitValue"),
      PWR_SCL: bits(27, 26, "capturedSlotPowerLimitScale"),
      FLR: bit(28, "flrCapable"),
    },
  }),
  DEVCTL: reg(E.PCI_EXP_DEVCTL, 2, {
    ...BASE.DEVCTL,
    json: "devCtl",
    fields: {
      CERE: bit(0, "correctableErrorReporting"),
      NFERE: bit(1, "nonFatalErrorReporting"),
      FERE: bit(2, "fatalErrorReporting"),
      URRE: bit(3, "unsupportedRequestReporting"),
      RELAX_EN: bit(4, "relaxedOrdering"),
      PAYLOAD: bits(7, 5, "maxPayloadSize"),
      EXT_TAG: bit(8, "extTagEnable"),
      PHANTOM: bit(9, "phantomFunctionsEnable"),
      AUX_PME: bit(10, "auxPowerPmEnable"),
      NOSNOOP_EN: bit(11, "noSnoop"),
      READRQ: bits(14, 12, "maxReadRequestSize"),
      BCR_FLR: bit(15, "initiateFlr"), // Bridge Configuration Retry Enable on PCIe-to-PCI bridges
    },
  }),
  DEVSTA: reg(E.PCI_EXP_DEVSTA, 2, {
    ...BASE.DEVSTA,
    json: "devSta",
    fields: {
      CED: bit(0, "correctableErrorDetected"),
      NFED: bit(1, "nonFatalErrorDetected"),
      FED: bit(2, "fatalErrorDetected"),
      URD: bit(3, "unsupportedRequestDetected"),
      AUXPD: bit(4, "auxPowerDetected"),
      TRPND: bit(5, "transactionsPending"),
    },
  }),
  LNKCAP: reg(E.PCI_EXP_LNKCAP, 4, {
    ...BASE.LNKCAP,
    json: "lnkCap",
    fields: {
      SLS: bits(3, 0, "maxLinkSpeed"),
      MLW: bits(9, 4, "maxLinkWidth"),
      ASPMS: bits(11, 10, "aspmSupport"),
      L0SEL: bits(14, 12, "l0sExitLatency"),
      L1EL: bits(17, 15, "l1ExitLatency"),
      CLKPM: bit(18, "clockPm"),
      SDERC: bit(19, "surpriseDownReporting"),
      DLLLARC: bit(20, "dllLinkActiveReporting"),
      LBNC: bit(21, "linkBandwidthNotification"),
      ASPM_COMP: bit(22, "aspmOptionalityCompliance"),
      PN: bits(31, 24, "portNumber"),
    },
  }),
  LNKCTL: reg(E.PCI_EXP_LNKCTL, 2, {
    ...BASE.LNKCTL,
    json: "lnkCtl",
    fields: {
      ASPMC: bits(1, 0, "aspmControl"),
      RCB: bit(3, "readCompletionBoundary"),
      LD: bit(4, "linkDisable"),
      RL: bit(5, "retrainLink"),
      CCC: bit(6, "commonClock"),
      ES: bit(7, "extendedSynch"),
      CLKREQ_EN: bit(8, "clockPmEnable"),
      HAWD: bit(9, "hwAutonomousWidthDisable"),
      LBMIE: bit(10, "linkBandwidthMgmtIntEnable"),
      LABIE: bit(11, "linkAutonomousBandwidthIntEnable"),
    },
  }),
  LNKSTA: reg(E.PCI_EXP_LNKSTA, 2, {
    ...BASE.LNKSTA,
    json: "lnkSta",
    fields: {
      CLS: bits(3, 0, "currentLinkSpeed"),
      NLW: bits(9, 4, "negotiatedLinkWidth"),
      LT: bit(11, "linkTraining"),
      SLC: bit(12, "slotClock"),
      DLLLA: bit(13, "dllLinkActive"),
      LBMS: bit(14, "linkBandwidthMgmtStatus"),
      LABS: bit(15, "linkAutonomousBandwidthStatus"),
    },
  }),
  SLTCAP: reg(E.PCI_EXP_SLTCAP, 4, {
    ...BASE.SLTCAP,
    json: "sltCap",
    fields: {
      ABP: bit(0, "attentionButtonPresent"),
      PCP: bit(1, "powerControllerPresent"),
      MRLSP: bit(2, "mrlSensorPresent"),
      AIP: bit(3, "attentionIndicatorPresent"),
      PIP: bit(4, "powerIndicatorPresent"),
      HPS: bit(5, "hotPlugSurprise"),
      HPC: bit(6, "hotPlugCapable"),
      SPLV: bits(14, 7, "slotPowerLimitValue"),
      SPLS: bits(16, 15, "slotPowerLimitScale"),
      EIP: bit(17, "interlockPresent"),
      NCCS: bit(18, "noCommandCompletedSupport"),
      PSN: bits(31, 19, "physicalSlotNumber"),
    },
  }),
  SLTCTL: reg(E.PCI_EXP_SLTCTL, 2, {
    ...BASE.SLTCTL,
    json: "sltCtl",
    fields: {
      ABPE: bit(0, "attentionButtonPressedEnable"),
      PFDE: bit(1, "powerFaultDetectedEnable"),
      MRLSCE: bit(2, "mrlSensorChangedEnable"),
      PDCE: bit(3, "presenceDetectChangedEnable"),
      CCIE: bit(4, "commandCompletedIntEnable"),
      HPIE: bit(5, "hotPlugIntEnable"),
      AIC: bits(7, 6, "attentionIndicatorControl"),
      PIC: bits(9, 8, "powerIndicatorControl"),
      PCC: bit(10, "powerControllerControl"),
      EIC: bit(11, "interlockControl"),
      DLLSCE: bit(12, "dllStateChangedEnable"),
      ASPL_DISABLE: bit(13, "autoSlotPowerLimitDisable"),
      IBPD_DISABLE: bit(14, "inBandPdDisable"),
    },
  }),
  SLTSTA: reg(E.PCI_EXP_SLTSTA, 2, {
    ...BASE.SLTSTA,
    json: "sltSta",
    fields: {
      ABP: bit(0, "attentionButtonPressed"),
      PFD: bit(1, "powerFaultDetected"),
      MRLSC: bit(2, "mrlSensorChanged"),
      PDC: bit(3, "presenceDetectChanged"),
      CC: bit(4, "commandCompleted"),
      MRLSS: bit(5, "mrlSensorState"),
      PDS: bit(6, "presenceDetectState"),
      EIS: bit(7, "interlockStatus"),
      DLLSC: bit(8, "dllStateChanged"),
    },
  }),
  RTCTL: reg(E.PCI_EXP_RTCTL, 2, {
    ...BASE.RTCTL,
    json: "rootCtl",
    fields: {
      SECEE: bit(0, "serrOnCorrectable"),
      SENFEE: bit(1, "serrOnNonFatal"),
      SEFEE: bit(2, "serrOnFatal"),
      PMEIE: bit(3, "pmeIntEnable"),
      CRSSVE: bit(4, "crsVisibilityEnable"),
    },
  }),
  RTCAP: reg(E.PCI_EXP_RTCAP, 2, { ...BASE.RTCAP, json: "rootCap", fields: { CRSVIS: bit(0, "crsVisibility") } }),
  RTSTA: reg(E.PCI_EXP_RTSTA, 4, {
    ...BASE.RTSTA,
    json: "rootSta",
    fields: { PME_RQ_ID: bits(15, 0, "pmeRequesterId"), PME: bit(16, "pmeStatus"), PENDING: bit(17, "pmePending") },
  }),
  DEVCAP2: reg(E.PCI_EXP_DEVCAP2, 4, {
    ...BASE.DEVCAP2,
    json: "devCap2",
    fields: {
      COMP_TMOUT_RANGES: bits(3, 0, "completionTimeoutRanges"),
      COMP_TMOUT_DIS: bit(4, "completionTimeoutDisableSupported"),
      ARI: bit(5, "ariForwardingSupported"),
      ATOMIC_ROUTE: bit(6, "atomicOpRouting"),
      ATOMIC_COMP32: bit(7, "atomicOp32Completer"),
      ATOMIC_COMP64: bit(8, "atomicOp64Completer"),
      ATOMIC_COMP128: bit(9, "cas128Completer"),
      LTR: bit(11, "ltrSupported"),
      TPH_COMP: bits(13, 12, "tphCompleter"),
      TAG10_COMP: bit(16, "tag10BitCompleter"),
      TAG10_REQ: bit(17, "tag10BitRequester"),
      OBFF: bits(19, 18, "obffSupported"),
      EE_PREFIX: bit(21, "endEndTlpPrefix"),
    },
  }),
  DEVCTL2: reg(E.PCI_EXP_DEVCTL2, 2, {
    ...BASE.DEVCTL2,
    json: "devCtl2",
    fields: {
      COMP_TIMEOUT: bits(3, 0, "completionTimeoutValue"),
      COMP_TMOUT_DIS: bit(4, "completionTimeoutDisable"),
      ARI: bit(5, "ariForwardingEnable"),
      ATOMIC_REQ: bit(6, "atomicOpRequesterEnable"),
      ATOMIC_EGRESS_BLOCK: bit(7, "atomicOpEgressBlocking"),
      IDO_REQ_EN: bit(8, "idoRequestEnable"),
      IDO_CMP_EN: bit(9, "idoCompletionEnable"),
      LTR_EN: bit(10, "ltrEnable"),
      TAG10_REQ_EN: bit(12, "tag10BitRequesterEnable"),
      OBFF: bits(14, 13, "obffEnable"),
    },
  }),
  DEVSTA2: reg(E.PCI_EXP_DEVSTA2, 2, { ...BASE.DEVSTA2, json: "devSta2" }),
  LNKCAP2: reg(E.PCI_EXP_LNKCAP2, 4, {
    ...BASE.LNKCAP2,
    json: "lnkCap2",
    fields: { SLS: bits(7, 1, "supportedLinkSpeeds"), CROSSLINK: bit(8, "crosslinkSupported") },
  }),
  LNKCTL2: reg(E.PCI_EXP_LNKCTL2, 2, {
    ...BASE.LNKCTL2,
    json: "lnkCtl2",
    fields: {
      TLS: bits(3, 0, "targetLinkSpeed"),
      ENTER_COMP: bit(4, "enterCompliance"),
      HASD: bit(5, "hwAutonomousSpeedDisable"),
      SEL_DEEMPH: bit(6, "selectableDeemphasis"),
      TX_MARGIN: bits(9, 7, "transmitMargin"),
      ENTER_MOD_COMP: bit(10, "enterModifiedCompliance"),
      COMP_SOS: bit(11, "complianceSos"),
      COMP_PRESET: bits(15, 12, "compliancePreset"),
    },
  }),
  LNKSTA2: reg(E.PCI_EXP_LNKSTA2, 2, {
    ...BASE.LNKSTA2,
    json: "lnkSta2",
    fields: {
      CDL: bit(0, "currentDeemphasis"),
      EQ_COMPLETE: bit(1, "equalizationComplete"),
      EQ_PHASE1: bit(2, "equalizationPhase1"),
      EQ_PHASE2: bit(3, "equalizationPhase2"),
      EQ_PHASE3: bit(4, "equalizationPhase3"),
      LINK_EQ_REQ: bit(5, "linkEqualizationRequest"),
    },
  }),
  SLTCAP2: reg(E.PCI_EXP_SLTCAP2, 4, { ...BASE.SLTCAP2, json: "sltCap2", fields: { IBPD: bit(0, "inBandPdDisableSupported") } }),
  SLTCTL2: reg(E.PCI_EXP_SLTCTL2, 2, { ...BASE.SLTCTL2, json: "sltCtl2" }),
  SLTSTA2: reg(E.PCI_EXP_SLTSTA2, 2, { ...BASE.SLTSTA2, json: "sltSta2" }),
});

export type PcieRegs = typeof PCIE_CAP.regs;

/**
 * The PCI Express capability of one function: `PCIE_CAP` with the reset values and masks of its
 * Device/Port Type and options, for `LayoutBuilder.cap(def, offset, overrides)` / `placeCap`.
 */
export function pcieCap(kind: FunctionKind, opts: PcieCapOptions): CapConfig<PcieRegs> {
  const v = pcieRegValues(kind, opts);
  const overrides: Overrides<PcieRegs> = {};
  for (const [k, val] of Object.entries(v)) (overrides as Record<string, Vals>)[k] = val;
  return { def: PCIE_CAP, overrides };
}
