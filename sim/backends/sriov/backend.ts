/**
 * Passthrough: each VM gets VF i of the NIC. The hypervisor (as VFIO/KVM would) maps the VF's BAR0
 * into the guest's physical space (no exit on access), puts the VF's requester ID in an IOMMU domain
 * that maps the guest's RAM (or leaves per-DMA mapping to the driver: strict / deferred policies),
 * and routes the VF's MSI-X vector through interrupt remapping: posted to the vCPU (no exit on
 * delivery, no EOI exit) or remapped to a host vector whose handler injects the guest vector (an
 * exit to inject, an exit for the guest's EOI — counted by Guest.deliverInterrupt).
 */
import { PAGE_2M, PAGE_4K, PID_CONTROL, PID_ON, PID_PIR } from "../../../src/hypervisor-glue/iommu/defs.js";
import { defaultVfPortConfig } from "../../../src/nic/port-config.js";
import { ExitLedger } from "../../model/cpu.js";
import { GuestKernel } from "../../model/guest-kernel.js";
import { fnBarHpa, VF_IRTE_BASE, VF_IRTE_STRIDE } from "../../model/platform.js";
import { TSO_MAX_FRAME, vmMac } from "../../traffic/packets.js";
import { IDENTITY_DMA, type DmaMapper, type RegPort } from "../../../src/vf-driver/rings.js";
import { dmaBytesNeeded, planDma } from "../../../src/vf-driver/dma-layout.js";
import {
  GUEST_BAR_GPA,
  GUEST_BAR_SIZE,
  GUEST_DATA_BASE,
  GUEST_NET_VECTOR,
  HOST_DEVICE_VECTOR,
  POSTED_NOTIFICATION_VECTOR,
  VCPU_DEST_BASE,
  VM_IRQ_DEST_BASE,
  guestRamFor,
  rxBufferFor,
  type BackendContext,
  type BackendInstance,
} from "../types.js";
import { PerDmaMapper } from "./iommu-policy.js";
import { VF_VECTOR, VfGuestNic } from "./vf-nic.js";
import type { Guest } from "../../../src/hypervisor-glue/guest.js";

/** The largest TSO super-frame the VF's TX ring of `entries` takes (its context and data descriptors, one slot left empty): 64 KiB, or less on a small ring. */
export function vfTsoMaxFrame(entries: number, maxFrame: number): number {
  return Math.min(TSO_MAX_FRAME, (entries - 2) * rxBufferFor(maxFrame));
}

export function buildSriov(ctx: BackendContext): BackendInstance {
  const { p, platform, t } = ctx;
  const s = p.sriov;
  const nic = platform.nic;
  const iommu = platform.iommu;
  const mem = platform.hv.mem;
  const pageSize = s.iommuPage === "2m" ? PAGE_2M : PAGE_4K;
  const entries = p.host.ringEntries;
  const bufSize = rxBufferFor(ctx.maxFrame);
  const stride = Math.max(s.bufferStride, bufSize);
  const ram = guestRamFor(dmaBytesNeeded(GUEST_DATA_BASE, 1, entries, entries, bufSize, stride));
  const kernels: GuestKernel[] = [];
  const guests: Guest[] = [];
  const nics: VfGuestNic[] = [];
  const mappers: PerDmaMapper[] = [];
  const vfCosts = { txNs: t.nicDriverTxPerPacket, rxNs: t.nicDriverRxPerPacket, txCleanNs: t.nicDriverTxCleanPerPacket, doorbellNs: t.doorbellMmioWrite };
  const mapCosts = { mapNs: t.iommuMapPerBuffer, unmapNs: t.iommuUnmapPerBuffer, invalidateNs: t.iotlbInvalidation };

  for (let i = 0; i < p.vms; i++) {
    const g = platform.hv.createGuest(`vm${i}`, ram, 1);
    guests.push(g);
    nic.setVfConfig(i, { ...defaultVfPortConfig(), mac: vmMac(i) });
    if (ctx.maxFrame > 1518) nic.setMaxFrame(i, ctx.maxFrame);
    const rid = nic.requesterId(i);
    const ledger = new ExitLedger(g.exits, { interrupt: t.vmExitKernel, eoi: t.virtualEoi, mmio: t.vmExitUser, eptViolation: t.vmExitKernel, hlt: t.vmExitKernel });
    const did = platform.attachDomain(rid, g, pageSize, s.mapping === "static");
    g.mapDirect("vf-bar0", GUEST_BAR_GPA, GUEST_BAR_SIZE, fnBarHpa(i + 1, 0));
    const regs: RegPort = {
      write32: (off, v) => g.mmioWrite(GUEST_BAR_GPA + off, 4, v),
      read32: (off) => g.mmioRead(GUEST_BAR_GPA + off, 4),
    };
    const layout = planDma(GUEST_DATA_BASE, 1, entries, entries, bufSize, stride);
    let mapper: DmaMapper = IDENTITY_DMA;
    const vnic = new VfGuestNic(g, regs, layout, entries, bufSize, { map: (gpa, len) => mapper.map(gpa, len), unmap: (iova, len) => mapper.unmap(iova, len) }, vfCosts, () => platform.engine.now, ctx.capture, `vf${i}`, s.tso ? vfTsoMaxFrame(entries, ctx.maxFrame) : 0);
    if (s.mapping !== "static") {
      const m = new PerDmaMapper(iommu, did, g, vnic.meter, mapCosts, s.mapping === "strict" ? 1 : s.deferredBatch);
      mappers.push(m);
      mapper = m;
    }
    nics.push(vnic);
    const kernel = new GuestKernel(g, vnic, ctx.apps[i]!, ledger, { irqEntryNs: t.irqHandlerEntry, napiPollNs: t.napiPollEntry, tickNs: t.guestTimerTick }, s.tso ? Math.max(ctx.maxFrame, vfTsoMaxFrame(entries, ctx.maxFrame)) : ctx.maxFrame, ctx.p.host.vcpuHalt ? "kvm" : "none", s.interrupts === "posted" ? "kvm-apicv" : "kvm");
    kernel.worker = ctx.workers.add(`vm${i}.vcpu`, ctx.cores.guest[i % ctx.cores.guest.length]!, kernel);
    kernels.push(kernel);
    g.onInterrupt(GUEST_NET_VECTOR, () => kernel.onInterrupt());

    // interrupt remapping of the VF's vector 0
    const index = VF_IRTE_BASE + i * VF_IRTE_STRIDE + VF_VECTOR;
    if (s.interrupts === "posted") {
      const ndst = VCPU_DEST_BASE + i;
      const pda = iommu.interrupts.allocPostedDescriptor(POSTED_NOTIFICATION_VECTOR, ndst);
      iommu.interrupts.setIrte(index, { mode: "posted", vector: GUEST_NET_VECTOR, pda, source: { svt: "requester", sid: rid } });
      // The notification reaches the running vCPU's CPU: the posted vectors move from PIR to the
      // virtual APIC without a VM exit (the CPU clears ON and the PIR bits it took).
      platform.irqs.on(ndst, {
        irq: () => {
          mem.write8(pda + PID_CONTROL, mem.read8(pda + PID_CONTROL) & ~PID_ON);
          for (let b = 0; b < 32; b++) {
            let bits = mem.read8(pda + PID_PIR + b);
            if (bits === 0) continue;
            mem.write8(pda + PID_PIR + b, 0);
            while (bits !== 0) {
              const k = 31 - Math.clz32(bits);
              bits &= ~(1 << k);
              g.deliverInterrupt(0, b * 8 + k, true);
            }
          }
        },
      });
    } else {
      const dest = VM_IRQ_DEST_BASE + i;
      iommu.interrupts.setIrte(index, { mode: "remapped", vector: HOST_DEVICE_VECTOR, dest, source: { svt: "requester", sid: rid } });
      // VFIO's handler signals KVM, which injects the guest's vector into the vCPU.
      platform.irqs.on(dest, { irq: () => g.deliverInterrupt(0, GUEST_NET_VECTOR, false) });
    }
    platform.programMsix(i + 1, VF_VECTOR, index);
    nic.setMsixControl(i, true, false);
    vnic.up(platform.eitrReg);
  }

  return {
    kernels,
    guests,
    host: undefined,
    counters() {
      let doorbells = 0;
      let maps = 0;
      let unmaps = 0;
      let invalidations = 0;
      for (const n of nics) doorbells += n.rings.counters.txDoorbells;
      for (const m of mappers) {
        maps += m.maps;
        unmaps += m.unmaps;
        invalidations += m.invalidations;
      }
      return { doorbells, iommuMaps: maps, iommuUnmaps: unmaps, iotlbInvalidations: invalidations };
    },
  };
}
