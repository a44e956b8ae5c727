/**
 * Descriptor formats in simulated memory: the 16-byte legacy e1000/igb layouts (little-endian).
 *
 * TX (driver writes; the device sets STA.DD when CMD.RS was set):
 *   0..7   buffer address (IOVA)
 *   8..9   length of this buffer's bytes
 *   10     CSO (checksum offset; accepted, not acted on)
 *   11     CMD: EOP 0x01, IFCS 0x02, IC 0x04, RS 0x08, DEXT 0x20, VLE 0x40, IDE 0x80
 *   12     STA: DD 0x01 (written back)
 *   13     CSS
 *   14..15 special: VLAN TCI inserted as an 802.1Q tag when CMD.VLE is set on the EOP descriptor
 *
 * RX (driver writes the buffer address; the device writes back bytes 8..15):
 *   0..7   buffer address (IOVA)
 *   8..9   length written into this buffer
 *   10..11 packet checksum (0: not computed)
 *   12     status: DD 0x01, EOP 0x02, VP 0x08 (a tag was stripped into `special`)
 *   13     errors (0)
 *   14..15 special: stripped VLAN TCI when VP
 * The write-back layout is the one `native/` rxWriteback produces.
 *
 * Frames are Ethernet frames without FCS; IFCS has no effect on bytes (the model never carries FCS).
 * The helpers below are for drivers and tests (control plane); the device's own accesses are in
 * queues.ts and go through the DMA translator.
 */
import type { PhysMem } from "../memory/physmem.js";

export const DESC_SIZE = 16;
export const DESC_ADDR = 0;
export const DESC_LEN = 8;

export const TXD_CSO = 10;
export const TXD_CMD = 11;
export const TXD_STA = 12;
export const TXD_CSS = 13;
export const TXD_SPECIAL = 14;
export const E1000_TXD_CMD_EOP = 0x01; // End of Packet
export const E1000_TXD_CMD_IFCS = 0x02; // Insert FCS
export const E1000_TXD_CMD_IC = 0x04; // Insert Checksum
export const E1000_TXD_CMD_RS = 0x08; // Report Status
export const E1000_TXD_CMD_DEXT = 0x20; // Descriptor extension (0 = legacy)
export const E1000_TXD_CMD_VLE = 0x40; // VLAN Packet Enable
export const E1000_TXD_CMD_IDE = 0x80; // Interrupt Delay Enable
export const E1000_TXD_STAT_DD = 0x01;

/*
 * Advanced TX descriptors (82575/82576: E1000_ADVTXD_* in Linux's e1000_82575.h), told from legacy
 * ones by DEXT (bit 29 of dword 2, 0x20 in byte 11) and DTYP (bits 23:20, the high nibble of byte 10).
 *
 * Context (DTYP 0010b), no data:
 *   0..3   vlan_macip_lens: IPLEN 8:0, MACLEN 15:9, VLAN 31:16 (the tag VLE inserts)
 *   4..7   seqnum_seed (0)
 *   8..11  type_tucmd_mlhl: TUCMD.IPV4 bit 10, TUCMD.L4T 12:11 (0 UDP, 1 TCP, 2 SCTP), DTYP, DEXT
 *   12..15 mss_l4len_idx: IDX 7:4 (the context slot: bit 4), L4LEN 15:8, MSS 31:16
 * Data (DTYP 0011b):
 *   0..7   buffer address
 *   8..11  cmd_type_len: DTALEN 15:0, DTYP 23:20, DCMD 31:24 (EOP, IFCS, RS, DEXT, VLE as legacy CMD; TSE 0x80)
 *   12..15 olinfo_status: STA 3:0 (DD written back), IDX 7:4, POPTS 13:8 (IXSM 0x01, TXSM 0x02), PAYLEN 31:14
 * Of a packet's data descriptors the first one's DCMD (TSE, VLE) and olinfo_status count (the others
 * carry only their length, EOP and RS), as QEMU's igb takes them.
 */
export const TXD_DTYP = 10;
export const TXD_OLINFO = 12;
export const E1000_ADVTXD_DTYP_CTXT = 0x2;
export const E1000_ADVTXD_DTYP_DATA = 0x3;
export const E1000_ADVTXD_DCMD_TSE = 0x80;
export const E1000_ADVTXD_TUCMD_IPV4 = 0x400;
export const E1000_ADVTXD_TUCMD_L4T_TCP = 0x800;
export const E1000_ADVTXD_L4T_MASK = 0x1800;
export const E1000_ADVTXD_POPTS_IXSM = 0x01;
export const E1000_ADVTXD_POPTS_TXSM = 0x02;
export const E1000_ADVTXD_PAYLEN_SHIFT = 14;
export const E1000_ADVTXD_MACLEN_SHIFT = 9;
export const E1000_ADVTXD_VLAN_SHIFT = 16;
export const E1000_ADVTXD_L4LEN_SHIFT = 8;
export const E1000_ADVTXD_MSS_SHIFT = 16;
export const E1000_ADVTXD_IDX_SHIFT = 4;

export const RXD_CSUM = 10;
export const RXD_STATUS = 12;
export const RXD_ERRORS = 13;
export const RXD_SPECIAL = 14;
export const E1000_RXD_STAT_DD = 0x01;
export const E1000_RXD_STAT_EOP = 0x02;
export const E1000_RXD_STAT_VP = 0x08;

export interface TxDesc {
  addr: number;
  len: number;
  cmd: number;
  sta: number;
  vlan: number;
}
export interface RxDesc {
  addr: number;
  len: number;
  status: number;
  errors: number;
  vlan: number;
}

export function writeTxDesc(mem: PhysMem, at: number, d: { addr: number; len: number; cmd: number; vlan?: number }): void {
  mem.write64n(at + DESC_ADDR, d.addr);
  mem.write16(at + DESC_LEN, d.len);
  mem.write8(at + TXD_CSO, 0);
  mem.write8(at + TXD_CMD, d.cmd);
  mem.write8(at + TXD_STA, 0);
  mem.write8(at + TXD_CSS, 0);
  mem.write16(at + TXD_SPECIAL, d.vlan ?? 0);
}
export function readTxDesc(mem: PhysMem, at: number): TxDesc {
  return { addr: mem.read64n(at), len: mem.read16(at + DESC_LEN), cmd: mem.read8(at + TXD_CMD), sta: mem.read8(at + TXD_STA), vlan: mem.read16(at + TXD_SPECIAL) };
}
/** Post an RX buffer: address, and the write-back half cleared (DD = 0). */
export function writeRxDesc(mem: PhysMem, at: number, bufAddr: number): void {
  mem.write64n(at + DESC_ADDR, bufAddr);
  mem.write32(at + DESC_LEN, 0);
  mem.write32(at + RXD_STATUS, 0);
}
export function readRxDesc(mem: PhysMem, at: number): RxDesc {
  return {
    addr: mem.read64n(at),
    len: mem.read16(at + DESC_LEN),
    status: mem.read8(at + RXD_STATUS),
    errors: mem.read8(at + RXD_ERRORS),
    vlan: mem.read16(at + RXD_SPECIAL),
  };
}
