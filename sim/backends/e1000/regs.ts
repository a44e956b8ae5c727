/**
 * Intel 82540EM (e1000) registers and legacy descriptors, as the emulated NIC presents them
 * (QEMU hw/net/e1000_regs.h offsets; Intel 8254x SDM §3.2/§3.3 descriptor formats).
 */
export const E1000_CTRL = 0x0000;
export const E1000_STATUS = 0x0008;
export const E1000_ICR = 0x00c0; // Interrupt Cause Read (read clears)
export const E1000_ICS = 0x00c8;
export const E1000_IMS = 0x00d0;
export const E1000_IMC = 0x00d8;
export const E1000_RCTL = 0x0100;
export const E1000_TCTL = 0x0400;
export const E1000_RDBAL = 0x2800;
export const E1000_RDBAH = 0x2804;
export const E1000_RDLEN = 0x2808;
export const E1000_RDH = 0x2810;
export const E1000_RDT = 0x2818;
export const E1000_TDBAL = 0x3800;
export const E1000_TDBAH = 0x3804;
export const E1000_TDLEN = 0x3808;
export const E1000_TDH = 0x3810;
export const E1000_TDT = 0x3818;
export const E1000_ICR_TXDW = 0x01;
export const E1000_ICR_RXT0 = 0x80;
export const E1000_TXD_CMD_EOP = 0x01;
export const E1000_TXD_CMD_IFCS = 0x02;
export const E1000_TXD_CMD_RS = 0x08;
/** Extended descriptors (8254x SDM §3.3.6–3.3.7): DEXT in CMD, DTYP in bits 23:20 of dword 2 (0: TCP/IP context, 1: data). */
export const E1000_TXD_CMD_DEXT = 0x20;
export const E1000_TXD_CMD_TSE = 0x04;
export const E1000_TXD_DTYP_D = 0x1;
/** TCP/IP context descriptor: TUCMD bits (byte 11). */
export const E1000_TXD_TUCMD_TCP = 0x01;
export const E1000_TXD_TUCMD_IP = 0x02;
export const E1000_TXD_STAT_DD = 0x01;
export const E1000_RXD_STAT_DD = 0x01;
export const E1000_RXD_STAT_EOP = 0x02;
export const E1000_DESC = 16;
export const E1000_MMIO_SIZE = 0x20000;
