/**
 * Test rig for the mailbox: the hardware, the PF driver's server wired to the PF interrupt, a
 * recording NIC, and VF BAR0 windows that route CTRL.RST to the hardware's VF reset (the job the
 * NIC's register file does in the full model).
 */
import { MailboxHw } from "../../../src/nic/mailbox-hw.js";
import type { Mac, VfPortConfig } from "../../../src/nic/port-config.js";
import { defaultVfPortConfig } from "../../../src/nic/port-config.js";
import { E1000_CTRL, E1000_CTRL_RST, E1000_VMBMEM, E1000_VMBMEM_SIZE } from "../../../src/nic/regs.js";
import type { MailboxLimits, MailboxNicHooks, PfMailboxMmio } from "../../../src/pf-driver/mailbox-server.js";
import { MailboxServer } from "../../../src/pf-driver/mailbox-server.js";
import type { MbxApiVersion } from "../../../src/nic/mailbox-proto.js";
import type { MailboxClientOptions, VfMailboxMmio } from "../../../src/vf-driver/mailbox-client.js";
import { MailboxClient } from "../../../src/vf-driver/mailbox-client.js";

export interface NicVfView {
  unicast: Mac[];
  multicast: Mac[];
  allMulti: boolean;
  vlans: number[];
  maxFrame: number;
  resets: number;
}

export class RecordingNic implements MailboxNicHooks {
  readonly vfs: NicVfView[];
  readonly calls: Array<{ readonly op: string; readonly vf: number }> = [];
  constructor(n: number) {
    this.vfs = Array.from({ length: n }, () => ({ unicast: [], multicast: [], allMulti: false, vlans: [], maxFrame: 0, resets: 0 }));
  }
  private v(vf: number, op: string): NicVfView {
    this.calls.push({ op, vf });
    const x = this.vfs[vf];
    if (x === undefined) throw new Error(`NIC hook for VF ${vf} outside 0..${this.vfs.length - 1}`);
    return x;
  }
  resetVf(vf: number): void {
    const x = this.v(vf, "reset");
    x.resets++;
    x.unicast = [];
    x.multicast = [];
    x.allMulti = false;
    x.vlans = [];
  }
  setVfUnicast(vf: number, macs: readonly Mac[]): void {
    this.v(vf, "unicast").unicast = [...macs];
  }
  setVfMulticast(vf: number, macs: readonly Mac[], allMulti: boolean): void {
    const x = this.v(vf, "multicast");
    x.multicast = [...macs];
    x.allMulti = allMulti;
  }
  setVfVlans(vf: number, vids: readonly number[]): void {
    this.v(vf, "vlans").vlans = [...vids];
  }
  setVfMaxFrame(vf: number, bytes: number): void {
    this.v(vf, "maxFrame").maxFrame = bytes;
  }
}

export interface RigOptions {
  readonly admin?: Partial<VfPortConfig>[];
  readonly limits?: Partial<MailboxLimits>;
  readonly pfMacs?: readonly Mac[];
  readonly versions?: readonly MbxApiVersion[];
  /** Run the PF server from the PF interrupt (default true). */
  readonly interrupts?: boolean;
}

export class Rig {
  readonly hw: MailboxHw;
  readonly nic: RecordingNic;
  readonly server: MailboxServer;
  readonly admin: VfPortConfig[];
  now = 0;
  /** Called once, then cleared, when the PF writes VF `vf`'s buffer (i.e. while it holds PFU). */
  duringPfWrite: ((vf: number) => void) | null = null;

  constructor(readonly numVfs: number, opts: RigOptions = {}) {
    this.hw = new MailboxHw(numVfs);
    this.nic = new RecordingNic(numVfs);
    this.admin = Array.from({ length: numVfs }, (_, vf) => Object.freeze({ ...defaultVfPortConfig(), ...(opts.admin?.[vf] ?? {}) }));
    const hw = this.hw;
    const mmio: PfMailboxMmio = {
      pfRead: (off, size) => hw.pfRead(off, size),
      pfWrite: (off, size, v) => {
        hw.pfWrite(off, size, v);
        const hook = this.duringPfWrite;
        if (hook !== null && off >= E1000_VMBMEM(0) && off < E1000_VMBMEM(Math.min(numVfs, 16))) {
          this.duringPfWrite = null;
          hook(Math.floor((off - E1000_VMBMEM(0)) / E1000_VMBMEM_SIZE));
        }
      },
    };
    this.server = new MailboxServer(mmio, {
      numVfs,
      nic: this.nic,
      adminConfig: (vf) => this.admin[vf]!,
      ...(opts.pfMacs !== undefined ? { pfMacs: () => opts.pfMacs! } : {}),
      ...(opts.limits !== undefined ? { limits: opts.limits } : {}),
      ...(opts.versions !== undefined ? { versions: opts.versions } : {}),
      queues: (vf) => ({ txQueues: 2, rxQueues: 2, defaultQueue: vf % 2 }),
    });
    if (opts.interrupts ?? true) hw.onPfInterrupt = () => this.server.poll(this.now);
    hw.pfResetDone();
    this.server.start();
  }

  /** VF `vf`'s BAR0 as its driver sees it. */
  vfMmio(vf: number): VfMailboxMmio {
    return {
      read: (off, size) => this.hw.vfRead(vf, off, size),
      write: (off, size, v) => {
        if (off === E1000_CTRL && size === 4) {
          if ((v & E1000_CTRL_RST) !== 0) this.hw.vfReset(vf);
          return;
        }
        this.hw.vfWrite(vf, off, size, v);
      },
    };
  }

  client(vf: number, opts: MailboxClientOptions = {}): MailboxClient {
    return new MailboxClient(
      {
        mmio: this.vfMmio(vf),
        delay: (ns) => {
          this.now += ns;
          this.server.poll(this.now);
        },
      },
      opts,
    );
  }

  setAdmin(vf: number, patch: Partial<VfPortConfig>): void {
    this.admin[vf] = Object.freeze({ ...this.admin[vf]!, ...patch });
  }
}

export const mac = (s: string): Mac => parseInt(s.replace(/:/g, ""), 16);
