import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  E1000_V2PMAILBOX_ACK,
  E1000_V2PMAILBOX_PFACK,
  E1000_V2PMAILBOX_PFSTS,
  E1000_V2PMAILBOX_REQ,
  E1000_V2PMAILBOX_RSTD,
  E1000_V2PMAILBOX_VFU,
} from "../../../src/nic/mailbox-hw.js";
import type { PfMessage, VfRequest } from "../../../src/nic/mailbox-proto.js";
import { decodePfMessage, decodeVfRequest, encodeVfRequest } from "../../../src/nic/mailbox-proto.js";
import { E1000_CTRL, E1000_CTRL_RST, E1000_V2PMAILBOX, E1000_VMBMEM } from "../../../src/nic/regs.js";
import type { MailboxClient, MbxResult } from "../../../src/vf-driver/mailbox-client.js";
import { Rig, mac } from "./mailbox-rig.js";

const V2P = E1000_V2PMAILBOX(0);
const MEM = E1000_VMBMEM(0);

/** What the VF finds in its buffer (read through its own BAR0). */
function vfBuffer(rig: Rig, vf: number): PfMessage {
  const words = Array.from({ length: 16 }, (_, i) => rig.hw.vfRead(vf, MEM + 4 * i, 4));
  const d = decodePfMessage(words);
  if (!d.ok) throw new Error(`undecodable reply ${JSON.stringify(d.error)}`);
  return d.msg;
}

/** Send one raw request the way a VF driver does, return what came back. */
function rawRequest(rig: Rig, vf: number, words: readonly number[]): PfMessage {
  const io = rig.vfMmio(vf);
  io.write(V2P, 4, E1000_V2PMAILBOX_VFU);
  for (let i = 0; i < 16; i++) io.write(MEM + 4 * i, 4, words[i] ?? 0);
  io.write(V2P, 4, E1000_V2PMAILBOX_REQ);
  const m = vfBuffer(rig, vf);
  io.read(V2P, 4);
  io.write(V2P, 4, E1000_V2PMAILBOX_ACK);
  return m;
}

const send = (rig: Rig, vf: number, r: VfRequest): PfMessage => rawRequest(rig, vf, encodeVfRequest(r));

function must<T>(r: MbxResult<T>): T {
  if (!r.ok) throw new Error(`mailbox error ${JSON.stringify(r.error)}`);
  return r.value;
}

const nackOf = (r: MbxResult<unknown>): string | undefined => (!r.ok && r.error.kind === "nack" ? r.error.reason : undefined);

describe("mailbox server: handshake through the hardware", () => {
  it("VF reset → RSTD → RESET → negotiate → SET_MAC → ACK, step by step on the registers", () => {
    const rig = new Rig(2);
    const io = rig.vfMmio(1);
    // Function reset; the hardware reports reset done (read to clear).
    io.write(E1000_CTRL, 4, E1000_CTRL_RST);
    const v = io.read(V2P, 4);
    expect(v & E1000_V2PMAILBOX_RSTD).toBe(E1000_V2PMAILBOX_RSTD);
    expect(io.read(V2P, 4) & E1000_V2PMAILBOX_RSTD).toBe(0);
    // The PF saw the VF reset (VFLRE) when its interrupt ran.
    expect(rig.server.counters(1).resets).toBe(1);
    expect(rig.server.phase(1)).toBe("down");

    // RESET: take the buffer, write, REQ (which releases it).
    io.write(V2P, 4, E1000_V2PMAILBOX_VFU);
    expect(io.read(V2P, 4) & E1000_V2PMAILBOX_VFU).toBe(E1000_V2PMAILBOX_VFU);
    io.write(MEM, 4, encodeVfRequest({ type: "reset" })[0]!);
    io.write(V2P, 4, E1000_V2PMAILBOX_REQ);
    const after = io.read(V2P, 4);
    expect(after & (E1000_V2PMAILBOX_PFACK | E1000_V2PMAILBOX_PFSTS)).toBe(E1000_V2PMAILBOX_PFACK | E1000_V2PMAILBOX_PFSTS);
    expect(vfBuffer(rig, 1)).toEqual({ type: "reset-ack", mac: 0, cts: true });
    io.write(V2P, 4, E1000_V2PMAILBOX_ACK);
    expect(rig.server.phase(1)).toBe("reset-done");

    expect(send(rig, 1, { type: "api-negotiate", major: 1, minor: 2 })).toEqual({ type: "ack", to: "api-negotiate", cts: true });
    expect(rig.server.phase(1)).toBe("negotiated");
    const m = mac("52:54:00:12:34:56");
    expect(send(rig, 1, { type: "set-mac", mac: m })).toEqual({ type: "ack", to: "set-mac", cts: true });
    expect(rig.server.state(1).mac).toBe(m);
    expect(rig.nic.vfs[1]!.unicast).toEqual([m]);
    expect(rig.nic.calls.every((c) => c.vf === 1)).toBe(true);
    expect(rig.server.counters(1)).toMatchObject({ received: 3, acked: 3, nacked: 0 });
  });

  it("the VF driver does the same through MailboxClient", () => {
    const rig = new Rig(4);
    const c = rig.client(2);
    expect(must(c.init())).toEqual({ mac: 0, version: "1.2" });
    must(c.setMac(mac("02:00:00:00:00:02")));
    expect(vfBuffer(rig, 2)).toEqual({ type: "ack", to: "set-mac", cts: true });
    expect(must(c.getQueues())).toEqual({ txQueues: 2, rxQueues: 2, defaultQueue: 0, portVlan: false });
    must(c.setMulticast([mac("01:00:5e:00:00:01"), mac("33:33:00:00:00:01")]));
    must(c.addVlan(100));
    must(c.setMaxFrame(9000));
    expect(rig.server.state(2)).toEqual({
      apiVersion: "1.2",
      mac: mac("02:00:00:00:00:02"),
      macFilters: [],
      multicast: [mac("01:00:5e:00:00:01"), mac("33:33:00:00:00:01")],
      allMulti: false,
      vlans: [100],
      maxFrame: 9000,
    });
    expect(rig.nic.vfs[2]).toMatchObject({ vlans: [100], maxFrame: 9000, unicast: [mac("02:00:00:00:00:02")] });
  });

  it("a part with 40 VFs uses the wide windows for VF 37", () => {
    const rig = new Rig(40);
    const c = rig.client(37);
    must(c.init());
    must(c.setMac(mac("02:00:00:00:00:25")));
    expect(rig.nic.vfs[37]!.unicast).toEqual([mac("02:00:00:00:00:25")]);
    expect(rig.nic.calls.every((x) => x.vf === 37)).toBe(true);
  });
});

describe("mailbox server: phases and versions", () => {
  it("before reset only RESET; before negotiation only RESET/API_NEGOTIATE", () => {
    const rig = new Rig(1);
    expect(send(rig, 0, { type: "set-mac", mac: mac("02:00:00:00:00:01") })).toMatchObject({ type: "nack", reason: "phase", cts: false });
    expect(send(rig, 0, { type: "api-negotiate", major: 1, minor: 0 })).toMatchObject({ type: "nack", reason: "phase" });
    expect(send(rig, 0, { type: "reset" })).toMatchObject({ type: "reset-ack" });
    expect(send(rig, 0, { type: "set-vlan", add: true, vid: 5 })).toMatchObject({ type: "nack", reason: "phase", cts: true });
    expect(send(rig, 0, { type: "api-negotiate", major: 3, minor: 0 })).toMatchObject({ type: "nack", reason: "unsupported-version" });
    expect(send(rig, 0, { type: "api-negotiate", major: 1, minor: 0 })).toMatchObject({ type: "ack" });
    // 1.0 lacks GET_QUEUES (1.1) and SET_PROMISC (1.2).
    expect(send(rig, 0, { type: "get-queues" })).toMatchObject({ type: "nack", reason: "version" });
    expect(send(rig, 0, { type: "set-promisc", allMulti: false })).toMatchObject({ type: "nack", reason: "version" });
    expect(rig.server.counters(0).nackedBy).toMatchObject({ phase: 3, version: 2, "unsupported-version": 1 });
  });

  it("the VF driver falls back to the newest version the PF speaks", () => {
    const rig = new Rig(1, { versions: ["1.0", "1.1"] });
    const c = rig.client(0);
    expect(must(c.init())).toEqual({ mac: 0, version: "1.1" });
    const none = new Rig(1, { versions: ["1.0"] }).client(0);
    must(none.reset());
    expect(none.negotiate(["1.2", "1.1"])).toEqual({ ok: false, error: { kind: "no-version" } });
  });

  it("unknown ids and malformed messages are NACKed and change nothing", () => {
    const rig = new Rig(1);
    must(rig.client(0).init());
    const before = rig.server.state(0);
    expect(rawRequest(rig, 0, [0x01000077])).toMatchObject({ type: "nack", id: 0x77, reason: "unknown-id" });
    expect(rawRequest(rig, 0, [0x02000004, 0])).toMatchObject({ type: "nack", id: 4, reason: "malformed" });
    expect(rawRequest(rig, 0, [0x05000004, 10])).toMatchObject({ type: "nack", reason: "malformed" });
    expect(rig.server.state(0)).toEqual(before);
  });

  it("a VF reset (FLR) forgets a MAC the VF chose; a RESET message keeps it", () => {
    const rig = new Rig(2);
    const c = rig.client(0);
    must(c.init());
    must(c.setMac(mac("02:00:00:00:00:07")));
    expect(must(c.reset()).mac).toBe(0);
    must(c.negotiate());
    must(c.setMac(mac("02:00:00:00:00:07")));
    expect(send(rig, 0, { type: "reset" })).toEqual({ type: "reset-ack", mac: mac("02:00:00:00:00:07"), cts: true });
    rig.hw.vfReset(0);
    expect(rig.server.phase(0)).toBe("down");
    expect(rig.server.state(0).mac).toBe(0);
    expect(rig.nic.vfs[0]!.unicast).toEqual([]);
  });
});

describe("mailbox server: administrator rules", () => {
  const ADMIN = mac("52:54:00:aa:bb:01");
  const OTHER = mac("52:54:00:aa:bb:02");

  it("a fixed MAC: RESET hands it out; an untrusted VF cannot change it or add filters; a trusted one can", () => {
    const rig = new Rig(2, { admin: [{ mac: ADMIN }] });
    const c = rig.client(0);
    expect(must(c.init()).mac).toBe(ADMIN);
    expect(rig.nic.vfs[0]!.unicast).toEqual([ADMIN]);
    expect(nackOf(c.setMac(OTHER))).toBe("admin-mac");
    expect(c.setMac(ADMIN).ok).toBe(true);
    expect(nackOf(c.addMacFilter(OTHER))).toBe("admin-mac");
    expect(nackOf(c.clearMacFilters())).toBe("admin-mac");
    expect(rig.server.state(0).mac).toBe(ADMIN);

    rig.setAdmin(0, { trust: true });
    expect(c.setMac(OTHER).ok).toBe(true);
    expect(c.addMacFilter(mac("52:54:00:aa:bb:03")).ok).toBe(true);
    expect(rig.nic.vfs[0]!.unicast).toEqual([OTHER, mac("52:54:00:aa:bb:03")]);
  });

  it("a MAC owned by another VF (runtime or administrative) or by the PF is refused", () => {
    const PF = mac("3c:fd:fe:00:00:01");
    const rig = new Rig(3, { admin: [{}, {}, { mac: mac("52:54:00:00:00:22") }], pfMacs: [PF] });
    const a = rig.client(0);
    const b = rig.client(1);
    must(a.init());
    must(b.init());
    must(a.setMac(mac("02:00:00:00:00:aa")));
    expect(nackOf(b.setMac(mac("02:00:00:00:00:aa")))).toBe("mac-in-use");
    expect(nackOf(b.addMacFilter(mac("02:00:00:00:00:aa")))).toBe("mac-in-use");
    expect(nackOf(b.setMac(mac("52:54:00:00:00:22")))).toBe("mac-in-use");
    expect(nackOf(b.setMac(PF))).toBe("mac-in-use");
    expect(nackOf(b.setMac(mac("01:00:5e:00:00:01")))).toBe("invalid-mac");
    expect(nackOf(b.setMac(0))).toBe("invalid-mac");
    expect(rig.server.state(1).mac).toBe(0);
    expect(rig.server.state(0).mac).toBe(mac("02:00:00:00:00:aa"));
  });

  it("extra unicast filters stop at the limit and can be cleared", () => {
    const rig = new Rig(1, { limits: { maxMacFilters: 2 } });
    const c = rig.client(0);
    must(c.init());
    must(c.setMac(mac("02:00:00:00:00:01")));
    must(c.addMacFilter(mac("02:00:00:00:00:02")));
    must(c.addMacFilter(mac("02:00:00:00:00:03")));
    must(c.addMacFilter(mac("02:00:00:00:00:03")));
    expect(nackOf(c.addMacFilter(mac("02:00:00:00:00:04")))).toBe("mac-limit");
    expect(rig.nic.vfs[0]!.unicast).toEqual([mac("02:00:00:00:00:01"), mac("02:00:00:00:00:02"), mac("02:00:00:00:00:03")]);
    must(c.clearMacFilters());
    expect(rig.nic.vfs[0]!.unicast).toEqual([mac("02:00:00:00:00:01")]);
  });

  it("VLAN changes are refused while the administrator set a port VLAN; GET_QUEUES reports it", () => {
    const rig = new Rig(2, { admin: [{ vlan: 10, qos: 2 }], limits: { maxVlans: 2 } });
    const c = rig.client(0);
    must(c.init());
    expect(nackOf(c.addVlan(20))).toBe("port-vlan");
    expect(must(c.getQueues()).portVlan).toBe(true);
    expect(rig.server.state(0).vlans).toEqual([]);
    const d = rig.client(1);
    must(d.init());
    must(d.addVlan(30));
    must(d.addVlan(20));
    expect(nackOf(d.addVlan(40))).toBe("vlan-limit");
    must(d.removeVlan(30));
    expect(rig.server.state(1).vlans).toEqual([20]);
  });

  it("all-multicast needs trust; multicast lists: 30 in three chunks, 31 refused, chunks need a first", () => {
    const rig = new Rig(1);
    const c = rig.client(0);
    must(c.init());
    expect(nackOf(c.setAllMulti(true))).toBe("not-trusted");
    rig.setAdmin(0, { trust: true });
    must(c.setAllMulti(true));
    expect(rig.nic.vfs[0]!.allMulti).toBe(true);
    const mcs = Array.from({ length: 31 }, (_, i) => 0x01005e000000 + i);
    must(c.setMulticast(mcs.slice(0, 30)));
    expect(rig.server.state(0).multicast).toHaveLength(30);
    expect(rig.server.counters(0).received).toBeGreaterThanOrEqual(5);
    expect(nackOf(c.setMulticast(mcs))).toBe("multicast-limit");
    expect(rig.server.state(0).multicast).toEqual(mcs.slice(0, 30));
    expect(send(rig, 0, { type: "set-multicast", first: false, last: true, macs: [] })).toMatchObject({ reason: "multicast-sequence" });
    must(c.setMulticast([]));
    expect(rig.nic.vfs[0]!.multicast).toEqual([]);
  });
});

describe("mailbox server: rate limit", () => {
  it("a flooding VF is NACKed past its budget while another VF is served; the budget refills with time", () => {
    const rig = new Rig(2, { limits: { burst: 50, msgsPerSecond: 1000 } });
    const honest = rig.client(0);
    must(honest.init());
    const garbage = [0x0100abcd];
    for (let i = 0; i < 3000; i++) {
      rawRequest(rig, 1, garbage);
      if (i % 500 === 0) must(honest.setMac(mac("02:00:00:00:01:00") + i));
    }
    const f = rig.server.counters(1);
    expect(f.received).toBe(3000);
    expect(f.nackedBy["unknown-id"]).toBe(50);
    expect(f.nackedBy["rate-limited"]).toBe(2950);
    expect(rig.server.counters(0).nacked).toBe(0);
    expect(rig.server.state(0).mac).toBe(mac("02:00:00:00:01:00") + 2500);
    // 100 ms later the flooder has 100 more messages.
    rig.now += 100_000_000;
    for (let i = 0; i < 200; i++) rawRequest(rig, 1, garbage);
    expect(rig.server.counters(1).nackedBy["unknown-id"]).toBe(50 + 50);
    expect(rig.server.phase(1)).toBe("down");
  });
});

describe("mailbox server: PF → VF messages", () => {
  it("link state reaches VFs on 1.2 only; a reset request takes CTS away until the VF resets", () => {
    const rig = new Rig(2, { versions: ["1.0", "1.1", "1.2"] });
    const a = rig.client(0);
    const b = rig.client(1);
    must(a.init());
    must(b.init(["1.1"]));
    rig.server.notifyLinkState(true, 10000);
    expect(a.checkForMessages()).toEqual([{ type: "link-state", up: true, speedMbps: 10000, cts: true }]);
    expect(b.checkForMessages()).toEqual([]);
    rig.server.requestVfReset(0);
    expect(a.checkForMessages()).toContainEqual({ type: "control", event: "reset-required", cts: false });
    expect(a.cts).toBe(false);
    expect(nackOf(a.setMac(mac("02:00:00:00:00:01")))).toBe("phase");
    must(a.init());
    expect(a.setMac(mac("02:00:00:00:00:01")).ok).toBe(true);
  });

  it("a notification pending when the VF sends a request is read first, not lost", () => {
    const rig = new Rig(1);
    const a = rig.client(0);
    must(a.init());
    rig.server.notifyLinkState(false, 0);
    must(a.addVlan(7));
    expect(a.notifications).toEqual([{ type: "link-state", up: false, speedMbps: 0, cts: true }]);
  });

  it("a VF grabbing its buffer while the PF writes the reply cannot corrupt it", () => {
    const rig = new Rig(2);
    const c = rig.client(0);
    must(c.init());
    let tried = false;
    rig.duringPfWrite = (vf) => {
      tried = true;
      const io = rig.vfMmio(vf);
      io.write(V2P, 4, E1000_V2PMAILBOX_VFU);
      expect(rig.hw.vfSnapshot(vf).v2p & E1000_V2PMAILBOX_VFU).toBe(0);
      for (let i = 0; i < 16; i++) io.write(MEM + 4 * i, 4, 0xffffffff);
    };
    must(c.setMaxFrame(4000));
    expect(tried).toBe(true);
    expect(rig.server.state(0).maxFrame).toBe(4000);
  });
});

// ---------------------------------------------------------------------------------------------
// Model-based: a hostile VF 0 next to honest VFs 1..3. Every run is replayed without the hostile
// commands; the honest VFs' results, server state, NIC filters and mailbox registers must be the
// same, the hostile VF must have gained nothing, and the administrator's settings stay frozen.

type Hostile =
  | { readonly k: "garbage"; readonly words: readonly number[]; readonly lock: boolean }
  | { readonly k: "well-formed"; readonly req: VfRequest }
  | { readonly k: "flood"; readonly n: number; readonly words: readonly number[] }
  | { readonly k: "hold" }
  | { readonly k: "release" }
  | { readonly k: "ack-spam"; readonly n: number }
  | { readonly k: "poke"; readonly off: number; readonly size: number; readonly value: number; readonly read: boolean }
  | { readonly k: "steal-during-pf" };

type HonestOp =
  | { readonly k: "init" }
  | { readonly k: "set-mac"; readonly m: number }
  | { readonly k: "add-filter"; readonly m: number }
  | { readonly k: "multicast"; readonly n: number }
  | { readonly k: "vlan"; readonly add: boolean; readonly vid: number }
  | { readonly k: "lpe"; readonly bytes: number }
  | { readonly k: "queues" }
  | { readonly k: "allmulti"; readonly on: boolean };

type Cmd = { readonly who: "hostile"; readonly h: Hostile } | { readonly who: "honest"; readonly vf: number; readonly op: HonestOp } | { readonly who: "tick"; readonly ns: number };

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const notReset = (w: readonly number[]): boolean => {
  const d = decodeVfRequest(w);
  return !(d.ok && d.msg.type === "reset");
};
const garbageWords = fc
  .oneof(
    fc.array(u32, { minLength: 1, maxLength: 16 }),
    fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 31 }), fc.array(u32, { maxLength: 15 })).map(([id, len, rest]) => [
      (id | (len << 24)) >>> 0,
      ...rest,
    ]),
  )
  .filter(notReset);
const wellFormed: fc.Arbitrary<VfRequest> = fc.oneof(
  fc.constant<VfRequest>({ type: "get-queues" }),
  fc.integer({ min: 1, max: 4094 }).map((vid): VfRequest => ({ type: "set-vlan", add: true, vid })),
  fc.integer({ min: 0, max: 3 }).map((i): VfRequest => ({ type: "set-mac", mac: 0x020000000000 + i })),
  fc.constant<VfRequest>({ type: "api-negotiate", major: 1, minor: 2 }),
  fc.constant<VfRequest>({ type: "set-promisc", allMulti: true }),
);
const hostile: fc.Arbitrary<Hostile> = fc.oneof(
  fc.record({ words: garbageWords, lock: fc.boolean() }).map((r): Hostile => ({ k: "garbage", ...r })),
  wellFormed.map((req): Hostile => ({ k: "well-formed", req })),
  fc.record({ n: fc.integer({ min: 1, max: 300 }), words: garbageWords }).map((r): Hostile => ({ k: "flood", ...r })),
  fc.constant<Hostile>({ k: "hold" }),
  fc.constant<Hostile>({ k: "release" }),
  fc.integer({ min: 1, max: 20 }).map((n): Hostile => ({ k: "ack-spam", n })),
  fc
    .record({ off: fc.integer({ min: 0, max: 0x1000 }), size: fc.constantFrom(1, 2, 4), value: u32, read: fc.boolean() })
    .map((r): Hostile => ({ k: "poke", ...r })),
  fc.constant<Hostile>({ k: "steal-during-pf" }),
);
const honestOp: fc.Arbitrary<HonestOp> = fc.oneof(
  { arbitrary: fc.constant<HonestOp>({ k: "init" }), weight: 3 },
  fc.integer({ min: 0, max: 3 }).map((m): HonestOp => ({ k: "set-mac", m })),
  fc.integer({ min: 0, max: 5 }).map((m): HonestOp => ({ k: "add-filter", m })),
  fc.integer({ min: 0, max: 32 }).map((n): HonestOp => ({ k: "multicast", n })),
  fc.record({ add: fc.boolean(), vid: fc.integer({ min: 1, max: 4 }) }).map((r): HonestOp => ({ k: "vlan", ...r })),
  fc.integer({ min: 64, max: 9728 }).map((bytes): HonestOp => ({ k: "lpe", bytes })),
  fc.constant<HonestOp>({ k: "queues" }),
  fc.boolean().map((on): HonestOp => ({ k: "allmulti", on })),
);
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { arbitrary: hostile.map((h): Cmd => ({ who: "hostile", h })), weight: 4 },
  { arbitrary: fc.record({ vf: fc.integer({ min: 1, max: 3 }), op: honestOp }).map((r): Cmd => ({ who: "honest", ...r })), weight: 4 },
  { arbitrary: fc.integer({ min: 1, max: 300_000_000 }).map((ns): Cmd => ({ who: "tick", ns })), weight: 1 },
);

const HONEST_MACS = [0x020000000000, 0x020000000001, 0x020000000002, 0x020000000003];
const ADMIN = [{}, { mac: 0x525400000011 }, {}, { vlan: 42, trust: true }];

function honest(c: MailboxClient, op: HonestOp): MbxResult<unknown> {
  switch (op.k) {
    case "init":
      return c.init();
    case "set-mac":
      return c.setMac(HONEST_MACS[op.m]!);
    case "add-filter":
      return c.addMacFilter(0x0a0000000000 + op.m);
    case "multicast":
      return c.setMulticast(Array.from({ length: op.n }, (_, i) => 0x01005e000000 + i));
    case "vlan":
      return op.add ? c.addVlan(op.vid) : c.removeVlan(op.vid);
    case "lpe":
      return c.setMaxFrame(op.bytes);
    case "queues":
      return c.getQueues();
    case "allmulti":
      return c.setAllMulti(op.on);
  }
}

function hostileDo(rig: Rig, h: Hostile): void {
  const io = rig.vfMmio(0);
  const post = (words: readonly number[], lock: boolean): void => {
    if (lock) io.write(V2P, 4, E1000_V2PMAILBOX_VFU);
    for (let i = 0; i < words.length; i++) io.write(MEM + 4 * i, 4, words[i]!);
    io.write(V2P, 4, E1000_V2PMAILBOX_REQ);
  };
  switch (h.k) {
    case "garbage":
      post(h.words, h.lock);
      return;
    case "well-formed":
      post(encodeVfRequest(h.req), true);
      return;
    case "flood":
      for (let i = 0; i < h.n; i++) post(h.words, true);
      return;
    case "hold":
      io.write(V2P, 4, E1000_V2PMAILBOX_VFU);
      return;
    case "release":
      io.write(V2P, 4, 0);
      return;
    case "ack-spam":
      for (let i = 0; i < h.n; i++) io.write(V2P, 4, E1000_V2PMAILBOX_ACK);
      return;
    case "poke":
      if (h.read) io.read(h.off, h.size);
      // CTRL.RST would be an honest reset, not an attack on others: leave offset 0 to the honest path.
      else if (h.off !== E1000_CTRL) io.write(h.off, h.size, h.value);
      return;
    case "steal-during-pf":
      rig.duringPfWrite = (vf) => {
        const v = rig.vfMmio(vf);
        v.write(V2P, 4, E1000_V2PMAILBOX_VFU);
        for (let i = 0; i < 16; i++) v.write(MEM + 4 * i, 4, 0xffffffff);
        v.write(V2P, 4, E1000_V2PMAILBOX_REQ);
      };
      post([0x0100abcd], true);
      return;
  }
}

interface RunResult {
  readonly results: unknown[];
  readonly rig: Rig;
}

function run(cmds: readonly Cmd[], withHostile: boolean): RunResult {
  const rig = new Rig(4, { admin: ADMIN, limits: { burst: 40, msgsPerSecond: 500 } });
  const clients = [1, 2, 3].map((vf) => rig.client(vf, { timeoutNs: 5_000_000 }));
  // Honest drivers probe first (a later "init" is a driver reload).
  const results: unknown[] = clients.map((c) => c.init());
  for (const c of cmds) {
    if (c.who === "tick") {
      rig.now += c.ns;
      rig.server.poll(rig.now);
    } else if (c.who === "honest") {
      results.push(honest(clients[c.vf - 1]!, c.op));
    } else if (withHostile) {
      hostileDo(rig, c.h);
      rig.duringPfWrite = null;
    }
  }
  return { results, rig };
}

describe("mailbox server: hostile VF (model-based)", () => {
  it("hostile sequences are NACKed or ignored and change nothing outside the hostile VF; honest VFs are unaffected", () => {
    fc.assert(
      fc.property(fc.array(cmd, { minLength: 1, maxLength: 30 }), (cmds) => {
        const a = run(cmds, true);
        const b = run(cmds, false);
        expect(a.results).toEqual(b.results);
        for (const vf of [1, 2, 3]) {
          expect(a.rig.server.snapshotVf(vf)).toEqual(b.rig.server.snapshotVf(vf));
          expect(a.rig.nic.vfs[vf]).toEqual(b.rig.nic.vfs[vf]);
          expect(a.rig.hw.vfSnapshot(vf)).toEqual(b.rig.hw.vfSnapshot(vf));
        }
        // The hostile VF never completed a reset: nothing was applied to it.
        const h = a.rig.server.snapshotVf(0);
        expect(h.phase).toBe("down");
        expect(h.state).toEqual(b.rig.server.snapshotVf(0).state);
        expect(a.rig.nic.calls.filter((x) => x.vf === 0)).toEqual([]);
        expect(h.counters.acked).toBe(0);
        expect(h.counters.received).toBe(h.counters.nacked);
        // Administrative settings are frozen objects: any write would have thrown.
        expect(a.rig.admin.map((x) => Object.isFrozen(x))).toEqual([true, true, true, true]);
      }),
      { numRuns: 100 },
    );
  });
});
