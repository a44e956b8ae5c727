/**
 * A Linux-like view of the simulated host for `pciov shell` and `pciov exec`: `lspci`, `cat`/`echo`
 * on sysfs (sriov_numvfs, sriov_totalvfs, sriov_offset, sriov_stride, sriov_vf_device, vendor, device,
 * class, iommu_group, physfn, virtfnN), `ls`, and `ip link show|set DEV vf N ...`, with Linux's
 * messages (bash's "echo: write error: ...", iproute2's errors).
 */
import { IovError, isIovError } from "../errors.js";
import type { SimHost, PfPort } from "../config/host.js";
import { ERRNO_TEXT } from "../pf-driver/sriov.js";
import { ipLinkSetVf, renderIpLinkShow, type VfShowEntry } from "../pf-driver/vf-knobs.js";
import { groupNodes } from "../config/boot.js";
import { computeGroups } from "../hypervisor-glue/groups.js";
import type { PciFunction } from "../pcie/function.js";
import { runLspci } from "./commands/lspci.js";

export interface ShellResult {
  stdout: string;
  stderr: string;
  code: number;
}

const hex4 = (n: number): string => `0x${n.toString(16).padStart(4, "0")}`;

/** Split a command line into words (double and single quotes, backslash escapes). */
export function splitWords(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let q: string | undefined;
  let any = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (q !== undefined) {
      if (c === q) q = undefined;
      else if (c === "\\" && q === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      q = c;
      any = true;
    } else if (c === "\\" && i + 1 < line.length) cur += line[++i];
    else if (c === " " || c === "\t") {
      if (cur !== "" || any) out.push(cur);
      cur = "";
      any = false;
    } else if (c === ">") {
      if (cur !== "" || any) out.push(cur);
      out.push(">");
      cur = "";
      any = false;
    } else cur += c;
  }
  if (cur !== "" || any) out.push(cur);
  return out;
}

export class HostShell {
  constructor(readonly host: SimHost) {}

  private fnByBdf(bdf: string): PciFunction | undefined {
    return this.host.fabric.functions().find((f) => f.bdfString === bdf);
  }
  private pfOf(fn: PciFunction): PfPort | undefined {
    return this.host.pfs.find((p) => p.fn === fn);
  }
  private netdev(name: string): PfPort | undefined {
    return this.host.pfs.find((p) => p.netdev === name);
  }

  /** Resolve a sysfs path to (function, attribute). */
  private sysfs(path: string): { fn: PciFunction; attr: string } | { dir: string[] } | undefined {
    const p = path.replace(/\/+$/, "");
    if (p === "/sys/bus/pci/devices") return { dir: this.host.fabric.functions().map((f) => f.bdfString).sort() };
    let m = /^\/sys\/bus\/pci\/devices\/([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])(?:\/([A-Za-z0-9_]+))?$/.exec(p);
    if (m === null) {
      const n = /^\/sys\/class\/net\/([^/]+)\/device(?:\/([A-Za-z0-9_]+))?$/.exec(p);
      if (n !== null) {
        const pf = this.netdev(n[1]!);
        if (pf === undefined) return undefined;
        m = ["", pf.fn.bdfString, n[2]!] as unknown as RegExpExecArray;
      } else if (p === "/sys/class/net") return { dir: this.host.pfs.map((x) => x.netdev) };
      else return undefined;
    }
    const fn = this.fnByBdf(m[1]!);
    if (fn === undefined) return undefined;
    if (m[2] === undefined) return { dir: this.attrs(fn) };
    return { fn, attr: m[2] };
  }

  private attrs(fn: PciFunction): string[] {
    const base = ["class", "config", "device", "iommu_group", "vendor"];
    const pf = this.pfOf(fn);
    if (pf !== undefined) {
      base.push("sriov_drivers_autoprobe", "sriov_numvfs", "sriov_offset", "sriov_stride", "sriov_totalvfs", "sriov_vf_device");
      pf.sriov.vfs.forEach((_, k) => base.push(`virtfn${k}`));
    }
    if (fn.physfn !== undefined) base.push("physfn");
    return base.sort();
  }

  private read(fn: PciFunction, attr: string): string {
    const pf = this.pfOf(fn);
    const owner = this.host.pfs.find((p) => p.sriov.vfs.includes(fn));
    switch (attr) {
      case "vendor":
        return hex4(owner?.template.vendorId ?? fn.cfg.read(0, 2));
      case "device":
        return hex4(owner?.template.vfDeviceId ?? fn.cfg.read(2, 2));
      case "class":
        return `0x${(fn.cfg.read(8, 4) >>> 8).toString(16).padStart(6, "0")}`;
      case "iommu_group": {
        const { nodes, byFn } = groupNodes(this.host);
        const g = computeGroups(nodes).groupOf.get(byFn.get(fn)!);
        return `../../../../kernel/iommu_groups/${g?.id ?? "?"}`;
      }
      case "physfn":
        if (fn.physfn !== undefined) return `../${fn.physfn.bdfString}`;
        break;
    }
    if (pf !== undefined) {
      switch (attr) {
        case "sriov_totalvfs":
          return String(pf.driver.info?.totalVfs ?? 0);
        case "sriov_numvfs":
          return String(pf.driver.enabledVfs);
        case "sriov_offset":
          return String(pf.sriov.offset);
        case "sriov_stride":
          return String(pf.sriov.stride);
        case "sriov_vf_device":
          return (pf.driver.info?.vfDeviceId ?? 0).toString(16);
        case "sriov_drivers_autoprobe":
          return "1";
      }
      const v = /^virtfn(\d+)$/.exec(attr);
      if (v !== null && pf.sriov.vfs[Number(v[1])] !== undefined) return `../${pf.sriov.vfs[Number(v[1])]!.bdfString}`;
    }
    throw new IovError("ENOENT", `${attr}: No such file or directory`);
  }

  private write(fn: PciFunction, attr: string, value: string): void {
    const pf = this.pfOf(fn);
    if (pf !== undefined && attr === "sriov_numvfs") {
      pf.driver.writeNumVfs(value);
      this.host.log.push(...pf.driver.log.splice(0));
      return;
    }
    if (pf !== undefined && attr === "sriov_drivers_autoprobe") return;
    throw new IovError("EPERM", `${attr}: Permission denied`, { errno: "EACCES" });
  }

  private ipLink(args: string[]): ShellResult {
    let stats = false;
    while (args[0] === "-s" || args[0] === "-d") {
      if (args[0] === "-s") stats = true;
      args.shift();
    }
    if (args[0] !== "link") return { stdout: "", stderr: `Object "${args[0] ?? ""}" is unknown, try "ip help".\n`, code: 255 };
    const verb = args[1] ?? "show";
    if (verb === "show" || verb === "list" || verb === "ls") {
      const name = args[2] === "dev" ? args[3] : args[2];
      const pfs = name === undefined ? this.host.pfs : this.host.pfs.filter((p) => p.netdev === name);
      if (name !== undefined && pfs.length === 0) return { stdout: "", stderr: `Device "${name}" does not exist.\n`, code: 1 };
      const out = pfs
        .map((p) => {
          const idx = this.host.pfs.indexOf(p) + 2;
          const entries: VfShowEntry[] = p.sriov.vfs.map((_, k) => {
            const s = p.nic.stats(k);
            return {
              config: p.vfConfig[k]!,
              stats: { rxPackets: s.rxPackets, txPackets: s.txPackets, rxBytes: s.rxBytes, txBytes: s.txBytes, broadcast: s.rxBroadcast, multicast: s.rxMulticast, rxDropped: s.rxDropped, txDropped: s.txDropped },
            };
          });
          const mac = 0x001b21000000 + idx;
          return renderIpLinkShow({ ifindex: idx, name: p.netdev, flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], mtu: 1500, qdisc: "mq", state: "UP", mac, qlen: 1000 }, entries, { stats });
        })
        .join("");
      return { stdout: out, stderr: "", code: 0 };
    }
    if (verb === "set") {
      const rest = args.slice(2);
      if (rest[0] === "dev") rest.shift();
      const name = rest.shift();
      const p = name === undefined ? undefined : this.netdev(name);
      if (p === undefined) return { stdout: "", stderr: `Cannot find device "${name ?? ""}"\n`, code: 1 };
      const cur = p.vfConfig.slice(0, Math.max(1, p.driver.enabledVfs));
      try {
        const next = ipLinkSetVf(p.driver.enabledVfs === 0 ? [] : cur, rest, { linkSpeedMbps: p.template.ethRateBps / 1e6 });
        next.forEach((c, k) => {
          if (JSON.stringify(c) !== JSON.stringify(p.vfConfig[k])) {
            p.vfConfig[k] = c;
            p.nic.setVfConfig(k, c);
            if (c.mac !== cur[k]!.mac || c.vlan !== cur[k]!.vlan) p.server.requestVfReset(k);
          }
        });
        return { stdout: "", stderr: "", code: 0 };
      } catch (e) {
        const text = isIovError(e) ? ((e.detail as { stderr?: string }).stderr ?? e.message) : String(e);
        return { stdout: "", stderr: text.endsWith("\n") ? text : `${text}\n`, code: 2 };
      }
    }
    return { stdout: "", stderr: `Command "${verb}" is unknown, try "ip link help".\n`, code: 255 };
  }

  /** Run one command line. */
  async run(line: string): Promise<ShellResult> {
    const w = splitWords(line.trim());
    if (w.length === 0) return { stdout: "", stderr: "", code: 0 };
    const cmd = w[0]!;
    try {
      switch (cmd) {
        case "lspci": {
          const o: Parameters<typeof runLspci>[0] = { verbose: 0, hex: 0, numeric: 0 };
          for (let i = 1; i < w.length; i++) {
            const a = w[i]!;
            if (a === "-s" || a === "-F") {
              const v = w[++i];
              if (v === undefined) return { stdout: "", stderr: `lspci: option requires an argument -- '${a.slice(1)}'\n`, code: 2 };
              if (a === "-s") o.slot = v;
              else o.file = v;
            } else if (a === "--json") o.json = true;
            else if (/^-[tvxnD]+$/.test(a))
              for (const c of a.slice(1)) {
                if (c === "t") o.tree = true;
                else if (c === "v") o.verbose = (o.verbose ?? 0) + 1;
                else if (c === "x") o.hex = (o.hex ?? 0) + 1;
                else if (c === "n") o.numeric = (o.numeric ?? 0) + 1;
                else o.domains = true;
              }
            else return { stdout: "", stderr: `lspci: invalid option -- '${a.replace(/^-+/, "")}'\n`, code: 2 };
          }
          const out = o.file !== undefined ? await runLspci(o, undefined) : await this.lspciHere(o);
          return { stdout: out.endsWith("\n") || out === "" ? out : out + "\n", stderr: "", code: 0 };
        }
        case "cat": {
          let out = "";
          let err = "";
          for (const path of w.slice(1)) {
            const r = this.sysfs(path);
            if (r === undefined) err += `cat: ${path}: No such file or directory\n`;
            else if ("dir" in r) err += `cat: ${path}: Is a directory\n`;
            else {
              try {
                out += `${this.read(r.fn, r.attr)}\n`;
              } catch {
                err += `cat: ${path}: No such file or directory\n`;
              }
            }
          }
          return { stdout: out, stderr: err, code: err === "" ? 0 : 1 };
        }
        case "ls": {
          const r = this.sysfs(w[1] ?? "/sys/bus/pci/devices");
          if (r === undefined || !("dir" in r)) return { stdout: "", stderr: `ls: cannot access '${w[1] ?? ""}': No such file or directory\n`, code: 2 };
          return { stdout: r.dir.join("\n") + "\n", stderr: "", code: 0 };
        }
        case "echo": {
          const gt = w.indexOf(">");
          if (gt < 0) return { stdout: w.slice(1).join(" ") + "\n", stderr: "", code: 0 };
          const value = w.slice(1, gt).join(" ");
          const path = w[gt + 1];
          const r = path === undefined ? undefined : this.sysfs(path);
          if (r === undefined || "dir" in r) return { stdout: "", stderr: `bash: ${path ?? ""}: No such file or directory\n`, code: 1 };
          try {
            this.write(r.fn, r.attr, `${value}\n`);
            return { stdout: "", stderr: "", code: 0 };
          } catch (e) {
            const errno = isIovError(e) ? ((e.detail as { errno?: string }).errno ?? e.code) : "EIO";
            return { stdout: "", stderr: `bash: echo: write error: ${ERRNO_TEXT[errno] ?? errno}\n`, code: 1 };
          }
        }
        case "ip":
          return this.ipLink(w.slice(1));
        case "dmesg":
          return { stdout: this.host.log.map((l) => `[pciov] ${l}`).join("\n") + (this.host.log.length > 0 ? "\n" : ""), stderr: "", code: 0 };
        case "help":
          return {
            stdout:
              "commands: lspci [-t] [-v...] [-x...] [-n...] [-s SLOT] [-F FILE] [--json]; cat PATH; echo VALUE > PATH; ls PATH;\n" +
              "          ip [-s] link show [DEV]; ip link set DEV vf N KNOB VALUE...; dmesg; exit\n" +
              "paths:    /sys/bus/pci/devices/BDF/{sriov_numvfs,sriov_totalvfs,sriov_offset,sriov_stride,sriov_vf_device,vendor,device,class,iommu_group,physfn,virtfnN}\n" +
              "          /sys/class/net/DEV/device/... (DEV from `ip link show`)\n",
            stderr: "",
            code: 0,
          };
        default:
          return { stdout: "", stderr: `pciov: ${cmd}: command not found\n`, code: 127 };
      }
    } catch (e) {
      return { stdout: "", stderr: `${cmd}: ${e instanceof Error ? e.message : String(e)}\n`, code: isIovError(e) && (e.detail as { input?: boolean }).input === true ? 2 : 1 };
    }
  }

  private async lspciHere(o: Parameters<typeof runLspci>[0]): Promise<string> {
    return runLspci({ ...o }, undefined, this.host);
  }
}
