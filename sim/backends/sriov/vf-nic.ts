/**
 * The guest's VF driver (ixgbevf/igbvf style, one queue pair on one MSI-X vector): registers through
 * the VF's BAR0, which the hypervisor mapped straight into the guest's physical address space, so a
 * doorbell or an interrupt re-enable is a plain store with no exit. Descriptors and buffers are in
 * guest RAM; the NIC reaches them by DMA through the IOMMU with the VF's requester ID. The rings are
 * the igb ring driver's (src/vf-driver/rings.ts), queue 0; received frames are copied out of their
 * buffers into its scratch buffer for the guest's stack.
 *
 * Interrupts: the queue's RX and TX causes share vector 0, auto-cleared (EIAC) and auto-masked
 * (EIAM) when the message is sent; NAPI re-enables the vector (EIMS) when a poll ends under budget,
 * and the NIC sends again at once if a cause arrived meanwhile. EITR throttles the vector.
 */
import { IovError } from "../../../src/errors.js";
import type { Guest } from "../../../src/hypervisor-glue/guest.js";
import { E1000_EIAC, E1000_EIAM, E1000_EIMS, E1000_EITR, E1000_IVAR, E1000_IVAR_MISC, E1000_IVAR_VALID } from "../../../src/nic/regs.js";
import { CostMeter } from "../../model/cpu.js";
import { TxMarks, type GuestNic, type RxConsumer } from "../../model/guest-kernel.js";
import type { CaptureSet } from "../../model/capture.js";
import type { DmaLayout } from "../../../src/vf-driver/dma-layout.js";
import { IgbRings, type DmaMapper, type RegPort } from "../../../src/vf-driver/rings.js";

export interface VfNicCosts {
  readonly txNs: number;
  readonly rxNs: number;
  readonly txCleanNs: number;
  readonly doorbellNs: number;
}

export const VF_VECTOR = 0;
export const VF_MISC_VECTOR = 2;

export class VfGuestNic implements GuestNic {
  readonly meter = new CostMeter();
  readonly rings: IgbRings;
  private rx: RxConsumer | undefined;
  private readonly onFrame = (buf: Uint8Array, len: number): void => {
    this.meter.ns += this.c.rxNs;
    this.capture?.frame(this.port, this.now(), buf, len);
    this.rx!.rx(buf, len);
  };

  constructor(
    readonly g: Guest,
    readonly regs: RegPort,
    private readonly layout: DmaLayout,
    entries: number,
    bufSize: number,
    mapper: DmaMapper,
    private readonly c: VfNicCosts,
    private readonly now: () => number,
    private readonly capture: CaptureSet | undefined,
    private readonly port: string,
    /** With TSO, the largest super-frame: the queue stops while its descriptors would not fit. */
    tsoMaxFrame = 0,
  ) {
    this.rings = new IgbRings(g, regs, { txCount: entries, rxCount: entries, bufSize, dma: mapper });
    this.minTxFree = tsoMaxFrame > 0 ? this.rings.tsoDescriptors(tsoMaxFrame) : 1;
  }

  private readonly minTxFree: number;

  /** igbvf_configure_msix + ring bring-up, as the guest driver does it through BAR0. */
  up(eitr: number): void {
    const r = this.regs;
    const v = VF_VECTOR | E1000_IVAR_VALID;
    r.write32(E1000_IVAR(0), v | (v << 8));
    r.write32(E1000_IVAR_MISC, VF_MISC_VECTOR | E1000_IVAR_VALID);
    r.write32(E1000_EITR(VF_VECTOR), eitr);
    const err = this.rings.setup(this.layout, 1);
    if (err !== null) throw new IovError("EIO", `VF rings: ${err}`);
    const bit = 1 << VF_VECTOR;
    r.write32(E1000_EIAC, bit);
    r.write32(E1000_EIAM, bit);
    r.write32(E1000_EIMS, bit);
  }

  canXmit(): boolean {
    if (this.rings.txFree(0) >= this.minTxFree) return true;
    this.meter.ns += this.rings.reclaimQueue(0) * this.c.txCleanNs;
    return this.rings.txFree(0) >= this.minTxFree;
  }

  xmit(frame: Uint8Array, len: number, gsoSize = 0): boolean {
    if (!(gsoSize > 0 ? this.rings.xmitTso(frame, len, gsoSize, 0) : this.rings.xmit(frame, len, 0))) return false;
    this.meter.ns += this.c.txNs;
    this.capture?.frame(this.port, this.now(), frame, len);
    return true;
  }

  private readonly marks = new TxMarks();

  mark(): void {
    if (this.rings.txDirty(0)) this.marks.push(this.rings.txNextToUse(0));
  }

  flush(): void {
    this.mark(); // what was queued after the last mark is one transmission too
    const m = this.marks;
    for (let i = 0; i < m.n; i++) if (this.rings.kickQueue(0, m.at(i))) this.meter.ns += this.c.doorbellNs;
    m.clear();
  }

  poll(budget: number, rx: RxConsumer): number {
    this.meter.ns += this.rings.reclaimQueue(0) * this.c.txCleanNs;
    this.rx = rx;
    return this.rings.pollCopy(1, budget, this.onFrame);
  }

  complete(): boolean {
    this.meter.ns += this.c.doorbellNs;
    this.regs.write32(E1000_EIMS, 1 << VF_VECTOR);
    return false;
  }
}
