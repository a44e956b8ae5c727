/**
 * One netfront queue and one netback queue on a hypervisor of their own, Dom0's switch replaced by
 * a recorder: what the Xen PV ring tests drive (xen-multislot, xen-gso).
 */
import { Hypervisor } from "../../../../src/hypervisor-glue/hypervisor.js";
import type { HostNet } from "../../../../sim/backends/common/host-net.js";
import { rxBufferFor } from "../../../../sim/backends/types.js";
import { GrantOps, GrantTable } from "../../../../sim/backends/xen/grant.js";
import { NetbackQueue } from "../../../../sim/backends/xen/netback.js";
import { NetfrontQueue, netfrontQueueLayout } from "../../../../sim/backends/xen/netfront.js";
import { RX_SLOT, TX_SLOT, ringSize } from "../../../../sim/backends/xen/netif.js";
import type { Worker } from "../../../../sim/model/cpu.js";
import type { GuestKernel } from "../../../../sim/model/guest-kernel.js";
import { Ledger } from "../../../../sim/model/ledger.js";

const MiB = 2 ** 20;
export const GT_GPA = 0x10_0000;
export const GT_ENTRIES = ringSize(TX_SLOT) + ringSize(RX_SLOT) + 64;
const COSTS = { perPacketNs: 1, upcallNs: 1, evtchnSendNs: 1, grantCopyHypercallNs: 1, grantCopyPerOpNs: 1, grantCopyPerByteNs: 0, grantMapNs: 1, copyPerByteNs: 0 };

export interface XenRigOptions {
  /** Persistent (mapped) grants instead of grant copy. */
  readonly persistent?: boolean;
  /** netback takes GSO packets (xen.gso). */
  readonly gso?: boolean;
  /** The largest frame netback's buffers are sized for (9728: jumbo). */
  readonly maxFrame?: number;
}

export function xenRig(o: XenRigOptions = {}) {
  const hv = new Hypervisor({ hostMemoryBytes: 256 * MiB, cpus: 2 });
  const g = hv.createGuest("g", 16 * MiB, 1);
  const dom0 = hv.createGuest("dom0", 32 * MiB, 1);
  const gt = new GrantTable(g, GT_GPA, GT_ENTRIES);
  const fe = new NetfrontQueue(g, netfrontQueueLayout(2 * MiB), gt, o.persistent ?? false);
  const ledger = new Ledger();
  /** Frames netback handed to the switch, and the GSO size of each. */
  const sent: number[][] = [];
  const sentGso: number[] = [];
  const net = {
    fromGuest: (_vm: number, buf: Uint8Array, len: number, _ctx: unknown, gsoSize = 0) => {
      sent.push(Array.from(buf.subarray(0, len)));
      sentGso.push(gsoSize);
    },
    dropCount: (r: number, n = 1) => ledger.drop(r, n),
    handOff: () => {},
    flushTx: () => {},
  } as unknown as HostNet;
  const nb = new NetbackQueue(0, 0, fe, dom0, new GrantOps(g, GT_GPA, GT_ENTRIES), 16 * MiB, rxBufferFor(o.maxFrame ?? 9728), net, COSTS, ledger, GT_ENTRIES, o.gso ?? false);
  nb.worker = nb.txWorker = { wake: () => {} } as unknown as Worker;
  nb.kernel = { onInterrupt: () => {} } as unknown as GuestKernel;
  fe.backend = nb;
  /** Run netback (TX and RX work in one worker) until it sleeps (each step ends with finish, as the CPU model does). */
  const runNetback = () => {
    for (let i = 0; i < 100; i++) {
      const c = nb.work(true, true);
      nb.finishWork(true, true);
      if (c < 0) return;
    }
    throw new Error("netback never went idle");
  };
  /** Frames netfront handed up, and the GSO size of each. */
  const received: number[][] = [];
  const receivedGso: number[] = [];
  const scratch = new Uint8Array(0x10000);
  const pollGuest = () =>
    fe.pollRx(1 << 20, scratch, (buf, len, gso) => {
      received.push(Array.from(buf.subarray(0, len)));
      receivedGso.push(gso);
    });
  return { g, gt, fe, nb, ledger, sent, sentGso, received, receivedGso, runNetback, pollGuest };
}
