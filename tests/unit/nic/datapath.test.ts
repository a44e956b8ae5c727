import { describe, expect, it } from "vitest";
import { PhysMem } from "../../../src/memory/physmem.js";
import { IDENTITY_TRANSLATOR } from "../../../src/pcie/dma.js";
import { Nic } from "../../../src/nic/nic.js";
import type { NicHwTemplate } from "../../../src/nic/nic.js";
import { BROADCAST_MAC, ETH_P_8021AD, ETH_P_8021Q, defaultVfPortConfig } from "../../../src/nic/port-config.js";
import { readTxDesc, E1000_TXD_STAT_DD, E1000_RXD_STAT_VP, DESC_SIZE } from "../../../src/nic/descriptors.js";
import { E1000_CTRL, E1000_CTRL_VME, E1000_EICR, E1000_RCTL, E1000_RCTL_MPE, E1000_RCTL_UPE, E1000_TDWBAH, E1000_TDWBAL, E1000_TX_HEAD_WB_ENABLE, E1000_TXDCTL, E1000_TXDCTL_QUEUE_ENABLE, E1000_VFGPRC, E1000_VFGPTC } from "../../../src/nic/regs.js";
import { RecordingMsi, TinyDriver, frame, mac } from "./tiny-driver.js";

const TEMPLATE: NicHwTemplate = { maxVfs: 4, queuesPerVf: 2 };
const MAC_PF = mac("02:00:00:00:00:01");
const MAC_VF = (k: number): number => mac("02:00:00:00:01:00") + k;
const MAC_REMOTE = mac("02:99:00:00:00:01");

function setup(opts: { vfCfg?: (k: number) => Partial<ReturnType<typeof defaultVfPortConfig>> } = {}) {
  const mem = new PhysMem();
  const msi = new RecordingMsi();
  const wire: Uint8Array[] = [];
  const nic = new Nic({ mem, translator: IDENTITY_TRANSLATOR, msiSink: msi, template: TEMPLATE, uplink: (b, o, l) => wire.push(b.slice(o, o + l)) });
  nic.setNumVfs(4);
  nic.setMacFilters("pf", [MAC_PF]);
  for (let k = 0; k < 4; k++) nic.setVfConfig(k, { ...defaultVfPortConfig(), mac: MAC_VF(k), ...(opts.vfCfg?.(k) ?? {}) });
  const pf = new TinyDriver(nic.pfMmio, mem, 0x100_0000);
  const vfs = [0, 1, 2, 3].map((k) => new TinyDriver(nic.vfMmio(k), mem, 0x200_0000 + k * 0x100_0000));
  for (const d of [pf, ...vfs]) {
    d.upTx();
    d.upRx();
  }
  return { mem, msi, wire, nic, pf, vfs };
}

describe("NIC data path with a tiny driver", () => {
  it("VF→VF through the VEB: bytes land in the other VF's RX buffer, DD written back, MSI-X observed, wire untouched", () => {
    const { mem, msi, wire, nic, vfs } = setup();
    const [a, b] = [vfs[0]!, vfs[1]!];
    nic.setRequesterId(1, 0x0182);
    nic.setMsixControl(1, true, false);
    b.upMsix(
      [
        { vec: 0, addr: 0xfee0_1000, data: 0x41 },
        { vec: 1, addr: 0xfee0_1000, data: 0x42 },
        { vec: 2, addr: 0xfee0_1000, data: 0x43 },
      ],
      0,
      1,
      2,
    );
    const f = frame(MAC_VF(1), MAC_VF(0), 100, { seed: 7 });
    a.send(f);
    const got = b.receive();
    expect(got).toHaveLength(1);
    expect(Array.from(got[0]!.bytes)).toEqual(Array.from(f));
    expect(got[0]!.status & 0x03).toBe(0x03); // DD | EOP
    // the RX buffer itself holds the bytes at the posted address
    expect(Array.from(mem.read(b.rxBufs, f.length))).toEqual(Array.from(f));
    expect(msi.writes).toEqual([{ rid: 0x0182, addr: 0xfee0_1000, data: 0x41 }]);
    // TX descriptor got DD (RS was set); head caught up with tail
    expect(readTxDesc(mem, a.txRing).sta & E1000_TXD_STAT_DD).toBe(E1000_TXD_STAT_DD);
    expect(a.txHead()).toBe(1);
    expect(wire).toHaveLength(0);
    expect(nic.stats(0)).toMatchObject({ txPackets: 1, txBytes: f.length, txLoopbackPackets: 1 });
    expect(nic.stats(1)).toMatchObject({ rxPackets: 1, rxBytes: f.length, rxLoopbackPackets: 1, msixMessages: 1 });
    expect(b.r(E1000_VFGPRC)).toBe(1);
    expect(a.r(E1000_VFGPTC)).toBe(1);
    // EIAC auto-cleared the cause
    expect(b.r(E1000_EICR)).toBe(0);
  });

  it("VF→wire for unknown unicast; wire→VF by destination MAC; unmatched wire frames are counted", () => {
    const { wire, nic, vfs } = setup();
    const out = frame(MAC_REMOTE, MAC_VF(2), 60);
    vfs[2]!.send(out);
    expect(wire).toHaveLength(1);
    expect(Array.from(wire[0]!)).toEqual(Array.from(out));
    const inn = frame(MAC_VF(3), MAC_REMOTE, 200, { seed: 3 });
    nic.wireRx(inn);
    expect(vfs[3]!.receive().map((r) => Array.from(r.bytes))).toEqual([Array.from(inn)]);
    for (const k of [0, 1, 2]) expect(vfs[k]!.receive()).toHaveLength(0);
    nic.wireRx(frame(mac("02:77:00:00:00:00"), MAC_REMOTE, 60));
    expect(nic.wireStats()).toMatchObject({ rxPackets: 2, txPackets: 1, rxUnmatched: 1 });
  });

  it("RCTL.UPE takes unmatched unicast from the wire into the PF (not frames a VF filter matches, not VF→wire frames); RCTL.MPE takes every multicast", () => {
    const { wire, nic, pf, vfs } = setup();
    const stranger = mac("02:77:00:00:00:00");
    const mcast = mac("01:00:5e:00:00:fb");
    nic.wireRx(frame(stranger, MAC_REMOTE, 60));
    nic.wireRx(frame(mcast, MAC_REMOTE, 60));
    expect(pf.receive()).toHaveLength(0);
    expect(nic.wireStats().rxUnmatched).toBe(2);
    pf.w(E1000_RCTL, E1000_RCTL_UPE | E1000_RCTL_MPE | 0xffff_ff00);
    expect(pf.r(E1000_RCTL)).toBe(E1000_RCTL_UPE | E1000_RCTL_MPE); // only the modelled bits stick
    const a = frame(stranger, MAC_REMOTE, 70, { seed: 5 });
    nic.wireRx(a);
    const b = frame(MAC_VF(1), MAC_REMOTE, 80, { seed: 6 });
    nic.wireRx(b);
    const m = frame(mcast, MAC_REMOTE, 90, { seed: 7 });
    nic.wireRx(m);
    vfs[0]!.send(frame(mac("02:55:00:00:00:00"), MAC_VF(0), 60)); // unknown unicast from a VF: the wire only
    expect(pf.receive().map((f) => Array.from(f.bytes))).toEqual([Array.from(a), Array.from(m)]);
    expect(Array.from(vfs[1]!.receive()[0]!.bytes)).toEqual(Array.from(b));
    expect(wire).toHaveLength(1);
    expect(nic.wireStats().rxUnmatched).toBe(2);
    pf.w(E1000_RCTL, 0);
    nic.wireRx(frame(stranger, MAC_REMOTE, 60));
    expect(pf.receive()).toHaveLength(0);
    expect(nic.wireStats().rxUnmatched).toBe(3);
  });

  it("broadcast from a VF reaches the PF, the other VFs and the wire, not the sender", () => {
    const { wire, nic, pf, vfs } = setup();
    const f = frame(BROADCAST_MAC, MAC_VF(0), 80);
    vfs[0]!.send(f);
    expect(pf.receive()).toHaveLength(1);
    expect(vfs[0]!.receive()).toHaveLength(0);
    for (const k of [1, 2, 3]) expect(vfs[k]!.receive()).toHaveLength(1);
    expect(wire).toHaveLength(1);
    expect(nic.stats(1).rxBroadcast).toBe(1);
    expect(nic.stats(0).txBroadcast).toBe(1);
  });

  it("multi-descriptor TX frames and multi-buffer RX frames reassemble byte for byte", () => {
    const { nic, vfs } = setup();
    nic.setMaxFrame(1, 9000);
    const f = frame(MAC_VF(1), MAC_VF(0), 5000, { seed: 11 });
    vfs[0]!.send(f); // three 2 KiB TX buffers, three RX buffers
    const got = vfs[1]!.receive();
    expect(got).toHaveLength(1);
    expect(Array.from(got[0]!.bytes)).toEqual(Array.from(f));
  });

  it("port VLAN: TX inserts 802.1Q (qos in PCP), RX strips; the VF never sees its tag", () => {
    const { wire, nic, vfs } = setup({ vfCfg: (k) => (k === 0 ? { vlan: 100, qos: 5 } : {}) });
    const out = frame(MAC_REMOTE, MAC_VF(0), 60);
    vfs[0]!.send(out);
    expect(wire).toHaveLength(1);
    const w = wire[0]!;
    expect((w[12]! << 8) | w[13]!).toBe(ETH_P_8021Q);
    expect((w[14]! << 8) | w[15]!).toBe((5 << 13) | 100);
    expect(Array.from(w.subarray(16))).toEqual(Array.from(out.subarray(12)));
    // the tagged frame back from the wire arrives untagged
    nic.wireRx(frame(MAC_VF(0), MAC_REMOTE, 60, { tags: [[ETH_P_8021Q, 100]] }));
    const got = vfs[0]!.receive();
    expect(got).toHaveLength(1);
    expect(Array.from(got[0]!.bytes)).toEqual(Array.from(frame(MAC_VF(0), MAC_REMOTE, 60)));
    expect(got[0]!.status & E1000_RXD_STAT_VP).toBe(0);
    // untagged traffic and other VLANs do not reach it
    nic.wireRx(frame(MAC_VF(0), MAC_REMOTE, 60));
    nic.wireRx(frame(MAC_VF(0), MAC_REMOTE, 60, { tags: [[ETH_P_8021Q, 101]] }));
    expect(vfs[0]!.receive()).toHaveLength(0);
  });

  it("802.1ad port VLAN stacks an S-tag over the guest's C-tag; CTRL.VME strips the C-tag into the descriptor", () => {
    const { wire, nic, vfs } = setup({ vfCfg: (k) => (k === 0 ? { vlan: 300, proto: "802.1ad" as const } : {}) });
    vfs[0]!.send(frame(MAC_REMOTE, MAC_VF(0), 60), { vlan: 42 });
    const w = wire[0]!;
    expect((w[12]! << 8) | w[13]!).toBe(ETH_P_8021AD);
    expect(((w[14]! << 8) | w[15]!) & 0xfff).toBe(300);
    expect((w[16]! << 8) | w[17]!).toBe(ETH_P_8021Q);
    expect((w[18]! << 8) | w[19]!).toBe(42);
    vfs[0]!.w(E1000_CTRL, E1000_CTRL_VME);
    nic.wireRx(frame(MAC_VF(0), MAC_REMOTE, 60, { tags: [[ETH_P_8021AD, 300], [ETH_P_8021Q, 42]] }));
    const got = vfs[0]!.receive();
    expect(got).toHaveLength(1);
    expect(got[0]!.status & E1000_RXD_STAT_VP).toBe(E1000_RXD_STAT_VP);
    expect(got[0]!.vlan).toBe(42);
    expect(Array.from(got[0]!.bytes)).toEqual(Array.from(frame(MAC_VF(0), MAC_REMOTE, 60)));
  });

  it("spoofed source MAC is dropped and counted; spoofchk off lets it through", () => {
    const { wire, nic, vfs } = setup();
    vfs[0]!.send(frame(MAC_REMOTE, mac("02:66:66:66:66:66"), 60));
    expect(wire).toHaveLength(0);
    expect(nic.stats(0)).toMatchObject({ txPackets: 0, txDropped: 1, drops: expect.objectContaining({ spoof: 1 }) });
    nic.setVfConfig(0, { ...nic.vfConfig(0), spoofchk: false });
    vfs[0]!.send(frame(MAC_REMOTE, mac("02:66:66:66:66:66"), 60));
    expect(wire).toHaveLength(1);
  });

  it("link state: disable drops everything; auto follows the wire; enable keeps VF↔VF when the wire is down", () => {
    const { wire, nic, vfs } = setup({ vfCfg: (k) => (k === 0 ? { linkState: "disable" as const } : k === 1 ? { linkState: "enable" as const } : {}) });
    vfs[0]!.send(frame(MAC_VF(1), MAC_VF(0), 60));
    expect(vfs[1]!.receive()).toHaveLength(0);
    expect(nic.stats(0).drops["link-down"]).toBe(1);
    nic.wireRx(frame(MAC_VF(0), MAC_REMOTE, 60));
    expect(nic.stats(0).drops["link-down"]).toBe(2);
    nic.setWireLink(false);
    vfs[1]!.send(frame(MAC_VF(3), MAC_VF(1), 60)); // VF3 is auto: its link is down
    expect(vfs[3]!.receive()).toHaveLength(0);
    const before = nic.stats(1).txPackets;
    vfs[1]!.send(frame(MAC_REMOTE, MAC_VF(1), 60)); // to the wire: down
    expect(wire).toHaveLength(0);
    expect(nic.stats(1).txPackets).toBe(before);
    expect(nic.wireStats().linkDownDrops).toBe(1);
    nic.setVfConfig(3, { ...nic.vfConfig(3), linkState: "enable" });
    vfs[1]!.send(frame(MAC_VF(3), MAC_VF(1), 60));
    expect(vfs[3]!.receive()).toHaveLength(1);
    vfs[2]!.send(frame(MAC_VF(3), MAC_VF(2), 60)); // VF2 is auto: cannot send
    expect(nic.stats(2).drops["link-down"]).toBe(1);
  });

  it("no RX buffer: dropped and counted; oversize for the pool: dropped and counted", () => {
    const { nic, vfs } = setup();
    const b = vfs[1]!;
    for (let i = 0; i < 70; i++) vfs[0]!.send(frame(MAC_VF(1), MAC_VF(0), 60, { seed: i }));
    expect(nic.stats(1).rxPackets).toBe(63); // 64-entry ring, one slot kept empty
    expect(nic.stats(1).drops["no-buffer"]).toBe(7);
    expect(b.receive()).toHaveLength(63);
    vfs[0]!.send(frame(MAC_VF(1), MAC_VF(0), 2000));
    expect(nic.stats(1).drops.oversize).toBe(1);
  });

  it("VF reset (CTRL.RST) disables the queues and raises the PF's mailbox cause; counters are kept", () => {
    const { nic, pf, vfs } = setup();
    vfs[0]!.send(frame(MAC_VF(1), MAC_VF(0), 60));
    vfs[0]!.w(E1000_CTRL, 0x04000000);
    expect(vfs[0]!.r(E1000_CTRL)).toBe(0); // self-clearing
    expect(vfs[0]!.r(E1000_TXDCTL(0)) & E1000_TXDCTL_QUEUE_ENABLE).toBe(0);
    expect(pf.r(0xc0) & 0x100).toBe(0x100); // ICR.VMMB, read to clear
    expect(pf.r(0xc0)).toBe(0);
    expect(nic.stats(0).txPackets).toBe(1);
    expect(nic.stats(0).resets).toBe(1);
    // a queued frame stays in memory until the driver brings the queue back
    vfs[0]!.queue(frame(MAC_VF(1), MAC_VF(0), 60));
    vfs[0]!.bump();
    expect(nic.stats(0).txPackets).toBe(1);
    vfs[0]!.upTx();
    vfs[0]!.send(frame(MAC_VF(1), MAC_VF(0), 60));
    expect(nic.stats(0).txPackets).toBe(2);
  });

  it("FLR (resetVf) resets the MSI-X table: entries masked again", () => {
    const { nic, vfs, msi } = setup();
    nic.setMsixControl(1, true, false);
    vfs[1]!.upMsix([{ vec: 0, addr: 0xfee0_0000, data: 1 }], 0, 1, 2);
    nic.resetVf(1);
    expect(nic.vfMmio(1).mmioRead(3, 12, 4)).toBe(1);
    vfs[1]!.upRx();
    vfs[0]!.send(frame(MAC_VF(1), MAC_VF(0), 60));
    expect(msi.writes).toHaveLength(0); // MSI-X disabled by the FLR
  });

  it("TX descriptors are consumed head..tail across the ring wrap; head write-back stores TDH", () => {
    const { nic, vfs, mem } = setup();
    const a = vfs[0]!;
    const wbAddr = 0x1_2345_6780; // above 4 GiB: TDWBAH matters
    a.w(E1000_TDWBAL(0), (wbAddr % 2 ** 32) | E1000_TX_HEAD_WB_ENABLE);
    a.w(E1000_TDWBAH(0), Math.floor(wbAddr / 2 ** 32));
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 40; i++) a.queue(frame(MAC_VF(1), MAC_VF(0), 60, { seed: i }));
      a.bump();
      expect(a.txHead()).toBe(a.txTail);
      expect(mem.read32(wbAddr)).toBe(a.txTail);
      expect(vfs[1]!.receive()).toHaveLength(40);
    }
    expect(nic.stats(0).txPackets).toBe(120);
    expect(readTxDesc(mem, a.txRing + 63 * DESC_SIZE).sta & E1000_TXD_STAT_DD).toBe(E1000_TXD_STAT_DD);
  });

  it("re-entrancy: an uplink that loops frames back and an interrupt handler that rings a doorbell", () => {
    const mem = new PhysMem();
    const msi = new RecordingMsi();
    let loops = 0;
    const nic: Nic = new Nic({
      mem,
      translator: IDENTITY_TRANSLATOR,
      msiSink: msi,
      template: TEMPLATE,
      uplink: (b, o, l) => {
        // an external switch reflects the frame to VF 1 by rewriting the destination
        if (loops++ > 0) return;
        const copy = b.slice(o, o + l);
        copy.set([0x02, 0, 0, 0, 1, 1], 0);
        nic.wireRx(copy);
      },
    });
    nic.setNumVfs(4);
    for (let k = 0; k < 4; k++) nic.setVfConfig(k, { ...defaultVfPortConfig(), mac: MAC_VF(k) });
    const vfs = [0, 1, 2, 3].map((k) => new TinyDriver(nic.vfMmio(k), mem, 0x200_0000 + k * 0x100_0000));
    for (const d of vfs) {
      d.upTx();
      d.upRx();
    }
    const f = frame(MAC_REMOTE, MAC_VF(0), 80, { seed: 5 });
    vfs[0]!.queue(f);
    vfs[0]!.queue(frame(MAC_VF(2), MAC_VF(0), 80, { seed: 6 }));
    vfs[0]!.bump();
    const got1 = vfs[1]!.receive();
    expect(got1).toHaveLength(1);
    expect(Array.from(got1[0]!.bytes.subarray(6))).toEqual(Array.from(f.subarray(6)));
    expect(vfs[2]!.receive()).toHaveLength(1);
    expect(nic.stats(0).txPackets).toBe(2);
    // VF 2's interrupt handler answers by transmitting (a doorbell from inside the MSI write)
    nic.setMsixControl(2, true, false);
    vfs[2]!.upMsix([{ vec: 0, addr: 0xfee0_0000, data: 9 }], 0, 1, 2);
    const sink = msi.writes;
    const orig = msi.msiWrite.bind(msi);
    msi.msiWrite = (rid, addr, data) => {
      orig(rid, addr, data);
      if (data === 9 && sink.length === 1) vfs[2]!.send(frame(MAC_VF(3), MAC_VF(2), 60));
    };
    vfs[0]!.send(frame(MAC_VF(2), MAC_VF(0), 60));
    expect(vfs[3]!.receive()).toHaveLength(1);
    expect(sink).toHaveLength(1);
  });
});
