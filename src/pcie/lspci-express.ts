/**
 * lspci text for the PCI Express capability (pciutils 3.9 ls-caps.c cap_express and its helpers):
 * the title with the device/port type, then at -vv DevCap/DevCtl/DevSta, the link, slot and root
 * registers the type has, and the version 2 registers (DevCap2 ... LnkSta2).
 */
import {
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCAP2,
  PCI_EXP_DEVCAP2_ARI,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL2,
  PCI_EXP_DEVCTL2_ARI,
  PCI_EXP_DEVSTA,
  PCI_EXP_FLAGS_IRQ,
  PCI_EXP_FLAGS_SLOT,
  PCI_EXP_FLAGS_TYPE,
  PCI_EXP_FLAGS_VERS,
  PCI_EXP_LNKCAP,
  PCI_EXP_LNKCAP2,
  PCI_EXP_LNKCAP2_DRS,
  PCI_EXP_LNKCTL,
  PCI_EXP_LNKCTL2,
  PCI_EXP_LNKSTA,
  PCI_EXP_LNKSTA2,
  PCI_EXP_RTCAP,
  PCI_EXP_RTCTL,
  PCI_EXP_RTSTA,
  PCI_EXP_SLTCAP,
  PCI_EXP_SLTCTL,
  PCI_EXP_SLTSTA,
  PCI_EXP_TYPE_DOWNSTREAM,
  PCI_EXP_TYPE_ENDPOINT,
  PCI_EXP_TYPE_LEG_END,
  PCI_EXP_TYPE_PCIE_BRIDGE,
  PCI_EXP_TYPE_PCI_BRIDGE,
  PCI_EXP_TYPE_RC_EC,
  PCI_EXP_TYPE_RC_END,
  PCI_EXP_TYPE_ROOT_PORT,
  PCI_EXP_TYPE_UPSTREAM,
} from "./caps/pcie-regs.js";
import { PCI_BASE_ADDRESS_SPACE_IO } from "./header.js";
import type { Ctx } from "./lspci-caps.js";
import { bitsOf, f, h } from "./lspci-caps.js";

/** C's "%g" for the small decimal values lspci prints (power limits). */
function fmtG(x: number): string {
  if (x === 0) return "0";
  const s = x.toPrecision(6);
  if (s.includes("e")) return String(Number(s));
  return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
}

const LATENCY_L0S = ["<64ns", "<128ns", "<256ns", "<512ns", "<1us", "<2us", "<4us", "unlimited"];
const LATENCY_L1 = ["<1us", "<2us", "<4us", "<8us", "<16us", "<32us", "<64us", "unlimited"];

function powerLimit(value: number, scale: number): string {
  if (scale === 0 && value === 0xff) return ">600W";
  let v = value;
  if (scale === 0 && v >= 0xf0 && v <= 0xfe) v = 250 + 25 * (v - 0xf0);
  return `${fmtG(v * ([1, 0.1, 0.01, 0.001][scale] ?? 1))}W`;
}

function linkSpeed(s: number): string {
  return ["unknown", "2.5GT/s", "5GT/s", "8GT/s", "16GT/s", "32GT/s", "64GT/s"][s] ?? "unknown";
}

function linkCompare(type: number, sta: number, cap: number): string {
  if (sta > cap) return " (overdriven)";
  if (sta === cap) return "";
  if (type === PCI_EXP_TYPE_ROOT_PORT || type === PCI_EXP_TYPE_DOWNSTREAM || type === PCI_EXP_TYPE_PCIE_BRIDGE) return "";
  return " (downgraded)";
}

function expDev(c: Ctx, where: number, type: number): void {
  const { cfg, o } = c;
  const t = cfg.u32(where + PCI_EXP_DEVCAP);
  const ep = type === PCI_EXP_TYPE_ENDPOINT || type === PCI_EXP_TYPE_LEG_END;
  let s = `\t\tDevCap:\tMaxPayload ${128 << (t & 7)} bytes, PhantFunc ${(1 << bitsOf(t, 3, 2)) - 1}`;
  if (ep) s += `, Latency L0s ${LATENCY_L0S[bitsOf(t, 6, 3)] ?? ""}, L1 ${LATENCY_L1[bitsOf(t, 9, 3)] ?? ""}`;
  o.line(s);
  s = `\t\t\tExtTag${f(t, 0x20)}`;
  if (ep || type === PCI_EXP_TYPE_UPSTREAM || type === PCI_EXP_TYPE_PCI_BRIDGE)
    s += ` AttnBtn${f(t, 0x1000)} AttnInd${f(t, 0x2000)} PwrInd${f(t, 0x4000)}`;
  s += ` RBE${f(t, 0x8000)}`;
  const flrType = ep || type === PCI_EXP_TYPE_RC_END;
  if (flrType) s += ` FLReset${f(t, 0x10000000)}`;
  if (type === PCI_EXP_TYPE_ENDPOINT || type === PCI_EXP_TYPE_UPSTREAM || type === PCI_EXP_TYPE_PCI_BRIDGE)
    s += ` SlotPowerLimit ${powerLimit(bitsOf(t, 18, 8), bitsOf(t, 26, 2))}`;
  o.line(s);
  const w = cfg.u16(where + PCI_EXP_DEVCTL);
  o.line(`\t\tDevCtl:\tCorrErr${f(w, 0x1)} NonFatalErr${f(w, 0x2)} FatalErr${f(w, 0x4)} UnsupReq${f(w, 0x8)}`);
  s = `\t\t\tRlxdOrd${f(w, 0x10)} ExtTag${f(w, 0x100)} PhantFunc${f(w, 0x200)} AuxPwr${f(w, 0x400)} NoSnoop${f(w, 0x800)}`;
  if (type === PCI_EXP_TYPE_PCI_BRIDGE) s += ` BrConfRtry${f(w, 0x8000)}`;
  if (flrType && (t & 0x10000000) !== 0) s += ` FLReset${f(w, 0x8000)}`;
  o.line(s);
  o.line(`\t\t\tMaxPayload ${128 << bitsOf(w, 5, 3)} bytes, MaxReadReq ${128 << bitsOf(w, 12, 3)} bytes`);
  const st = cfg.u16(where + PCI_EXP_DEVSTA);
  o.line(`\t\tDevSta:\tCorrErr${f(st, 0x1)} NonFatalErr${f(st, 0x2)} FatalErr${f(st, 0x4)} UnsupReq${f(st, 0x8)} AuxPwr${f(st, 0x10)} TransPend${f(st, 0x20)}`);
}

function expLink(c: Ctx, where: number, type: number): void {
  const { cfg, o } = c;
  const t = cfg.u32(where + PCI_EXP_LNKCAP);
  const aspm = bitsOf(t, 10, 2);
  const capSpeed = t & 0xf;
  const capWidth = bitsOf(t, 4, 6);
  let s = `\t\tLnkCap:\tPort #${t >>> 24}, Speed ${linkSpeed(capSpeed)}, Width x${capWidth}, ASPM ${["not supported", "L0s", "L1", "L0s L1"][aspm] ?? ""}`;
  if (aspm !== 0) {
    s += ", Exit Latency ";
    if ((aspm & 1) !== 0) s += `L0s ${LATENCY_L0S[bitsOf(t, 12, 3)] ?? ""}`;
    if ((aspm & 2) !== 0) s += `${(aspm & 1) !== 0 ? ", " : ""}L1 ${LATENCY_L1[bitsOf(t, 15, 3)] ?? ""}`;
  }
  o.line(s);
  o.line(`\t\t\tClockPM${f(t, 0x40000)} Surprise${f(t, 0x80000)} LLActRep${f(t, 0x100000)} BwNot${f(t, 0x200000)} ASPMOptComp${f(t, 0x400000)}`);
  const w = cfg.u16(where + PCI_EXP_LNKCTL);
  s = `\t\tLnkCtl:\tASPM ${["Disabled", "L0s Enabled", "L1 Enabled", "L0s L1 Enabled"][w & 3] ?? ""};`;
  if (type === PCI_EXP_TYPE_ROOT_PORT || type === PCI_EXP_TYPE_ENDPOINT || type === PCI_EXP_TYPE_LEG_END || type === PCI_EXP_TYPE_PCI_BRIDGE)
    s += ` RCB ${(w & 0x8) !== 0 ? 128 : 64} bytes,`;
  o.line(`${s} Disabled${f(w, 0x10)} CommClk${f(w, 0x40)}`);
  o.line(`\t\t\tExtSynch${f(w, 0x80)} ClockPM${f(w, 0x100)} AutWidDis${f(w, 0x200)} BWInt${f(w, 0x400)} AutBWInt${f(w, 0x800)}`);
  const st = cfg.u16(where + PCI_EXP_LNKSTA);
  const staSpeed = st & 0xf;
  const staWidth = bitsOf(st, 4, 6);
  o.line(`\t\tLnkSta:\tSpeed ${linkSpeed(staSpeed)}${linkCompare(type, staSpeed, capSpeed)}, Width x${staWidth}${linkCompare(type, staWidth, capWidth)}`);
  o.line(`\t\t\tTrErr${f(st, 0x400)} Train${f(st, 0x800)} SlotClk${f(st, 0x1000)} DLActive${f(st, 0x2000)} BWMgmt${f(st, 0x4000)} ABWMgmt${f(st, 0x8000)}`);
}

const INDICATOR = ["Unknown", "On", "Blink", "Off"];

function expSlot(c: Ctx, where: number): void {
  const { cfg, o } = c;
  const t = cfg.u32(where + PCI_EXP_SLTCAP);
  o.line(`\t\tSltCap:\tAttnBtn${f(t, 0x1)} PwrCtrl${f(t, 0x2)} MRL${f(t, 0x4)} AttnInd${f(t, 0x8)} PwrInd${f(t, 0x10)} HotPlug${f(t, 0x40)} Surprise${f(t, 0x20)}`);
  o.line(`\t\t\tSlot #${t >>> 19}, PowerLimit ${powerLimit(bitsOf(t, 7, 8), bitsOf(t, 15, 2))}; Interlock${f(t, 0x20000)} NoCompl${f(t, 0x40000)}`);
  const w = cfg.u16(where + PCI_EXP_SLTCTL);
  o.line(`\t\tSltCtl:\tEnable: AttnBtn${f(w, 0x1)} PwrFlt${f(w, 0x2)} MRL${f(w, 0x4)} PresDet${f(w, 0x8)} CmdCplt${f(w, 0x10)} HPIrq${f(w, 0x20)} LinkChg${f(w, 0x1000)}`);
  o.line(`\t\t\tControl: AttnInd ${INDICATOR[bitsOf(w, 6, 2)] ?? ""}, PwrInd ${INDICATOR[bitsOf(w, 8, 2)] ?? ""}, Power${f(w, 0x400)} Interlock${f(w, 0x800)}`);
  const s = cfg.u16(where + PCI_EXP_SLTSTA);
  o.line(`\t\tSltSta:\tStatus: AttnBtn${f(s, 0x1)} PowerFlt${f(s, 0x2)} MRL${f(s, 0x20)} CmdCplt${f(s, 0x10)} PresDet${f(s, 0x40)} Interlock${f(s, 0x80)}`);
  o.line(`\t\t\tChanged: MRL${f(s, 0x4)} PresDet${f(s, 0x8)} LinkState${f(s, 0x100)}`);
}

function expRoot(c: Ctx, where: number): void {
  const { cfg, o } = c;
  const cap = cfg.u16(where + PCI_EXP_RTCAP);
  o.line(`\t\tRootCap: CRSVisible${f(cap, 0x1)}`);
  const w = cfg.u16(where + PCI_EXP_RTCTL);
  o.line(`\t\tRootCtl: ErrCorrectable${f(w, 0x1)} ErrNon-Fatal${f(w, 0x2)} ErrFatal${f(w, 0x4)} PMEIntEna${f(w, 0x8)} CRSVisible${f(w, 0x10)}`);
  const s = cfg.u32(where + PCI_EXP_RTSTA);
  o.line(`\t\tRootSta: PME ReqID ${h(s & 0xffff, 4)}, PMEStatus${f(s, 0x10000)} PMEPending${f(s, 0x20000)}`);
}

function timeoutRange(v: number): string {
  return ({ 0: "Not Supported", 1: "Range A", 2: "Range B", 3: "Range AB", 6: "Range BC", 7: "Range ABC", 14: "Range BCD", 15: "Range ABCD" } as Record<number, string>)[v] ?? "Unknown";
}
function timeoutValue(v: number): string {
  return (
    (
      {
        0: "50us to 50ms",
        1: "50us to 100us",
        2: "1ms to 10ms",
        5: "16ms to 55ms",
        6: "65ms to 210ms",
        9: "260ms to 900ms",
        10: "1s to 3.5s",
        13: "4s to 13s",
        14: "17s to 64s",
      } as Record<number, string>
    )[v] ?? "Unknown"
  );
}

/** libpci's view: any memory BAR with an address or a size. */
function hasMemBar(c: Ctx): boolean {
  for (let i = 0; i < 6; i++) {
    const p = c.pos[i] ?? 0n;
    if ((p !== 0n || (c.sizes[i] ?? 0) !== 0) && (p & BigInt(PCI_BASE_ADDRESS_SPACE_IO)) === 0n) return true;
  }
  return false;
}

function expDev2(c: Ctx, where: number, type: number): void {
  const { cfg, o } = c;
  const l = cfg.u32(where + PCI_EXP_DEVCAP2);
  const root = type === PCI_EXP_TYPE_ROOT_PORT;
  const down = type === PCI_EXP_TYPE_DOWNSTREAM;
  const up = type === PCI_EXP_TYPE_UPSTREAM;
  o.line(`\t\tDevCap2: Completion Timeout: ${timeoutRange(l & 0xf)}, TimeoutDis${f(l, 0x10)} NROPrPrP${f(l, 0x400)} LTR${f(l, 0x800)}`);
  let s = `\t\t\t 10BitTagComp${f(l, 0x10000)} 10BitTagReq${f(l, 0x20000)} OBFF ${["Not Supported", "Via message", "Via WAKE#", "Via message/WAKE#"][bitsOf(l, 18, 2)] ?? ""}, ExtFmt${f(l, 0x100000)} EETLPPrefix${f(l, 0x200000)}`;
  if ((l & 0x200000) !== 0) s += `, MaxEETLPPrefixes ${bitsOf(l, 22, 2) || 4}`;
  o.line(s);
  o.line(`\t\t\t EmergencyPowerReduction ${["Not Supported", "Dev Specific", "Form Factor Dev Specific", "Reserved"][bitsOf(l, 24, 2)] ?? ""}, EmergencyPowerReductionInit${f(l, 0x4000000)}`);
  s = `\t\t\t FRS${f(l, 0x80000000)}`;
  if (root) s += ` LN System CLS ${["Not Supported", "64byte cachelines", "128byte cachelines", "Reserved"][bitsOf(l, 14, 2)] ?? ""},`;
  if (root || type === PCI_EXP_TYPE_ENDPOINT) s += ` ${["TPHComp- ExtTPHComp-", "TPHComp+ ExtTPHComp-", "", "TPHComp+ ExtTPHComp+"][bitsOf(l, 12, 2)] ?? ""}`;
  if (root || down) s += ` ARIFwd${f(l, PCI_EXP_DEVCAP2_ARI)}`;
  o.line(s);
  const memBar = hasMemBar(c);
  if (root || up || down || memBar) {
    s = "\t\t\t AtomicOpsCap:";
    if (root || up || down) s += ` Routing${f(l, 0x40)}`;
    if (root || memBar) s += ` 32bit${f(l, 0x80)} 64bit${f(l, 0x100)} 128bitCAS${f(l, 0x200)}`;
    o.line(s);
  }
  const w = cfg.u16(where + PCI_EXP_DEVCTL2);
  s = `\t\tDevCtl2: Completion Timeout: ${timeoutValue(w & 0xf)}, TimeoutDis${f(w, 0x10)} LTR${f(w, 0x400)} 10BitTagReq${f(w, 0x1000)} OBFF ${["Disabled", "Via message A", "Via message B", "Via WAKE#"][bitsOf(w, 13, 2)] ?? ""},`;
  if (root || down) s += ` ARIFwd${f(w, PCI_EXP_DEVCTL2_ARI)}`;
  o.line(s);
  const req = root || type === PCI_EXP_TYPE_ENDPOINT || type === PCI_EXP_TYPE_RC_END || type === PCI_EXP_TYPE_LEG_END;
  if (req || up || down) {
    s = "\t\t\t AtomicOpsCtl:";
    if (req) s += ` ReqEn${f(w, 0x40)}`;
    if (root || up || down) s += ` EgressBlck${f(w, 0x80)}`;
    o.line(s);
  }
}

function speedCap(v: number): string {
  if ((v & 0x60) !== 0) return "RsvdP";
  if ((v & 0x10) !== 0) return "2.5-32GT/s";
  if ((v & 0x08) !== 0) return "2.5-16GT/s";
  if ((v & 0x04) !== 0) return "2.5-8GT/s";
  if ((v & 0x02) !== 0) return "2.5-5GT/s";
  if ((v & 0x01) !== 0) return "2.5GT/s";
  return "Unknown";
}

const COMPLIANCE_PRESET = [
  "-6dB de-emphasis, 0dB preshoot",
  "-3.5dB de-emphasis, 0dB preshoot",
  "-4.4dB de-emphasis, 0dB preshoot",
  "-2.5dB de-emphasis, 0dB preshoot",
  "0dB de-emphasis, 0dB preshoot",
  "0dB de-emphasis, 1.9dB preshoot",
  "0dB de-emphasis, 2.5dB preshoot",
  "-6.0dB de-emphasis, 3.5dB preshoot",
  "-3.5dB de-emphasis, 3.5dB preshoot",
  "0dB de-emphasis, 3.5dB preshoot",
];

function expLink2(c: Ctx, where: number, type: number): void {
  const { cfg, o } = c;
  let l = 0;
  const deemph = (v: number): string => (v === 0 ? "-6dB" : "-3.5dB");
  if (!((type === PCI_EXP_TYPE_ENDPOINT || type === PCI_EXP_TYPE_LEG_END) && (c.bdf.dev !== 0 || c.bdf.fn !== 0))) {
    l = cfg.u32(where + PCI_EXP_LNKCAP2);
    if (l !== 0)
      o.line(`\t\tLnkCap2: Supported Link Speeds: ${speedCap(bitsOf(l, 1, 7))}, Crosslink${f(l, 0x100)} Retimer${f(l, 0x800000)} 2Retimers${f(l, 0x1000000)} DRS${f(l, PCI_EXP_LNKCAP2_DRS)}`);
    const w = cfg.u16(where + PCI_EXP_LNKCTL2);
    const tgt = w & 0xf;
    let s = `\t\tLnkCtl2: Target Link Speed: ${tgt === 0 ? "2.5GT/s" : linkSpeed(tgt) === "unknown" ? "Unknown" : linkSpeed(tgt)}, EnterCompliance${f(w, 0x10)} SpeedDis${f(w, 0x20)}`;
    if (type === PCI_EXP_TYPE_DOWNSTREAM) s += `, Selectable De-emphasis: ${deemph(w & 0x40)}`;
    o.line(s);
    const margin = bitsOf(w, 7, 3);
    const marginText =
      margin === 0 ? "Normal Operating Range" : margin === 1 ? "800-1200mV(full-swing)/400-700mV(half-swing)" : margin <= 5 ? "200-400mV(full-swing)/100-200mV(half-swing)" : "Unknown";
    o.line(`\t\t\t Transmit Margin: ${marginText}, EnterModifiedCompliance${f(w, 0x400)} ComplianceSOS${f(w, 0x800)}`);
    o.line(`\t\t\t Compliance Preset/De-emphasis: ${COMPLIANCE_PRESET[bitsOf(w, 12, 4)] ?? "Unknown"}`);
  }
  const w = cfg.u16(where + PCI_EXP_LNKSTA2);
  o.line(`\t\tLnkSta2: Current De-emphasis Level: ${deemph(w & 0x1)}, EqualizationComplete${f(w, 0x2)} EqualizationPhase1${f(w, 0x4)}`);
  o.line(`\t\t\t EqualizationPhase2${f(w, 0x8)} EqualizationPhase3${f(w, 0x10)} LinkEqualizationRequest${f(w, 0x20)}`);
  let s = `\t\t\t Retimer${f(w, 0x40)} 2Retimers${f(w, 0x80)} CrosslinkRes: ${["unsupported", "Upstream Port", "Downstream Port", "incomplete"][bitsOf(w, 8, 2)] ?? ""}`;
  const dsp = type === PCI_EXP_TYPE_ROOT_PORT || type === PCI_EXP_TYPE_DOWNSTREAM || type === PCI_EXP_TYPE_PCIE_BRIDGE;
  if (dsp && (l & PCI_EXP_LNKCAP2_DRS) !== 0) {
    o.line(`${s}, DRS${f(w, 0x8000)}`);
    const comp = bitsOf(w, 12, 3);
    const compText =
      ({ 0: "Link Down - Not Determined", 1: "Link Down - Not Present", 2: "Link Down - Present", 4: "Link Up - Present", 5: "Link Up - Present and DRS Received" } as Record<number, string>)[comp] ?? "Reserved";
    s = `\t\t\t DownstreamComp: ${compText}`;
  }
  o.line(s);
}

export function capExpress(c: Ctx, where: number, cap: number): number {
  const { cfg, o } = c;
  const type = bitsOf(cap & PCI_EXP_FLAGS_TYPE, 4, 4);
  let slot = false;
  let link = true;
  let name: string;
  switch (type) {
    case PCI_EXP_TYPE_ENDPOINT:
      name = "Endpoint";
      break;
    case PCI_EXP_TYPE_LEG_END:
      name = "Legacy Endpoint";
      break;
    case PCI_EXP_TYPE_ROOT_PORT:
      slot = (cap & PCI_EXP_FLAGS_SLOT) !== 0;
      name = `Root Port (Slot${f(cap, PCI_EXP_FLAGS_SLOT)})`;
      break;
    case PCI_EXP_TYPE_UPSTREAM:
      name = "Upstream Port";
      break;
    case PCI_EXP_TYPE_DOWNSTREAM:
      slot = (cap & PCI_EXP_FLAGS_SLOT) !== 0;
      name = `Downstream Port (Slot${f(cap, PCI_EXP_FLAGS_SLOT)})`;
      break;
    case PCI_EXP_TYPE_PCI_BRIDGE:
      name = "PCI-Express to PCI/PCI-X Bridge";
      break;
    case PCI_EXP_TYPE_PCIE_BRIDGE:
      slot = (cap & PCI_EXP_FLAGS_SLOT) !== 0;
      name = `PCI/PCI-X to PCI-Express Bridge (Slot${f(cap, PCI_EXP_FLAGS_SLOT)})`;
      break;
    case PCI_EXP_TYPE_RC_END:
      link = false;
      name = "Root Complex Integrated Endpoint";
      break;
    case PCI_EXP_TYPE_RC_EC:
      link = false;
      name = "Root Complex Event Collector";
      break;
    default:
      name = `Unknown type ${type}`;
  }
  o.line(`Express ${c.verbose >= 2 ? `(v${cap & PCI_EXP_FLAGS_VERS}) ` : ""}${name}, MSI ${h(bitsOf(cap & PCI_EXP_FLAGS_IRQ, 9, 5), 2)}`);
  if (c.verbose < 2) return type;
  let size = slot ? 24 : 16;
  if (type === PCI_EXP_TYPE_ROOT_PORT || type === PCI_EXP_TYPE_RC_EC) size = 32;
  if (!cfg.has(where + PCI_EXP_DEVCAP, size)) return type;
  expDev(c, where, type);
  if (link) expLink(c, where, type);
  if (slot) expSlot(c, where);
  if (type === PCI_EXP_TYPE_ROOT_PORT || type === PCI_EXP_TYPE_RC_EC) expRoot(c, where);
  if ((cap & PCI_EXP_FLAGS_VERS) < 2) return type;
  if (!cfg.has(where + PCI_EXP_DEVCAP2, slot ? 24 : 16)) return type;
  expDev2(c, where, type);
  if (link) expLink2(c, where, type);
  return type;
}
