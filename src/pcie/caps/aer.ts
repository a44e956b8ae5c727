/**
 * Advanced Error Reporting, version 2 (PCI_EXT_CAP_ID_ERR 0x01; PCIe Base 4.0 §7.8.4).
 * Status registers are RW1CS, masks and severity RWS, the First Error Pointer and Header Log ROS:
 * all of them survive FLR and hot reset (sticky). The root registers (Root Error Command/Status,
 * Error Source Identification) belong to root ports and event collectors; `aerCap(kind)` makes them
 * read-only zero elsewhere and drops Surprise Down, which only downstream ports report.
 *
 * JSON names: uncorStatus/uncorMask/uncorSeverity { dlp, surpriseDown, poisonedTlp, fcp,
 * completionTimeout, completerAbort, unexpectedCompletion, receiverOverflow, malformedTlp, ecrc,
 * unsupportedRequest, acsViolation, internal, mcBlockedTlp, atomicOpEgressBlocked, tlpPrefixBlocked }
 * with a register prefix (uncorStatusDlp, uncorMaskDlp, uncorSeverityDlp, ...);
 * corStatus/corMask { receiverError, badTlp, badDllp, replayRollover, replayTimeout, advisoryNonFatal,
 * correctedInternal, headerLogOverflow } likewise prefixed (corStatusBadTlp, corMaskBadTlp, ...);
 * aerCapCtrl { firstErrorPointer, ecrcGenCapable, ecrcGenEnable, ecrcCheckCapable, ecrcCheckEnable,
 * multiHeaderCapable, multiHeaderEnable, tlpPrefixLogPresent, completionTimeoutLogCapable };
 * headerLog0..3; rootErrCmd { corReportingEnable, nonFatalReportingEnable, fatalReportingEnable };
 * rootErrStatus { errCorReceived, multipleErrCorReceived, errFatalNonFatalReceived,
 * multipleErrFatalNonFatalReceived, firstUncorrectableFatal, nonFatalMessagesReceived,
 * fatalMessagesReceived, advancedErrorInterruptMessageNumber };
 * errSourceId { errCorSourceId, errFatalNonFatalSourceId }.
 */
import type { FunctionKind } from "../function.js";
import type { FieldSpec } from "../regs.js";
import { bit, bits, defineExtCap, reg } from "../regs.js";
import type { CapConfig } from "./common.js";
import { when } from "./common.js";
import { pcieHasRootRegs, pcieIsDownstreamPort } from "./pcie-kinds.js";

export const PCI_EXT_CAP_ID_ERR = 0x01; // Advanced Error Reporting
export const PCI_ERR_UNCOR_STATUS = 0x04; // Uncorrectable Error Status
export const PCI_ERR_UNC_DLP = 0x00000010; // Data Link Protocol Error
export const PCI_ERR_UNC_SURPDN = 0x00000020; // Surprise Down Error
export const PCI_ERR_UNC_POISON_TLP = 0x00001000; // Poisoned TLP Received
export const PCI_ERR_UNC_FCP = 0x00002000; // Flow Control Protocol Error
export const PCI_ERR_UNC_COMP_TIME = 0x00004000; // Completion Timeout
export const PCI_ERR_UNC_COMP_ABORT = 0x00008000; // Completer Abort
export const PCI_ERR_UNC_UNX_COMP = 0x00010000; // Unexpected Completion
export const PCI_ERR_UNC_RX_OVER = 0x00020000; // Receiver Overflow
export const PCI_ERR_UNC_MALF_TLP = 0x00040000; // Malformed TLP
export const PCI_ERR_UNC_ECRC = 0x00080000; // ECRC Error
export const PCI_ERR_UNC_UNSUP = 0x00100000; // Unsupported Request Error
export const PCI_ERR_UNC_ACSV = 0x00200000; // ACS Violation
export const PCI_ERR_UNC_INTN = 0x00400000; // Uncorrectable Internal Error
export const PCI_ERR_UNC_MCBTLP = 0x00800000; // MC Blocked TLP
export const PCI_ERR_UNC_ATOMEG = 0x01000000; // AtomicOp Egress Blocked
export const PCI_ERR_UNC_TLPPRE = 0x02000000; // TLP Prefix Blocked Error
export const PCI_ERR_UNCOR_MASK = 0x08; // Uncorrectable Error Mask
export const PCI_ERR_UNCOR_SEVER = 0x0c; // Uncorrectable Error Severity
export const PCI_ERR_COR_STATUS = 0x10; // Correctable Error Status
export const PCI_ERR_COR_RCVR = 0x00000001; // Receiver Error
export const PCI_ERR_COR_BAD_TLP = 0x00000040; // Bad TLP
export const PCI_ERR_COR_BAD_DLLP = 0x00000080; // Bad DLLP
export const PCI_ERR_COR_REP_ROLL = 0x00000100; // REPLAY_NUM Rollover
export const PCI_ERR_COR_REP_TIMER = 0x00001000; // Replay Timer Timeout
export const PCI_ERR_COR_ADV_NFAT = 0x00002000; // Advisory Non-Fatal Error
export const PCI_ERR_COR_INTERNAL = 0x00004000; // Corrected Internal Error
export const PCI_ERR_COR_LOG_OVER = 0x00008000; // Header Log Overflow
export const PCI_ERR_COR_MASK = 0x14; // Correctable Error Mask
export const PCI_ERR_CAP = 0x18; // Advanced Error Capabilities and Control
export const PCI_ERR_CAP_FEP_MASK = 0x0000001f; // First Error Pointer
export const PCI_ERR_CAP_ECRC_GENC = 0x00000020; // ECRC Generation Capable
export const PCI_ERR_CAP_ECRC_GENE = 0x00000040; // ECRC Generation Enable
export const PCI_ERR_CAP_ECRC_CHKC = 0x00000080; // ECRC Check Capable
export const PCI_ERR_CAP_ECRC_CHKE = 0x00000100; // ECRC Check Enable
export const PCI_ERR_CAP_MHRC = 0x00000200; // Multiple Header Recording Capable
export const PCI_ERR_CAP_MHRE = 0x00000400; // Multiple Header Recording Enable
export const PCI_ERR_HEADER_LOG = 0x1c; // Header Log (4 dwords)
export const PCI_ERR_ROOT_COMMAND = 0x2c; // Root Error Command
export const PCI_ERR_ROOT_CMD_COR_EN = 0x00000001; // Correctable Error Reporting Enable
export const PCI_ERR_ROOT_CMD_NONFATAL_EN = 0x00000002; // Non-Fatal Error Reporting Enable
export const PCI_ERR_ROOT_CMD_FATAL_EN = 0x00000004; // Fatal Error Reporting Enable
export const PCI_ERR_ROOT_STATUS = 0x30; // Root Error Status
export const PCI_ERR_ROOT_COR_RCV = 0x00000001; // ERR_COR Received
export const PCI_ERR_ROOT_MULTI_COR_RCV = 0x00000002; // Multiple ERR_COR Received
export const PCI_ERR_ROOT_UNCOR_RCV = 0x00000004; // ERR_FATAL/NONFATAL Received
export const PCI_ERR_ROOT_MULTI_UNCOR_RCV = 0x00000008; // Multiple ERR_FATAL/NONFATAL Received
export const PCI_ERR_ROOT_FIRST_FATAL = 0x00000010; // First Uncorrectable Fatal
export const PCI_ERR_ROOT_NONFATAL_RCV = 0x00000020; // Non-Fatal Error Messages Received
export const PCI_ERR_ROOT_FATAL_RCV = 0x00000040; // Fatal Error Messages Received
export const PCI_ERR_ROOT_AER_IRQ = 0xf8000000; // Advanced Error Interrupt Message Number
export const PCI_ERR_ROOT_ERR_SRC = 0x34; // Error Source Identification
/** AER with the root registers (the Header Log ends at 0x2c; the root registers at 0x38). */
export const PCI_ERR_SIZEOF = 0x38;

/** Every uncorrectable error the model can report. */
export const PCI_ERR_UNC_ALL =
  PCI_ERR_UNC_DLP |
  PCI_ERR_UNC_SURPDN |
  PCI_ERR_UNC_POISON_TLP |
  PCI_ERR_UNC_FCP |
  PCI_ERR_UNC_COMP_TIME |
  PCI_ERR_UNC_COMP_ABORT |
  PCI_ERR_UNC_UNX_COMP |
  PCI_ERR_UNC_RX_OVER |
  PCI_ERR_UNC_MALF_TLP |
  PCI_ERR_UNC_ECRC |
  PCI_ERR_UNC_UNSUP |
  PCI_ERR_UNC_ACSV |
  PCI_ERR_UNC_INTN |
  PCI_ERR_UNC_MCBTLP |
  PCI_ERR_UNC_ATOMEG |
  PCI_ERR_UNC_TLPPRE;
/** §7.8.4.4 defaults: DLP, Surprise Down, FCP, Receiver Overflow, Malformed TLP and Internal are fatal. */
export const PCI_ERR_UNC_SEVER_DEFAULT =
  PCI_ERR_UNC_DLP | PCI_ERR_UNC_SURPDN | PCI_ERR_UNC_FCP | PCI_ERR_UNC_RX_OVER | PCI_ERR_UNC_MALF_TLP | PCI_ERR_UNC_INTN;
export const PCI_ERR_COR_ALL =
  PCI_ERR_COR_RCVR |
  PCI_ERR_COR_BAD_TLP |
  PCI_ERR_COR_BAD_DLLP |
  PCI_ERR_COR_REP_ROLL |
  PCI_ERR_COR_REP_TIMER |
  PCI_ERR_COR_ADV_NFAT |
  PCI_ERR_COR_INTERNAL |
  PCI_ERR_COR_LOG_OVER;
const ROOT_STATUS_W1C = 0x7f;

const UNC_BITS: ReadonlyArray<[string, number, string]> = [
  ["DLP", 4, "Dlp"],
  ["SURPDN", 5, "SurpriseDown"],
  ["POISON_TLP", 12, "PoisonedTlp"],
  ["FCP", 13, "Fcp"],
  ["COMP_TIME", 14, "CompletionTimeout"],
  ["COMP_ABORT", 15, "CompleterAbort"],
  ["UNX_COMP", 16, "UnexpectedCompletion"],
  ["RX_OVER", 17, "ReceiverOverflow"],
  ["MALF_TLP", 18, "MalformedTlp"],
  ["ECRC", 19, "Ecrc"],
  ["UNSUP", 20, "UnsupportedRequest"],
  ["ACSV", 21, "AcsViolation"],
  ["INTN", 22, "Internal"],
  ["MCBTLP", 23, "McBlockedTlp"],
  ["ATOMEG", 24, "AtomicOpEgressBlocked"],
  ["TLPPRE", 25, "TlpPrefixBlocked"],
];
const COR_BITS: ReadonlyArray<[string, number, string]> = [
  ["RCVR", 0, "ReceiverError"],
  ["BAD_TLP", 6, "BadTlp"],
  ["BAD_DLLP", 7, "BadDllp"],
  ["REP_ROLL", 8, "ReplayRollover"],
  ["REP_TIMER", 12, "ReplayTimeout"],
  ["ADV_NFAT", 13, "AdvisoryNonFatal"],
  ["INTERNAL", 14, "CorrectedInternal"],
  ["LOG_OVER", 15, "HeaderLogOverflow"],
];
/** Fields of an error bit register, JSON-named `<prefix><Error>` so that they stay unique in the capability. */
function errFields(list: ReadonlyArray<[string, number, string]>, prefix: string): Record<string, FieldSpec> {
  const out: Record<string, FieldSpec> = {};
  for (const [k, n, j] of list) out[k] = bit(n, prefix + j);
  return out;
}

export const AER_CAP = defineExtCap(
  "Advanced Error Reporting",
  PCI_EXT_CAP_ID_ERR,
  PCI_ERR_SIZEOF,
  {
    UNCOR_STATUS: reg(PCI_ERR_UNCOR_STATUS, 4, { w1c: PCI_ERR_UNC_ALL, sticky: PCI_ERR_UNC_ALL, json: "uncorStatus", fields: errFields(UNC_BITS, "uncorStatus") }),
    UNCOR_MASK: reg(PCI_ERR_UNCOR_MASK, 4, { rw: PCI_ERR_UNC_ALL, sticky: PCI_ERR_UNC_ALL, json: "uncorMask", fields: errFields(UNC_BITS, "uncorMask") }),
    UNCOR_SEVER: reg(PCI_ERR_UNCOR_SEVER, 4, {
      reset: PCI_ERR_UNC_SEVER_DEFAULT,
      rw: PCI_ERR_UNC_ALL,
      sticky: PCI_ERR_UNC_ALL,
      json: "uncorSeverity",
      fields: errFields(UNC_BITS, "uncorSeverity"),
    }),
    COR_STATUS: reg(PCI_ERR_COR_STATUS, 4, { w1c: PCI_ERR_COR_ALL, sticky: PCI_ERR_COR_ALL, json: "corStatus", fields: errFields(COR_BITS, "corStatus") }),
    // Advisory Non-Fatal Error Mask defaults to 1 (§7.8.4.6).
    COR_MASK: reg(PCI_ERR_COR_MASK, 4, {
      reset: PCI_ERR_COR_ADV_NFAT,
      rw: PCI_ERR_COR_ALL,
      sticky: PCI_ERR_COR_ALL,
      json: "corMask",
      fields: errFields(COR_BITS, "corMask"),
    }),
    CAP: reg(PCI_ERR_CAP, 4, {
      sticky: PCI_ERR_CAP_FEP_MASK | PCI_ERR_CAP_ECRC_GENE | PCI_ERR_CAP_ECRC_CHKE | PCI_ERR_CAP_MHRE,
      json: "aerCapCtrl",
      fields: {
        FEP: bits(4, 0, "firstErrorPointer"),
        ECRC_GENC: bit(5, "ecrcGenCapable"),
        ECRC_GENE: bit(6, "ecrcGenEnable"),
        ECRC_CHKC: bit(7, "ecrcCheckCapable"),
        ECRC_CHKE: bit(8, "ecrcCheckEnable"),
        MHRC: bit(9, "multiHeaderCapable"),
        MHRE: bit(10, "multiHeaderEnable"),
        TLP_PFX_LOG: bit(11, "tlpPrefixLogPresent"),
        CTO_LOG: bit(12, "completionTimeoutLogCapable"),
      },
    }),
    HEADER_LOG0: reg(PCI_ERR_HEADER_LOG, 4, { sticky: 0xffffffff, json: "headerLog0", fields: { VALUE: bits(31, 0, "headerLog0") } }),
    HEADER_LOG1: reg(PCI_ERR_HEADER_LOG + 4, 4, { sticky: 0xffffffff, json: "headerLog1", fields: { VALUE: bits(31, 0, "headerLog1") } }),
    HEADER_LOG2: reg(PCI_ERR_HEADER_LOG + 8, 4, { sticky: 0xffffffff, json: "headerLog2", fields: { VALUE: bits(31, 0, "headerLog2") } }),
    HEADER_LOG3: reg(PCI_ERR_HEADER_LOG + 12, 4, { sticky: 0xffffffff, json: "headerLog3", fields: { VALUE: bits(31, 0, "headerLog3") } }),
    ROOT_COMMAND: reg(PCI_ERR_ROOT_COMMAND, 4, {
      rw: PCI_ERR_ROOT_CMD_COR_EN | PCI_ERR_ROOT_CMD_NONFATAL_EN | PCI_ERR_ROOT_CMD_FATAL_EN,
      json: "rootErrCmd",
      fields: { COR_EN: bit(0, "corReportingEnable"), NONFATAL_EN: bit(1, "nonFatalReportingEnable"), FATAL_EN: bit(2, "fatalReportingEnable") },
    }),
    ROOT_STATUS: reg(PCI_ERR_ROOT_STATUS, 4, {
      w1c: ROOT_STATUS_W1C,
      sticky: ROOT_STATUS_W1C,
      json: "rootErrStatus",
      fields: {
        COR_RCV: bit(0, "errCorReceived"),
        MULTI_COR_RCV: bit(1, "multipleErrCorReceived"),
        UNCOR_RCV: bit(2, "errFatalNonFatalReceived"),
        MULTI_UNCOR_RCV: bit(3, "multipleErrFatalNonFatalReceived"),
        FIRST_FATAL: bit(4, "firstUncorrectableFatal"),
        NONFATAL_RCV: bit(5, "nonFatalMessagesReceived"),
        FATAL_RCV: bit(6, "fatalMessagesReceived"),
        AER_IRQ: bits(31, 27, "advancedErrorInterruptMessageNumber"),
      },
    }),
    ERR_SRC: reg(PCI_ERR_ROOT_ERR_SRC, 4, {
      sticky: 0xffffffff,
      json: "errSourceId",
      fields: { COR_SRC: bits(15, 0, "errCorSourceId"), UNCOR_SRC: bits(31, 16, "errFatalNonFatalSourceId") },
    }),
  },
  2,
);

export interface AerCapOptions {
  /** ECRC generation and checking capable (their enables become RWS). Default false. */
  readonly ecrc?: boolean;
}

/** AER for one kind of function: root registers only where they exist, Surprise Down only on downstream ports. */
export function aerCap(kind: FunctionKind, o: AerCapOptions = {}): CapConfig<typeof AER_CAP.regs> {
  const unc = pcieIsDownstreamPort(kind) ? PCI_ERR_UNC_ALL : PCI_ERR_UNC_ALL & ~PCI_ERR_UNC_SURPDN;
  const none = { reset: 0, rw: 0, w1c: 0, sticky: 0 };
  const root = pcieHasRootRegs(kind);
  const ecrc = o.ecrc === true;
  return {
    def: AER_CAP,
    overrides: {
      UNCOR_STATUS: { w1c: unc, sticky: unc },
      UNCOR_MASK: { rw: unc, sticky: unc },
      UNCOR_SEVER: { reset: PCI_ERR_UNC_SEVER_DEFAULT & unc, rw: unc, sticky: unc },
      CAP: {
        reset: when(ecrc, PCI_ERR_CAP_ECRC_GENC | PCI_ERR_CAP_ECRC_CHKC),
        rw: when(ecrc, PCI_ERR_CAP_ECRC_GENE | PCI_ERR_CAP_ECRC_CHKE),
      },
      ...(root ? {} : { ROOT_COMMAND: none, ROOT_STATUS: none, ERR_SRC: none }),
    },
  };
}
