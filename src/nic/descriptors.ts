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
