import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PhysMem } from "../../../src/memory/physmem.js";
import { IDENTITY_TRANSLATOR } from "../../../src/pcie/dma.js";
import { Nic } from "../../../src/nic/nic.js";
import type { VlanProto } from "../../../src/nic/port-config.js";
import { BROADCAST_MAC, ETH_P_8021AD, ETH_P_8021Q, defaultVfPortConfig } from "../../../src/nic/port-config.js";
import { RecordingMsi, TinyDriver, frame } from "./tiny-driver.js";

const NVF = 4;
const PF = -1;
const WIRE = -2;
const MACS = [0x0200_0000_0001, 0x0200_0000_0002, 0x0200_0000_0003, 0x0200_0000_0004, 0x0200_0000_0005, 0x0200_0000_0006];
const REMOTE = 0x0299_0000_0001;
const MCASTS = [0x0100_5e00_0001, 0x0100_5e00_0002, 0x3333_0000_0001];
const VLANS = [10, 20, 30];

interface PortModel {
  macs: number[];
  mc: number[];
  allMulti: boolean;
  portVlan: number;
  vlans: number[];
  spoofchk: boolean;
}

const portArb = (self: number): fc.Arbitrary<PortModel> =>
  fc.record({
    macs: fc.subarray(MACS.filter((m) => m !== MACS[self]), { maxLength: 2 }).map((extra) => [MACS[self]!, ...extra]),
    mc: fc.subarray(MCASTS),
    allMulti: fc.boolean(),
    portVlan: fc.constantFrom(0, 0, 10, 20),
    vlans: fc.subarray(VLANS),
    spoofchk: fc.boolean(),
  });

const dstArb = fc.constantFrom(...MACS, REMOTE, BROADCAST_MAC, ...MCASTS);

interface Sent {
  from: number; // VF index, PF, or WIRE
  dst: number;
  src: number;
  tag: number; // 802.1Q VID in the frame (wire) or via VLE (functions); -1 none
  len: number;
  seed: number;
}

const sentArb: fc.Arbitrary<Sent> = fc.record({
  from: fc.integer({ min: WIRE, max: NVF - 1 }),
  dst: dstArb,
  src: fc.constantFrom(...MACS, REMOTE),
  tag: fc.constantFrom(-1, -1, 0, 10, 20, 30),
  len: fc.integer({ min: 46, max: 200 }),
  seed: fc.nat(255),
});

function build(ports: PortModel[], pfMacs: number[]) {
  const mem = new PhysMem();
  const wire: Uint8Array[] = [];
  const nic = new Nic({ mem, translator: IDENTITY_TRANSLATOR, msiSink: new RecordingMsi(), template: { maxVfs: NVF, queuesPerVf: 1 }, uplink: (b, o, l) => wire.push(b.slice(o, o + l)) });
  nic.setNumVfs(NVF);
  nic.setMacFilters("pf", pfMacs);
  ports.forEach((p, k) => {
    nic.setVfConfig(k, { ...defaultVfPortConfig(), mac: p.macs[0]!, vlan: p.portVlan, spoofchk: p.spoofchk });
    nic.setMacFilters(k, p.macs.slice(1));
    nic.setMulticast(k, p.mc, p.allMulti);
    nic.setVlanFilter(k, p.vlans);
  });
  const drivers = [nic.pfMmio, ...ports.map((_, k) => nic.vfMmio(k))].map((m, i) => new TinyDriver(m, mem, 0x100_0000 * (i + 1), 16));
  for (const d of drivers) {
    d.upTx();
    d.upRx();
  }
  const drv = (who: number): TinyDriver => drivers[who === PF ? 0 : who + 1]!;
  return { nic, wire, drv };
}

/** Independent reference of the switch: which ports get the frame, with which bytes. */
function expected(ports: PortModel[], pfMacs: number[], s: Sent): { spoofed: boolean; rx: Map<number, Uint8Array>; wire: Uint8Array | undefined } {
  const rx = new Map<number, Uint8Array>();
  const sender = s.from >= 0 ? ports[s.from]! : undefined;
  const inner = frame(s.dst, s.src, s.len, { seed: s.seed });
  if (sender !== undefined && sender.spoofchk && !sender.macs.includes(s.src)) return { spoofed: true, rx, wire: undefined };
  if (sender !== undefined && sender.portVlan !== 0 && s.tag >= 0) return { spoofed: sender.spoofchk, rx, wire: undefined };
  let outer = s.tag;
  if (sender !== undefined && sender.portVlan !== 0) outer = sender.portVlan;
  const onWire = outer >= 0 ? frame(s.dst, s.src, s.len, { seed: s.seed, tags: [[ETH_P_8021Q, outer]] }) : inner;
  const group = Math.floor(s.dst / 2 ** 40) % 2 === 1;
  const bcast = s.dst === BROADCAST_MAC;
  const takes = (macs: number[], mc: number[], allMulti: boolean): boolean => (bcast ? true : group ? allMulti || mc.includes(s.dst) : macs.includes(s.dst));
  if (s.from !== PF && takes(pfMacs, [], false) && (outer <= 0)) rx.set(PF, onWire);
  ports.forEach((p, k) => {
    if (k === s.from) return;
    const member = p.portVlan !== 0 ? outer === p.portVlan : outer <= 0 || p.vlans.includes(outer);
    if (!member || !takes(p.macs, p.mc, p.allMulti)) return;
    rx.set(k, p.portVlan !== 0 ? inner : onWire);
  });
  const wire = s.from !== WIRE && (group || rx.size === 0) ? onWire : undefined;
  return { spoofed: false, rx, wire };
}

function send(nic: Nic, drv: (w: number) => TinyDriver, s: Sent): void {
  if (s.from === WIRE) {
    nic.wireRx(frame(s.dst, s.src, s.len, { seed: s.seed, tags: s.tag >= 0 ? [[ETH_P_8021Q, s.tag]] : [] }));
  } else {
    drv(s.from).send(frame(s.dst, s.src, s.len, { seed: s.seed }), s.tag >= 0 ? { vlan: s.tag } : {});
  }
}

const portsArb = fc.tuple(...Array.from({ length: NVF }, (_, k) => portArb(k)));
const pfMacsArb = fc.constantFrom<number[]>([0x0200_0000_00aa], [0x0200_0000_00aa, MACS[5]!]);

describe("VEB steering (properties)", () => {
  it("a frame reaches exactly the ports whose filters and VLAN match, with the right bytes, and the wire only when it should", () => {
    fc.assert(
      fc.property(portsArb, pfMacsArb, fc.array(sentArb, { minLength: 1, maxLength: 6 }), (ports, pfMacs, sends) => {
        const { nic, wire, drv } = build(ports, pfMacs);
        for (const s of sends) {
          wire.length = 0;
          send(nic, drv, s);
          const exp = expected(ports, pfMacs, s);
          for (const who of [PF, 0, 1, 2, 3]) {
            const got = drv(who).receive();
            const want = exp.rx.get(who);
            if (want === undefined) expect(got, `port ${who} must not receive`).toHaveLength(0);
            else {
              expect(got, `port ${who} must receive`).toHaveLength(1);
              expect(Buffer.from(got[0]!.bytes).equals(Buffer.from(want))).toBe(true);
            }
          }
          if (exp.wire === undefined) expect(wire).toHaveLength(0);
          else {
            expect(wire).toHaveLength(1);
            expect(Buffer.from(wire[0]!).equals(Buffer.from(exp.wire))).toBe(true);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it("never delivers a frame to a VF of another VLAN", () => {
    fc.assert(
      fc.property(portsArb, fc.array(sentArb, { minLength: 1, maxLength: 6 }), (ports, sends) => {
        const { nic, drv } = build(ports, [0x0200_0000_00aa]);
        for (const s of sends) {
          send(nic, drv, s);
          ports.forEach((p, k) => {
            const got = drv(k).receive();
            if (p.portVlan === 0) return;
            // whatever a port-VLAN VF gets travelled on its VLAN: the sender's port VLAN, or the tag it carried
            const onVlan = s.from >= 0 && ports[s.from]!.portVlan !== 0 ? ports[s.from]!.portVlan : s.tag;
            for (let i = 0; i < got.length; i++) expect(onVlan).toBe(p.portVlan);
          });
        }
      }),
      { numRuns: 150 },
    );
  });

  it("broadcast reaches every same-VLAN port except the sender, plus the wire", () => {
    fc.assert(
      fc.property(portsArb, fc.integer({ min: PF, max: NVF - 1 }), fc.nat(255), (ports, from, seed) => {
        const { nic, wire, drv } = build(ports, [0x0200_0000_00aa]);
        const src = from === PF ? 0x0200_0000_00aa : ports[from]!.macs[0]!;
        drv(from).send(frame(BROADCAST_MAC, src, 50, { seed }));
        const vlan = from === PF ? 0 : ports[from]!.portVlan; // the VLAN the frame travels on (0: untagged)
        const member = (who: number): boolean => {
          if (who === PF) return vlan === 0;
          const p = ports[who]!;
          return p.portVlan !== 0 ? p.portVlan === vlan : vlan === 0 || p.vlans.includes(vlan);
        };
        for (const who of [PF, 0, 1, 2, 3]) {
          const n = drv(who).receive().length;
          expect(n).toBe(who !== from && member(who) ? 1 : 0);
        }
        expect(wire).toHaveLength(1);
        expect(nic.wireStats().txPackets).toBe(1);
      }),
      { numRuns: 100 },
    );
  });

  it("spoofed frames are dropped and counted (spoofchk on); nothing leaves", () => {
    fc.assert(
      fc.property(portsArb, fc.integer({ min: 0, max: NVF - 1 }), dstArb, (ports, from, dst) => {
        ports[from]!.spoofchk = true;
        const { nic, wire, drv } = build(ports, [0x0200_0000_00aa]);
        drv(from).send(frame(dst, 0x02ee_0000_0001, 50));
        for (const who of [PF, 0, 1, 2, 3]) expect(drv(who).receive()).toHaveLength(0);
        expect(wire).toHaveLength(0);
        const st = nic.stats(from);
        expect(st.drops.spoof).toBe(1);
        expect(st.txDropped).toBe(1);
        expect(st.txPackets).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it("port VLAN insert on TX and strip on RX round-trip the frame (802.1Q and 802.1ad, any qos)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4094 }),
        fc.integer({ min: 0, max: 7 }),
        fc.constantFrom<VlanProto>("802.1Q", "802.1ad"),
        fc.integer({ min: 46, max: 1500 }),
        fc.nat(255),
        (vlan, qos, proto, len, seed) => {
          const ports: PortModel[] = Array.from({ length: NVF }, (_, k) => ({ macs: [MACS[k]!], mc: [], allMulti: false, portVlan: 0, vlans: [], spoofchk: true }));
          const { nic, wire, drv } = build(ports, [0x0200_0000_00aa]);
          nic.setVfConfig(0, { ...nic.vfConfig(0), vlan, qos, proto });
          const f = frame(REMOTE, MACS[0]!, len, { seed });
          drv(0).send(f);
          expect(wire).toHaveLength(1);
          const w = wire[0]!;
          const tpid = proto === "802.1ad" ? ETH_P_8021AD : ETH_P_8021Q;
          expect((w[12]! << 8) | w[13]!).toBe(tpid);
          expect((w[14]! << 8) | w[15]!).toBe((qos << 13) | vlan);
          expect(w.length).toBe(f.length + 4);
          // the same bytes back from the wire with the destination swapped reach VF 0 untagged
          const back = frame(MACS[0]!, REMOTE, len, { seed, tags: [[tpid, (qos << 13) | vlan]] });
          nic.wireRx(back);
          const got = drv(0).receive();
          expect(got).toHaveLength(1);
          expect(Buffer.from(got[0]!.bytes).equals(Buffer.from(frame(MACS[0]!, REMOTE, len, { seed })))).toBe(true);
          // and no other VF (no port VLAN) sees it
          for (const k of [1, 2, 3]) expect(drv(k).receive()).toHaveLength(0);
        },
      ),
      { numRuns: 100 },
    );
  });
});
