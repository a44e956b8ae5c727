/**
 * One function of the NIC (the PF or a VF) as the hardware holds it: its BAR0 register file, its
 * MSI-X table, the slot indices of the registers the data plane reads, its switch-port filters and
 * port settings, its rate limiter, interrupt state and counters. Plain state; behaviour lives in
 * queues.ts (rings, DMA), veb.ts (switching), msix.ts (interrupts) and effects.ts (register hooks).
 */
import { IovError } from "../errors.js";
import type { LinkState, VfPortConfig, VlanProto } from "./port-config.js";
import { ETH_P_8021AD, ETH_P_8021Q, defaultVfPortConfig } from "./port-config.js";
import { C_COUNT } from "./counters.js";
import { DEFAULT_MAX_RX_FRAME } from "./frame.js";
import { TokenBucket } from "./rate.js";
import type { MmioLayout, RegFileDef, RegHookSink } from "./regfile.js";
import { MmioRegs } from "./regfile.js";
import { MAX_EICR_VECTORS, MSIX_ENTRY_REGS, MSIX_PBA_REGS, NIC_EITR_REGS, NIC_FN_REGS, NIC_IVAR_REGS, NIC_PF_REGS, NIC_RXQ_REGS, NIC_TXQ_REGS } from "./regs.js";

/** Exact unicast filters per function (igb has 24 RAR entries shared; the model gives each pool 16 + the admin MAC). */
export const MAX_UC_FILTERS = 17;
/** Exact multicast filters per function (igbvf sends up to 30 hashes per E1000_VF_SET_MULTICAST). */
export const MAX_MC_FILTERS = 64;

/** `ip link ... state` as the data plane tests it. */
export const LINK_AUTO = 0;
export const LINK_ENABLE = 1;
export const LINK_DISABLE = 2;
export const linkCode = (s: LinkState): number => (s === "auto" ? LINK_AUTO : s === "enable" ? LINK_ENABLE : LINK_DISABLE);
export const tpidOf = (p: VlanProto): number => (p === "802.1ad" ? ETH_P_8021AD : ETH_P_8021Q);

export class NicFunction {
  readonly vf: number;
  readonly regs: MmioRegs;
  readonly msix: MmioRegs;
  /** Requester ID used for this function's DMA and MSI writes (the owner sets it after enumeration). */
  rid: number;
  /** Command.Bus Master Enable as the PCIe layer reports it. */
  busMaster = true;
  msixEnable = false;
  msixFunctionMask = false;
  /** A VF is active while VF Enable covers it; the PF always is. */
  active: boolean;

  // register slots the data plane reads
  readonly sCtrl: number;
  /** RCTL (PF only; −1 for a VF). */
  readonly sRctl: number;
  readonly sEicr: number;
  readonly sEims: number;
  readonly sEiac: number;
  readonly sEiam: number;
  readonly sIvarMisc: number;
  readonly sIvar: Int32Array;
  readonly sEitr: Int32Array;
  readonly rxBal: Int32Array;
  readonly rxBah: Int32Array;
  readonly rxLen: Int32Array;
  readonly rxSrr: Int32Array;
  readonly rxHead: Int32Array;
  readonly rxTail: Int32Array;
  readonly rxCtl: Int32Array;
  readonly txBal: Int32Array;
  readonly txBah: Int32Array;
  readonly txLen: Int32Array;
  readonly txHead: Int32Array;
  readonly txTail: Int32Array;
  readonly txCtl: Int32Array;
  readonly txWbal: Int32Array;
  readonly txWbah: Int32Array;
  // MSI-X slots
  readonly mAddrLo: Int32Array;
  readonly mAddrHi: Int32Array;
  readonly mData: Int32Array;
  readonly mCtrl: Int32Array;
  readonly mPba: Int32Array;
  readonly vectors: number;

  // switch port: filters (control plane copies + data-plane arrays)
  adminMac = 0;
  addedMacs: number[] = [];
  readonly ucHi = new Uint16Array(MAX_UC_FILTERS);
  readonly ucLo = new Uint32Array(MAX_UC_FILTERS);
  ucCount = 0;
  readonly mcHi = new Uint16Array(MAX_MC_FILTERS);
  readonly mcLo = new Uint32Array(MAX_MC_FILTERS);
  mcCount = 0;
  allMulti = false;
  /** VLAN filter (4096 bits) for tagged 802.1Q frames when no port VLAN is set. */
  readonly vlanBits = new Uint32Array(128);
  maxFrame = DEFAULT_MAX_RX_FRAME;
  cfg: VfPortConfig = defaultVfPortConfig();
  portVlan = 0;
  portTpid = 0;
  portTci = 0;
  spoofchk = false;
  link = LINK_AUTO;
  readonly bucket = new TokenBucket();

  // interrupts
  irqPending = 0;
  irqDeferred = 0;
  irqDirty = false;
  pbaCheck = false;
  readonly nextIrqNs = new Float64Array(MAX_EICR_VECTORS);
  // TX scheduling
  readonly txStalled: Uint8Array;
  /** Bytes the stalled frame of each queue waits for (rate limiter). */
  readonly txNeed: Float64Array;
  /**
   * Advanced TX context descriptors: two slots per queue (IDX bit 4 of olinfo_status), each its
   * vlan_macip_lens, type_tucmd_mlhl and mss_l4len_idx dwords, as the context descriptor gave them.
   */
  readonly txCtx: Uint32Array;
  /** The segment of the TSO packet at each queue's head to send next (after a rate-limiter stall). */
  readonly tsoNext: Int32Array;

  readonly ctr = new Float64Array(C_COUNT);

  constructor(
    readonly index: number,
    readonly nq: number,
    bar0: MmioLayout,
    msix: MmioLayout,
    vectors: number,
    sink: RegHookSink,
    rid: number,
  ) {
    this.vf = index - 1;
    this.active = index === 0;
    this.rid = rid;
    this.vectors = vectors;
    this.regs = new MmioRegs(bar0, sink, index);
    this.msix = new MmioRegs(msix, sink, index);
    const s = (def: RegFileDef, key: string, i = 0): number => bar0.slot(def, key, i);
    this.sCtrl = s(NIC_FN_REGS, "CTRL");
    this.sRctl = index === 0 ? s(NIC_PF_REGS, "RCTL") : -1;
    this.sEicr = s(NIC_FN_REGS, "EICR");
    this.sEims = s(NIC_FN_REGS, "EIMS");
    this.sEiac = s(NIC_FN_REGS, "EIAC");
    this.sEiam = s(NIC_FN_REGS, "EIAM");
    this.sIvarMisc = s(NIC_FN_REGS, "IVAR_MISC");
    const per = (n: number, f: (i: number) => number): Int32Array => Int32Array.from({ length: n }, (_, i) => f(i));
    this.sIvar = per(Math.ceil(nq / 2), (i) => s(NIC_IVAR_REGS, "IVAR", i));
    this.sEitr = per(Math.min(vectors, MAX_EICR_VECTORS), (i) => s(NIC_EITR_REGS, "EITR", i));
    this.rxBal = per(nq, (i) => s(NIC_RXQ_REGS, "RDBAL", i));
    this.rxBah = per(nq, (i) => s(NIC_RXQ_REGS, "RDBAH", i));
    this.rxLen = per(nq, (i) => s(NIC_RXQ_REGS, "RDLEN", i));
    this.rxSrr = per(nq, (i) => s(NIC_RXQ_REGS, "SRRCTL", i));
    this.rxHead = per(nq, (i) => s(NIC_RXQ_REGS, "RDH", i));
    this.rxTail = per(nq, (i) => s(NIC_RXQ_REGS, "RDT", i));
    this.rxCtl = per(nq, (i) => s(NIC_RXQ_REGS, "RXDCTL", i));
    this.txBal = per(nq, (i) => s(NIC_TXQ_REGS, "TDBAL", i));
    this.txBah = per(nq, (i) => s(NIC_TXQ_REGS, "TDBAH", i));
    this.txLen = per(nq, (i) => s(NIC_TXQ_REGS, "TDLEN", i));
    this.txHead = per(nq, (i) => s(NIC_TXQ_REGS, "TDH", i));
    this.txTail = per(nq, (i) => s(NIC_TXQ_REGS, "TDT", i));
    this.txCtl = per(nq, (i) => s(NIC_TXQ_REGS, "TXDCTL", i));
    this.txWbal = per(nq, (i) => s(NIC_TXQ_REGS, "TDWBAL", i));
    this.txWbah = per(nq, (i) => s(NIC_TXQ_REGS, "TDWBAH", i));
    const m = (key: string, i: number): number => msix.slot(MSIX_ENTRY_REGS, key, i);
    this.mAddrLo = per(vectors, (i) => m("ADDR_LO", i));
    this.mAddrHi = per(vectors, (i) => m("ADDR_HI", i));
    this.mData = per(vectors, (i) => m("DATA", i));
    this.mCtrl = per(vectors, (i) => m("VECTOR_CTRL", i));
    this.mPba = per(Math.ceil(vectors / 32), (w) => msix.slot(MSIX_PBA_REGS, "PBA", w));
    this.txStalled = new Uint8Array(nq);
    this.txNeed = new Float64Array(nq);
    this.txCtx = new Uint32Array(nq * 2 * 3);
    this.tsoNext = new Int32Array(nq);
  }

  get isPf(): boolean {
    return this.index === 0;
  }

  /** Admin MAC first, then the added ones (deduplicated). */
  private unicastList(admin: number, added: readonly number[]): number[] {
    return admin !== 0 ? [admin, ...added.filter((m) => m !== admin)] : [...added];
  }

  /** Check that `added` fits next to the admin MAC (before changing anything). */
  checkUnicast(admin: number, added: readonly number[]): void {
    const n = this.unicastList(admin, added).length;
    if (n > MAX_UC_FILTERS) throw new IovError("ENOSPC", `function ${this.index}: ${n} unicast filters, at most ${MAX_UC_FILTERS}`);
  }

  /** Rebuild the exact unicast filter arrays from the admin MAC and the added MACs. */
  rebuildUnicast(): void {
    this.checkUnicast(this.adminMac, this.addedMacs);
    this.ucCount = 0;
    for (const mac of this.unicastList(this.adminMac, this.addedMacs)) {
      this.ucHi[this.ucCount] = Math.floor(mac / 2 ** 32) & 0xffff;
      this.ucLo[this.ucCount] = mac % 2 ** 32;
      this.ucCount++;
    }
  }

  setMulticast(macs: readonly number[], allMulti: boolean): void {
    if (macs.length > MAX_MC_FILTERS) throw new IovError("ENOSPC", `function ${this.index}: more than ${MAX_MC_FILTERS} multicast filters`);
    this.mcCount = 0;
    for (const mac of macs) {
      this.mcHi[this.mcCount] = Math.floor(mac / 2 ** 32) & 0xffff;
      this.mcLo[this.mcCount] = mac % 2 ** 32;
      this.mcCount++;
    }
    this.allMulti = allMulti;
  }

  setVlanFilter(vids: readonly number[]): void {
    for (const v of vids) if (!Number.isInteger(v) || v < 1 || v > 4094) throw new IovError("ERANGE", `VLAN ${v} outside 1..4094`);
    this.vlanBits.fill(0);
    for (const v of vids) this.vlanBits[v >>> 5]! |= 1 << (v & 31);
  }

  applyPortConfig(cfg: VfPortConfig, nowNs: number): void {
    this.checkUnicast(cfg.mac, this.addedMacs);
    this.cfg = { ...cfg };
    this.adminMac = cfg.mac;
    this.rebuildUnicast();
    this.portVlan = cfg.vlan;
    this.portTpid = cfg.vlan !== 0 ? tpidOf(cfg.proto) : 0;
    this.portTci = cfg.vlan !== 0 ? ((cfg.qos & 7) << 13) | (cfg.vlan & 0x0fff) : 0;
    this.spoofchk = cfg.spoofchk;
    this.link = linkCode(cfg.linkState);
    this.bucket.configure(cfg.maxTxRate, nowNs);
  }

  ucHas(hi: number, lo: number): boolean {
    for (let i = 0; i < this.ucCount; i++) if (this.ucLo[i] === lo && this.ucHi[i] === hi) return true;
    return false;
  }
  mcHas(hi: number, lo: number): boolean {
    for (let i = 0; i < this.mcCount; i++) if (this.mcLo[i] === lo && this.mcHi[i] === hi) return true;
    return false;
  }
  vlanMember(vid: number): boolean {
    return (this.vlanBits[vid >>> 5]! & (1 << (vid & 31))) !== 0;
  }
}
