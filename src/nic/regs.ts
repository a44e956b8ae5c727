/**
 * The NIC's MMIO register files, declared once as tables (igb/igbvf layout: Linux
 * drivers/net/ethernet/intel/igbvf/regs.h and defines.h, QEMU hw/net/igb_regs.h; anchors.md §2.3).
 *
 * A function's BAR0 is assembled from blocks of these tables (layout.ts, engine in regfile.ts): the
 * common block at 0, one EITR per MSI-X vector, one IVAR per two queues, one RX and one TX queue
 * block per queue, plus the VF statistics (VF) or the PF-only registers (PF). The MSI-X table and
 * PBA are a second register file on the MSI-X BAR. Side effects hang on post-write hooks named by
 * the HOOK_* ids below (effects.ts). The mailbox windows are routed to the mailbox unit (mmio.ts).
 */
import { bit, bits, defineRegFile, reg } from "../pcie/regs.js";

// ---- common to the PF and every VF (igbvf regs.h names) ----
export const E1000_CTRL = 0x00000; // Device Control
export const E1000_CTRL_RST = 0x04000000; // function (software) reset, self-clearing
export const E1000_CTRL_VME = 0x40000000; // VLAN Mode Enable: strip 802.1Q on RX into the descriptor
export const E1000_STATUS = 0x00008; // Device Status (RO)
export const E1000_STATUS_FD = 0x00000001; // full duplex
export const E1000_STATUS_LU = 0x00000002; // link up
export const E1000_STATUS_SPEED_1000 = 0x00000080;
export const E1000_STATUS_NUM_VFS_SHIFT = 14; // PF: number of VFs enabled (bits 17:14)
export const E1000_STATUS_IOV_MODE = 0x00040000; // PF: VFs are enabled
export const E1000_EICS = 0x01520; // Extended Interrupt Cause Set (write 1 to raise)
export const E1000_EIMS = 0x01524; // Extended Interrupt Mask Set / Read
export const E1000_EIMC = 0x01528; // Extended Interrupt Mask Clear (write 1)
export const E1000_EIAC = 0x0152c; // Extended Interrupt Auto Clear (EICR bit cleared when the message is sent)
export const E1000_EIAM = 0x01530; // Extended Interrupt Auto Mask (EIMS bit cleared when the message is sent)
export const E1000_EICR = 0x01580; // Extended Interrupt Cause Read (write 1 to clear)
export const E1000_EITR = (n: number): number => 0x01680 + 4 * n; // Interrupt Throttle per vector
export const E1000_EITR_INTERVAL_MASK = 0x00007ffc; // interval in 0.25 µs units (bits 14:2 = µs)
export const E1000_IVAR0 = 0x01700; // Interrupt Vector Allocation, one register per two queues
export const E1000_IVAR = (n: number): number => E1000_IVAR0 + 4 * n;
export const E1000_IVAR_MISC = 0x01740; // vector for "other" causes (mailbox, link)
export const E1000_IVAR_VALID = 0x80;
/** Byte lane of IVAR(q >> 1) that holds queue q's RX / TX vector (igbvf_assign_vector). */
export const ivarRxShift = (q: number): number => ((q & 1) === 0 ? 0 : 16);
export const ivarTxShift = (q: number): number => ((q & 1) === 0 ? 8 : 24);

/** Queue register blocks: queues 0..3 at 0x2800/0x3800 + 0x100·n, queues 4..15 at 0xC000/0xE000 + 0x40·n. */
export const E1000_RXQ = (n: number): number => (n < 4 ? 0x02800 + 0x100 * n : 0x0c000 + 0x40 * n);
export const E1000_TXQ = (n: number): number => (n < 4 ? 0x03800 + 0x100 * n : 0x0e000 + 0x40 * n);
export const E1000_RDBAL = (n: number): number => E1000_RXQ(n) + 0x00;
export const E1000_RDBAH = (n: number): number => E1000_RXQ(n) + 0x04;
export const E1000_RDLEN = (n: number): number => E1000_RXQ(n) + 0x08;
export const E1000_SRRCTL = (n: number): number => E1000_RXQ(n) + 0x0c;
export const E1000_RDH = (n: number): number => E1000_RXQ(n) + 0x10;
export const E1000_RDT = (n: number): number => E1000_RXQ(n) + 0x18;
export const E1000_RXDCTL = (n: number): number => E1000_RXQ(n) + 0x28;
export const E1000_TDBAL = (n: number): number => E1000_TXQ(n) + 0x00;
export const E1000_TDBAH = (n: number): number => E1000_TXQ(n) + 0x04;
export const E1000_TDLEN = (n: number): number => E1000_TXQ(n) + 0x08;
export const E1000_TDH = (n: number): number => E1000_TXQ(n) + 0x10;
export const E1000_TDT = (n: number): number => E1000_TXQ(n) + 0x18;
export const E1000_TXDCTL = (n: number): number => E1000_TXQ(n) + 0x28;
export const E1000_TDWBAL = (n: number): number => E1000_TXQ(n) + 0x38; // head write-back address, bit 0 = enable
export const E1000_TX_HEAD_WB_ENABLE = 0x1;
export const E1000_TDWBAH = (n: number): number => E1000_TXQ(n) + 0x3c;
export const E1000_RXDCTL_QUEUE_ENABLE = 0x02000000;
export const E1000_TXDCTL_QUEUE_ENABLE = 0x02000000;
export const E1000_SRRCTL_BSIZEPKT_MASK = 0x0000007f; // packet buffer size in KiB (0 = 2 KiB default)
export const E1000_SRRCTL_DROP_EN = 0x80000000;
/** Ring length register: bytes, a multiple of 128 (eight 16-byte descriptors). */
export const RDLEN_MASK = 0x000fff80;
/** Largest number of queue pairs the layout has room for (16, as igb). */
export const MAX_QUEUES = 16;

// ---- VF statistics (read-only, low 32 bits of the per-function counters) ----
export const E1000_VFGPRC = 0x00f10; // good packets received
export const E1000_VFGPTC = 0x00f14; // good packets transmitted
export const E1000_VFGORC = 0x00f18; // good octets received
export const E1000_VFGOTC = 0x00f34; // good octets transmitted
export const E1000_VFMPRC = 0x00f3c; // multicast packets received
export const E1000_VFGPRLBC = 0x00f40; // good packets received by loopback
export const E1000_VFGPTLBC = 0x00f44; // good packets transmitted by loopback
export const E1000_VFGORLBC = 0x00f48; // good octets received by loopback
export const E1000_VFGOTLBC = 0x00f50; // good octets transmitted by loopback

// ---- mailbox (routed to the mailbox hardware, not register-file entries) ----
export const E1000_VMBMEM = (n: number): number => 0x00800 + 64 * n; // 16 dwords of message buffer
export const E1000_VMBMEM_SIZE = 64;
export const E1000_V2PMAILBOX = (n: number): number => 0x00c40 + 4 * n; // the VF's view (n = 0 in VF space)
export const E1000_P2VMAILBOX = (n: number): number => 0x00c00 + 4 * n; // the PF's view of VF n
export const E1000_MBVFICR = 0x00c80; // PF: VF request/ack bits
export const E1000_MBVFIMR = 0x00c84; // PF: VF mailbox interrupt mask
/** igb's PF windows have room for 16 VFs; larger parts use the wide windows below (PF only). */
export const IGB_MAILBOX_VFS = 16;
export const PF_P2VMAILBOX_WIDE = (n: number): number => 0x04000 + 4 * n;
export const PF_VMBMEM_WIDE = (n: number): number => 0x08000 + 64 * n;
export const MAX_VFS = 256;

// ---- PF-only ----
export const E1000_CTRL_EXT = 0x00018;
export const E1000_CTRL_EXT_PFRSTD = 0x00004000; // PF reset done: RSTD in every VF mailbox
export const E1000_ICR = 0x000c0; // Interrupt Cause Read (read to clear; "other" causes)
export const E1000_RCTL = 0x00100; // Receive Control (PF)
export const E1000_RCTL_UPE = 0x00000008; // unicast promiscuous
export const E1000_RCTL_MPE = 0x00000010; // multicast promiscuous
export const E1000_ICS = 0x000c8; // Interrupt Cause Set
export const E1000_IMS = 0x000d0; // Interrupt Mask Set / Read
export const E1000_IMC = 0x000d8; // Interrupt Mask Clear
export const E1000_ICR_LSC = 0x00000004; // link status change
export const E1000_ICR_VMMB = 0x00000100; // VF mailbox event (message, ack or VF reset)
export const ICR_CAUSES = E1000_ICR_LSC | E1000_ICR_VMMB;
/** VF reset events, one bit per VF: word 0 at igb's 0xC88, words 1.. in the wide window (mailbox unit). */
export const E1000_VFLRE = (w: number): number => (w === 0 ? 0x00c88 : 0x04400 + 4 * w);
/**
 * PF BAR0 windows that belong to the mailbox unit (mailbox-hw.ts), routed whole: igb's VMBMEM,
 * P2VMAILBOX, MBVFICR, MBVFIMR, VFLRE(0) [0x800, 0xC90); the wide P2VMAILBOX, VFLRE and cause words
 * [0x4000, 0x4A00); the wide VMBMEM [0x8000, 0xC000).
 */
export const PF_MAILBOX_WINDOWS: ReadonlyArray<readonly [number, number]> = [
  [0x00800, 0x00c90],
  [0x04000, 0x04a00],
  [0x08000, 0x0c000],
];

// ---- MSI-X (table + PBA on the MSI-X BAR) ----
export const PCI_MSIX_ENTRY_SIZE = 16;
export const PCI_MSIX_ENTRY_LOWER_ADDR = 0x0;
export const PCI_MSIX_ENTRY_UPPER_ADDR = 0x4;
export const PCI_MSIX_ENTRY_DATA = 0x8;
export const PCI_MSIX_ENTRY_VECTOR_CTRL = 0xc;
export const PCI_MSIX_ENTRY_CTRL_MASKBIT = 0x1;
/** igb puts the PBA 8 KiB into the MSI-X BAR. */
export const MSIX_PBA_OFFSET = 0x2000;
/** Vectors the EICR/EIMS registers can name. */
export const MAX_EICR_VECTORS = 32;

// ---- hook ids (post-write and read hooks dispatched by the NIC) ----
export const HOOK_NONE = 0;
export const HOOK_CTRL = 1;
export const HOOK_EICS = 2;
export const HOOK_EIMS = 3;
export const HOOK_EIMC = 4;
export const HOOK_TDT = 5;
export const HOOK_TXDCTL = 6;
export const HOOK_RDH = 7;
export const HOOK_TDH = 8;
export const HOOK_ICS = 9;
export const HOOK_IMS = 10;
export const HOOK_IMC = 11;
export const HOOK_CTRL_EXT = 12;
export const HOOK_MSIX_CTRL = 13;
// read hooks
export const RHOOK_STATUS = 1;
export const RHOOK_STAT = 2; // instance-independent: the register's key picks the counter
export const RHOOK_ICR = 3; // read to clear

const ALL = 0xffffffff;

/** Registers every function has at the same offsets. */
export const NIC_FN_REGS = defineRegFile("nic", 0x1800, {
  CTRL: reg(E1000_CTRL, 4, {
    rw: E1000_CTRL_RST | E1000_CTRL_VME,
    fields: { RST: bit(26), VME: bit(30) },
    desc: "Device Control: RST resets the function (self-clearing); VME strips 802.1Q tags on RX",
  }),
  STATUS: reg(E1000_STATUS, 4, {
    reset: E1000_STATUS_FD | E1000_STATUS_SPEED_1000,
    fields: { FD: bit(0), LU: bit(1), SPEED: bits(7, 6), NUM_VFS: bits(17, 14), IOV_MODE: bit(18) },
    desc: "Device Status: LU follows the wire (PF) or the VF's link state",
  }),
  EICS: reg(E1000_EICS, 4, { desc: "write 1 to raise the cause bit (vector)" }),
  EIMS: reg(E1000_EIMS, 4, { desc: "write 1 to enable; reads the enabled mask" }),
  EIMC: reg(E1000_EIMC, 4, { desc: "write 1 to disable" }),
  EIAC: reg(E1000_EIAC, 4, { rw: ALL, desc: "auto-clear EICR bit when its message is sent" }),
  EIAM: reg(E1000_EIAM, 4, { rw: ALL, desc: "auto-mask (clear EIMS bit) when its message is sent" }),
  EICR: reg(E1000_EICR, 4, { w1c: ALL, desc: "cause bits, one per MSI-X vector; write 1 to clear" }),
  IVAR_MISC: reg(E1000_IVAR_MISC, 4, { rw: 0x9f, fields: { VECTOR: bits(4, 0), VALID: bit(7) } }),
});

/** One per MSI-X vector the EICR can name, at E1000_EITR(n). */
export const NIC_EITR_REGS = defineRegFile("eitr", 4, {
  EITR: reg(0, 4, { rw: E1000_EITR_INTERVAL_MASK, fields: { INTERVAL: bits(14, 2) }, desc: "minimum µs between messages" }),
});

/** One per two queues, at E1000_IVAR(n): RX even [7:0], TX even [15:8], RX odd [23:16], TX odd [31:24]. */
export const NIC_IVAR_REGS = defineRegFile("ivar", 4, {
  IVAR: reg(0, 4, {
    rw: 0x9f9f9f9f,
    fields: { RX0: bits(4, 0), RX0_VALID: bit(7), TX0: bits(12, 8), TX0_VALID: bit(15), RX1: bits(20, 16), RX1_VALID: bit(23), TX1: bits(28, 24), TX1_VALID: bit(31) },
  }),
});

/** One per RX queue, at E1000_RXQ(n). */
export const NIC_RXQ_REGS = defineRegFile("rxq", 0x40, {
  RDBAL: reg(0x00, 4, { rw: 0xffffff80, desc: "ring base, low (128-byte aligned)" }),
  RDBAH: reg(0x04, 4, { rw: ALL }),
  RDLEN: reg(0x08, 4, { rw: RDLEN_MASK, desc: "ring length in bytes (multiple of 128)" }),
  SRRCTL: reg(0x0c, 4, {
    rw: E1000_SRRCTL_BSIZEPKT_MASK | E1000_SRRCTL_DROP_EN,
    reset: 2,
    fields: { BSIZEPKT: bits(6, 0), DROP_EN: bit(31) },
    desc: "packet buffer size in KiB",
  }),
  RDH: reg(0x10, 4, { rw: 0xffff }),
  RDT: reg(0x18, 4, { rw: 0xffff }),
  RXDCTL: reg(0x28, 4, { rw: E1000_RXDCTL_QUEUE_ENABLE, fields: { ENABLE: bit(25) } }),
});

/** One per TX queue, at E1000_TXQ(n). */
export const NIC_TXQ_REGS = defineRegFile("txq", 0x40, {
  TDBAL: reg(0x00, 4, { rw: 0xffffff80 }),
  TDBAH: reg(0x04, 4, { rw: ALL }),
  TDLEN: reg(0x08, 4, { rw: RDLEN_MASK }),
  TDH: reg(0x10, 4, { rw: 0xffff }),
  TDT: reg(0x18, 4, { rw: 0xffff }),
  TXDCTL: reg(0x28, 4, { rw: E1000_TXDCTL_QUEUE_ENABLE, fields: { ENABLE: bit(25) } }),
  TDWBAL: reg(0x38, 4, { rw: 0xfffffffd, fields: { HEAD_WB_EN: bit(0), ADDR: bits(31, 2) }, desc: "TX head write-back: the device stores TDH at this address after a batch" }),
  TDWBAH: reg(0x3c, 4, { rw: ALL }),
});

/** VF statistics; reads return the low 32 bits of the function's counters. */
export const NIC_VFSTATS_REGS = defineRegFile("vfstats", 0x44, {
  VFGPRC: reg(E1000_VFGPRC - 0xf10, 4),
  VFGPTC: reg(E1000_VFGPTC - 0xf10, 4),
  VFGORC: reg(E1000_VFGORC - 0xf10, 4),
  VFGOTC: reg(E1000_VFGOTC - 0xf10, 4),
  VFMPRC: reg(E1000_VFMPRC - 0xf10, 4),
  VFGPRLBC: reg(E1000_VFGPRLBC - 0xf10, 4),
  VFGPTLBC: reg(E1000_VFGPTLBC - 0xf10, 4),
  VFGORLBC: reg(E1000_VFGORLBC - 0xf10, 4),
  VFGOTLBC: reg(E1000_VFGOTLBC - 0xf10, 4),
});
export const VFSTATS_BASE = 0x00f10;

/** PF-only registers at their igb offsets. */
export const NIC_PF_REGS = defineRegFile("pf", 0x104, {
  ICR: reg(E1000_ICR, 4, { fields: { LSC: bit(2), VMMB: bit(8) }, desc: "other causes; read to clear" }),
  ICS: reg(E1000_ICS, 4, { desc: "write 1 to raise an ICR cause" }),
  IMS: reg(E1000_IMS, 4, { desc: "write 1 to enable an ICR cause; reads the mask" }),
  IMC: reg(E1000_IMC, 4, { desc: "write 1 to disable an ICR cause" }),
  CTRL_EXT: reg(E1000_CTRL_EXT, 4, { rw: E1000_CTRL_EXT_PFRSTD, fields: { PFRSTD: bit(14) } }),
  RCTL: reg(E1000_RCTL, 4, {
    rw: E1000_RCTL_UPE | E1000_RCTL_MPE,
    fields: { UPE: bit(3), MPE: bit(4) },
    desc: "Receive Control: UPE takes unicast from the wire that no function's filter matched into the PF (default pool), MPE every multicast (what a driver sets for IFF_PROMISC, e.g. under a software bridge)",
  }),
});

/** One MSI-X table entry (PCI_MSIX_ENTRY_*), 16 bytes per vector from the table offset. */
export const MSIX_ENTRY_REGS = defineRegFile("msix", PCI_MSIX_ENTRY_SIZE, {
  ADDR_LO: reg(PCI_MSIX_ENTRY_LOWER_ADDR, 4, { rw: 0xfffffffc }),
  ADDR_HI: reg(PCI_MSIX_ENTRY_UPPER_ADDR, 4, { rw: ALL }),
  DATA: reg(PCI_MSIX_ENTRY_DATA, 4, { rw: ALL }),
  VECTOR_CTRL: reg(PCI_MSIX_ENTRY_VECTOR_CTRL, 4, { rw: PCI_MSIX_ENTRY_CTRL_MASKBIT, reset: PCI_MSIX_ENTRY_CTRL_MASKBIT, fields: { MASKBIT: bit(0) } }),
});

/** Pending Bit Array, one read-only bit per vector. */
export const MSIX_PBA_REGS = defineRegFile("msix-pba", 4, { PBA: reg(0, 4) });
