import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseHostFile } from "../../../src/config/parse.js";
import { validateHostFile, type Inventory } from "../../../src/config/validate.js";
import { formatIssue } from "../../../src/config/issues.js";
import { BAD, GiB, INVENTORY, issuesOf, readFixture } from "./hostfiles.js";

/**
 * Every file under tests/fixtures/hostfiles/bad with the exact messages it must produce.
 * stage "parse": parseHostFile throws a ConfigError with exactly these issues.
 * stage "inventory": the file parses, and validateHostFile(file, inventory) returns exactly these.
 */
interface BadCase {
  readonly file: string;
  readonly stage: "parse" | "inventory";
  readonly inventory?: Inventory;
  readonly expected: readonly string[];
}

const CASES: readonly BadCase[] = [
  {
    file: "alias-missing.yaml",
    stage: "parse",
    expected: [
      "alias-missing.yaml:1:17: host.memory: expected an alias to an anchor defined earlier, found *mem",
    ],
  },
  {
    file: "bad-bdf.yaml",
    stage: "parse",
    expected: [
      "bad-bdf.yaml:3:9: pfs[0].pf: expected a PCI address like 0000:01:00.0, found \"0000:01:00.9\"",
      "bad-bdf.yaml:5:9: pfs[1].pf: expected a PCI address like 0000:01:00.0, found \"01:20.0\" (device number 0x20 is above 0x1f)",
      "bad-bdf.yaml:11:13: guests[0].nics[0].pf: expected a PCI address like 0000:01:00.0, found \"eth0\"",
      "bad-bdf.yaml:12:13: guests[0].nics[1].vf: expected a VF like 0000:01:00.0#3, found \"0000:01:00.0\" (missing #index)",
      "bad-bdf.yaml:15:20: pools[0].match.pf[0]: expected a PCI address like 0000:01:00.0, optionally with VFs like 0000:01:00.0#0-3, found \"0000:01:00.0#x\"",
    ],
  },
  {
    file: "bad-mac.yaml",
    stage: "parse",
    expected: [
      "bad-mac.yaml:7:14: pfs[0].vfs[0].mac: expected a unicast MAC like 52:54:00:12:34:56, found \"52:54:00:00:01\"",
      "bad-mac.yaml:9:14: pfs[0].vfs[1].mac: expected a unicast MAC like 52:54:00:12:34:56, found \"01:00:5e:00:00:01\" (multicast bit set)",
      "bad-mac.yaml:11:14: pfs[0].vfs[2].mac: expected a unicast MAC like 52:54:00:12:34:56, found \"00:00:00:00:00:00\" (leave mac out to let the VF choose)",
      "bad-mac.yaml:13:14: pfs[0].vfs[3].mac: expected a unicast MAC like 52:54:00:12:34:56, found \"52-54-00-00-01-03\"",
    ],
  },
  {
    file: "bad-size.yaml",
    stage: "parse",
    expected: [
      "bad-size.yaml:1:17: host.memory: expected a size like 2GiB, found \"64GB\" (sizes are binary: did you mean 64GiB?)",
      "bad-size.yaml:6:13: guests[1].memory: expected a size like 2GiB, found \"lots\"",
      "bad-size.yaml:8:13: guests[2].memory: expected a non-zero multiple of 4KiB, found 1000",
    ],
  },
  {
    file: "bad-vf-range.yaml",
    stage: "parse",
    expected: [
      "bad-vf-range.yaml:6:13: pfs[0].vfs[0].vf: expected VF indices like 3, 1-3 or 0,2-5, found \"3-1\" (range 3-1 ends below its start)",
      "bad-vf-range.yaml:8:13: pfs[0].vfs[1].vf: expected VF indices like 3, 1-3 or 0,2-5, found \"0,,2\" (empty item)",
      "bad-vf-range.yaml:10:13: pfs[0].vfs[2].vf: expected VF indices like 3, 1-3 or 0,2-5, found \"1-2,2\" (VF 2 is listed twice)",
      "bad-vf-range.yaml:12:13: pfs[0].vfs[3].vf: expected VF indices like 3, 1-3 or 0,2-5, found -1",
      "bad-vf-range.yaml:19:14: guests[0].nics[0].vfs: expected VF indices like 3, 1-3 or 0,2-5, found \"a-b\"",
    ],
  },
  {
    file: "duplicate-guest-names.yaml",
    stage: "parse",
    expected: [
      "duplicate-guest-names.yaml:7:11: guests[2].name: expected a name no other guest has, found \"vm1\", already used by guests[0].name at duplicate-guest-names.yaml:3:11",
    ],
  },
  {
    file: "duplicate-macs.yaml",
    stage: "parse",
    expected: [
      "duplicate-macs.yaml:12:14: pfs[1].vfs[0].mac: expected a MAC no other VF has, found 52:54:00:00:01:00, already given to 0000:01:00.0#0 by pfs[0].vfs[0].mac at duplicate-macs.yaml:7:14",
    ],
  },
  {
    file: "duplicate-slots.yaml",
    stage: "parse",
    expected: [
      "duplicate-slots.yaml:6:13: fabric.rootPorts[1].slot: expected a slot no other port or endpoint uses, found 1, already used by fabric.rootPorts[0].slot at duplicate-slots.yaml:4:13",
      "duplicate-slots.yaml:9:13: fabric.integrated[0].slot: expected a slot no other port or endpoint uses, found 1, already used by fabric.rootPorts[0].slot at duplicate-slots.yaml:4:13",
    ],
  },
  {
    file: "empty.yaml",
    stage: "parse",
    expected: [
      "empty.yaml:1:1: expected a mapping with at least a host key, found an empty file",
    ],
  },
  {
    file: "fabric-shape.yaml",
    stage: "parse",
    expected: [
      "fabric-shape.yaml:4:13: fabric.rootPorts[0].slot: expected an integer from 1 to 31, found 32",
      "fabric-shape.yaml:5:22: fabric.rootPorts[0].link.speed: expected one of 2.5GT/s, 5GT/s, 8GT/s, 16GT/s, 32GT/s, found \"8GTs\" (did you mean \"8GT/s\"?)",
      "fabric-shape.yaml:5:35: fabric.rootPorts[0].link.width: expected one of 1, 2, 4, 8, 16, found 3",
      "fabric-shape.yaml:6:27: fabric.rootPorts[0].device.template: expected a NIC template (one of intel-82576, intel-82599, intel-x710, intel-e810, mlx-cx5), found \"intel-82567\" (did you mean \"intel-82576\"?)",
      "fabric-shape.yaml:7:15: fabric.rootPorts[0].switch: expected either device or switch below a root port, found both (device at line 6)",
      "fabric-shape.yaml:9:24: fabric.rootPorts[1].switch.ports: expected a list of 1 to 32 downstream ports, found 0",
      "fabric-shape.yaml:11:15: fabric.rootPorts[2].device: expected exactly one of template or dump, found both",
      "fabric-shape.yaml:13:15: fabric.rootPorts[3].device: expected exactly one of template or dump, found neither",
    ],
  },
  {
    file: "guests-exceed-host-memory.yaml",
    stage: "parse",
    expected: [
      "guests-exceed-host-memory.yaml:8:13: guests[2].memory: expected the guests' memory to fit in the host's 8GiB, found 9GiB with this guest (vm1 4GiB + vm2 3GiB + vm3 2GiB)",
    ],
  },
  {
    file: "guests-exceed-inventory-memory.yaml",
    stage: "inventory",
    inventory: { ...INVENTORY, hostMemoryBytes: 56 * GiB },
    expected: [
      "guests-exceed-inventory-memory.yaml:6:13: guests[1].memory: expected the guests' memory to fit in the host's 56GiB, found 60GiB with this guest (big 48GiB + bigger 12GiB)",
    ],
  },
  {
    file: "iommu-disabled.yaml",
    stage: "parse",
    expected: [
      "iommu-disabled.yaml:3:12: iommu.enabled: expected true, since guests vm1, vm3 are given VFs and VFIO assigns devices only behind an IOMMU, found false",
    ],
  },
  {
    file: "missing-key.yaml",
    stage: "parse",
    expected: [
      "missing-key.yaml:1:7: host: missing key \"memory\" (expected a size like 2GiB)",
      "missing-key.yaml:3:5: guests[0]: missing key \"memory\" (expected a size like 2GiB)",
    ],
  },
  {
    file: "multiple-documents.yaml",
    stage: "parse",
    expected: [
      "multiple-documents.yaml:2:1: YAML syntax error: expected one document, found a second one",
    ],
  },
  {
    file: "nic-shape.yaml",
    stage: "parse",
    expected: [
      "nic-shape.yaml:8:9: guests[0].nics[0]: expected exactly one of vf, pf or pool, found vf and pool",
      "nic-shape.yaml:9:9: guests[0].nics[1]: expected exactly one of vf, pf or pool, found none",
      "nic-shape.yaml:10:28: guests[0].nics[2].vfs: expected vfs only together with pf, found it with pool",
    ],
  },
  {
    file: "not-a-mapping.yaml",
    stage: "parse",
    expected: [
      "not-a-mapping.yaml:1:1: expected a mapping of host, iommu, fabric, pfs, pools, guests, found a list",
    ],
  },
  {
    // E810 VFs take 17 MSI-X vectors each: ten fit a guest's 176 (0x40..0xef), the eleventh does not
    file: "guest-out-of-vectors.yaml",
    stage: "inventory",
    expected: [
      "guest-out-of-vectors.yaml:19:15: guests[0].nics[10].vf: expected NICs whose MSI-X vectors fit guest big's 176 interrupt vectors (0x40..0xef), found 187 with this one (17 per VF of 0000:04:00.0)",
    ],
  },
  {
    file: "overlapping-pools.yaml",
    stage: "inventory",
    expected: [
      "overlapping-pools.yaml:9:12: pools[1].match: expected no VF in two pools that guests draw from, found 0000:01:00.0#0-3 also in pool \"all-intel\" (pools[0] at overlapping-pools.yaml:6:5)",
    ],
  },
  {
    file: "pf-does-not-exist.yaml",
    stage: "inventory",
    expected: [
      "pf-does-not-exist.yaml:5:9: pfs[1].pf: expected one of the fabric's SR-IOV PFs (0000:00:04.0, 0000:01:00.0, 0000:04:00.0, 0000:05:00.0), found 0000:07:00.0",
      "pf-does-not-exist.yaml:9:34: pools[0].match.pf[1]: expected one of the fabric's SR-IOV PFs (0000:00:04.0, 0000:01:00.0, 0000:04:00.0, 0000:05:00.0), found 0000:06:00.0",
    ],
  },
  {
    file: "pool-exhausted.yaml",
    stage: "inventory",
    expected: [
      "pool-exhausted.yaml:16:21: guests[1].nics[0].pool: expected a free VF in pool \"fast\" (0000:01:00.0#0-1), found none (all 2 are taken by vm1)",
      "pool-exhausted.yaml:16:37: guests[1].nics[1].pool: expected a free VF in pool \"none\", found none (the pool matches no enabled VF)",
    ],
  },
  {
    file: "port-settings.yaml",
    stage: "parse",
    expected: [
      "port-settings.yaml:8:14: pfs[0].vfs[0].qos: expected 0 without a vlan (qos is the priority of the inserted VLAN tag), found 3",
      "port-settings.yaml:9:16: pfs[0].vfs[0].proto: expected one of 802.1Q, 802.1ad, found \"802.1x\"",
      "port-settings.yaml:10:19: pfs[0].vfs[0].spoofchk: expected true or false, found \"on\"",
      "port-settings.yaml:11:16: pfs[0].vfs[0].state: expected one of auto, enable, disable, found \"up\"",
      "port-settings.yaml:12:20: pfs[0].vfs[0].minTxRate: expected at most maxTxRate (1000), found 2000",
      "port-settings.yaml:14:15: pfs[0].vfs[0].vlan: expected an integer from 0 to 4095, found 4096",
      "port-settings.yaml:16:14: pfs[0].vfs[1].mac: expected vf to name one VF when mac is given, found 2 VFs (\"1-2\")",
      "port-settings.yaml:19:22: pools[0].match.vendor: expected a 16-bit ID in hex like 0x8086, found 8086 (IDs are hex: write 0x8086)",
    ],
  },
  {
    file: "range-exhausted.yaml",
    stage: "parse",
    expected: [
      "range-exhausted.yaml:14:13: guests[1].nics[1].pf: expected a free VF in 0000:01:00.0#0-1, found none (all 2 are taken by vm1, vm2)",
    ],
  },
  {
    file: "syntax-duplicate-key.yaml",
    stage: "parse",
    expected: [
      "syntax-duplicate-key.yaml:5:5: YAML syntax error: Map keys must be unique",
    ],
  },
  {
    file: "syntax-error.yaml",
    stage: "parse",
    expected: [
      "syntax-error.yaml:5:27: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]",
    ],
  },
  {
    file: "syntax-tab.yaml",
    stage: "parse",
    expected: [
      "syntax-tab.yaml:2:1: YAML syntax error: Tabs are not allowed as indentation",
    ],
  },
  {
    file: "too-many-vfs.yaml",
    stage: "inventory",
    expected: [
      "too-many-vfs.yaml:4:13: pfs[0].numVfs: expected at most 7 (TotalVFs of 0000:01:00.0), found 8",
    ],
  },
  {
    file: "unknown-key.yaml",
    stage: "parse",
    expected: [
      "unknown-key.yaml:2:25: iommu: unknown key \"pagesize\" (did you mean \"pageSize\"?)",
      "unknown-key.yaml:2:39: iommu: unknown key \"colour\" (expected one of enabled, pageSize, invalidation, postedInterrupts, addressWidth, iotlbEntries)",
      "unknown-key.yaml:3:1: unknown key \"gusts\" (did you mean \"guests\"?)",
    ],
  },
  {
    file: "unknown-pool.yaml",
    stage: "parse",
    expected: [
      "unknown-pool.yaml:9:15: guests[0].nics[0].pool: expected one of the pools fast, slow, found \"fats\" (did you mean \"fast\"?)",
      "unknown-pool.yaml:10:15: guests[0].nics[1].pool: expected one of the pools fast, slow, found \"medium\"",
    ],
  },
  {
    file: "vf-given-twice.yaml",
    stage: "parse",
    expected: [
      "vf-given-twice.yaml:13:13: guests[1].nics[0].vf: expected a VF no other NIC has, found 0000:01:00.0#3, already given to guest vm1 by guests[0].nics[0] at vf-given-twice.yaml:9:13",
    ],
  },
  {
    file: "vfs-beyond-numvfs.yaml",
    stage: "parse",
    expected: [
      "vfs-beyond-numvfs.yaml:6:13: pfs[0].vfs[0].vf: expected VF indices below numVfs (4), found \"2-5\"",
      "vfs-beyond-numvfs.yaml:12:13: guests[0].nics[0].vf: expected a VF index below numVfs (4) of 0000:01:00.0, found 0000:01:00.0#4",
      "vfs-beyond-numvfs.yaml:14:14: guests[0].nics[1].vfs: expected VF indices below numVfs (4) of 0000:01:00.0, found \"0-7\"",
      "vfs-beyond-numvfs.yaml:15:13: guests[0].nics[2].vf: expected a VF of a PF listed under pfs, found 0000:02:00.0#0",
    ],
  },
];

describe("host file corpus: malformed and contradictory files", () => {
  it("covers every file in the corpus, and only those", () => {
    const files = readdirSync(BAD).filter((f) => f.endsWith(".yaml")).sort();
    expect(CASES.map((c) => c.file).sort()).toEqual(files);
  });

  it.each(CASES)("$file", (c) => {
    const text = readFixture(BAD + c.file);
    if (c.stage === "parse") {
      expect(issuesOf(() => parseHostFile(text, c.file))).toEqual(c.expected);
    } else {
      const hostFile = parseHostFile(text, c.file);
      expect(validateHostFile(hostFile, c.inventory ?? INVENTORY).map(formatIssue)).toEqual(c.expected);
    }
  });
});
