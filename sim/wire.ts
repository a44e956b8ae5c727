import { IovError } from "../src/errors.js";
import { DEFAULT_COSTS, type CostTable } from "./costs.js";

/**
 * Line-rate arithmetic for Ethernet and PCIe. Ethernet figures are exact: a rate in bit/s is an
 * integer and every per-frame quantity is an integer number of bytes, so packet rates are rationals
 * that are rounded once, at the end. PCIe figures follow the pcie-bench model that costs.md quotes.
 */

// ── Ethernet (IEEE 802.3 framing; costs.md "Wire and bus") ───────────────────────────────────────
export const ETH_PREAMBLE_BYTES = 7;
export const ETH_SFD_BYTES = 1;
export const ETH_IFG_BYTES = 12;
/** Per-frame cost on the wire beyond the frame itself: 7 + 1 + 12 = 20 B (costs.md). */
export const ETH_WIRE_OVERHEAD_BYTES = ETH_PREAMBLE_BYTES + ETH_SFD_BYTES + ETH_IFG_BYTES;
export const ETH_FCS_BYTES = 4;
/** Minimum frame including FCS. */
export const ETH_MIN_FRAME_BYTES = 64;
/** Maximum untagged frame including FCS at MTU 1500. */
export const ETH_MAX_FRAME_BYTES = 1518;
export const ETH_HEADER_BYTES = 14;
export const VLAN_TAG_BYTES = 4;
export const IPV4_HEADER_BYTES = 20;
export const UDP_HEADER_BYTES = 8;
export const TCP_HEADER_BYTES = 20;
/** TCP timestamp option with its two NOPs of padding (RFC 7323). */
export const TCP_TIMESTAMP_OPTION_BYTES = 12;
/** Largest frame the arithmetic accepts (jumbo frames included). */
export const ETH_FRAME_LIMIT_BYTES = 65_535;

export interface EthFrameOptions {
  /** The frame carries one 802.1Q tag (+4 B). */
  readonly vlan?: boolean;
}

/** An exact non-negative rational num/den (den > 0). */
export interface Rational {
  readonly num: number;
  readonly den: number;
}

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** floor(num / den) for non-negative safe integers, exact even where num / den rounds up in floating point. */
export function floorDiv(num: number, den: number): number {
  let q = Math.floor(num / den);
  let r = num - q * den;
  while (r < 0) {
    q--;
    r += den;
  }
  while (r >= den) {
    q++;
    r -= den;
  }
  return q;
}

/** num / den rounded to the nearest integer, halves up. */
export function roundDiv(num: number, den: number): number {
  const q = floorDiv(num, den);
  const r = num - q * den;
  return 2 * r >= den ? q + 1 : q;
}

function checkRate(rateBps: number): void {
  if (!Number.isSafeInteger(rateBps) || rateBps <= 0)
    throw new IovError("ERANGE", `line rate ${rateBps} bit/s must be a positive integer`, { rateBps });
}

function checkFrame(frameLen: number): void {
  if (!Number.isInteger(frameLen) || frameLen < 1 || frameLen > ETH_FRAME_LIMIT_BYTES)
    throw new IovError("ERANGE", `frame length ${frameLen} B outside 1..${ETH_FRAME_LIMIT_BYTES}`, { frameLen });
}

/** Gb/s → bit/s as an integer (10 → 10,000,000,000). */
export function gbpsToBps(gbps: number): number {
  const bps = Math.round(gbps * 1e9);
  checkRate(bps);
  return bps;
}

/**
 * Frame length as sent: an untagged frame (incl. FCS) is padded to the 64 B minimum, then an 802.1Q
 * tag inserted into it adds exactly 4 B (the tag is inserted into an already valid frame, as a switch or
 * NIC tag-insertion offload does).
 */
export function frameBytes(frameLen: number, opts: EthFrameOptions = {}): number {
  checkFrame(frameLen);
  return Math.max(frameLen, ETH_MIN_FRAME_BYTES) + (opts.vlan === true ? VLAN_TAG_BYTES : 0);
}

/** Bytes a frame occupies on the wire: frame (incl. FCS, padded) + 7 preamble + 1 SFD + 12 IFG. */
export function wireBytes(frameLen: number, opts: EthFrameOptions = {}): number {
  return frameBytes(frameLen, opts) + ETH_WIRE_OVERHEAD_BYTES;
}

/** Exact frames per second at line rate: rate / (wireBytes × 8), reduced. */
export function ppsAtLineRateExact(rateBps: number, frameLen: number, opts: EthFrameOptions = {}): Rational {
  checkRate(rateBps);
  const den = wireBytes(frameLen, opts) * 8;
  const g = gcd(rateBps, den);
  return { num: rateBps / g, den: den / g };
}

/**
 * Frames per second at line rate, rounded to the nearest integer as published figures are
 * (costs.md: 14,880,952 at 64 B and 812,744 at 1518 B on 10 GbE; 148,809,524 at 64 B on 100 GbE).
 */
export function ppsAtLineRate(rateBps: number, frameLen: number, opts: EthFrameOptions = {}): number {
  const r = ppsAtLineRateExact(rateBps, frameLen, opts);
  return roundDiv(r.num, r.den);
}

/** Whole frames that fit into one second at line rate (floor). */
export function framesPerSecondFloor(rateBps: number, frameLen: number, opts: EthFrameOptions = {}): number {
  const r = ppsAtLineRateExact(rateBps, frameLen, opts);
  return floorDiv(r.num, r.den);
}

/** Exact time one frame holds the wire, in ns: wireBytes × 8 × 10^9 / rate. */
export function frameTimeNsExact(rateBps: number, frameLen: number, opts: EthFrameOptions = {}): Rational {
  checkRate(rateBps);
  // 8 × 10^9 / rate reduced first keeps the numerator small and exact.
  const a = 8_000_000_000;
  const g = gcd(a, rateBps);
  const num = wireBytes(frameLen, opts) * (a / g);
  const den = rateBps / g;
  const h = gcd(num, den);
  return { num: num / h, den: den / h };
}

/** Time one frame holds the wire, in ns (67.2 ns for 64 B at 10 Gb/s). */
export function frameTimeNs(rateBps: number, frameLen: number, opts: EthFrameOptions = {}): number {
  const r = frameTimeNsExact(rateBps, frameLen, opts);
  return r.num / r.den;
}

export interface TcpOptions {
  /** IP MTU (default 1500). */
  readonly mtu?: number;
  /** RFC 7323 timestamps on every segment (MSS 1448 at MTU 1500 instead of 1460). */
  readonly timestamps?: boolean;
  readonly vlan?: boolean;
}

/** Payload bytes per full-sized segment: MTU − 20 (IPv4) − 20 (TCP) − 12 with timestamps. */
export function tcpMss(opts: TcpOptions = {}): number {
  const mtu = opts.mtu ?? 1500;
  const overhead = IPV4_HEADER_BYTES + TCP_HEADER_BYTES + (opts.timestamps === true ? TCP_TIMESTAMP_OPTION_BYTES : 0);
  if (!Number.isInteger(mtu) || mtu <= overhead || mtu + ETH_HEADER_BYTES + ETH_FCS_BYTES > ETH_FRAME_LIMIT_BYTES)
    throw new IovError("ERANGE", `MTU ${mtu} cannot carry TCP payload`, { mtu });
  return mtu - overhead;
}

/** Exact TCP goodput of back-to-back full-sized segments: rate × MSS / wireBytes(MTU + 18). */
export function tcpGoodputExact(rateBps: number, opts: TcpOptions = {}): Rational {
  checkRate(rateBps);
  const mss = tcpMss(opts);
  const wire = wireBytes((opts.mtu ?? 1500) + ETH_HEADER_BYTES + ETH_FCS_BYTES, { vlan: opts.vlan === true });
  const g1 = gcd(mss, wire);
  const num1 = mss / g1;
  const den1 = wire / g1;
  const g2 = gcd(rateBps, den1);
  return { num: (rateBps / g2) * num1, den: den1 / g2 };
}

/** TCP goodput in bit/s (9.4928 Gb/s on 10 GbE at MTU 1500, costs.md). */
export function tcpGoodputBps(rateBps: number, opts: TcpOptions = {}): number {
  const r = tcpGoodputExact(rateBps, opts);
  return r.num / r.den;
}

// ── PCIe ─────────────────────────────────────────────────────────────────────────────────────────

export type PcieGen = 1 | 2 | 3 | 4 | 5;
export const PCIE_GENS: readonly PcieGen[] = [1, 2, 3, 4, 5];
export type PcieWidth = 1 | 2 | 4 | 8 | 12 | 16 | 32;
export const PCIE_WIDTHS: readonly PcieWidth[] = [1, 2, 4, 8, 12, 16, 32];
/** Max Payload Size values allowed by the Device Control register. */
export const PCIE_MPS_VALUES: readonly number[] = [128, 256, 512, 1024, 2048, 4096];
/** Both 8b/10b and 128b/130b spend 2 line bits per block: data bits = line bits − 2. */
export const PCIE_ENCODING_OVERHEAD_BITS = 2;

const LANE_RATE_KEY = {
  1: "pcieGen1LaneRate",
  2: "pcieGen2LaneRate",
  3: "pcieGen3LaneRate",
  4: "pcieGen4LaneRate",
  5: "pcieGen5LaneRate",
} as const satisfies Record<PcieGen, keyof CostTable>;
const LINE_BITS_KEY = {
  1: "pcieGen1EncodingLineBits",
  2: "pcieGen2EncodingLineBits",
  3: "pcieGen3EncodingLineBits",
  4: "pcieGen4EncodingLineBits",
  5: "pcieGen5EncodingLineBits",
} as const satisfies Record<PcieGen, keyof CostTable>;

function checkGenWidth(gen: number, width: number): asserts gen is PcieGen {
  if (!PCIE_GENS.includes(gen as PcieGen)) throw new IovError("ERANGE", `PCIe generation ${gen} outside 1..5`, { gen });
  if (!PCIE_WIDTHS.includes(width as PcieWidth))
    throw new IovError("ERANGE", `PCIe link width x${width} is not one of ${PCIE_WIDTHS.map((w) => `x${w}`).join(", ")}`, { width });
}

function checkMps(mps: number): void {
  if (!PCIE_MPS_VALUES.includes(mps))
    throw new IovError("ERANGE", `Max Payload Size ${mps} is not one of ${PCIE_MPS_VALUES.join(", ")}`, { mps });
}

/** Transfer rate of one lane in GT/s (the cost table's per-generation entry). */
export function pcieLaneRateGTs(gen: PcieGen, costs: CostTable = DEFAULT_COSTS): number {
  checkGenWidth(gen, 1);
  return costs[LANE_RATE_KEY[gen]].value;
}

/** Encoding of a generation as data bits / line bits (8/10 or 128/130). */
export function pcieEncoding(gen: PcieGen, costs: CostTable = DEFAULT_COSTS): Rational {
  checkGenWidth(gen, 1);
  const line = costs[LINE_BITS_KEY[gen]].value;
  return { num: line - PCIE_ENCODING_OVERHEAD_BITS, den: line };
}

/** Link bandwidth after line encoding, in bit/s: GT/s × 10^9 × width × data/line bits (Gen3 x8: 63.015 Gb/s). */
export function pcieLinkBandwidthBps(gen: PcieGen, width: PcieWidth, costs: CostTable = DEFAULT_COSTS): number {
  checkGenWidth(gen, width);
  const enc = pcieEncoding(gen, costs);
  return (pcieLaneRateGTs(gen, costs) * 1e9 * width * enc.num) / enc.den;
}

/** Fraction of link time taken by ACK and flow-control DLLPs and SKIP ordered sets. */
export function pcieDllpOverheadFraction(costs: CostTable = DEFAULT_COSTS): number {
  return (
    (2 * costs.pcieDllpBytes.value) / costs.pcieDllpIntervalBytes.value + costs.pcieSkipBytes.value / costs.pcieSkipIntervalBytes.value
  );
}

/** Bandwidth left for TLPs (headers included) after DLLPs and SKIPs, in bit/s. */
export function pcieTlpBandwidthBps(gen: PcieGen, width: PcieWidth, costs: CostTable = DEFAULT_COSTS): number {
  return pcieLinkBandwidthBps(gen, width, costs) * (1 - pcieDllpOverheadFraction(costs));
}

/** TLPs needed for a payload split at MPS (a header-only request counts as one TLP). */
export function pcieTlpCount(payloadBytes: number, mps: number): number {
  checkMps(mps);
  if (!Number.isSafeInteger(payloadBytes) || payloadBytes < 0)
    throw new IovError("ERANGE", `PCIe payload ${payloadBytes} B must be a non-negative integer`, { payloadBytes });
  return payloadBytes === 0 ? 1 : Math.ceil(payloadBytes / mps);
}

/** Bytes on the link for a memory write of `payloadBytes`: payload + one header/framing overhead per TLP. */
export function pcieTlpBytes(payloadBytes: number, mps: number, costs: CostTable = DEFAULT_COSTS): number {
  return payloadBytes + pcieTlpCount(payloadBytes, mps) * costs.pcieTlpOverheadBytes.value;
}

/** Bytes on the link for completions carrying `payloadBytes` of read data (split at MPS). */
export function pcieCompletionBytes(payloadBytes: number, mps: number, costs: CostTable = DEFAULT_COSTS): number {
  return payloadBytes + pcieTlpCount(payloadBytes, mps) * costs.pcieCplOverheadBytes.value;
}

/** Serialisation time of a `bytes`-long memory write on the link, in ns (no latency, no contention). */
export function pcieTransferNs(
  bytes: number,
  gen: PcieGen,
  width: PcieWidth,
  mps: number = DEFAULT_COSTS.pcieMaxPayloadBytes.value,
  costs: CostTable = DEFAULT_COSTS,
): number {
  return (pcieTlpBytes(bytes, mps, costs) * 8 * 1e9) / pcieTlpBandwidthBps(gen, width, costs);
}

/** Payload bandwidth of back-to-back writes of `payloadBytes` each (Gen3 x8: ≈ 52.9 Gb/s at 256 B, ≈ 42 Gb/s at 64 B). */
export function pcieWriteBandwidthBps(
  payloadBytes: number,
  gen: PcieGen,
  width: PcieWidth,
  mps: number = DEFAULT_COSTS.pcieMaxPayloadBytes.value,
  costs: CostTable = DEFAULT_COSTS,
): number {
  if (payloadBytes <= 0) throw new IovError("ERANGE", `payload ${payloadBytes} B must be positive`, { payloadBytes });
  return (payloadBytes * 8 * 1e9) / pcieTransferNs(payloadBytes, gen, width, mps, costs);
}
