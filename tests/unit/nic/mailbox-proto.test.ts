import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { NackReason, PfMessage, VfRequest } from "../../../src/nic/mailbox-proto.js";
import {
  E1000_PF_CONTROL_MSG,
  E1000_VF_RESET,
  E1000_VF_SET_LPE,
  E1000_VF_SET_MAC_ADDR,
  E1000_VF_SET_MULTICAST,
  E1000_VF_SET_VLAN,
  E1000_VT_MSGTYPE_ACK,
  E1000_VT_MSGTYPE_CTS,
  E1000_VT_MSGTYPE_NACK,
  MBX_API_VERSIONS,
  MBX_MC_PER_MSG,
  MBX_MSGLEN_SHIFT,
  MBX_VF_API_NEGOTIATE,
  NACK_REASONS,
  PF_CONTROL_EVENTS,
  apiAtLeast,
  apiVersionOf,
  apiVersionParts,
  decodePfMessage,
  decodeVfRequest,
  encodePfMessage,
  encodeVfRequest,
  isEncodableRequest,
  replyId,
} from "../../../src/nic/mailbox-proto.js";

const mac48 = fc.integer({ min: 0, max: 2 ** 48 - 1 });
const mcMac = mac48.map((m) => m - (Math.floor(m / 2 ** 40) % 2) * 2 ** 40 + 2 ** 40);

const request: fc.Arbitrary<VfRequest> = fc.oneof(
  fc.constant<VfRequest>({ type: "reset" }),
  fc.constant<VfRequest>({ type: "get-queues" }),
  fc.constant<VfRequest>({ type: "clear-mac-filters" }),
  fc.record({ major: fc.integer({ min: 0, max: 255 }), minor: fc.integer({ min: 0, max: 255 }) }).map((v): VfRequest => ({ type: "api-negotiate", ...v })),
  mac48.map((mac): VfRequest => ({ type: "set-mac", mac })),
  mac48.map((mac): VfRequest => ({ type: "add-mac-filter", mac })),
  fc
    .record({ first: fc.boolean(), last: fc.boolean(), macs: fc.array(mcMac, { maxLength: MBX_MC_PER_MSG }) })
    .map((r): VfRequest => ({ type: "set-multicast", ...r })),
  fc.record({ add: fc.boolean(), vid: fc.integer({ min: 1, max: 4094 }) }).map((r): VfRequest => ({ type: "set-vlan", ...r })),
  fc.integer({ min: 64, max: 9728 }).map((maxFrame): VfRequest => ({ type: "set-lpe", maxFrame })),
  fc.boolean().map((allMulti): VfRequest => ({ type: "set-promisc", allMulti })),
);

const pfMessage: fc.Arbitrary<PfMessage> = fc.oneof(
  fc
    .record({
      to: fc.constantFrom("api-negotiate", "set-mac", "add-mac-filter", "clear-mac-filters", "set-multicast", "set-vlan", "set-lpe", "set-promisc" as const),
      cts: fc.boolean(),
    })
    .map((r): PfMessage => ({ type: "ack", ...r })),
  fc
    .record({ id: fc.integer({ min: 0, max: 0xffff }), reason: fc.constantFrom<NackReason>(...NACK_REASONS), cts: fc.boolean() })
    .map((r): PfMessage => ({ type: "nack", ...r })),
  fc.record({ mac: mac48, cts: fc.boolean() }).map((r): PfMessage => ({ type: "reset-ack", ...r })),
  fc
    .record({
      rx: fc.integer({ min: 1, max: 255 }),
      tx: fc.integer({ min: 1, max: 255 }),
      dq: fc.nat(),
      portVlan: fc.boolean(),
      cts: fc.boolean(),
    })
    .map(
      (r): PfMessage => ({
        type: "queues-ack",
        queues: { txQueues: r.tx, rxQueues: r.rx, defaultQueue: r.dq % r.rx, portVlan: r.portVlan },
        cts: r.cts,
      }),
    ),
  fc.record({ event: fc.constantFrom(...PF_CONTROL_EVENTS), cts: fc.boolean() }).map((r): PfMessage => ({ type: "control", ...r })),
  fc
    .record({ up: fc.boolean(), speedMbps: fc.integer({ min: 0, max: 800_000 }), cts: fc.boolean() })
    .map((r): PfMessage => ({ type: "link-state", ...r })),
);

const pad16 = (w: readonly number[]): number[] => [...w, ...new Array<number>(16 - w.length).fill(0)];
const u32 = fc.integer({ min: 0, max: 0xffffffff });

describe("mailbox protocol: round trips", () => {
  it("every VF request survives encode → 16-dword buffer → decode", () => {
    fc.assert(
      fc.property(request, (r) => {
        expect(isEncodableRequest(r)).toBe(true);
        const w = encodeVfRequest(r);
        expect(w.length).toBeLessThanOrEqual(16);
        expect(w[0]! >>> MBX_MSGLEN_SHIFT).toBe(w.length);
        expect(decodeVfRequest(pad16(w))).toEqual({ ok: true, msg: r });
        // Garbage after the declared length is ignored.
        expect(decodeVfRequest([...w, 0xffffffff])).toEqual({ ok: true, msg: r });
      }),
      { numRuns: 500 },
    );
  });

  it("every PF message survives encode → decode", () => {
    fc.assert(
      fc.property(pfMessage, (m) => {
        const w = encodePfMessage(m);
        expect(decodePfMessage(pad16(w))).toEqual({ ok: true, msg: m });
      }),
      { numRuns: 500 },
    );
  });

  it("decoding arbitrary dwords never throws, and whatever decodes re-encodes to the same words", () => {
    const head = fc.oneof(
      u32,
      fc.record({ id: fc.integer({ min: 0, max: 10 }), info: fc.integer({ min: 0, max: 255 }), len: fc.integer({ min: 0, max: 31 }), fl: fc.integer({ min: 0, max: 7 }) })
        .map((h) => (h.id | (h.info << 16) | (h.len << 24) | (h.fl << 29)) >>> 0),
    );
    fc.assert(
      fc.property(head, fc.array(fc.oneof(u32, fc.integer({ min: 0, max: 4100 })), { minLength: 15, maxLength: 15 }), (w0, rest) => {
        const words = [w0, ...rest];
        const d = decodeVfRequest(words);
        if (d.ok) {
          const again = encodeVfRequest(d.msg);
          expect(words.slice(0, again.length)).toEqual(again);
        }
        const p = decodePfMessage(words);
        if (p.ok) {
          const again = encodePfMessage(p.msg);
          expect(words.slice(0, again.length)).toEqual(again);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("mailbox protocol: malformed input is a typed error", () => {
  const hdr = (id: number, info: number, len: number, flags = 0): number => (id | (info << 16) | (len << 24) | flags) >>> 0;

  it("unknown id, bad length, bad flags", () => {
    expect(decodeVfRequest([hdr(0x77, 0, 1)])).toEqual({ ok: false, error: { kind: "unknown-id", id: 0x77 } });
    expect(decodeVfRequest([hdr(E1000_VF_RESET, 0, 2), 0])).toEqual({
      ok: false,
      error: { kind: "bad-length", id: E1000_VF_RESET, expected: 1, got: 2 },
    });
    // The header claims 3 dwords but only 2 were delivered.
    expect(decodeVfRequest([hdr(E1000_VF_SET_MAC_ADDR, 0, 3), 0])).toMatchObject({ ok: false, error: { kind: "bad-length" } });
    expect(decodeVfRequest([hdr(E1000_VF_RESET, 0, 1, E1000_VT_MSGTYPE_ACK)])).toMatchObject({ ok: false, error: { kind: "bad-flags" } });
    expect(decodeVfRequest([])).toMatchObject({ ok: false, error: { kind: "unknown-id", id: 0 } });
    expect(decodePfMessage([hdr(E1000_VF_RESET, 0, 1, E1000_VT_MSGTYPE_ACK | E1000_VT_MSGTYPE_NACK)])).toMatchObject({
      ok: false,
      error: { kind: "bad-flags" },
    });
    expect(decodePfMessage([hdr(0x55, 0, 1, E1000_VT_MSGTYPE_ACK)])).toMatchObject({ ok: false, error: { kind: "unknown-id" } });
    expect(decodePfMessage([hdr(0x300, 0, 1)])).toMatchObject({ ok: false, error: { kind: "unknown-id" } });
  });

  it("out-of-range fields", () => {
    const field = (words: number[]): string | undefined => {
      const d = decodeVfRequest(words);
      return d.ok || d.error.kind !== "field-range" ? undefined : d.error.field;
    };
    expect(field([hdr(E1000_VF_SET_VLAN, 1, 2), 0])).toBe("vid");
    expect(field([hdr(E1000_VF_SET_VLAN, 1, 2), 4095])).toBe("vid");
    expect(field([hdr(E1000_VF_SET_VLAN, 2, 2), 10])).toBe("info");
    expect(field([hdr(E1000_VF_SET_LPE, 0, 2), 63])).toBe("maxFrame");
    expect(field([hdr(E1000_VF_SET_LPE, 0, 2), 9729])).toBe("maxFrame");
    expect(field([hdr(E1000_VF_SET_MAC_ADDR, 7, 3), 0, 0])).toBe("op");
    expect(field([hdr(E1000_VF_SET_MAC_ADDR, 0, 3), 0x00005452, 0x00010000])).toBe("padding");
    expect(field([hdr(MBX_VF_API_NEGOTIATE, 0, 2), 0x10000])).toBe("version");
    expect(field([hdr(E1000_VF_SET_MULTICAST, 11, 1 + 17), ...new Array<number>(17).fill(0)])).toBe("count");
    // A unicast address in the multicast list.
    expect(field([hdr(E1000_VF_SET_MULTICAST, 1, 3), 0x00005452, 0])).toBe("mac");
    expect(decodePfMessage([hdr(E1000_VF_SET_VLAN, 99, 1, E1000_VT_MSGTYPE_NACK)])).toMatchObject({ ok: false, error: { kind: "field-range", field: "reason" } });
    expect(decodePfMessage([hdr(E1000_PF_CONTROL_MSG, 9, 1)])).toMatchObject({ ok: false, error: { kind: "field-range", field: "event" } });
  });

  it("a MAC travels as six bytes in transmission order from word 1", () => {
    const w = encodeVfRequest({ type: "set-mac", mac: 0x525400123456 });
    expect(w).toEqual([(E1000_VF_SET_MAC_ADDR | (3 << 24)) >>> 0, 0x12005452, 0x00005634]);
    const n = encodePfMessage({ type: "nack", id: E1000_VF_SET_VLAN, reason: "port-vlan", cts: true });
    expect(n[0]! & 0xffff).toBe(E1000_VF_SET_VLAN);
    expect((n[0]! & (E1000_VT_MSGTYPE_NACK | E1000_VT_MSGTYPE_CTS)) >>> 0).toBe((E1000_VT_MSGTYPE_NACK | E1000_VT_MSGTYPE_CTS) >>> 0);
    expect(replyId({ type: "ack", to: "add-mac-filter", cts: true })).toBe(E1000_VF_SET_MAC_ADDR);
  });
});

describe("mailbox protocol: versions", () => {
  it("1.0 < 1.1 < 1.2, codes round-trip", () => {
    for (const v of MBX_API_VERSIONS) {
      const p = apiVersionParts(v);
      expect(apiVersionOf(p.major, p.minor)).toBe(v);
    }
    expect(apiVersionOf(2, 0)).toBeUndefined();
    expect(apiAtLeast("1.2", "1.1")).toBe(true);
    expect(apiAtLeast("1.0", "1.1")).toBe(false);
    expect(isEncodableRequest({ type: "set-vlan", add: true, vid: 5000 })).toBe(false);
    expect(isEncodableRequest({ type: "set-multicast", first: true, last: true, macs: [0x525400000001] })).toBe(false);
  });
});
