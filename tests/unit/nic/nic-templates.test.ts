import { describe, expect, it } from "vitest";
import { PhysMem } from "../../../src/memory/physmem.js";
import { IDENTITY_TRANSLATOR } from "../../../src/pcie/dma.js";
import { Nic, hwTemplateOf } from "../../../src/nic/nic.js";
import { defaultVfPortConfig } from "../../../src/nic/port-config.js";
import { NIC_TEMPLATES } from "../../../src/nic/templates/catalog.js";
import { vfMsixPlacement } from "../../../src/nic/templates/layout.js";
import { E1000_RXDCTL } from "../../../src/nic/regs.js";
import { RecordingMsi, TinyDriver, frame } from "./tiny-driver.js";

describe("the NIC built from every catalog template", () => {
  for (const t of NIC_TEMPLATES) {
    it(`${t.name}: MSI-X where the capability says, every queue pair moves frames VF→VF`, () => {
      const mem = new PhysMem();
      const msi = new RecordingMsi();
      const nic = new Nic({ mem, translator: IDENTITY_TRANSLATOR, msiSink: msi, template: hwTemplateOf(t) });
      const vf = vfMsixPlacement(t);
      expect(nic.msixPlacement("vf")).toMatchObject({ vectors: t.vfMsixVectors, tableBir: vf.bar, tableOffset: vf.table, pbaBir: vf.bar, pbaOffset: vf.pba });
      const pf = nic.msixPlacement("pf");
      expect(pf).toMatchObject({ vectors: t.pfMsixVectors, tableBir: t.msixBar, tableOffset: t.msixBar === 0 ? 0x10000 : 0 });
      expect(pf.pbaOffset).toBeGreaterThanOrEqual(pf.tableOffset + t.pfMsixVectors * 16);
      if (t.msixBar !== 0 && t.pfMsixVectors <= 512) expect(pf.pbaOffset).toBe(0x2000);

      nic.setNumVfs(t.totalVfs);
      const last = t.totalVfs - 1;
      nic.setVfConfig(0, { ...defaultVfPortConfig(), mac: 0x0200_0000_0001 });
      nic.setVfConfig(last, { ...defaultVfPortConfig(), mac: 0x0200_0000_0002 });
      nic.setMsixControl(last, true, false);
      const rx = nic.vfMmio(last);
      const vec = Math.min(t.vfMsixVectors - 1, 1);
      rx.mmioWrite(vf.bar, vf.table + vec * 16, 4, 0xfee0_0000);
      rx.mmioWrite(vf.bar, vf.table + vec * 16 + 12, 4, 0);
      for (let q = 0; q < t.queuePairsPerVf; q++) {
        const a = new TinyDriver(nic.vfMmio(0), mem, 0x100_0000 * (1 + q), 16, 2048, q, vf.bar);
        const b = new TinyDriver(rx, mem, 0x4000_0000 + 0x100_0000 * q, 16, 2048, q, vf.bar);
        a.upTx();
        b.upRx(); // the only RX queue enabled: the previous one was disabled below
        rx.mmioWrite(vf.bar, vf.table + vec * 16 + 8, 4, 0x40 + q);
        b.upMsix([], vec, vec, 0);
        const f = frame(0x0200_0000_0002, 0x0200_0000_0001, 100, { seed: q });
        a.send(f);
        const got = b.receive();
        expect(got, `queue ${q}`).toHaveLength(1);
        expect(Buffer.from(got[0]!.bytes).equals(Buffer.from(f))).toBe(true);
        expect(msi.writes.at(-1)?.data).toBe(0x40 + q);
        b.w(E1000_RXDCTL(q), 0);
      }
    });
  }
});
