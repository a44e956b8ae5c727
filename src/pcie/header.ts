/**
 * Type 0 (endpoint) and type 1 (PCI-PCI bridge) configuration headers, as register tables, and the
 * layout shared by every capability list (the standard chain's ID/next bytes, the extended header).
 * Names follow include/uapi/linux/pci_regs.h; the spec's name is in the trailing comment.
 */
import { bit, bits, defineRegFile, reg } from "./regs.js";

export const PCI_VENDOR_ID = 0x00; // Vendor ID
export const PCI_DEVICE_ID = 0x02; // Device ID
export const PCI_COMMAND = 0x04; // Command
export const PCI_COMMAND_IO = 0x1; // I/O Space Enable
export const PCI_COMMAND_MEMORY = 0x2; // Memory Space Enable
export const PCI_COMMAND_MASTER = 0x4; // Bus Master Enable
export const PCI_COMMAND_SPECIAL = 0x8; // Special Cycles
export const PCI_COMMAND_INVALIDATE = 0x10; // Memory Write and Invalidate Enable
export const PCI_COMMAND_VGA_PALETTE = 0x20; // VGA Palette Snoop
export const PCI_COMMAND_PARITY = 0x40; // Parity Error Response
export const PCI_COMMAND_WAIT = 0x80; // IDSEL Stepping/Wait Cycle Control
export const PCI_COMMAND_SERR = 0x100; // SERR# Enable
export const PCI_COMMAND_FAST_BACK = 0x200; // Fast Back-to-Back Transactions Enable
export const PCI_COMMAND_INTX_DISABLE = 0x400; // Interrupt Disable
export const PCI_STATUS = 0x06; // Status
export const PCI_STATUS_INTERRUPT = 0x08; // Interrupt Status
export const PCI_STATUS_CAP_LIST = 0x10; // Capabilities List
export const PCI_STATUS_66MHZ = 0x20; // 66 MHz Capable
export const PCI_STATUS_UDF = 0x40; // User Definable Features (obsolete)
export const PCI_STATUS_FAST_BACK = 0x80; // Fast Back-to-Back Transactions Capable
export const PCI_STATUS_PARITY = 0x100; // Master Data Parity Error
export const PCI_STATUS_DEVSEL_MASK = 0x600; // DEVSEL Timing
export const PCI_STATUS_SIG_TARGET_ABORT = 0x800; // Signaled Target Abort
export const PCI_STATUS_REC_TARGET_ABORT = 0x1000; // Received Target Abort
export const PCI_STATUS_REC_MASTER_ABORT = 0x2000; // Received Master Abort
export const PCI_STATUS_SIG_SYSTEM_ERROR = 0x4000; // Signaled System Error
export const PCI_STATUS_DETECTED_PARITY = 0x8000; // Detected Parity Error
/** Status bits that are RW1C in both header types. */
export const PCI_STATUS_W1C =
  PCI_STATUS_PARITY |
  PCI_STATUS_SIG_TARGET_ABORT |
  PCI_STATUS_REC_TARGET_ABORT |
  PCI_STATUS_REC_MASTER_ABORT |
  PCI_STATUS_SIG_SYSTEM_ERROR |
  PCI_STATUS_DETECTED_PARITY;
export const PCI_CLASS_REVISION = 0x08; // Revision ID (7:0) and Class Code (31:8)
export const PCI_CACHE_LINE_SIZE = 0x0c;
export const PCI_LATENCY_TIMER = 0x0d;
export const PCI_HEADER_TYPE = 0x0e; // Header Type
export const PCI_HEADER_TYPE_MASK = 0x7f;
export const PCI_HEADER_TYPE_NORMAL = 0;
export const PCI_HEADER_TYPE_BRIDGE = 1;
export const PCI_HEADER_TYPE_CARDBUS = 2;
export const PCI_HEADER_TYPE_MFD = 0x80; // Multi-Function Device
export const PCI_BIST = 0x0f;
export const PCI_BIST_CODE_MASK = 0x0f; // Completion Code
export const PCI_BIST_START = 0x40; // Start BIST
export const PCI_BIST_CAPABLE = 0x80; // BIST Capable
export const PCI_BASE_ADDRESS_0 = 0x10; // Base Address Register 0
export const PCI_BASE_ADDRESS_SPACE_IO = 0x01;
export const PCI_BASE_ADDRESS_MEM_TYPE_MASK = 0x06; // Memory Type
export const PCI_BASE_ADDRESS_MEM_TYPE_1M = 0x02; // Below 1M (PCI 2.x legacy)
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;
export const PCI_BASE_ADDRESS_MEM_MASK = ~0x0f >>> 0;
export const PCI_BASE_ADDRESS_IO_MASK = ~0x03 >>> 0;
export const PCI_CARDBUS_CIS = 0x28;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_ROM_ADDRESS = 0x30; // Expansion ROM Base Address
export const PCI_ROM_ADDRESS_ENABLE = 0x01;
export const PCI_ROM_ADDRESS_MASK = ~0x7ff >>> 0;
export const PCI_CAPABILITY_LIST = 0x34; // Capabilities Pointer
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;
export const PCI_MIN_GNT = 0x3e;
export const PCI_MAX_LAT = 0x3f;
/** First byte after the standard header (capabilities may not live below it). */
export const PCI_STD_HEADER_SIZEOF = 0x40;
/** Standard configuration space size; the extended chain starts here. */
export const PCI_CFG_SPACE_SIZE = 0x100;
export const PCI_CFG_SPACE_EXP_SIZE = 0x1000;
/* Type 1 */
export const PCI_PRIMARY_BUS = 0x18;
export const PCI_SECONDARY_BUS = 0x19;
export const PCI_SUBORDINATE_BUS = 0x1a;
export const PCI_SEC_LATENCY_TIMER = 0x1b;
export const PCI_IO_BASE = 0x1c;
export const PCI_IO_LIMIT = 0x1d;
export const PCI_IO_RANGE_TYPE_MASK = 0x0f; // I/O Addressing Capability
export const PCI_IO_RANGE_TYPE_16 = 0x00;
export const PCI_IO_RANGE_TYPE_32 = 0x01;
export const PCI_SEC_STATUS = 0x1e;
export const PCI_MEMORY_BASE = 0x20;
export const PCI_MEMORY_LIMIT = 0x22;
export const PCI_MEMORY_RANGE_TYPE_MASK = 0x0f; // reserved low bits of Memory Base/Limit
export const PCI_PREF_MEMORY_BASE = 0x24;
export const PCI_PREF_MEMORY_LIMIT = 0x26;
export const PCI_PREF_RANGE_TYPE_MASK = 0x0f; // Prefetchable Memory Addressing Capability
export const PCI_PREF_RANGE_TYPE_32 = 0x00;
export const PCI_PREF_RANGE_TYPE_64 = 0x01;
export const PCI_PREF_BASE_UPPER32 = 0x28;
export const PCI_PREF_LIMIT_UPPER32 = 0x2c;
export const PCI_IO_BASE_UPPER16 = 0x30;
export const PCI_IO_LIMIT_UPPER16 = 0x32;
export const PCI_ROM_ADDRESS1 = 0x38;
export const PCI_BRIDGE_CONTROL = 0x3e;
export const PCI_BRIDGE_CTL_PARITY = 0x01;
export const PCI_BRIDGE_CTL_SERR = 0x02;
export const PCI_BRIDGE_CTL_ISA = 0x04;
export const PCI_BRIDGE_CTL_VGA = 0x08;
export const PCI_BRIDGE_CTL_MASTER_ABORT = 0x20;
export const PCI_BRIDGE_CTL_BUS_RESET = 0x40;
/* Type 2 (CardBus bridge) */
export const PCI_CB_CAPABILITY_LIST = 0x14; // Capabilities Pointer

/* Capability lists: every standard capability starts with ID and next pointer. */
export const PCI_CAP_LIST_ID = 0; // Capability ID
export const PCI_CAP_LIST_NEXT = 1; // Next Capability Pointer
export const PCI_CAP_FLAGS = 2; // capability-defined flags (16 bits)
/* IDs of capabilities that have no table in ./caps (those that do are defined with their table). */
export const PCI_CAP_ID_PCIX = 0x07; // PCI-X
export const PCI_CAP_ID_VNDR = 0x09; // Vendor-Specific
export const PCI_CAP_ID_EA = 0x14; // Enhanced Allocation
export const PCI_EXT_CAP_ID_DVSEC = 0x23; // Designated Vendor-Specific Extended Capability
/** Fields of an extended capability header (PCIe Base 4.0 §7.6.3). */
export const PCI_EXT_CAP_ID = (h: number): number => h & 0xffff; // PCI Express Extended Capability ID
export const PCI_EXT_CAP_VER = (h: number): number => (h >>> 16) & 0xf; // Capability Version
export const PCI_EXT_CAP_NEXT = (h: number): number => (h >>> 20) & 0xffc; // Next Capability Offset

const COMMAND_FIELDS = {
  IO: bit(0, "ioSpace"),
  MEMORY: bit(1, "memorySpace"),
  MASTER: bit(2, "busMaster"),
  SPECIAL: bit(3, "specialCycles"),
  INVALIDATE: bit(4, "memWriteInvalidate"),
  VGA_PALETTE: bit(5, "vgaPaletteSnoop"),
  PARITY: bit(6, "parityErrorResponse"),
  SERR: bit(8, "serrEnable"),
  FAST_BACK: bit(9, "fastBackToBack"),
  INTX_DISABLE: bit(10, "intxDisable"),
};
const STATUS_FIELDS = {
  IMM_READY: bit(0, "immediateReadiness"),
  INTERRUPT: bit(3, "interruptStatus"),
  CAP_LIST: bit(4, "capList"),
  "66MHZ": bit(5, "mhz66"),
  FAST_BACK: bit(7, "fastBackToBackCapable"),
  PARITY: bit(8, "masterDataParityError"),
  DEVSEL: bits(10, 9, "devselTiming"),
  SIG_TARGET_ABORT: bit(11, "signaledTargetAbort"),
  REC_TARGET_ABORT: bit(12, "receivedTargetAbort"),
  REC_MASTER_ABORT: bit(13, "receivedMasterAbort"),
  SIG_SYSTEM_ERROR: bit(14, "signaledSystemError"),
  DETECTED_PARITY: bit(15, "detectedParityError"),
};
/** Command bits a PCIe function implements (Linux writes these; the rest are hardwired 0 on PCIe). */
export const PCI_COMMAND_RW = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE;

const common = {
  VENDOR_ID: reg(0x00, 2, { json: "vendorId", reset: 0xffff }),
  DEVICE_ID: reg(0x02, 2, { json: "deviceId", reset: 0xffff }),
  COMMAND: reg(0x04, 2, { rw: PCI_COMMAND_RW, fields: COMMAND_FIELDS }),
  STATUS: reg(0x06, 2, { w1c: PCI_STATUS_W1C, fields: STATUS_FIELDS }),
  CLASS_REVISION: reg(0x08, 4, { json: "classRevision", fields: { REVISION: bits(7, 0, "revisionId"), PROG_IF: bits(15, 8, "progIf"), CLASS: bits(31, 8, "classCode") } }),
  CACHE_LINE_SIZE: reg(0x0c, 1, { rw: 0xff }),
  LATENCY_TIMER: reg(0x0d, 1),
  HEADER_TYPE: reg(0x0e, 1, { fields: { LAYOUT: bits(6, 0, "layout"), MFD: bit(7, "multiFunction") } }),
  BIST: reg(0x0f, 1),
  CAPABILITY_LIST: reg(0x34, 1, { json: "capPointer" }),
  INTERRUPT_LINE: reg(0x3c, 1, { rw: 0xff }),
  INTERRUPT_PIN: reg(0x3d, 1),
};

/** Type 0 header. BAR masks are per device (see bars.ts); the table holds them as hardwired 0. */
export const TYPE0_HEADER = defineRegFile("Type 0 header", 0x40, {
  ...common,
  BAR0: reg(0x10, 4, { json: "bar0" }),
  BAR1: reg(0x14, 4, { json: "bar1" }),
  BAR2: reg(0x18, 4, { json: "bar2" }),
  BAR3: reg(0x1c, 4, { json: "bar3" }),
  BAR4: reg(0x20, 4, { json: "bar4" }),
  BAR5: reg(0x24, 4, { json: "bar5" }),
  CARDBUS_CIS: reg(0x28, 4),
  SUBSYSTEM_VENDOR_ID: reg(0x2c, 2, { json: "subsystemVendorId" }),
  SUBSYSTEM_ID: reg(0x2e, 2, { json: "subsystemId" }),
  ROM_ADDRESS: reg(0x30, 4, { json: "romAddress", fields: { ENABLE: bit(0, "romEnable") } }),
  MIN_GNT: reg(0x3e, 1),
  MAX_LAT: reg(0x3f, 1),
});

/** Type 1 header (PCI-PCI bridge, root port, switch port). Bus numbers and windows are writable. */
export const TYPE1_HEADER = defineRegFile("Type 1 header", 0x40, {
  ...common,
  BAR0: reg(0x10, 4, { json: "bar0" }),
  BAR1: reg(0x14, 4, { json: "bar1" }),
  PRIMARY_BUS: reg(0x18, 1, { rw: 0xff, json: "primaryBus" }),
  SECONDARY_BUS: reg(0x19, 1, { rw: 0xff, json: "secondaryBus" }),
  SUBORDINATE_BUS: reg(0x1a, 1, { rw: 0xff, json: "subordinateBus" }),
  SEC_LATENCY_TIMER: reg(0x1b, 1),
  IO_BASE: reg(0x1c, 1, { rw: 0xf0, reset: PCI_IO_RANGE_TYPE_32, json: "ioBase" }),
  IO_LIMIT: reg(0x1d, 1, { rw: 0xf0, reset: PCI_IO_RANGE_TYPE_32, json: "ioLimit" }),
  SEC_STATUS: reg(0x1e, 2, { w1c: PCI_STATUS_W1C, json: "secondaryStatus", fields: STATUS_FIELDS }),
  MEMORY_BASE: reg(0x20, 2, { rw: 0xfff0, json: "memoryBase" }),
  MEMORY_LIMIT: reg(0x22, 2, { rw: 0xfff0, json: "memoryLimit" }),
  PREF_MEMORY_BASE: reg(0x24, 2, { rw: 0xfff0, reset: PCI_PREF_RANGE_TYPE_64, json: "prefMemoryBase" }),
  PREF_MEMORY_LIMIT: reg(0x26, 2, { rw: 0xfff0, reset: PCI_PREF_RANGE_TYPE_64, json: "prefMemoryLimit" }),
  PREF_BASE_UPPER32: reg(0x28, 4, { rw: 0xffffffff, json: "prefBaseUpper32" }),
  PREF_LIMIT_UPPER32: reg(0x2c, 4, { rw: 0xffffffff, json: "prefLimitUpper32" }),
  IO_BASE_UPPER16: reg(0x30, 2, { rw: 0xffff, json: "ioBaseUpper16" }),
  IO_LIMIT_UPPER16: reg(0x32, 2, { rw: 0xffff, json: "ioLimitUpper16" }),
  ROM_ADDRESS1: reg(0x38, 4, { json: "romAddress" }),
  BRIDGE_CONTROL: reg(0x3e, 2, {
    rw: PCI_BRIDGE_CTL_PARITY | PCI_BRIDGE_CTL_SERR | PCI_BRIDGE_CTL_ISA | PCI_BRIDGE_CTL_VGA | PCI_BRIDGE_CTL_MASTER_ABORT | PCI_BRIDGE_CTL_BUS_RESET,
    json: "bridgeControl",
    fields: {
      PARITY: bit(0, "parityErrorResponse"),
      SERR: bit(1, "serrEnable"),
      ISA: bit(2, "isaEnable"),
      VGA: bit(3, "vgaEnable"),
      MASTER_ABORT: bit(5, "masterAbortMode"),
      BUS_RESET: bit(6, "secondaryBusReset"),
    },
  }),
});
