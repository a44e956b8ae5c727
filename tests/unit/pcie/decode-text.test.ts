/**
 * lspci-style text (src/pcie/lspci-text.ts) against what lspci 3.9 printed for the real dumps
 * (fixtures' *.host-lspci-F-vvv-nn.txt). The peer tests run the real lspci on many more inputs.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseDump } from "../../../src/pcie/dump.js";
import { renderFunctionText, renderLspci } from "../../../src/pcie/lspci-text.js";
import { comparable } from "../../peer/lspci-parse.js";

const FIXTURES = "/work/shared/fixtures/real-sriov-dumps";
const stems = readdirSync(FIXTURES)
  .filter((f) => f.endsWith(".lspci-xxxx.txt"))
  .map((f) => f.replace(".lspci-xxxx.txt", ""));
const load = (stem: string) => ({
  entries: parseDump(readFileSync(join(FIXTURES, `${stem}.lspci-xxxx.txt`), "utf8"), stem),
  host: readFileSync(join(FIXTURES, `${stem}.host-lspci-F-vvv-nn.txt`), "latin1"),
});

/** Names come from pci.ids on the host and from pciov's small table here: compare the IDs only. */
function idsOnly(text: string): string {
  return text
    .split("\n")
    .map((l) => {
      if (/^[0-9a-f]{2,4}:?[0-9a-f:]*\.[0-7] /.test(l)) return l.replace(/ .*?\[([0-9a-f]{4})\]: .*?\[([0-9a-f]{4}:[0-9a-f]{4})\]/, " [$1]: [$2]");
      if (l.startsWith("\tSubsystem: ")) return l.replace(/\tSubsystem: .*\[/, "\tSubsystem: [");
      return l;
    })
    .join("\n");
}

describe("lspci -vvv -nn text for the real dumps", () => {
  it.each(["cap-pcie-2", "cap-pcie-2@1d03d34"])("%s (Intel 82576, names known): identical to lspci 3.9", (stem) => {
    const { entries, host } = load(stem);
    expect(renderLspci(entries, { verbose: 3, ids: "both" })).toBe(host);
  });

  it.each(stems)("%s: identical for everything pciov renders", (stem) => {
    const { entries, host } = load(stem);
    const ours = renderLspci(entries, { verbose: 3, ids: "both" });
    expect(idsOnly(ours)).toBe(idsOnly(comparable(host)));
  });

  it("shows SR-IOV as anchors §3.2 describes, for the enabled 82576", () => {
    const { entries } = load("cap-pcie-2");
    const text = renderLspci(entries, { verbose: 2 });
    expect(text).toContain(
      [
        "\tCapabilities: [160 v1] Single Root I/O Virtualization (SR-IOV)",
        "\t\tIOVCap:\tMigration- 10BitTagReq- Interrupt Message Number: 000",
        "\t\tIOVCtl:\tEnable+ Migration- Interrupt- MSE+ ARIHierarchy- 10BitTagReq-",
        "\t\tIOVSta:\tMigration-",
        "\t\tInitial VFs: 8, Total VFs: 8, Number of VFs: 1, Function Dependency Link: 00",
        "\t\tVF offset: 384, stride: 2, Device ID: 10ca",
        "\t\tSupported Page Size: 00000553, System Page Size: 00000001",
        "\t\tRegion 0: Memory at 00000000d2840000 (64-bit, non-prefetchable)",
        "\t\tRegion 3: Memory at 00000000d2860000 (64-bit, non-prefetchable)",
        "\t\tVF Migration: offset: 00000000, BIR: 0",
      ].join("\n"),
    );
  });
});

describe("verbosity, IDs and OS-supplied facts", () => {
  const { entries } = load("cap-pcie-2");
  const e = entries[0];
  if (e === undefined) throw new Error("fixture");

  it("prints one line per function without -v, IDs as -n and -nn ask", () => {
    expect(renderLspci(entries)).toBe("01:00.0 Ethernet controller: Intel Corporation 82576 Gigabit Network Connection (rev 01)\n");
    expect(renderLspci(entries, { ids: "numeric" })).toBe("01:00.0 0200: 8086:10c9 (rev 01)\n");
    expect(renderLspci(entries, { domains: true, ids: "numeric" })).toBe("0000:01:00.0 0200: 8086:10c9 (rev 01)\n");
  });

  it("-v: Flags line, regions without their number, capability titles only", () => {
    const lines = renderFunctionText(e, { verbose: 1, ids: "numeric" }).split("\n");
    expect(lines.slice(0, 4)).toEqual([
      "01:00.0 0200: 8086:10c9 (rev 01)",
      "\tSubsystem: 8086:a03c",
      "\tFlags: bus master, fast devsel, latency 0, IRQ 11",
      "\tMemory at e0800000 (32-bit, non-prefetchable)",
    ]);
    expect(lines).toContain("\tCapabilities: [a0] Express Endpoint, MSI 00");
    expect(lines).toContain("\tCapabilities: [160] Single Root I/O Virtualization (SR-IOV)");
    expect(lines.some((l) => l.startsWith("\t\t"))).toBe(false);
    expect(lines.at(-2)).toBe("");
  });

  it("shows OS facts when given: BAR sizes, ROM size, IRQ, kernel driver", () => {
    const text = renderFunctionText({ ...e, sizes: [128 * 1024, 4 << 20, 32, 16 * 1024], romSize: 512 * 1024, irq: 42, driver: "igb" }, { verbose: 2 });
    expect(text).toContain("\tRegion 0: Memory at e0800000 (32-bit, non-prefetchable) [size=128K]\n");
    expect(text).toContain("\tRegion 1: Memory at e0000000 (32-bit, non-prefetchable) [size=4M]\n");
    expect(text).toContain("\tRegion 2: I/O ports at 1020 [size=32]\n");
    expect(text).toContain("\tExpansion ROM at c7800000 [disabled] [size=512K]\n");
    expect(text).toContain("\tInterrupt: pin A routed to IRQ 42\n");
    expect(text.endsWith("\tKernel driver in use: igb\n\n")).toBe(true);
  });

  it("a -x dump (64 bytes) shows the header and '<access denied>' for the capabilities", () => {
    const text = renderFunctionText({ ...e, length: 64 }, { verbose: 2 });
    expect(text).toContain("\tCapabilities: <access denied>\n");
  });
});
