/**
 * Xen paravirtual networking: netfront in each PV guest, netback in Dom0 (a domain with its own
 * memory and the host cores), grant tables and shared rings in guest memory, event channels (send =
 * hypercall, receive = upcall), the Dom0 switch (common/host-net.ts), and the physical NIC's PF
 * driven by Dom0. Netback's work runs as the Dom0 kernel's era ran it (`xen.netback`): per VIF
 * queue a NAPI poll (softirq) taking the guest's TX requests and a kernel thread filling its RX ring,
 * both on the queue's core, queues spread over Dom0's cores (per-queue, xenvif's 1:1 model since
 * Linux 3.12); a thread bound to each Dom0 vCPU doing both directions for the VIFs assigned to it,
 * VIF i to vCPU i mod n (per-cpu, Linux 3.0–3.11); or one TX tasklet and one RX tasklet for all VIFs
 * (tasklet, the 2.6.18 netback). The TX tasklet is pinned to Dom0's vCPU 0, where event channels
 * are bound by default, and the RX tasklet to vCPU 1 (it is scheduled by the PF's receive softirqs;
 * a real tasklet runs where it was scheduled, one CPU at a time).
 */
import type { Guest } from "../../../src/hypervisor-glue/guest.js";
import { perByteNs } from "../../costs.js";
import { ExitLedger, PRIO_SOFTIRQ, PRIO_THREAD, type Worker, type WorkerPriority } from "../../model/cpu.js";
import { GuestKernel } from "../../model/guest-kernel.js";
import { HostNet, hostNetCosts } from "../common/host-net.js";
import { GUEST_DATA_BASE, guestRamFor, rxBufferFor, type BackendContext, type BackendInstance } from "../types.js";
import { GRANT_ENTRY_SIZE, GrantOps, GrantTable, XEN_PAGE } from "./grant.js";
import { RX_SLOT, TX_SLOT, XEN_NETIF_MAX_TX_SIZE, ringSize } from "./netif.js";
import { Netfront, NetfrontQueue, netfrontQueueBytes, netfrontQueueLayout } from "./netfront.js";
import { NetbackGroup, NetbackQueue, VifPort, VifStatus, netbackQueueBytes } from "./netback.js";

/** The largest GSO super-frame netfront sends: a TX request's size field holds 16 bits (XEN_NETIF_MAX_TX_SIZE). */
export function xenGsoMaxFrame(): number {
  return XEN_NETIF_MAX_TX_SIZE;
}

export function buildXenPv(ctx: BackendContext): BackendInstance {
  const { p, platform, t } = ctx;
  const persistent = p.xen.grants === "persistent";
  const nq = p.xen.queues;
  const bufSize = rxBufferFor(ctx.maxFrame);
  const hostQueues = Math.min(p.host.hostQueues, p.host.hostCores);
  const gso = p.xen.gso;
  const gsoMax = gso ? xenGsoMaxFrame() : 0;
  const stagingBytes = netbackQueueBytes(bufSize, gso);
  const dom0Bytes = HostNet.bytesFor(hostQueues, p.host.ringEntries, bufSize) + stagingBytes + p.vms * nq * stagingBytes;
  const dom0 = platform.hv.createGuest("dom0", guestRamFor(dom0Bytes), p.host.hostCores);
  const net = new HostNet(platform, dom0, hostNetCosts(t, true), ctx.ledger, ctx.capture, ctx.workers, ctx.cores.host, hostQueues, p.host.ringEntries, bufSize);
  if (gso) net.enableGro(); // netfront takes GSO packets: Dom0's GRO on the PF builds them
  // netback staging blocks start at a multiple of their size (see netbackQueueBytes)
  let staging = Math.ceil((GUEST_DATA_BASE + HostNet.bytesFor(hostQueues, p.host.ringEntries, bufSize)) / stagingBytes) * stagingBytes;

  const gtEntries = nq * (ringSize(TX_SLOT) + ringSize(RX_SLOT)) + 16;
  const gtBytes = Math.ceil((gtEntries * GRANT_ENTRY_SIZE) / XEN_PAGE) * XEN_PAGE;
  const ram = guestRamFor(gtBytes + nq * netfrontQueueBytes());
  const nbCosts = {
    perPacketNs: t.xenNetbackPerPacket,
    upcallNs: t.xenEventChannelUpcall,
    evtchnSendNs: t.xenEventChannelSend,
    grantCopyHypercallNs: t.xenGrantCopyHypercall,
    grantCopyPerOpNs: t.xenGrantCopyPerOp,
    grantCopyPerByteNs: perByteNs(ctx.costs, "xenGrantCopyPerByte"),
    grantMapNs: t.xenGrantMap,
    copyPerByteNs: ctx.copyNsPerByte,
  };
  const kernels: GuestKernel[] = [];
  const guests: Guest[] = [];
  const fronts: Netfront[] = [];
  const backs: NetbackQueue[] = [];
  let nbIndex = 0;
  const mode = p.xen.netback;
  const nCores = ctx.cores.host.length;
  interface Shared {
    readonly body: NetbackGroup;
    readonly worker: Worker;
    readonly core: number;
  }
  const shared = (name: string, core: number, tx: boolean, rx: boolean, prio: WorkerPriority): Shared => {
    const body = new NetbackGroup(tx, rx);
    return { body, worker: ctx.workers.add(name, ctx.cores.host[core]!, body, prio), core };
  };
  const single = (nb: NetbackQueue, tx: boolean, rx: boolean): NetbackGroup => {
    const body = new NetbackGroup(tx, rx);
    body.members.push(nb);
    return body;
  };
  const perCpu = mode === "per-cpu" ? ctx.cores.host.map((_, k) => shared(`dom0.netback${k}`, k, true, true, PRIO_THREAD)) : [];
  const txTasklet = mode === "tasklet" ? shared("dom0.net_tx_tasklet", 0, true, false, PRIO_SOFTIRQ) : undefined;
  const rxTasklet = mode === "tasklet" ? shared("dom0.net_rx_tasklet", 1 % nCores, false, true, PRIO_SOFTIRQ) : undefined;
  for (let i = 0; i < p.vms; i++) {
    const g = platform.hv.createGuest(`vm${i}`, ram, 1);
    guests.push(g);
    const gtGpa = GUEST_DATA_BASE;
    const gt = new GrantTable(g, gtGpa, gtEntries);
    const fq: NetfrontQueue[] = [];
    for (let j = 0; j < nq; j++) fq.push(new NetfrontQueue(g, netfrontQueueLayout(gtGpa + gtBytes + j * netfrontQueueBytes()), gt, persistent));
    const front = new Netfront(fq, { perPacketNs: t.xenNetfrontPerPacket }, () => platform.engine.now, ctx.capture, `vif${i}`, ctx.maxFrame, gsoMax);
    fronts.push(front);
    const ledger = new ExitLedger(g.exits, { hypercall: t.xenEventChannelSend, hlt: t.nullHypercall });
    const kernel = new GuestKernel(g, front, ctx.apps[i]!, ledger, { irqEntryNs: t.xenEventChannelUpcall, napiPollNs: t.napiPollEntry, tickNs: t.guestTimerTick }, Math.max(ctx.maxFrame, gsoMax), ctx.p.host.vcpuHalt ? "xen" : "none", "xen");
    kernel.worker = ctx.workers.add(`vm${i}.vcpu`, ctx.cores.guest[i % ctx.cores.guest.length]!, kernel);
    kernels.push(kernel);
    const ops = new GrantOps(g, gtGpa, gtEntries);
    const nbs: NetbackQueue[] = [];
    const vif = new VifStatus();
    for (let j = 0; j < nq; j++) {
      // per-queue: netback's queues start on the cores after those taking the PF's queues
      const grp = mode === "per-cpu" ? perCpu[i % nCores]! : txTasklet;
      const core = grp !== undefined ? grp.core : (hostQueues + nbIndex++) % nCores;
      const nb = new NetbackQueue(i, net.txqFor(core), fq[j]!, dom0, ops, staging, bufSize, net, nbCosts, ctx.ledger, gtEntries, gso);
      staging += stagingBytes;
      nb.vif = vif;
      if (grp === undefined) {
        // xenvif's 1:1 model: the guest's TX requests are taken by the queue's NAPI poll (softirq),
        // its RX ring is fed by the queue's kernel thread; both on the queue's core here
        nb.splitMeters();
        nb.worker = ctx.workers.add(`dom0.netback${i}.${j}`, ctx.cores.host[core]!, single(nb, false, true), PRIO_THREAD);
        nb.txWorker = ctx.workers.add(`dom0.netback-napi${i}.${j}`, ctx.cores.host[core]!, single(nb, true, false), PRIO_SOFTIRQ);
      } else if (rxTasklet === undefined) {
        grp.body.members.push(nb);
        nb.worker = nb.txWorker = grp.worker;
      } else {
        nb.splitMeters();
        grp.body.members.push(nb);
        rxTasklet.body.members.push(nb);
        nb.txWorker = grp.worker;
        nb.worker = rxTasklet.worker;
      }
      nb.kernel = kernel;
      fq[j]!.backend = nb;
      nbs.push(nb);
      backs.push(nb);
    }
    net.ports.push(new VifPort(nbs));
  }

  return {
    kernels,
    guests,
    host: dom0,
    counters() {
      const c: Record<string, number> = { ...net.counters(), grantCopies: 0, grantMaps: 0, grantCopyHypercalls: 0, netbackToGuestEvents: 0, netfrontToDom0Events: 0 };
      for (const b of backs) {
        c.grantCopies! += b.grantCopies;
        c.grantMaps! += b.grantMaps;
        c.grantCopyHypercalls! += b.copyHypercalls;
        c.netbackToGuestEvents! += b.guestNotifications;
      }
      for (const f of fronts) for (const q of f.queues) c.netfrontToDom0Events! += q.notifications;
      return c;
    },
  };
}
