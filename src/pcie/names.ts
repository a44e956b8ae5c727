/**
 * A tiny PCI ID database for the devices pciov models, and the lspci-style name lookups built on it.
 * Names are those of the public pci.ids database (https://pci-ids.ucw.cz); anything not listed
 * falls back the way lspci does when its database has no entry ("Device 10c9", "Class ff00").
 */

/** Vendor ID → vendor name. */
export const PCI_VENDOR_NAMES: ReadonlyMap<number, string> = new Map([
  [0x8086, "Intel Corporation"],
  [0x15b3, "Mellanox Technologies"],
  [0x1af4, "Red Hat, Inc."],
  [0x1b36, "Red Hat, Inc."],
]);

/** (vendor << 16 | device) → device name. */
export const PCI_DEVICE_NAMES: ReadonlyMap<number, string> = new Map([
  // Intel NICs pciov models (src/nic/templates/catalog.ts)
  [0x808610c9, "82576 Gigabit Network Connection"],
  [0x808610ca, "82576 Virtual Function"],
  [0x808610fb, "82599ES 10-Gigabit SFI/SFP+ Network Connection"],
  [0x808610ed, "82599 Ethernet Controller Virtual Function"],
  [0x80861572, "Ethernet Controller X710 for 10GbE SFP+"],
  [0x8086154c, "Ethernet Virtual Function 700 Series"],
  [0x80861592, "Ethernet Controller E810-C for QSFP"],
  [0x80861889, "Ethernet Adaptive Virtual Function"],
  // Mellanox ConnectX-5
  [0x15b31017, "MT27800 Family [ConnectX-5]"],
  [0x15b31018, "MT27800 Family [ConnectX-5 Virtual Function]"],
  // The bridges pciov builds its fabrics from (QEMU's generic PCIe root port and host bridge)
  [0x1b36000c, "QEMU PCIe Root port"],
  [0x1b360008, "QEMU PCIe Host bridge"],
  // virtio devices (what a paravirtual backend exposes, and what this machine has)
  [0x1af41041, "Virtio 1.0 network device"],
  [0x1af41042, "Virtio 1.0 block device"],
  [0x1af41043, "Virtio 1.0 console"],
  [0x1af41044, "Virtio 1.0 RNG"],
  [0x1af41045, "Virtio 1.0 memory balloon"],
  [0x1af41053, "Virtio 1.0 socket"],
]);

/** Base class → name. */
export const PCI_BASE_CLASS_NAMES: ReadonlyMap<number, string> = new Map([
  [0x00, "Unclassified device"],
  [0x01, "Mass storage controller"],
  [0x02, "Network controller"],
  [0x03, "Display controller"],
  [0x04, "Multimedia controller"],
  [0x05, "Memory controller"],
  [0x06, "Bridge"],
  [0x07, "Communication controller"],
  [0x08, "Generic system peripheral"],
  [0x09, "Input device controller"],
  [0x0a, "Docking station"],
  [0x0b, "Processor"],
  [0x0c, "Serial bus controller"],
  [0x0d, "Wireless controller"],
  [0x0e, "Intelligent controller"],
  [0x0f, "Satellite communications controller"],
  [0x10, "Encryption controller"],
  [0x11, "Signal processing controller"],
  [0x12, "Processing accelerators"],
  [0x13, "Non-Essential Instrumentation"],
  [0x40, "Coprocessor"],
  [0xff, "Unassigned class"],
]);

/** (base << 8 | subclass) → name. */
export const PCI_CLASS_NAMES: ReadonlyMap<number, string> = new Map([
  [0x0000, "Non-VGA unclassified device"],
  [0x0100, "SCSI storage controller"],
  [0x0101, "IDE interface"],
  [0x0104, "RAID bus controller"],
  [0x0106, "SATA controller"],
  [0x0108, "Non-Volatile memory controller"],
  [0x0180, "Mass storage controller"],
  [0x0200, "Ethernet controller"],
  [0x0207, "Infiniband controller"],
  [0x0280, "Network controller"],
  [0x0300, "VGA compatible controller"],
  [0x0302, "3D controller"],
  [0x0380, "Display controller"],
  [0x0500, "RAM memory"],
  [0x0502, "CXL"],
  [0x0580, "Memory controller"],
  [0x0600, "Host bridge"],
  [0x0601, "ISA bridge"],
  [0x0604, "PCI bridge"],
  [0x0680, "Bridge"],
  [0x0700, "Serial controller"],
  [0x0800, "PIC"],
  [0x0806, "IOMMU"],
  [0x0880, "System peripheral"],
  [0x0c03, "USB controller"],
  [0x0c05, "SMBus"],
  [0x1200, "Processing accelerators"],
]);

/** (base << 16 | subclass << 8 | prog-if) → programming interface name. */
export const PCI_PROGIF_NAMES: ReadonlyMap<number, string> = new Map([
  [0x010601, "AHCI 1.0"],
  [0x010802, "NVM Express"],
  [0x050210, "CXL Memory Device (CXL 2.x)"],
  [0x060400, "Normal decode"],
  [0x060401, "Subtractive decode"],
  [0x080000, "8259"],
  [0x0c0330, "XHCI"],
]);

/** Subsystem names: (vendor, device, subvendor, subdevice) packed as a string key. */
export const PCI_SUBSYSTEM_NAMES: ReadonlyMap<string, string> = new Map([
  ["8086:10c9:8086:a03c", "Gigabit ET Dual Port Server Adapter"],
]);

const hex4 = (n: number): string => n.toString(16).padStart(4, "0");

/** How IDs are shown: names only (default), numbers only (`lspci -n`), or both (`lspci -nn`). */
export type IdStyle = "names" | "numeric" | "both";

export function vendorName(vendor: number): string | undefined {
  return PCI_VENDOR_NAMES.get(vendor);
}

export function deviceName(vendor: number, device: number): string | undefined {
  return PCI_DEVICE_NAMES.get(vendor * 0x10000 + device);
}

/** lspci's class column: "Ethernet controller", "Unassigned class [ff00]", "Class 1234". */
export function classText(cls16: number, style: IdStyle): string {
  const code = hex4(cls16);
  if (style === "numeric") return code;
  const sub = PCI_CLASS_NAMES.get(cls16);
  if (sub !== undefined) return style === "both" ? `${sub} [${code}]` : sub;
  const base = PCI_BASE_CLASS_NAMES.get(cls16 >> 8);
  if (base !== undefined) return `${base} [${code}]`;
  return style === "both" ? `Class [${code}]` : `Class ${code}`;
}

/** lspci's "Vendor Device" column: "Intel Corporation 82576 ...", "Intel Corporation Device 0d93", "Device 1234:5678". */
export function vendorDeviceText(vendor: number, device: number, style: IdStyle): string {
  const ids = `${hex4(vendor)}:${hex4(device)}`;
  if (style === "numeric") return ids;
  const v = vendorName(vendor);
  const d = deviceName(vendor, device);
  let text: string;
  if (v === undefined) text = style === "both" ? "Device" : `Device ${ids}`;
  else text = `${v} ${d ?? (style === "both" ? "Device" : `Device ${hex4(device)}`)}`;
  return style === "both" ? `${text} [${ids}]` : text;
}

/** lspci's "Subsystem:" text. A subsystem equal to the device itself takes the device's name. */
export function subsystemText(vendor: number, device: number, subVendor: number, subDevice: number, style: IdStyle): string {
  const ids = `${hex4(subVendor)}:${hex4(subDevice)}`;
  if (style === "numeric") return ids;
  const v = vendorName(subVendor);
  let d = PCI_SUBSYSTEM_NAMES.get(`${hex4(vendor)}:${hex4(device)}:${ids}`);
  if (d === undefined && subVendor === vendor && subDevice === device) d = deviceName(vendor, device);
  let text: string;
  if (v === undefined) text = style === "both" ? "Device" : `Device ${ids}`;
  else text = `${v} ${d ?? (style === "both" ? "Device" : `Device ${hex4(subDevice)}`)}`;
  return style === "both" ? `${text} [${ids}]` : text;
}

/** Programming-interface name, if the database has one. */
export function progIfName(cls16: number, progIf: number): string | undefined {
  return PCI_PROGIF_NAMES.get(cls16 * 0x100 + progIf);
}

/**
 * The database above in pci.ids format, so that lspci can be run against exactly the names pciov
 * knows (`lspci -i FILE`) and its output compared line for line with ours.
 */
export function toPciIds(): string {
  const out: string[] = [];
  const vendors = [...PCI_VENDOR_NAMES.keys()].sort((a, b) => a - b);
  for (const v of vendors) {
    out.push(`${hex4(v)}  ${PCI_VENDOR_NAMES.get(v) ?? ""}`);
    const devs = [...PCI_DEVICE_NAMES.keys()].filter((k) => Math.floor(k / 0x10000) === v).sort((a, b) => a - b);
    for (const k of devs) {
      const d = k % 0x10000;
      out.push(`\t${hex4(d)}  ${PCI_DEVICE_NAMES.get(k) ?? ""}`);
      for (const [sk, sn] of PCI_SUBSYSTEM_NAMES) {
        const [sv, sd, ssv, ssd] = sk.split(":");
        if (parseInt(sv ?? "", 16) === v && parseInt(sd ?? "", 16) === d) out.push(`\t\t${ssv} ${ssd}  ${sn}`);
      }
    }
  }
  const bases = [...PCI_BASE_CLASS_NAMES.keys()].sort((a, b) => a - b);
  for (const b of bases) {
    out.push(`C ${b.toString(16).padStart(2, "0")}  ${PCI_BASE_CLASS_NAMES.get(b) ?? ""}`);
    const subs = [...PCI_CLASS_NAMES.keys()].filter((k) => k >> 8 === b).sort((x, y) => x - y);
    for (const s of subs) {
      out.push(`\t${(s & 0xff).toString(16).padStart(2, "0")}  ${PCI_CLASS_NAMES.get(s) ?? ""}`);
      for (const [pk, pn] of [...PCI_PROGIF_NAMES].filter(([k]) => k >> 8 === s).sort((x, y) => x[0] - y[0]))
        out.push(`\t\t${(pk & 0xff).toString(16).padStart(2, "0")}  ${pn}`);
    }
  }
  return out.join("\n") + "\n";
}
