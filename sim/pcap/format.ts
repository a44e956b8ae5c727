/**
 * Capture file constants. Classic pcap: https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcap/ ;
 * pcapng: https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcapng/ (names follow those drafts).
 */

/** LINKTYPE_ETHERNET: IEEE 802.3 frames without preamble/SFD (and, as written here, without FCS). */
export const LINKTYPE_ETHERNET = 1;
/** Default snapshot length of tcpdump/libpcap. */
export const DEFAULT_SNAPLEN = 262_144;

// Classic pcap
export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_MAGIC_US_SWAPPED = 0xd4c3b2a1;
export const PCAP_MAGIC_NS_SWAPPED = 0x4d3cb2a1;
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;
export const PCAP_FILE_HEADER_BYTES = 24;
export const PCAP_RECORD_HEADER_BYTES = 16;
/** LinkType field: the link type proper is the low 16 bits (the upper bits carry FCS information). */
export const PCAP_LINKTYPE_MASK = 0xffff;

// pcapng blocks
export const PCAPNG_SHB = 0x0a0d0d0a; // Section Header Block
export const PCAPNG_IDB = 0x00000001; // Interface Description Block
export const PCAPNG_PB = 0x00000002; // Packet Block (obsolete)
export const PCAPNG_SPB = 0x00000003; // Simple Packet Block
export const PCAPNG_NRB = 0x00000004; // Name Resolution Block
export const PCAPNG_ISB = 0x00000005; // Interface Statistics Block
export const PCAPNG_EPB = 0x00000006; // Enhanced Packet Block
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
export const PCAPNG_VERSION_MAJOR = 1;
export const PCAPNG_VERSION_MINOR = 0;
/** Block type + block total length, and the trailing copy of the length. */
export const PCAPNG_BLOCK_OVERHEAD_BYTES = 12;
/** Fixed EPB fields: interface id, timestamp high/low, captured length, original length. */
export const PCAPNG_EPB_FIXED_BYTES = 20;

// pcapng options
export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
export const SHB_HARDWARE = 2;
export const SHB_OS = 3;
export const SHB_USERAPPL = 4;
export const IF_NAME = 2;
export const IF_DESCRIPTION = 3;
export const IF_TSRESOL = 9;
export const IF_TSOFFSET = 14;
/** if_tsresol = 9: timestamps count nanoseconds (10^-9 s). */
export const IF_TSRESOL_NS = 9;
/** Default pcapng resolution when if_tsresol is absent: microseconds. */
export const IF_TSRESOL_DEFAULT = 6;

export const NS_PER_SEC = 1_000_000_000;

export const pad4 = (n: number): number => (4 - (n & 3)) & 3;
