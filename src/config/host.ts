/**
 * A simulated host built from a host file: the fabric with its NIC cards, enumeration, the IOMMU,
 * the hypervisor, and the host PF drivers (SR-IOV control and mailbox servers). Boot (boot.ts) drives
 * it step by step.
 */
import { readFileSync } from "node:fs";
import { IovError } from "../errors.js";
import { Fabric } from "../pcie/fabric.js";
import type { PciFunction } from "../pcie/function.js";
import { enumerate, type EnumerateResult } from "../pcie/enumerate.js";
import type { PcieSpeed, PcieWidth } from "../pcie/caps/pcie.js";
import { PCI_ACS_CR, PCI_ACS_RR, PCI_ACS_SV, PCI_ACS_UF } from "../pcie/caps/acs.js";
import { findCapability, findExtCapability } from "../pcie/capwalk.js";
import { parseDump } from "../pcie/dump.js";
import { formatBdf } from "../pcie/bdf.js";
import { Hypervisor, HOST_MAP } from "../hypervisor-glue/hypervisor.js";
import { VtdIommu } from "../hypervisor-glue/iommu/vtd.js";
import { IommuHost } from "../hypervisor-glue/iommu/host.js";
import { InterruptRouter } from "../hypervisor-glue/interrupts.js";
import { findTemplate } from "../nic/templates/catalog.js";
import { importDevice } from "../nic/templates/from-dump.js";
import { defaultVfPortConfig, type VfPortConfig } from "../nic/port-config.js";
import { MailboxServer } from "../pf-driver/mailbox-server.js";
import { E1000_CTRL_EXT, E1000_CTRL_EXT_PFRSTD } from "../nic/regs.js";
import { PfSriovDriver, type PfEnvironment } from "../pf-driver/sriov.js";
import { buildCard, type Card, type PfHw } from "./devices.js";
import type { DeviceSpec, HostFile } from "./types.js";
import type { Inventory } from "./assign.js";

/** ACS controls a root or downstream port with `acs: true` implements (and Linux enables). */
export const PORT_ACS_BITS = PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF;
const PCI_EXT_CAP_ID_ACS = 0x0d;
const PCI_CAP_ID_EXP = 0x10;
const PCI_EXP_DEVCTL2 = 0x28;
const PCI_EXP_DEVCTL2_ARI = 0x20;

/** Linux's driver for each PF device ID (what `lspci -k` would show), for bindings and netdev names. */
const PF_DRIVERS: Readonly<Record<string, string>> = { "8086:10c9": "igb", "8086:10fb": "ixgbe", "8086:1572": "i40e", "8086:1592": "ice", "15b3:1017": "mlx5_core" };
const VF_DRIVERS: Readonly<Record<string, string>> = { igb: "igbvf", ixgbe: "ixgbevf", i40e: "iavf", ice: "iavf", mlx5_core: "mlx5_core" };

/** A PF with its host driver state. */
export interface PfPort extends PfHw {
  readonly driver: PfSriovDriver;
  readonly server: MailboxServer;
  /** Administrator's per-VF settings (index = VF number). */
  readonly vfConfig: VfPortConfig[];
  readonly driverName: string;
  readonly vfDriverName: string;
  /** Predictable interface name (systemd): en p<bus> s<slot> f<function>. */
  netdev: string;
}

const speedNum = (s: string): PcieSpeed => Number.parseFloat(s) as PcieSpeed;

export class SimHost {
  readonly fabric = new Fabric();
  readonly hv: Hypervisor;
  readonly vtd: VtdIommu;
  readonly iommu: IommuHost;
  readonly router = new InterruptRouter();
  readonly cards: Card[] = [];
  readonly pfs: PfPort[] = [];
  enumeration: EnumerateResult | undefined;
  /** Kernel log (dmesg-like), in order. */
  readonly log: string[] = [];
  /** Frames that left the host on any uplink (wire), by card/port. */
  wireFrames = 0;

  constructor(readonly file: HostFile) {
    this.hv = new Hypervisor({ hostMemoryBytes: file.host.memoryBytes, cpus: file.host.cpus }, {
      memRead: (a, s) => this.fabric.memRead(a, s).value,
      memWrite: (a, s, v) => void this.fabric.memWrite(a, s, v),
    });
    this.vtd = new VtdIommu(this.hv.mem, {
      iotlbEntries: file.iommu.iotlbEntries,
      mgaw: file.iommu.addressWidth,
      interruptTarget: this.router,
    });
    this.iommu = new IommuHost(this.vtd, { tables: this.hv.priv });
    this.buildFabric();
  }

  private cardFor(spec: DeviceSpec, where: string): Card {
    const env = {
      mem: this.hv.mem,
      translator: this.vtd,
      msiSink: this.vtd.ir,
      vfHost: this.fabric,
      uplink: () => void this.wireFrames++,
    };
    if (spec.kind === "template") {
      const t = findTemplate(spec.template);
      if (t === undefined) throw new IovError("EINVAL", `${where}: unknown template ${spec.template}`, { input: true });
      return buildCard(`${t.name} at ${where}`, t, env);
    }
    let text: string;
    try {
      text = readFileSync(spec.dumpPath, "utf8");
    } catch (e) {
      throw new IovError("ENOENT", `${spec.dump}: ${(e as Error).message}`, { input: true });
    }
    const entries = parseDump(text, spec.dump);
    const entry = spec.function === undefined ? entries[0] : entries.find((x) => formatBdf(x.bdf) === spec.function);
    if (entry === undefined) throw new IovError("ENODEV", `${spec.dump}: no function ${spec.function ?? ""} in the dump`, { input: true });
    const imp = importDevice(entry.bytes, `${spec.dump}#${formatBdf(entry.bdf)}`);
    return buildCard(`${spec.dump} at ${where}`, imp.template, env, imp);
  }

  private buildFabric(): void {
    const f = this.file.fabric;
    for (const rp of f.rootPorts) {
      const port = this.fabric.addRootPort({
        devfn: rp.slot << 3,
        speed: speedNum(rp.link.speed),
        width: rp.link.width as PcieWidth,
        ...(rp.acs ? { acs: PORT_ACS_BITS } : {}),
        slot: { number: rp.slot },
      });
      if (rp.device !== undefined) this.plugCard(port, rp.device, `root port 00:${rp.slot.toString(16).padStart(2, "0")}.0`);
      if (rp.switch !== undefined) {
        const sw = this.fabric.addSwitch(port, rp.switch.ports.length, {
          upstream: { speed: speedNum(rp.switch.link.speed), width: rp.switch.link.width as PcieWidth },
          downstreamPorts: rp.switch.ports.map((dp) => ({
            speed: speedNum(dp.link.speed),
            width: dp.link.width as PcieWidth,
            ...(dp.acs ? { acs: PORT_ACS_BITS } : {}),
          })),
        });
        rp.switch.ports.forEach((dp, i) => {
          if (dp.device !== undefined) this.plugCard(sw.downstream[i]!, dp.device, `switch port ${i} below 00:${rp.slot.toString(16).padStart(2, "0")}.0`);
        });
      }
    }
    for (const ie of f.integrated) {
      const card = this.cardFor(ie.device, `integrated slot ${ie.slot}`);
      this.cards.push(card);
      this.fabric.addRciep(card.pfs.map((p) => p.fn), ie.slot);
    }
  }

  private plugCard(port: PciFunction, spec: DeviceSpec, where: string): void {
    const card = this.cardFor(spec, where);
    this.cards.push(card);
    this.fabric.plug(port, card.pfs.map((p) => p.fn));
  }

  /** Firmware/Linux enumeration, then the PF drivers probe (sriov_init) and their mailbox servers start. */
  enumerateAndProbe(): void {
    this.enumeration = enumerate(this.fabric, {
      mmio32: { base: HOST_MAP.mmio32Base, limit: HOST_MAP.mmio32Limit - 1 },
      mmio64: { base: HOST_MAP.mmio64Base, limit: HOST_MAP.mmio64Limit - 1 },
    });
    for (const card of this.cards) for (const hw of card.pfs) this.pfs.push(this.probePf(hw));
    this.iommu.init({ translate: this.file.iommu.enabled });
    if (this.file.iommu.enabled) this.iommu.interrupts.enable({ entries: 4096 });
  }

  private probePf(hw: PfHw): PfPort {
    const fn = hw.fn;
    hw.nic.setRequesterId("pf", fn.rid);
    const id = `${hw.template.vendorId.toString(16).padStart(4, "0")}:${hw.template.deviceId.toString(16).padStart(4, "0")}`;
    const driverName = PF_DRIVERS[id] ?? "pciov_pf";
    const vfConfig = Array.from({ length: hw.template.totalVfs }, () => defaultVfPortConfig());
    const env = this.pfEnv(fn, hw.port === 0);
    const driver = new PfSriovDriver(env);
    driver.probe();
    this.log.push(...driver.log.splice(0));
    const server = new MailboxServer(
      { pfRead: (o, s) => hw.mailbox.pfRead(o, s), pfWrite: (o, s, v) => hw.mailbox.pfWrite(o, s, v) },
      {
        numVfs: Math.max(1, Math.min(256, hw.template.totalVfs)),
        adminConfig: (vf) => vfConfig[vf] ?? defaultVfPortConfig(),
        nic: {
          // the VF already reset itself (that is what the server is told): only its filters go
          resetVf: (vf) => {
            hw.nic.setMacFilters(vf, []);
            hw.nic.setMulticast(vf, [], false);
            hw.nic.setVlanFilter(vf, []);
          },
          setVfUnicast: (vf, macs) => hw.nic.setMacFilters(vf, macs),
          setVfMulticast: (vf, macs, all) => hw.nic.setMulticast(vf, macs, all),
          setVfVlans: (vf, vids) => hw.nic.setVlanFilter(vf, vids),
          setVfMaxFrame: (vf, bytes) => hw.nic.setMaxFrame(vf, bytes),
        },
      },
    );
    server.start();
    // igb_probe: the PF driver signals "PF reset done" so that VF drivers may start (RSTD in every VF mailbox)
    const bar0 = this.pfBar0(fn);
    this.fabric.memWrite(bar0 + E1000_CTRL_EXT, 4, this.fabric.memRead(bar0 + E1000_CTRL_EXT, 4).value | E1000_CTRL_EXT_PFRSTD);
    const b = fn.bdf;
    const netdev = `enp${b.bus}s${b.dev}f${b.fn}`;
    return { ...hw, driver, server, vfConfig, driverName, vfDriverName: VF_DRIVERS[driverName] ?? "pciov_vf", netdev };
  }

  /** Host physical address of a PF's BAR0 as enumeration programmed it (pci_resource_start). */
  pfBar0(fn: PciFunction): number {
    const lo = fn.cfg.read(0x10, 4);
    const hi = (lo & 0x6) === 0x4 ? fn.cfg.read(0x14, 4) : 0;
    return hi * 2 ** 32 + ((lo & ~0xf) >>> 0);
  }

  /** What the PCI core tells a PF driver about its place (PfEnvironment). */
  private pfEnv(fn: PciFunction, lowestPf: boolean): PfEnvironment {
    const fabric = this.fabric;
    const bridge = fabric.parentBridge(fn);
    const cfg = {
      read: (o: number, s: 1 | 2 | 4) => fabric.cfgRead(fn.bus, fn.devfn, o, s),
      write: (o: number, s: 1 | 2 | 4, v: number) => void fabric.cfgWrite(fn.bus, fn.devfn, o, s, v),
    };
    const bridgeRead = (o: number, s: 1 | 2 | 4): number => (bridge === undefined ? 0 : fabric.cfgRead(bridge.bus, bridge.devfn, o, s));
    const exp = bridge === undefined ? 0 : findCapability(bridgeRead, PCI_CAP_ID_EXP);
    const self = this;
    return {
      cfg,
      get bdf() {
        return fn.bdfString;
      },
      get bus() {
        return fn.bus;
      },
      get devfn() {
        return fn.devfn;
      },
      get maxBus() {
        return bridge === undefined ? 0 : bridgeRead(0x1a, 1);
      },
      get ariForwarding() {
        return exp !== 0 && (bridgeRead(exp + PCI_EXP_DEVCTL2, 2) & PCI_EXP_DEVCTL2_ARI) !== 0;
      },
      lowestPf,
      iovResource(i: number) {
        const e = self.enumeration?.functions.find((x) => x.bus === fn.bus && x.devfn === fn.devfn);
        const r = e?.resources.find((x) => x.type === "iov" && x.index === i);
        return r === undefined || r.base < 0 ? undefined : { start: r.base, size: r.size };
      },
      hostPageSize: 4096,
      sleepNs: (ns: number) => this.tick(ns),
    };
  }

  /** Advance simulated time: the fabric clock, NIC timers, and the PF drivers' mailbox service. */
  tick(ns: number): void {
    this.fabric.advanceNs(ns);
    const now = this.fabric.nowNs();
    for (const p of this.pfs) {
      p.server.poll(now);
      p.nic.poll(now);
    }
  }

  pf(bdf: string): PfPort {
    const p = this.pfs.find((x) => x.fn.bdfString === bdf);
    if (p === undefined) throw new IovError("ENODEV", `no PF at ${bdf} (PFs: ${this.pfs.map((x) => x.fn.bdfString).join(", ") || "none"})`);
    return p;
  }

  /** What validation and assignment need to know about the built fabric. */
  inventory(): Inventory {
    return {
      pfs: this.pfs.map((p) => ({ bdf: p.fn.bdfString, vendorId: p.template.vendorId, vfDeviceId: p.template.vfDeviceId, totalVfs: p.template.totalVfs, vfMsixVectors: p.template.vfMsixVectors })),
      hostMemoryBytes: this.file.host.memoryBytes,
    };
  }

  /** ACS registers of a function (for IOMMU groups), read through config cycles. */
  acsOf(fn: PciFunction): { cap: number; ctrl: number } | undefined {
    const rd = (o: number, s: 1 | 2 | 4): number => fn.cfg.read(o, s);
    const pos = findExtCapability(rd, PCI_EXT_CAP_ID_ACS);
    if (pos === 0) return undefined;
    return { cap: rd(pos + 4, 2), ctrl: rd(pos + 6, 2) };
  }
}
