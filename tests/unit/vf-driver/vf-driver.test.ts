import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { isIovError } from "../../../src/errors.js";
import type { Guest, HostMmio } from "../../../src/hypervisor-glue/guest.js";
import { HOST_MAP, Hypervisor } from "../../../src/hypervisor-glue/hypervisor.js";
import { totalExits } from "../../../src/hypervisor-glue/exits.js";
import { MailboxHw } from "../../../src/nic/mailbox-hw.js";
import { Nic, hwTemplateOf } from "../../../src/nic/nic.js";
import type { Mac, VfPortConfig } from "../../../src/nic/port-config.js";
import { defaultVfPortConfig } from "../../../src/nic/port-config.js";
import { E1000_CTRL_EXT, E1000_CTRL_EXT_PFRSTD, E1000_RDT, E1000_TDT } from "../../../src/nic/regs.js";
import { E1000_RXD_STAT_DD, E1000_RXD_STAT_EOP } from "../../../src/nic/descriptors.js";
import type { NicTemplate } from "../../../src/nic/templates/catalog.js";
import { findTemplate } from "../../../src/nic/templates/catalog.js";
import { VF_CAP_OFFSETS, vfLayout } from "../../../src/nic/templates/layout.js";
import { ConfigSpace } from "../../../src/pcie/configspace.js";
import type { ConfigLayout } from "../../../src/pcie/layout.js";
import { LayoutBuilder } from "../../../src/pcie/layout.js";
import { placeCap } from "../../../src/pcie/caps/common.js";
import { PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE, PCI_MSIX_FLAGS_MASKALL, msixCap } from "../../../src/pcie/caps/msix.js";
import { pcieCap } from "../../../src/pcie/caps/pcie.js";
import type { DmaTranslator, MsiSink } from "../../../src/pcie/dma.js";
import { DMA_FAULT, MSI_ADDR_BASE, MSI_ADDR_LIMIT } from "../../../src/pcie/dma.js";
import { PCI_COMMAND, PCI_COMMAND_MASTER, TYPE0_HEADER } from "../../../src/pcie/header.js";
import { MailboxServer } from "../../../src/pf-driver/mailbox-server.js";
import { isLocallyAdministered } from "../../../src/vf-driver/mac.js";
import { planDma } from "../../../src/vf-driver/dma-layout.js";
import type { VfConfigAccess, VfDriverOptions } from "../../../src/vf-driver/types.js";
import { VfDriver } from "../../../src/vf-driver/vf-driver.js";

// ---------------------------------------------------------------- a host, built as the layers above will

const MiB = 1024 * 1024;
const KiB = 1024;
const T82576 = findTemplate("intel-82576")!;
/** Host physical placement of VF k's BARs: BAR0 and BAR3 (MSI-X), 16 KiB each, in the 64-bit window. */
const VF_MMIO_STRIDE = 0x10_0000;
const BAR3_AT = 0x8_0000;
const VF_BAR_SIZE = 16 * KiB;
const vfBar0Hpa = (k: number): number => HOST_MAP.mmio64Base + k * VF_MMIO_STRIDE;
/** Where each guest sees them. */
const BAR0_GPA = 0xc000_0000;
const BAR3_GPA = 0xc010_0000;
const GUEST_RAM = 64 * MiB;
const DMA_GPA = 16 * MiB;
const DMA_BYTES = 32 * MiB;
const MSI_ADDR = 0xfee0_0000;
const MSI_DATA = 0x40;
const ridOf = (k: number): number => 0x0180 + 2 * k;
const VENDOR = 0x8086;

const mac = (s: string): Mac => parseInt(s.replace(/:/g, ""), 16);
const ADMIN_MAC_VF1 = mac("52:54:00:00:01:01");

/** The 82576 VF config layout with the MSI-X capability moved to 0xc8, behind the PCIe one. */
function vfLayoutMsixAt(t: NicTemplate, off: number): ConfigLayout {
  const b = new LayoutBuilder(4096).header(TYPE0_HEADER, { VENDOR_ID: 0xffff, DEVICE_ID: 0xffff, COMMAND: { rw: PCI_COMMAND_MASTER } });
  placeCap(b, pcieCap("endpoint", { speed: 2.5, width: 1, flr: true }), 0x40);
  placeCap(b, msixCap({ vectors: t.vfMsixVectors, tableBir: 3, tableOffset: 0, pbaBir: 3, pbaOffset: 0x2000 }), off);
  return b.build();
}

interface HostOptions {
  readonly numVfs?: number;
  readonly template?: NicTemplate;
  readonly admin?: ReadonlyArray<Partial<VfPortConfig>>;
  /** The PF driver finished its reset (CTRL_EXT.PFRSTD). Default true. */
  readonly pfReady?: boolean;
  /** The PF driver services its mailbox when the VF waits. Default true. */
  readonly pfAnswers?: boolean;
  /** Trap BAR0 instead of mapping it directly (every access an exit). */
  readonly trapBar0?: boolean;
  readonly msixCapAt?: number;
  /** Leave the MSI-X BAR out of the guest's map (a hypervisor bug the driver must survive). */
  readonly unmappedMsixBar?: boolean;
}

class Host {
  readonly hv: Hypervisor;
  readonly nic: Nic;
  readonly hw: MailboxHw;
  readonly server: MailboxServer;
  readonly guests: Guest[] = [];
  readonly cfgs: ConfigSpace[] = [];
  readonly admin: VfPortConfig[];
  readonly msiBad: Array<{ rid: number; addr: number }> = [];
  readonly t: NicTemplate;
  now = 0;
  pfAnswers: boolean;
  private readonly byRid = new Map<number, Guest>();

  constructor(o: HostOptions = {}) {
    const n = o.numVfs ?? 2;
    this.t = o.template ?? T82576;
    this.pfAnswers = o.pfAnswers ?? true;
    const hostMmio: HostMmio = {
      memRead: (addr, size) => {
        const r = this.decode(addr);
        return r === null ? 0xffffffff : this.nic.vfMmio(r.k).mmioRead(r.bar, r.off, size);
      },
      memWrite: (addr, size, v) => {
        const r = this.decode(addr);
        if (r !== null) this.nic.vfMmio(r.k).mmioWrite(r.bar, r.off, size, v);
      },
    };
    this.hv = new Hypervisor({ hostMemoryBytes: 512 * MiB, cpus: 4 }, hostMmio);
    // The IOMMU's job, reduced: each VF's DMA is its guest's GPA space.
    const translator: DmaTranslator = {
      translate: (rid, iova, len) => {
        const g = this.byRid.get(rid);
        if (g === undefined) return DMA_FAULT;
        const h = g.gpaToHpa(iova);
        if (h < 0 || (len > 1 && g.gpaToHpa(iova + len - 1) !== h + len - 1)) return DMA_FAULT;
        return h;
      },
    };
    // Interrupt remapping, reduced: the requester's guest gets vector data[7:0], posted.
    const msiSink: MsiSink = {
      msiWrite: (rid, addr, data) => {
        const g = this.byRid.get(rid);
        if (g === undefined || addr < MSI_ADDR_BASE || addr > MSI_ADDR_LIMIT) {
          this.msiBad.push({ rid, addr });
          return;
        }
        g.deliverInterrupt(0, data & 0xff, true);
      },
    };
    this.hw = new MailboxHw(this.t.totalVfs);
    this.nic = new Nic({ mem: this.hv.mem, translator, msiSink, template: hwTemplateOf(this.t), mailbox: this.hw });
    this.nic.setNumVfs(n);
    this.admin = Array.from({ length: n }, (_, k) => ({ ...defaultVfPortConfig(), ...(o.admin?.[k] ?? {}) }));
    const nic = this.nic;
    // The PF driver: its mailbox server speaks through PF BAR0 and programs the switch.
    this.server = new MailboxServer(
      { pfRead: (off, size) => nic.pfMmio.mmioRead(0, off, size as 4), pfWrite: (off, size, v) => nic.pfMmio.mmioWrite(0, off, size as 4, v) },
      {
        numVfs: n,
        adminConfig: (vf) => this.admin[vf]!,
        queues: () => ({ txQueues: nic.queuesPerVf, rxQueues: nic.queuesPerVf, defaultQueue: 0 }),
        nic: {
          resetVf: (vf) => {
            nic.setMacFilters(vf, []);
            nic.setMulticast(vf, []);
          },
          setVfUnicast: (vf, macs) => nic.setMacFilters(vf, macs),
          setVfMulticast: (vf, macs, all) => nic.setMulticast(vf, macs, all),
          setVfVlans: (vf, vids) => nic.setVlanFilter(vf, vids),
          setVfMaxFrame: (vf, bytes) => nic.setMaxFrame(vf, bytes),
        },
      },
    );
    this.server.start();
    if (o.pfReady ?? true) nic.pfMmio.mmioWrite(0, E1000_CTRL_EXT, 4, E1000_CTRL_EXT_PFRSTD);
    const layout = o.msixCapAt === undefined ? vfLayout(this.t) : vfLayoutMsixAt(this.t, o.msixCapAt);
    const msixAt = o.msixCapAt ?? VF_CAP_OFFSETS.msix;
    for (let k = 0; k < n; k++) {
      nic.setVfConfig(k, this.admin[k]!);
      nic.setRequesterId(k, ridOf(k));
      const g = this.hv.createGuest(`vm${k}`, GUEST_RAM, 1);
      if (o.trapBar0) {
        g.mapTrap("vf-bar0", BAR0_GPA, VF_BAR_SIZE, {
          read: (off, size) => nic.vfMmio(k).mmioRead(0, off, size),
          write: (off, size, v) => nic.vfMmio(k).mmioWrite(0, off, size, v),
        });
      } else g.mapDirect("vf-bar0", BAR0_GPA, VF_BAR_SIZE, vfBar0Hpa(k));
      if (!o.unmappedMsixBar) g.mapDirect("vf-bar3", BAR3_GPA, VF_BAR_SIZE, vfBar0Hpa(k) + BAR3_AT);
      this.guests.push(g);
      this.byRid.set(ridOf(k), g);
      // The VF's config space, with the side effects the fabric hands the NIC.
      const cs = new ConfigSpace(layout);
      cs.onWrite(PCI_COMMAND, (_c, _r, _o, nv) => nic.setBusMaster(k, (nv & PCI_COMMAND_MASTER) !== 0));
      cs.onWrite(msixAt + PCI_MSIX_FLAGS, (_c, _r, _o, nv) => nic.setMsixControl(k, (nv & PCI_MSIX_FLAGS_ENABLE) !== 0, (nv & PCI_MSIX_FLAGS_MASKALL) !== 0));
      this.cfgs.push(cs);
    }
  }

  private decode(addr: number): { k: number; bar: number; off: number } | null {
    const rel = addr - HOST_MAP.mmio64Base;
    const k = Math.floor(rel / VF_MMIO_STRIDE);
    if (rel < 0 || k >= this.nic.numVfs) return null;
    const inside = rel - k * VF_MMIO_STRIDE;
    if (inside < VF_BAR_SIZE) return { k, bar: 0, off: inside };
    if (inside >= BAR3_AT && inside < BAR3_AT + VF_BAR_SIZE) return { k, bar: 3, off: inside - BAR3_AT };
    return null;
  }

  /** The guest's view of VF k's config space: the hypervisor shows the real Vendor/Device IDs. */
  guestCfg(k: number): { read(off: number, size: 1 | 2 | 4): number; write(off: number, size: 1 | 2 | 4, v: number): void } {
    const cs = this.cfgs[k]!;
    const ids = (VENDOR | (this.t.vfDeviceId << 16)) >>> 0;
    return {
      read: (off, size) => (off < 4 ? (size === 4 ? ids : (ids >>> (8 * off)) & (size === 2 ? 0xffff : 0xff)) : cs.read(off, size)),
      write: (off, size, v) => cs.write(off, size, v),
    };
  }

  driver(k: number, options: Partial<VfDriverOptions> = {}, cfg: VfConfigAccess = this.guestCfg(k)): VfDriver {
    return new VfDriver({
      guest: this.guests[k]!,
      cfg,
      bar0Gpa: BAR0_GPA,
      msixBarGpa: BAR3_GPA,
      dmaBaseGpa: DMA_GPA,
      dmaBytes: DMA_BYTES,
      msiAddress: MSI_ADDR,
      msiDataBase: MSI_DATA,
      options: { txRing: 64, rxRing: 64, bufSize: 2048, queues: 1, ...options, mailbox: { pollNs: 1000, timeoutNs: 100_000, ...options.mailbox } },
      delay: (ns) => {
        this.now += ns;
        if (this.pfAnswers) this.server.poll(this.now);
      },
    });
  }
}

function frame(dst: Mac, src: Mac, len: number, seq: number): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < 6; i++) {
    f[i] = Math.floor(dst / 2 ** (8 * (5 - i))) & 0xff;
    f[6 + i] = Math.floor(src / 2 ** (8 * (5 - i))) & 0xff;
  }
  f[12] = 0x88;
  f[13] = 0xb5; // local experimental EtherType
  for (let i = 14; i < len; i++) f[i] = (seq * 131 + i * 7) & 0xff;
  if (len >= 18) new DataView(f.buffer).setUint32(14, seq);
  return f;
}

/** Two probed drivers, VF1 recording what its interrupts hand up. */
function pair(o: { a?: Partial<VfDriverOptions>; b?: Partial<VfDriverOptions>; host?: HostOptions } = {}) {
  const host = new Host({ admin: [{}, { mac: ADMIN_MAC_VF1 }], ...o.host });
  const a = host.driver(0, o.a);
  const b = host.driver(1, o.b);
  const ra = a.probe();
  const rb = b.probe();
  if (!ra.ok || !rb.ok) throw new Error(`probe failed: ${JSON.stringify([ra, rb])}`);
  // The PF's mailbox interrupt handler runs after the VFs' last acks (deferred work, not nested in them).
  host.server.poll(host.now);
  const got: Uint8Array[] = [];
  const gpas: number[] = [];
  b.rxHandler = (gpa, len) => {
    const bytes = new Uint8Array(len);
    host.guests[1]!.readBytes(gpa, bytes);
    got.push(bytes);
    gpas.push(gpa);
  };
  return { host, a, b, ra: ra.info, rb: rb.info, got, gpas };
}

// ---------------------------------------------------------------- tests

describe("VF driver probe", () => {
  it("brings both VFs up through config cycles, MSI-X BAR writes and the mailbox", () => {
    const { host, a, b, ra, rb } = pair();
    expect(ra).toMatchObject({ vendorId: VENDOR, deviceId: T82576.vfDeviceId, msixCap: VF_CAP_OFFSETS.msix, msixEntries: 3, vectorsUsed: 3, vectorStyle: "split" });
    expect(ra).toMatchObject({ macSource: "driver", apiVersion: "1.2", queues: 1, portVlan: false, linkUp: true });
    expect(isLocallyAdministered(ra.mac)).toBe(true);
    expect(rb).toMatchObject({ mac: ADMIN_MAC_VF1, macSource: "pf" });
    expect([a.mac, b.mac]).toEqual([ra.mac, ADMIN_MAC_VF1]);
    // The PF accepted VF0's own MAC and programmed the switch with it.
    expect(host.server.state(0).mac).toBe(ra.mac);
    expect(host.nic.macFilters(0)).toEqual([ra.mac]);
    expect(host.server.phase(0)).toBe("negotiated");
    // Config space as the driver left it.
    const cs = host.cfgs[0]!;
    expect(cs.read(PCI_COMMAND, 2) & PCI_COMMAND_MASTER).toBe(PCI_COMMAND_MASTER);
    expect(cs.read(VF_CAP_OFFSETS.msix + PCI_MSIX_FLAGS, 2) & (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL)).toBe(PCI_MSIX_FLAGS_ENABLE);
    // The MSI-X table holds what the guest OS programs (read on the device side).
    const vf = host.nic.vfMmio(0);
    for (let n = 0; n < 3; n++) {
      expect(vf.mmioRead(3, n * 16, 4)).toBe(MSI_ADDR);
      expect(vf.mmioRead(3, n * 16 + 8, 4)).toBe(MSI_DATA + n);
      expect(vf.mmioRead(3, n * 16 + 12, 4)).toBe(0);
    }
    // RX ring posted: RDT = count - 1.
    expect(vf.mmioRead(0, E1000_RDT(0), 4)).toBe(63);
    // Everything went through directly mapped BARs: not one exit.
    for (const g of host.guests) expect(totalExits(g.exits)).toBe(0);
  });

  it("finds MSI-X by walking the capability list wherever it sits", () => {
    const host = new Host({ msixCapAt: 0xc8 });
    const r = host.driver(0).probe();
    expect(r).toMatchObject({ ok: true, info: { msixCap: 0xc8, msixEntries: 3 } });
    expect(host.cfgs[0]!.read(0xc8 + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_ENABLE).toBe(PCI_MSIX_FLAGS_ENABLE);
  });

  it("records the IDs config space gives: a bare VF's 0xFFFF is accepted", () => {
    const host = new Host();
    const r = host.driver(0, {}, host.cfgs[0]!).probe();
    expect(r).toMatchObject({ ok: true, info: { vendorId: 0xffff, deviceId: 0xffff } });
  });

  it("config space reading all-ones (no function) fails the config step", () => {
    const host = new Host();
    const dead: VfConfigAccess = { read: (_o, size) => (size === 4 ? 0xffffffff : (1 << (8 * size)) - 1), write: () => undefined };
    expect(host.driver(0, {}, dead).probe()).toEqual({ ok: false, step: "config", reason: "config space reads all-ones: no function there" });
  });

  it("an MSI-X BAR the hypervisor did not map fails the msix step (EPT violations, no throw)", () => {
    const host = new Host({ unmappedMsixBar: true });
    const r = host.driver(0).probe();
    expect(r).toMatchObject({ ok: false, step: "msix" });
    expect(host.guests[0]!.exits.eptViolation).toBeGreaterThan(0);
    expect(host.cfgs[0]!.read(VF_CAP_OFFSETS.msix + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_ENABLE).toBe(0);
  });

  it("a PF that never answers is a reported mailbox timeout, and probe undoes what it did", () => {
    const host = new Host({ pfAnswers: false });
    const d = host.driver(0);
    let r: ReturnType<VfDriver["probe"]> | undefined;
    expect(() => {
      r = d.probe();
    }).not.toThrow();
    expect(r).toEqual({ ok: false, step: "mailbox", reason: "mailbox timeout (ack)", mailbox: { kind: "timeout", stage: "ack" } });
    expect(d.isUp).toBe(false);
    expect(d.probeResult).toBe(r);
    const cs = host.cfgs[0]!;
    expect(cs.read(PCI_COMMAND, 2) & PCI_COMMAND_MASTER).toBe(0);
    expect(cs.read(VF_CAP_OFFSETS.msix + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_ENABLE).toBe(0);
    // The data path stays inert: no throw, counted.
    expect(d.xmit(frame(ADMIN_MAC_VF1, 2, 60, 0), 60)).toBe(false);
    expect(d.counters.txInvalid).toBe(1);
    expect(d.pollRx(8, () => undefined)).toBe(0);
  });

  it("a PF stuck in reset (no RSTD) fails the reset step", () => {
    const host = new Host({ pfReady: false });
    const r = host.driver(0).probe();
    expect(r).toMatchObject({ ok: false, step: "reset", mailbox: { kind: "timeout", stage: "reset" } });
  });

  it("a MAC the PF refuses fails the mac step with the PF's reason", () => {
    const host = new Host({ admin: [{}, { mac: ADMIN_MAC_VF1 }] });
    const r = host.driver(0, { mac: ADMIN_MAC_VF1 }).probe();
    expect(r).toMatchObject({ ok: false, step: "mac", mailbox: { kind: "nack", reason: "mac-in-use" } });
  });

  it("refuses impossible options with EINVAL before touching anything", () => {
    const host = new Host();
    const bad: Array<Partial<VfDriverOptions>> = [
      { txRing: 12 },
      { rxRing: 8192 },
      { bufSize: 1500 },
      { queues: 0 },
      { bufSize: 1024 }, // the PF's default 1522-byte frames would not fit one buffer
      { mac: mac("01:00:5e:00:00:01") },
      { txRing: 4096, rxRing: 4096, bufSize: 16384 }, // 128 MiB: more than the DMA region
      { itrUs: -1 },
      { napiBudget: 0 },
    ];
    for (const o of bad) {
      let err: unknown;
      try {
        host.driver(0, o);
      } catch (e) {
        err = e;
      }
      expect(isIovError(err, "EINVAL"), JSON.stringify(o)).toBe(true);
    }
  });
});

describe("VF driver data path", () => {
  it("VF0 → VF1: the bytes land in VF1's guest buffers, by interrupt, with no exits", () => {
    const { host, a, b, ra, got, gpas } = pair();
    const exitsBefore = host.guests.map((g) => totalExits(g.exits));
    const sent = [60, 1514, 333, 14].map((len, i) => frame(ADMIN_MAC_VF1, ra.mac, len, i));
    for (const f of sent) expect(a.xmit(f, f.length)).toBe(true);
    expect(a.kick()).toBe(1);
    expect(got.map((x) => Array.from(x))).toEqual(sent.map((x) => Array.from(x)));
    // Each frame is in VF1's own DMA region, one buffer apart.
    for (const g of gpas) expect(g >= DMA_GPA && g < DMA_GPA + DMA_BYTES).toBe(true);
    expect(new Set(gpas).size).toBe(sent.length);
    const bytes = sent.reduce((s, f) => s + f.length, 0);
    expect(a.counters).toMatchObject({ txQueued: 4, txPackets: 4, txBytes: bytes, txDoorbells: 1, irqTx: 1 });
    expect(b.counters).toMatchObject({ rxPackets: 4, rxBytes: bytes, irqRx: 1, rxDoorbells: 1, rxErrors: 0 });
    expect(a.txInFlight()).toBe(0);
    expect(host.nic.stats(1)).toMatchObject({ rxPackets: 4, rxDropped: 0 });
    // Interrupts went out as MSI-X messages and arrived posted: still zero exits.
    expect(host.guests[1]!.vcpus[0]!.interrupts).toBe(1);
    expect(host.guests.map((g) => totalExits(g.exits))).toEqual(exitsBefore);
    expect(host.msiBad).toEqual([]);
    // RDT moved once, to just behind the next descriptor to use.
    expect(host.nic.vfMmio(1).mmioRead(0, E1000_RDT(0), 4)).toBe(3);
  });

  it("every frame sent is received once, in order, or counted as dropped (random sizes and batches)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            sizes: fc.array(fc.integer({ min: 14, max: 1514 }), { minLength: 1, maxLength: 40 }),
            /** Poll VF1 by hand with this budget after the batch (0: leave it for later); else its interrupts do. */
            budget: fc.integer({ min: 0, max: 20 }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        fc.boolean(),
        (batches, byInterrupt) => {
          const { host, a, b, ra, got } = pair({ a: { txRing: 32 }, b: { rxRing: 16 } });
          const record = b.rxHandler!;
          if (!byInterrupt) b.rxHandler = null;
          const accepted: Uint8Array[] = [];
          let refused = 0;
          let seq = 0;
          for (const batch of batches) {
            for (const len of batch.sizes) {
              const f = frame(ADMIN_MAC_VF1, ra.mac, len, seq++);
              if (a.xmit(f, len)) accepted.push(f);
              else refused++;
            }
            a.kick();
            if (!byInterrupt && batch.budget > 0) b.pollRx(batch.budget, record);
          }
          while (b.pollRx(64, record) > 0);
          // Received: a subsequence of what was accepted, byte for byte, in order, none twice.
          let j = 0;
          for (const r of got) {
            while (j < accepted.length && !sameBytes(accepted[j]!, r)) j++;
            expect(j).toBeLessThan(accepted.length);
            j++;
          }
          const dropped = host.nic.stats(1).rxDropped;
          expect(got.length + dropped).toBe(accepted.length);
          expect(a.counters.txRingFull).toBe(refused);
          expect(a.counters.txPackets).toBe(accepted.length);
          expect(b.counters.rxPackets).toBe(got.length);
          expect(a.txInFlight()).toBe(0);
          for (const g of host.guests) expect(totalExits(g.exits)).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("write-backs it cannot trust are counted, skipped and re-posted, never handed up", () => {
    const { host, b, got } = pair();
    const g = host.guests[1]!;
    const L = planDma(DMA_GPA, 1, 64, 64, 2048);
    const ring = L.rxRing[0]!;
    const wb = (i: number, len: number, status: number): void => {
      g.write64n(ring + 16 * i, 0xbad0_0000); // a device may write anything here too
      g.write16(ring + 16 * i + 8, len);
      g.write8(ring + 16 * i + 12, status);
    };
    wb(0, 0xffff, E1000_RXD_STAT_DD | E1000_RXD_STAT_EOP); // longer than the buffer
    wb(1, 0, E1000_RXD_STAT_DD | E1000_RXD_STAT_EOP); // empty
    wb(2, 2048, E1000_RXD_STAT_DD); // a frame spanning buffers: 2 and 3
    wb(3, 100, E1000_RXD_STAT_DD | E1000_RXD_STAT_EOP);
    const seen: number[] = [];
    expect(b.pollRx(64, (_gpa, len) => seen.push(len))).toBe(4);
    expect(seen).toEqual([]);
    expect(got).toEqual([]);
    expect(b.counters.rxErrors).toBe(3);
    // A buffer posted for each descriptor taken, at next_to_use (slot 63, left empty at setup, then
    // 0..2), with the driver's own addresses and DD clear; RDT = next_to_use.
    for (const i of [63, 0, 1, 2]) {
      expect(g.read8(ring + 16 * i + 12)).toBe(0);
      expect(g.read64n(ring + 16 * i)).toBe(L.rxBufs[0]! + i * 2048);
    }
    expect(host.nic.vfMmio(1).mmioRead(0, E1000_RDT(0), 4)).toBe(3);
  });

  it("a batch larger than both rings: the sender refuses what does not fit, the NIC drops what VF1 has no buffer for", () => {
    const { host, a, ra, got } = pair({ a: { txRing: 32 }, b: { rxRing: 16 } });
    let accepted = 0;
    for (let i = 0; i < 40; i++) if (a.xmit(frame(ADMIN_MAC_VF1, ra.mac, 60, i), 60)) accepted++;
    a.kick();
    expect(accepted).toBe(31);
    expect(a.counters.txRingFull).toBe(9);
    expect(got).toHaveLength(15);
    expect(host.nic.stats(1)).toMatchObject({ rxPackets: 15, rxDropped: 16, drops: { "no-buffer": 16 } });
  });

  it("a full TX ring refuses, counts, and frees up when the device completes", () => {
    const { a, ra, got } = pair({ a: { txRing: 8 } });
    const f = (i: number): Uint8Array => frame(ADMIN_MAC_VF1, ra.mac, 100, i);
    for (let i = 0; i < 7; i++) expect(a.xmit(f(i), 100)).toBe(true);
    expect(a.xmit(f(7), 100)).toBe(false);
    expect(a.counters.txRingFull).toBe(1);
    expect(a.txInFlight()).toBe(7);
    // Nothing was handed to the device yet: reclaiming finds nothing.
    expect(a.reclaimTx()).toBe(0);
    expect(a.kick()).toBe(1);
    expect(a.kick()).toBe(0); // nothing new: no doorbell
    expect(got).toHaveLength(7);
    expect(a.txInFlight()).toBe(0); // the TX interrupt reclaimed
    // A frame needing more descriptors than are free is refused whole.
    const big = frame(ADMIN_MAC_VF1, ra.mac, 9000, 99);
    for (let i = 0; i < 5; i++) expect(a.xmit(f(10 + i), 100)).toBe(true);
    expect(a.xmit(big, big.length)).toBe(false); // needs 5 of 8, 2 free
    expect(a.counters.txRingFull).toBe(2);
    expect(a.xmit(f(0), 13)).toBe(false); // runt
    expect(a.counters.txInvalid).toBe(1);
  });

  it("polling without an RX handler: frames wait, pollRx takes them within budget, one RDT write per poll", () => {
    const { host, a, b, ra, got } = pair();
    b.rxHandler = null;
    for (let i = 0; i < 5; i++) a.xmit(frame(ADMIN_MAC_VF1, ra.mac, 64 + i, i), 64 + i);
    a.kick();
    expect(got).toHaveLength(0);
    expect(b.counters.irqRx).toBe(1);
    const lens: number[] = [];
    const on = (_gpa: number, len: number): void => {
      lens.push(len);
    };
    expect(b.pollRx(3, on)).toBe(3);
    expect(b.counters.rxDoorbells).toBe(1);
    expect(b.pollRx(10, on)).toBe(2);
    expect(b.pollRx(10, on)).toBe(0);
    expect(lens).toEqual([64, 65, 66, 67, 68]);
    expect(b.counters.rxDoorbells).toBe(2);
    expect(host.nic.vfMmio(1).mmioRead(0, E1000_RDT(0), 4)).toBe(4);
  });

  it("large frames: TX spreads one over several buffers, a jumbo-sized receiver gets it in one", () => {
    const { a, ra, b, got } = pair({ b: { bufSize: 10 * KiB, maxFrame: 9018 } });
    const f = frame(ADMIN_MAC_VF1, ra.mac, 5000, 5);
    expect(a.xmit(f, f.length)).toBe(true);
    expect(a.txInFlight()).toBe(3);
    a.kick();
    expect(got.map((x) => Array.from(x))).toEqual([Array.from(f)]);
    expect(a.counters).toMatchObject({ txPackets: 1, txBytes: 5000 });
    expect(b.counters.rxErrors).toBe(0);
  });

  it("a trapped BAR0 costs one exit per MMIO access: one per doorbell and per interrupt unmask", () => {
    const { host, a, b, ra } = pair({ host: { trapBar0: true } });
    const g0 = host.guests[0]!;
    const g1 = host.guests[1]!;
    const mm0 = g0.exits.mmio;
    const mm1 = g1.exits.mmio;
    const c0 = a.counters.mmioReads + a.counters.mmioWrites;
    const c1 = b.counters.mmioReads + b.counters.mmioWrites;
    for (let batch = 0; batch < 4; batch++) {
      for (let i = 0; i < 8; i++) a.xmit(frame(ADMIN_MAC_VF1, ra.mac, 200, batch * 8 + i), 200);
      a.kick();
    }
    // Sender: a TDT write and an EIMS unmask per batch; receiver: an RDT write and an unmask.
    expect(g0.exits.mmio - mm0).toBe(8);
    expect(g1.exits.mmio - mm1).toBe(8);
    expect(g0.exits.mmio - mm0).toBe(a.counters.mmioReads + a.counters.mmioWrites - c0);
    expect(g1.exits.mmio - mm1).toBe(b.counters.mmioReads + b.counters.mmioWrites - c1);
    expect(b.counters.rxPackets).toBe(32);
  });

  it("two queue pairs on three vectors share RX/TX vectors; every frame arrives, in order per TX→RX queue path", () => {
    const t2 = { ...T82576, queuePairsPerVf: 2 };
    const { host, a, b, ra, rb, got, gpas } = pair({ host: { template: t2 }, a: { queues: 2 }, b: { queues: 2 } });
    expect(ra).toMatchObject({ queues: 2, vectorsUsed: 3, vectorStyle: "paired" });
    expect(rb.queues).toBe(2);
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 40; i++) {
      // IPv4 frames with varying source addresses: the NIC's flow hash spreads them over both RX queues.
      const f = frame(ADMIN_MAC_VF1, ra.mac, 100, i);
      f[12] = 0x08;
      f[13] = 0x00;
      f[14] = 0x45;
      f[14 + 9] = 17;
      f[14 + 12] = 10;
      f[14 + 15] = i;
      sent.push(f);
      expect(a.xmit(f, f.length, i % 2)).toBe(true);
    }
    expect(a.kick()).toBe(2);
    expect(got).toHaveLength(40);
    const key = (x: Uint8Array): string => Array.from(x).join(",");
    expect(new Set(got.map(key))).toEqual(new Set(sent.map(key)));
    // Which RX queue took a frame shows in where its buffer is. Between one TX queue and one RX queue
    // the order is kept (TX queues are served one after the other, so not across them).
    const L = planDma(DMA_GPA, 2, 64, 64, 2048);
    const order = new Map(sent.map((f, i) => [key(f), i]));
    for (let q = 0; q < 2; q++) {
      const mine = got.filter((_, i) => gpas[i]! >= L.rxBufs[q]! && gpas[i]! < L.rxBufs[q]! + 64 * 2048).map((f) => order.get(key(f))!);
      expect(mine.length).toBeGreaterThan(0);
      for (const txq of [0, 1]) {
        const path = mine.filter((i) => i % 2 === txq);
        expect(path).toEqual([...path].sort((x, y) => x - y));
      }
    }
    expect(b.counters.irqRx).toBeGreaterThan(0);
    expect(host.nic.vfMmio(0).mmioRead(0, E1000_TDT(1), 4)).toBe(20);
  });
});

describe("VF driver link and mailbox events", () => {
  it("the PF's link-state message and STATUS.LU drive the carrier through the mailbox interrupt", () => {
    const { host, a, b } = pair();
    expect([a.linkUp, b.linkUp]).toEqual([true, true]);
    expect(a.counters.linkChanges).toBe(1); // carrier on at probe
    // The wire going down is the PF's interrupt, not the VF's: the VF sees it when it looks at STATUS.
    host.nic.setWireLink(false);
    expect(a.linkUp).toBe(true);
    expect(a.refreshLink()).toBe(false);
    host.nic.setWireLink(true);
    expect(a.refreshLink()).toBe(true);
    expect(a.counters.linkChanges).toBe(3);
    // The PF tells every VF over the mailbox; the misc vector brings the message in.
    host.nic.setWireLink(false);
    host.server.notifyLinkState(false, 0);
    expect([a.linkUp, b.linkUp]).toEqual([false, false]);
    expect(a.counters).toMatchObject({ irqMisc: 1, mailboxNotifications: 1, linkChanges: 4 });
    // The VF acked the message: the PF sees the ack at its next service.
    host.server.poll(host.now);
    expect(host.server.snapshotVf(0).awaitingAck).toBe(false);
    host.nic.setWireLink(true);
    host.server.notifyLinkState(true, 1000);
    expect([a.linkUp, b.linkUp]).toEqual([true, true]);
    expect(a.counters.linkChanges).toBe(5);
    for (const g of host.guests) expect(totalExits(g.exits)).toBe(0);
  });

  it("a reset request from the PF drops the carrier and is remembered", () => {
    const { host, a, b } = pair();
    host.server.requestVfReset(0);
    expect(a.resetRequired).toBe(true);
    expect(a.linkUp).toBe(false);
    expect(a.counters.resetRequests).toBe(1);
    expect(b.resetRequired).toBe(false);
    expect(a.refreshLink()).toBe(false);
  });

  it("remove() stops the queues, resets the function and gives back MSI-X and Bus Master", () => {
    const { host, a, ra, got } = pair();
    a.remove();
    expect(a.isUp).toBe(false);
    expect(host.cfgs[0]!.read(PCI_COMMAND, 2) & PCI_COMMAND_MASTER).toBe(0);
    expect(host.cfgs[0]!.read(VF_CAP_OFFSETS.msix + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_ENABLE).toBe(0);
    expect(a.xmit(frame(ADMIN_MAC_VF1, ra.mac, 60, 0), 60)).toBe(false);
    expect(got).toHaveLength(0);
    expect(() => a.probe()).toThrow(expect.objectContaining({ code: "EBUSY" }));
  });
});

function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
