import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fabricDevices, loadHostFile, parseHostFile } from "../../../src/config/parse.js";
import { ConfigError, formatIssue, isConfigError } from "../../../src/config/issues.js";
import { BUILTIN_NIC_TEMPLATES } from "../../../src/config/types.js";
import { HOST_FILE_KEYS } from "../../../src/config/grammar.js";
import { isIovError } from "../../../src/errors.js";
import { GiB, GOOD, issuesOf, readFixture } from "./hostfiles.js";
import { fileURLToPath } from "node:url";

const MiB = 2 ** 20;
const HOST = "host: { memory: 8GiB, cpus: 4 }\n";

describe("parseHostFile: good files", () => {
  it("reads default.yaml into the expected structure", () => {
    const hf = parseHostFile(readFixture(`${GOOD}default.yaml`), "hosts/default.yaml");
    expect(hf).toMatchObject({
      file: "hosts/default.yaml",
      host: { name: "default", memoryBytes: 64 * GiB, cpus: 16 },
      iommu: { enabled: true, pageSize: "4K", invalidation: "strict", postedInterrupts: true, addressWidth: 48, iotlbEntries: 512 },
      fabric: {
        rootPorts: [
          { slot: 1, acs: true, link: { speed: "5GT/s", width: 4 }, device: { kind: "template", template: "intel-82576" }, switch: undefined },
          {
            slot: 2,
            acs: true,
            link: { speed: "16GT/s", width: 16 },
            device: undefined,
            switch: {
              acs: false,
              link: { speed: "16GT/s", width: 16 },
              ports: [
                { acs: false, device: { kind: "template", template: "intel-e810" } },
                { acs: false, device: { kind: "dump", dump: "dumps/card.txt", dumpPath: "hosts/dumps/card.txt", function: "0000:03:00.0" } },
                { acs: false, device: undefined },
              ],
            },
          },
        ],
        integrated: [{ slot: 4, device: { kind: "template", template: "intel-x710" } }],
      },
      pfs: [
        {
          pf: "0000:01:00.0",
          numVfs: 7,
          vfs: [
            {
              vfs: { indices: [0], text: "0" },
              port: { mac: 0x525400000100, vlan: 10, qos: 3, proto: "802.1Q", spoofchk: true, trust: false, linkState: "auto", minTxRate: 0, maxTxRate: 1000 },
            },
            { vfs: { indices: [1, 2, 3], text: "1-3" }, port: { vlan: 20 } },
            { vfs: { indices: [4, 6], text: "4,6" }, port: { trust: true, queryRss: true } },
          ],
        },
        { pf: "0000:04:00.0", numVfs: 4, vfs: [] },
      ],
      pools: [
        { name: "fast", match: { vendors: [0x8086], devices: [0x10ca], pfs: [{ pf: "0000:01:00.0", vfs: undefined }] } },
        { name: "spare", match: { vendors: undefined, devices: undefined, pfs: [{ pf: "0000:04:00.0", vfs: [1, 2, 3] }] } },
      ],
      guests: [
        {
          name: "vm1",
          memoryBytes: 2 * GiB,
          vcpus: 2,
          nics: [
            { kind: "vf", pf: "0000:01:00.0", vf: 3 },
            { kind: "range", pf: "0000:01:00.0", vfs: { indices: [0, 1, 2, 3], text: "0-3" } },
            { kind: "pool", pool: "fast" },
          ],
        },
        { name: "vm2", memoryBytes: 4 * GiB, vcpus: 1, nics: [{ kind: "pool", pool: "spare" }, { kind: "range", pf: "0000:04:00.0", vfs: undefined }] },
      ],
    });
    // Port settings not written are absent, not defaulted: the PF driver's defaults apply.
    expect(hf.pfs[0]!.vfs[1]!.port).toEqual({ vlan: 20 });
  });

  it("records where each record and value is", () => {
    const hf = parseHostFile(readFixture(`${GOOD}default.yaml`), "default.yaml");
    expect(hf.host.src.fields.memory).toEqual({ line: 2, col: 32 });
    expect(hf.guests[0]!.src.at).toEqual({ line: 45, col: 5 });
    expect(hf.guests[0]!.src.fields.memory).toEqual({ line: 46, col: 13 });
    expect(hf.pfs[0]!.vfs[0]!.src.fields.mac).toEqual({ line: 23, col: 14 });
    expect(hf.pools[0]!.match.pfs![0]!.at).toEqual({ line: 41, col: 51 });
  });

  it("fills defaults for a minimal file", () => {
    const hf = parseHostFile(readFixture(`${GOOD}minimal.yaml`), "lab/minimal.yaml");
    expect(hf).toMatchObject({
      host: { name: "minimal", memoryBytes: 8 * GiB, cpus: 4 },
      iommu: { enabled: true, pageSize: "auto", invalidation: "strict", postedInterrupts: true, addressWidth: 48, iotlbEntries: 512 },
      fabric: { rootPorts: [], integrated: [] },
      pfs: [],
      pools: [],
      guests: [],
    });
  });

  it("follows anchors, treats empty values as absent and reads k8s-style string IDs", () => {
    const hf = parseHostFile(readFixture(`${GOOD}anchors.yaml`), "anchors.yaml");
    expect(hf.fabric.rootPorts.map((p) => p.device)).toMatchObject([
      { kind: "template", template: "intel-82599" },
      { kind: "template", template: "intel-82599" },
    ]);
    expect(hf.pfs.map((p) => p.numVfs)).toEqual([4, 4]);
    expect(hf.pfs[1]!.vfs[0]).toMatchObject({ vfs: { indices: [0, 2, 3] }, port: { vlan: 100, proto: "802.1ad" } });
    expect(hf.pools[0]!.match).toMatchObject({ vendors: [0x8086], devices: [0x10ed, 0x1515] });
    expect(hf.pools[1]!.match).toMatchObject({ vendors: undefined, devices: undefined, pfs: undefined });
    expect(hf.guests.map((g) => [g.memoryBytes, g.nics.length])).toEqual([
      [512 * MiB, 0],
      [512 * MiB, 2],
    ]);
    // A value reached through an alias is placed where the alias is written.
    expect(hf.guests[1]!.src.fields.memory).toEqual({ line: 28, col: 13 });
  });

  it("reads every size form", () => {
    const sizes: ReadonlyArray<readonly [string, number]> = [
      ["4096", 4096],
      ["8K", 8192],
      ["8KiB", 8192],
      ["3M", 3 * MiB],
      ["1.5GiB", 1.5 * GiB],
      ["2 G", 2 * GiB],
      ["1TiB", 2 ** 40],
      ["1T", 2 ** 40],
    ];
    for (const [text, bytes] of sizes) {
      const hf = parseHostFile(`host: { memory: ${text}, cpus: 1 }\n`, "s.yaml");
      expect(hf.host.memoryBytes).toBe(bytes);
    }
  });

  it("accepts the VLAN protocol in any case, as iproute2 does", () => {
    const hf = parseHostFile(`${HOST}pfs: [ { pf: 01:00.0, numVfs: 1, vfs: [ { vf: 0, vlan: 5, proto: 802.1AD } ] } ]\n`, "p.yaml");
    expect(hf.pfs[0]!.vfs[0]!.port.proto).toBe("802.1ad");
  });

  it("accepts templates added through options, and only then", () => {
    const text = `${HOST}fabric: { rootPorts: [ { slot: 1, device: { template: acme-100g } } ] }\n`;
    expect(issuesOf(() => parseHostFile(text, "t.yaml"))).toEqual([
      `t.yaml:2:55: fabric.rootPorts[0].device.template: expected a NIC template (one of ${BUILTIN_NIC_TEMPLATES.join(", ")}), found "acme-100g"`,
    ]);
    const hf = parseHostFile(text, "t.yaml", { templates: [...BUILTIN_NIC_TEMPLATES, "acme-100g"] });
    expect(hf.fabric.rootPorts[0]!.device).toMatchObject({ kind: "template", template: "acme-100g" });
  });

  it("lists every device with its path", () => {
    const hf = parseHostFile(readFixture(`${GOOD}default.yaml`), "default.yaml");
    expect(fabricDevices(hf).map((d) => d.path)).toEqual([
      "fabric.rootPorts[0].device",
      "fabric.rootPorts[1].switch.ports[0].device",
      "fabric.rootPorts[1].switch.ports[1].device",
      "fabric.integrated[0].device",
    ]);
  });
});

describe("parseHostFile: errors", () => {
  it("formats an issue as file:line:col: path: expected …, found …", () => {
    const text = `${HOST}${"#\n".repeat(9)}guests:\n- memory: lots\n  name: vm1\n`;
    let caught: unknown;
    try {
      parseHostFile(text, "default.yaml");
    } catch (e) {
      caught = e;
    }
    expect(isConfigError(caught)).toBe(true);
    const err = caught as ConfigError;
    expect(isIovError(err, "EINVAL")).toBe(true);
    expect(err.issues).toEqual([
      { file: "default.yaml", line: 12, col: 11, path: "guests[0].memory", message: 'guests[0].memory: expected a size like 2GiB, found "lots"' },
    ]);
    expect(err.message).toBe('EINVAL: default.yaml:12:11: guests[0].memory: expected a size like 2GiB, found "lots"');
    expect(err.detail).toEqual({ issues: err.issues });
  });

  it("reports every problem, sorted by position, one line each in the message", () => {
    const text = "guests:\n  - { name: 'bad name', memory: 1KiB, vcpus: 0 }\nhost: { cpus: 2.5, memory: 1GiB }\n";
    const err = (() => {
      try {
        parseHostFile(text, "m.yaml");
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error("no error");
    })();
    expect(err.issues.map(formatIssue)).toEqual([
      `m.yaml:2:13: guests[0].name: expected a name of letters, digits, '.', '_' or '-' (up to 64), found "bad name"`,
      "m.yaml:2:33: guests[0].memory: expected a non-zero multiple of 4KiB, found \"1KiB\"",
      "m.yaml:2:46: guests[0].vcpus: expected an integer from 1 to 1024, found 0",
      "m.yaml:3:15: host.cpus: expected an integer from 1 to 4096, found 2.5",
    ]);
    expect(err.message.split("\n")).toHaveLength(4);
  });

  it("reports a missing required value and an empty one differently", () => {
    expect(issuesOf(() => parseHostFile("host:\n  cpus: 2\n  memory:\n", "e.yaml"))).toEqual([
      "e.yaml:3:10: host.memory: expected a size like 2GiB, found nothing",
    ]);
    expect(issuesOf(() => parseHostFile("host: { cpus: 2 }\n", "e.yaml"))).toEqual([
      'e.yaml:1:7: host: missing key "memory" (expected a size like 2GiB)',
    ]);
  });

  it("refuses decimal IDs rather than misreading them", () => {
    expect(issuesOf(() => parseHostFile(`${HOST}pools: [ { name: p, match: { device: [ 0x10ca, 4301 ] } } ]\n`, "i.yaml"))).toEqual([
      "i.yaml:2:48: pools[0].match.device[1]: expected a 16-bit ID in hex like 0x8086, found 4301 (IDs are hex: write 0x4301)",
    ]);
  });

  it("puts positions past the end of the text on its last character", () => {
    expect(issuesOf(() => parseHostFile("host: 'x", "q.yaml"))).toEqual(["q.yaml:1:8: YAML syntax error: Missing closing 'quote"]);
  });

  it("reports YAML warnings such as unknown tags", () => {
    expect(issuesOf(() => parseHostFile("host: !custom { memory: 1GiB, cpus: 1 }\n", "w.yaml"))).toEqual([
      "w.yaml:1:7: YAML: Unresolved tag: !custom",
    ]);
  });
});

describe("docs/host-file.md", () => {
  const doc = readFixture(fileURLToPath(new URL("../../../docs/host-file.md", import.meta.url)));

  it("documents every key the grammar allows", () => {
    const undocumented = Object.entries(HOST_FILE_KEYS).flatMap(([section, keys]) =>
      // a row of a key table, a section heading, or a NIC form
      keys.filter((k) => ![`| \`${k}\` |`, `## \`${k}\``, `\`{ ${k}:`].some((form) => doc.includes(form))).map((k) => `${section}.${k}`),
    );
    expect(undocumented).toEqual([]);
  });

  it("shows an example that parses", () => {
    const example = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(example).toBeDefined();
    const hf = parseHostFile(example!, "docs-example.yaml");
    expect(hf.guests[0]!.nics.map((n) => n.kind)).toEqual(["vf", "range", "pool"]);
  });
});

describe("loadHostFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "pciov-hostfile-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads a file and resolves dump paths against its directory", async () => {
    const hf = await loadHostFile(`${GOOD}default.yaml`);
    const dump = fabricDevices(hf).find((d) => d.device.kind === "dump")!.device;
    expect(dump).toMatchObject({ kind: "dump", dumpPath: `${GOOD}dumps/card.txt` });
  });

  it("reports a dump file that cannot be read at the dump key", async () => {
    mkdirSync(join(dir, "sub"), { recursive: true });
    const path = join(dir, "sub", "host.yaml");
    writeFileSync(path, `${HOST}fabric:\n  rootPorts:\n    - slot: 1\n      device: { dump: missing.txt }\n`);
    await expect(loadHostFile(path)).rejects.toSatisfy(
      (e: unknown) =>
        isConfigError(e) &&
        e.issues.map(formatIssue).join("\n") ===
          `${path}:5:23: fabric.rootPorts[0].device.dump: expected a readable lspci -xxxx dump file, found "missing.txt" (no readable file at ${join(dir, "sub", "missing.txt")})`,
    );
  });

  it("throws ENOENT for a host file that does not exist", async () => {
    await expect(loadHostFile(join(dir, "nope.yaml"))).rejects.toSatisfy((e: unknown) => isIovError(e, "ENOENT") && !isConfigError(e));
  });
});
