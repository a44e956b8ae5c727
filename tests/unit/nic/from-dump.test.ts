import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { parseDump } from "../../../src/pcie/dump.js";
import { importDevice } from "../../../src/nic/templates/from-dump.js";
import { ConfigSpace } from "../../../src/pcie/configspace.js";
import { decodeFunction } from "../../../src/pcie/decode.js";

const FIX = "/work/shared/fixtures/real-sriov-dumps";
const facts = JSON.parse(readFileSync(`${FIX}/sriov-facts.json`, "utf8")) as Array<Record<string, unknown> & { file: string; commit: string }>;
const files = ["cap-pcie-2", "cap-pcie-2@1d03d34", "cap-ea-1", "cap-ide", "cap-phy32", "cap-dvsec-cxl"];

describe("devices imported from lspci -xxxx dumps", () => {
  for (const f of files) {
    it(`${f}: config space byte for byte, SR-IOV geometry from the capability`, () => {
      const [entry] = parseDump(readFileSync(`${FIX}/${f}.lspci-xxxx.txt`, "utf8"), f);
      expect(entry).toBeDefined();
      const imp = importDevice(entry!.bytes, f);
      const cs = new ConfigSpace(imp.layout, imp.bytes);
      expect(Buffer.from(cs.snapshot()).equals(Buffer.from(entry!.bytes.subarray(0, 4096)))).toBe(true);
      const fact = facts.find((x) => x.file.endsWith(f.split("@")[0]!) && (f.includes("@") ? x.commit.startsWith(f.split("@")[1]!) : !x.commit.startsWith("1d03d34")));
      expect(fact).toBeDefined();
      expect(imp.template.totalVfs).toBe(fact!.total_vfs);
      expect(imp.template.vfDeviceId).toBe(parseInt(fact!.vf_device_id as string, 16));
      expect(imp.template.offsetStride(1, false)).toEqual({ offset: fact!.vf_offset, stride: fact!.vf_stride });
      // reset: read-only values stay, software state goes back to reset
      cs.reset();
      const d = decodeFunction({ bdf: "0000:01:00.0", bytes: cs.snapshot() });
      const sr = d.capabilities.find((c) => c.extended && c.id === 0x10)!;
      expect(sr.registers.vfEnable).toBe(false);
      expect(sr.registers.numVFs).toBe(0);
      expect(sr.registers.totalVFs).toBe(fact!.total_vfs);
      expect(d.vendorId).toBe(parseInt(fact!.vendor as string, 16));
    });
  }

  it("82576: VF BAR sizes inferred from the apertures are 16 KiB (8 VFs in 0x20000)", () => {
    const [entry] = parseDump(readFileSync(`${FIX}/cap-pcie-2.lspci-xxxx.txt`, "utf8"), "x");
    const imp = importDevice(entry!.bytes, "82576");
    expect(imp.template.vfBars.map((b) => [b.index, b.kind, b.size])).toEqual([
      [0, "mem64", 16384],
      [3, "mem64", 16384],
    ]);
  });

  it("a dump without SR-IOV or shorter than 4096 bytes is refused with a clear error", () => {
    expect(() => importDevice(new Uint8Array(256), "short")).toThrow(/needs the full 4096/);
    const b = new Uint8Array(4096);
    b[0] = 0x86;
    b[1] = 0x80;
    expect(() => importDevice(b, "plain")).toThrow(/no SR-IOV capability/);
  });
});
