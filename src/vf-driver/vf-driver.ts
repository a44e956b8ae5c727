/**
 * The guest's VF driver (Linux igbvf: igbvf_probe, igbvf_configure_tx/rx, igbvf_xmit_frame,
 * igbvf_clean_rx_irq, igbvf_intr_msix_*; NAPI as in net/core/dev.c).
 *
 * It reaches the VF only as a guest driver can: config cycles through the guest's view of the VF's
 * configuration space, MMIO on the BARs at the guest-physical addresses the hypervisor mapped them,
 * MSI-X interrupts the guest receives, and guest RAM it owns for rings and buffers (DMA addresses
 * are GPAs; the IOMMU maps IOVA = GPA). It never touches a device object.
 *
 * Probe: record the IDs, enable Bus Master, find MSI-X by walking the capability list, program the
 * table through the MSI-X BAR and enable MSI-X; reset the function and negotiate with the PF over the
 * mailbox (CTRL.RST, RSTD, RESET, API); take the PF's MAC or choose one and SET_MAC; ask for queues;
 * build the rings in the DMA region (rings.ts), post RX buffers; map causes to vectors (IVAR), unmask
 * (EIMS). A step that fails undoes the finished ones in reverse and is reported, never thrown.
 *
 * Data path (allocates nothing, throws nothing, counts): `xmit` copies a frame into the next TX
 * buffer(s) and writes the descriptor(s) (RS on each, EOP on the last); `kick` rings TDT once per
 * queue for everything queued; `reclaimTx` walks DD write-backs; `pollRx` hands each frame's buffer
 * (GPA, length) up, posts a buffer in its place and moves RDT once. Interrupts are NAPI style: EIAM masks the vector as
 * the message is sent, the handler polls (RX to `rxHandler`, TX reclaim, mailbox/link), then unmasks
 * with one EIMS write. With the BARs mapped directly, none of this leaves the guest.
 */
import { IovError } from "../errors.js";
import type { Guest } from "../hypervisor-glue/guest.js";
import { findCapability } from "../pcie/capwalk.js";
import {
  PCI_CAP_ID_MSIX,
  PCI_MSIX_ENTRY_CTRL_MASKBIT,
  PCI_MSIX_ENTRY_DATA,
  PCI_MSIX_ENTRY_LOWER_ADDR,
  PCI_MSIX_ENTRY_SIZE,
  PCI_MSIX_ENTRY_UPPER_ADDR,
  PCI_MSIX_ENTRY_VECTOR_CTRL,
  PCI_MSIX_FLAGS,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL,
  PCI_MSIX_FLAGS_QSIZE,
  PCI_MSIX_TABLE,
  PCI_MSIX_TABLE_BIR,
  PCI_MSIX_TABLE_OFFSET,
} from "../pcie/caps/msix.js";
import { PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_DEVICE_ID, PCI_STATUS, PCI_VENDOR_ID } from "../pcie/header.js";
import { DEFAULT_MAX_RX_FRAME, MAX_FRAME, VLAN_HLEN } from "../nic/frame.js";
import { apiAtLeast } from "../nic/mailbox-proto.js";
import type { Mac } from "../nic/port-config.js";
import {
  E1000_CTRL,
  E1000_CTRL_RST,
  E1000_EIAC,
  E1000_EIAM,
  E1000_EIMC,
  E1000_EIMS,
  E1000_EITR,
  E1000_EITR_INTERVAL_MASK,
  E1000_IVAR,
  E1000_IVAR_MISC,
  E1000_IVAR_VALID,
  E1000_STATUS,
  E1000_STATUS_LU,
  MAX_EICR_VECTORS,
  MAX_QUEUES,
  ivarRxShift,
  ivarTxShift,
} from "../nic/regs.js";
import { planDma, dmaBytesNeeded } from "./dma-layout.js";
import { isUsableUnicast, localMacCandidate, macSeed } from "./mac.js";
import type { MbxClientError } from "./mailbox-client.js";
import { MailboxClient } from "./mailbox-client.js";
import type { RxHandler, VfConfigAccess, VfDriverCounters, VfDriverInit, VfProbeInfo, VfProbeResult, VfProbeStep } from "./types.js";
import { newVfDriverCounters } from "./types.js";
import type { RegPort } from "./rings.js";
import { IgbRings } from "./rings.js";
import { planVectors, vectorMask } from "./vector-plan.js";

/** igbvf's ring limits (IGBVF_MIN_TXD/RXD 80 is a driver policy; the hardware needs multiples of 8). */
export const VF_MIN_RING = 8;
export const VF_MAX_RING = 4096;
export const VF_MIN_BUF = 1024;
export const VF_MAX_BUF = 16384;
/** NAPI weight (NAPI_POLL_WEIGHT). */
export const VF_NAPI_BUDGET = 64;
/** Poll rounds one interrupt may run before it unmasks anyway (work left re-raises the cause). */
const MAX_REPOLL = 64;
/** Locally administered MACs tried when the PF says one is in use. */
const MAC_ATTEMPTS = 8;
const TWO32 = 0x1_0000_0000;
const EITR_US_MAX = E1000_EITR_INTERVAL_MASK >>> 2;

type Undo = Array<() => void>;

function checkInt(what: string, v: number | undefined, lo: number, hi: number, multipleOf = 1): number {
  if (v === undefined || !Number.isInteger(v) || v < lo || v > hi || v % multipleOf !== 0)
    throw new IovError("EINVAL", `VF driver: ${what} ${String(v)} must be an integer in ${lo}..${hi}${multipleOf > 1 ? `, a multiple of ${multipleOf}` : ""}`, { what, value: v });
  return v;
}

function describeMbx(e: MbxClientError): string {
  switch (e.kind) {
    case "timeout":
      return `mailbox timeout (${e.stage})`;
    case "nack":
      return `PF refused (${e.reason})`;
    case "bad-reply":
      return `malformed PF reply (${e.error.kind})`;
    case "unexpected-reply":
      return `unexpected PF reply (${e.reply.type})`;
    case "invalid-argument":
      return `request not encodable (${e.request.type})`;
    case "no-version":
      return "no mailbox API version in common with the PF";
  }
}

export class VfDriver {
  /** Called with each received frame when interrupts drive RX (set once; null: frames wait for pollRx). */
  rxHandler: RxHandler | null = null;
  /** Carrier: STATUS.LU and the PF's last link-state message, and no reset pending. */
  linkUp = false;
  /** The PF took back what it granted (a "reset-required" control message): the VF must be probed anew. */
  resetRequired = false;

  private readonly g: Guest;
  private readonly cfg: VfConfigAccess;
  private readonly bar0: number;
  private readonly msixBarGpa: number;
  private readonly dmaBase: number;
  private readonly msiAddress: number;
  private readonly msiDataBase: number;
  private readonly wantQueues: number;
  private readonly budget: number;
  private readonly itrUs: number;
  private readonly maxFrame: number | undefined;
  private readonly wantMac: Mac | undefined;
  private readonly c: VfDriverCounters = newVfDriverCounters();
  private readonly mbx: MailboxClient;
  private state: "new" | "up" | "failed" | "removed" = "new";
  private result: VfProbeResult | null = null;
  private up = false;
  private readonly rings: IgbRings;
  private macAddr: Mac = 0;

  // config space
  private savedCommand = 0;
  private msixCap = 0;
  private msixEntries = 0;
  private msixTableGpa = 0;
  private msixProgrammed = 0;

  // interrupts
  private readonly isrs: Array<() => void> = [];
  private readonly rxMaskOf = new Int32Array(MAX_EICR_VECTORS);
  private readonly txMaskOf = new Int32Array(MAX_EICR_VECTORS);
  private miscVector = -1;
  private inIsr = false;
  private deferred = 0;
  private hwLinkUp = false;
  private mbxLinkUp = true;

  constructor(init: VfDriverInit) {
    const o = init.options;
    this.g = init.guest;
    this.cfg = init.cfg;
    this.wantQueues = checkInt("queues", o.queues, 1, MAX_QUEUES);
    const txCount = checkInt("txRing", o.txRing, VF_MIN_RING, VF_MAX_RING, VF_MIN_RING);
    const rxCount = checkInt("rxRing", o.rxRing, VF_MIN_RING, VF_MAX_RING, VF_MIN_RING);
    const bs = checkInt("bufSize", o.bufSize, VF_MIN_BUF, VF_MAX_BUF, 1024);
    this.budget = checkInt("napiBudget", o.napiBudget ?? VF_NAPI_BUDGET, 1, VF_MAX_RING);
    this.itrUs = checkInt("itrUs", o.itrUs ?? 0, 0, EITR_US_MAX);
    this.maxFrame = o.maxFrame === undefined ? undefined : checkInt("maxFrame", o.maxFrame, 64, MAX_FRAME + 2 * VLAN_HLEN);
    if ((this.maxFrame ?? DEFAULT_MAX_RX_FRAME) > bs)
      throw new IovError("EINVAL", `VF driver: RX frames up to ${this.maxFrame ?? DEFAULT_MAX_RX_FRAME} B do not fit ${bs}-byte buffers`, { bufSize: bs });
    if (o.mac !== undefined && !isUsableUnicast(o.mac)) throw new IovError("EINVAL", `VF driver: MAC ${o.mac} is not a unicast address`, { mac: o.mac });
    this.wantMac = o.mac;
    this.bar0 = checkInt("bar0Gpa", init.bar0Gpa, 0, Number.MAX_SAFE_INTEGER);
    this.msixBarGpa = checkInt("msixBarGpa", init.msixBarGpa, 0, Number.MAX_SAFE_INTEGER);
    this.msiAddress = checkInt("msiAddress", init.msiAddress, 0, Number.MAX_SAFE_INTEGER, 4);
    this.msiDataBase = checkInt("msiDataBase", init.msiDataBase, 0, 0xffffffff);
    const vectors = Math.min(MAX_EICR_VECTORS, 2 * this.wantQueues + 1);
    if ((this.msiDataBase & 0xff) + vectors > 0x100)
      throw new IovError("EINVAL", `VF driver: vectors ${this.msiDataBase & 0xff}+${vectors} pass 255`, { msiDataBase: this.msiDataBase });
    this.dmaBase = checkInt("dmaBaseGpa", init.dmaBaseGpa, 0, Number.MAX_SAFE_INTEGER);
    const need = dmaBytesNeeded(this.dmaBase, this.wantQueues, txCount, rxCount, bs);
    checkInt("dmaBytes", init.dmaBytes, need, Number.MAX_SAFE_INTEGER);
    if (this.g.gpaToHpa(this.dmaBase) < 0 || this.g.gpaToHpa(this.dmaBase + need - 1) < 0)
      throw new IovError("EINVAL", `VF driver: DMA region 0x${this.dmaBase.toString(16)}+${need} is not guest RAM`, { dmaBaseGpa: this.dmaBase, need });
    const delay = init.delay ?? ((): void => undefined);
    this.mbx = new MailboxClient(
      {
        mmio: {
          read: (off, size) => this.mmioRead(off, size),
          write: (off, size, v) => this.mmioWrite(off, size, v),
        },
        delay,
      },
      o.mailbox ?? {},
    );
    const bar: RegPort = {
      read32: (off) => this.mmioRead(off, 4) >>> 0,
      write32: (off, v) => this.mmioWrite(off, 4, v),
    };
    this.rings = new IgbRings(this.g, bar, { txCount, rxCount, bufSize: bs, counters: this.c });
  }

  // ------------------------------------------------------------------ state

  get counters(): Readonly<VfDriverCounters> {
    return this.c;
  }
  get probeResult(): VfProbeResult | null {
    return this.result;
  }
  get isUp(): boolean {
    return this.up;
  }
  get mac(): Mac {
    return this.macAddr;
  }
  get queues(): number {
    return this.rings.nq;
  }
  /** Descriptors of queue q filled (kicked or not) and not yet reclaimed. */
  txInFlight(q = 0): number {
    return this.rings.txInFlight(q);
  }
  /** Guest interrupt vector of MSI-X entry n. */
  vectorOf(n: number): number {
    return (this.msiDataBase + n) & 0xff;
  }

  // ------------------------------------------------------------------ probe

  probe(): VfProbeResult {
    if (this.state !== "new") throw new IovError("EBUSY", "VF driver: probe runs once per driver instance", { state: this.state });
    const undo: Undo = [];
    const fail = (step: VfProbeStep, reason: string, mailbox?: MbxClientError): VfProbeResult => {
      for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
      this.up = false;
      this.state = "failed";
      const r: VfProbeResult = mailbox === undefined ? { ok: false, step, reason } : { ok: false, step, reason, mailbox };
      this.result = r;
      return r;
    };

    // 1. config space: identity, Bus Master.
    const cfg = this.cfg;
    const vendorId = cfg.read(PCI_VENDOR_ID, 2);
    const deviceId = cfg.read(PCI_DEVICE_ID, 2);
    if (vendorId === 0xffff && deviceId === 0xffff && cfg.read(PCI_STATUS, 2) === 0xffff) return fail("config", "config space reads all-ones: no function there");
    this.savedCommand = cfg.read(PCI_COMMAND, 2);
    // A VF's Memory Space Enable is hardwired 0 (SR-IOV 1.1 Table 3-1); setting it is harmless.
    cfg.write(PCI_COMMAND, 2, this.savedCommand | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    undo.push(() => cfg.write(PCI_COMMAND, 2, this.savedCommand));
    if ((cfg.read(PCI_COMMAND, 2) & PCI_COMMAND_MASTER) === 0) return fail("config", "Bus Master Enable does not stick");

    // 2. MSI-X.
    const msixErr = this.setupMsix(undo);
    if (msixErr !== null) return fail("msix", msixErr);

    // 3. function reset and mailbox handshake (e1000_reset_hw_vf, API negotiation).
    const init = this.mbx.init();
    if (!init.ok) {
      const e = init.error;
      return fail(e.kind === "timeout" && e.stage === "reset" ? "reset" : "mailbox", describeMbx(e), e);
    }
    undo.push(() => this.mmioWrite(E1000_CTRL, 4, E1000_CTRL_RST));
    const apiVersion = init.value.version;

    // 4. MAC.
    let macSource: VfProbeInfo["macSource"] = "pf";
    let mac = init.value.mac;
    if (mac === 0) {
      const chosen = this.chooseMac();
      if (!chosen.ok) return fail("mac", describeMbx(chosen.error), chosen.error);
      mac = chosen.mac;
      macSource = "driver";
    }
    this.macAddr = mac;

    // 5. queues and frame size.
    let queues = 1;
    let portVlan = false;
    if (apiAtLeast(apiVersion, "1.1")) {
      const q = this.mbx.getQueues();
      if (q.ok) {
        queues = Math.max(1, Math.min(this.wantQueues, q.value.txQueues, q.value.rxQueues));
        portVlan = q.value.portVlan;
      } else if (q.error.kind !== "nack") return fail("queues", describeMbx(q.error), q.error);
    }
    if (this.maxFrame !== undefined) {
      const r = this.mbx.setMaxFrame(this.maxFrame);
      if (!r.ok) return fail("mailbox", describeMbx(r.error), r.error);
    }

    // 6. rings.
    undo.push(() => this.rings.stop());
    const ringErr = this.rings.setup(planDma(this.dmaBase, queues, this.rings.txCount, this.rings.rxCount, this.rings.bufSize), queues);
    if (ringErr !== null) return fail("rings", ringErr);

    // 7. interrupts: causes to vectors, auto-clear and auto-mask, then unmask.
    const plan = planVectors(this.msixProgrammed, queues);
    for (let n = plan.used; n < this.msixProgrammed; n++) this.msixWrite(n, PCI_MSIX_ENTRY_VECTOR_CTRL, PCI_MSIX_ENTRY_CTRL_MASKBIT);
    for (let p = 0; p < Math.ceil(queues / 2); p++) {
      let word = 0;
      for (let q = 2 * p; q < Math.min(queues, 2 * p + 2); q++) {
        word |= ((plan.rxVector[q]! | E1000_IVAR_VALID) << ivarRxShift(q)) | ((plan.txVector[q]! | E1000_IVAR_VALID) << ivarTxShift(q));
      }
      this.mmioWrite(E1000_IVAR(p), 4, word >>> 0);
    }
    this.mmioWrite(E1000_IVAR_MISC, 4, plan.miscVector | E1000_IVAR_VALID);
    if ((this.mmioRead(E1000_IVAR_MISC, 4) & 0xff) !== (plan.miscVector | E1000_IVAR_VALID)) return fail("interrupts", "IVAR_MISC does not read back");
    for (let n = 0; n < plan.used; n++) {
      this.rxMaskOf[n] = plan.rxQueues[n]!;
      this.txMaskOf[n] = plan.txQueues[n]!;
      if (this.itrUs > 0 && n !== plan.miscVector) this.mmioWrite(E1000_EITR(n), 4, (this.itrUs << 2) & E1000_EITR_INTERVAL_MASK);
    }
    this.miscVector = plan.miscVector;
    const mask = vectorMask(plan.used);
    this.mmioWrite(E1000_EIAC, 4, mask);
    this.mmioWrite(E1000_EIAM, 4, mask);
    this.up = true;
    this.state = "up";
    this.hwLinkUp = (this.mmioRead(E1000_STATUS, 4) & E1000_STATUS_LU) !== 0;
    this.takeNotifications();
    this.mmioWrite(E1000_EIMS, 4, mask);

    const info: VfProbeInfo = {
      vendorId,
      deviceId,
      msixCap: this.msixCap,
      msixEntries: this.msixEntries,
      vectorsUsed: plan.used,
      vectorStyle: plan.style,
      mac,
      macSource,
      apiVersion,
      queues,
      portVlan,
      linkUp: this.linkUp,
    };
    this.result = { ok: true, info };
    return this.result;
  }

  /** Find MSI-X by the capability walk, program the entries through the MSI-X BAR, enable it. */
  private setupMsix(undo: Undo): string | null {
    const cfg = this.cfg;
    const pos = findCapability((off, size) => cfg.read(off, size), PCI_CAP_ID_MSIX);
    if (pos === 0) return "no MSI-X capability in the capability list";
    const flags = cfg.read(pos + PCI_MSIX_FLAGS, 2);
    const entries = (flags & PCI_MSIX_FLAGS_QSIZE) + 1;
    const table = cfg.read(pos + PCI_MSIX_TABLE, 4);
    const bir = table & PCI_MSIX_TABLE_BIR;
    this.msixCap = pos;
    this.msixEntries = entries;
    this.msixTableGpa = (bir === 0 ? this.bar0 : this.msixBarGpa) + ((table & PCI_MSIX_TABLE_OFFSET) >>> 0);
    const n = Math.min(entries, MAX_EICR_VECTORS, 2 * this.wantQueues + 1);
    // Linux msix_capability_init: enable with the function masked, program, then unmask.
    cfg.write(pos + PCI_MSIX_FLAGS, 2, flags | PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    undo.push(() => cfg.write(pos + PCI_MSIX_FLAGS, 2, flags & ~(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL)));
    if ((cfg.read(pos + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_ENABLE) === 0) return "MSI-X Enable does not stick";
    for (let i = 0; i < n; i++) {
      const data = (this.msiDataBase + i) >>> 0;
      this.msixWrite(i, PCI_MSIX_ENTRY_LOWER_ADDR, this.msiAddress % TWO32);
      this.msixWrite(i, PCI_MSIX_ENTRY_UPPER_ADDR, Math.floor(this.msiAddress / TWO32));
      this.msixWrite(i, PCI_MSIX_ENTRY_DATA, data);
      if (this.msixRead(i, PCI_MSIX_ENTRY_DATA) !== data) return `MSI-X entry ${i} does not read back through BAR${bir}`;
      if (this.isrs[i] === undefined) this.isrs[i] = () => this.onVector(i);
      this.g.onInterrupt(this.vectorOf(i), this.isrs[i]!);
      this.msixWrite(i, PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
    }
    this.msixProgrammed = n;
    cfg.write(pos + PCI_MSIX_FLAGS, 2, (flags | PCI_MSIX_FLAGS_ENABLE) & ~PCI_MSIX_FLAGS_MASKALL);
    return null;
  }

  /** The PF assigned no MAC: the configured one, or locally administered candidates until one is free. */
  private chooseMac(): { ok: true; mac: Mac } | { ok: false; error: MbxClientError } {
    const seed = macSeed(`${this.g.name}#${this.g.id}@${this.bar0}`);
    let last: MbxClientError = { kind: "no-version" };
    for (let attempt = 0; attempt < MAC_ATTEMPTS; attempt++) {
      const candidate = this.wantMac ?? localMacCandidate(seed, attempt);
      const r = this.mbx.setMac(candidate);
      if (r.ok) return { ok: true, mac: candidate };
      last = r.error;
      if (this.wantMac !== undefined || r.error.kind !== "nack" || r.error.reason !== "mac-in-use") break;
    }
    return { ok: false, error: last };
  }

  /** Take the driver down: interrupts masked, queues stopped, function reset, MSI-X and Bus Master off. */
  remove(): void {
    if (this.state !== "up") return;
    this.up = false;
    this.state = "removed";
    this.mmioWrite(E1000_EIMC, 4, 0xffffffff);
    this.rings.stop();
    this.mmioWrite(E1000_CTRL, 4, E1000_CTRL_RST);
    const flags = this.cfg.read(this.msixCap + PCI_MSIX_FLAGS, 2);
    this.cfg.write(this.msixCap + PCI_MSIX_FLAGS, 2, flags & ~(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL));
    this.cfg.write(PCI_COMMAND, 2, this.savedCommand);
    this.linkUp = false;
  }

  // ------------------------------------------------------------------ data path

  /**
   * Queue `len` bytes of `frame` on TX queue q: copied into the next buffer(s), one descriptor per
   * buffer, RS on each, EOP on the last. False (counted) when the ring lacks room or the frame is bad.
   */
  xmit(frame: Uint8Array, len: number, q = 0): boolean {
    if (!this.up) {
      this.c.txInvalid++;
      return false;
    }
    return this.rings.xmit(frame, len, q);
  }

  /** Ring the TX doorbell of every queue with newly queued descriptors: one TDT write each. */
  kick(): number {
    return this.up ? this.rings.kick() : 0;
  }

  /** Reclaim TX descriptors the device completed (DD); returns the frames completed. */
  reclaimTx(): number {
    return this.up ? this.rings.reclaim(this.rings.allQueues) : 0;
  }

  /**
   * Take up to `budget` received descriptors (all queues), handing each frame's buffer to `onFrame`
   * (the bytes are valid until this returns), post buffers in their place and move RDT once per queue.
   * Returns the descriptors taken. A nested call (from inside `onFrame`) takes nothing.
   */
  pollRx(budget: number, onFrame: RxHandler): number {
    return this.up ? this.rings.poll(this.rings.allQueues, budget, onFrame) : 0;
  }

  /** Read STATUS.LU and the PF's messages (what the mailbox/link interrupt does); returns linkUp. */
  refreshLink(): boolean {
    if (this.up) this.serviceMisc();
    return this.linkUp;
  }

  // ------------------------------------------------------------------ interrupts

  /** MSI-X entry n fired. EIAM already masked it; serve it (and anything raised meanwhile), then unmask. */
  private onVector(n: number): void {
    this.c.interrupts++;
    if (!this.up) return;
    if (this.inIsr) {
      this.deferred |= 1 << n;
      return;
    }
    this.inIsr = true;
    let handled = 0;
    try {
      let todo = 1 << n;
      while (todo !== 0) {
        handled |= todo;
        this.deferred = 0;
        while (todo !== 0) {
          const v = 31 - Math.clz32(todo);
          todo &= ~(1 << v);
          this.serveVector(v);
        }
        todo = this.deferred;
      }
    } finally {
      this.inIsr = false;
    }
    if (this.up) this.mmioWrite(E1000_EIMS, 4, handled >>> 0);
  }

  private serveVector(v: number): void {
    const c = this.c;
    if (v === this.miscVector) {
      c.irqMisc++;
      this.serviceMisc();
    }
    const rx = this.rxMaskOf[v]!;
    if (rx !== 0) {
      c.irqRx++;
      const h = this.rxHandler;
      if (h !== null) {
        // NAPI: a round that used its whole budget may have left work; poll again (bounded).
        let rounds = 1;
        while (this.rings.poll(rx, this.budget, h) === this.budget && rounds < MAX_REPOLL) rounds++;
      }
    }
    const tx = this.txMaskOf[v]!;
    if (tx !== 0) {
      c.irqTx++;
      this.rings.reclaim(tx);
    }
  }

  /** "Other" cause: the link bit and the PF's messages (igbvf_msix_other + e1000_check_for_link_vf). */
  private serviceMisc(): void {
    this.hwLinkUp = (this.mmioRead(E1000_STATUS, 4) & E1000_STATUS_LU) !== 0;
    this.mbx.checkForMessages();
    this.takeNotifications();
  }

  private takeNotifications(): void {
    const list = this.mbx.notifications;
    for (const m of list) {
      this.c.mailboxNotifications++;
      if (m.type === "link-state") this.mbxLinkUp = m.up;
      else if (m.event === "reset-required") {
        if (!this.resetRequired) this.c.resetRequests++;
        this.resetRequired = true;
      }
    }
    list.length = 0;
    const up = this.up && this.hwLinkUp && this.mbxLinkUp && !this.resetRequired;
    if (up !== this.linkUp) {
      this.linkUp = up;
      this.c.linkChanges++;
    }
  }

  // ------------------------------------------------------------------ MMIO

  private mmioRead(off: number, size: number): number {
    this.c.mmioReads++;
    return this.g.mmioRead(this.bar0 + off, size === 1 || size === 2 ? size : 4);
  }
  private mmioWrite(off: number, size: number, value: number): void {
    this.c.mmioWrites++;
    this.g.mmioWrite(this.bar0 + off, size === 1 || size === 2 ? size : 4, value >>> 0);
  }
  private msixWrite(entry: number, field: number, value: number): void {
    this.c.mmioWrites++;
    this.g.mmioWrite(this.msixTableGpa + entry * PCI_MSIX_ENTRY_SIZE + field, 4, value >>> 0);
  }
  private msixRead(entry: number, field: number): number {
    this.c.mmioReads++;
    return this.g.mmioRead(this.msixTableGpa + entry * PCI_MSIX_ENTRY_SIZE + field, 4) >>> 0;
  }
}
