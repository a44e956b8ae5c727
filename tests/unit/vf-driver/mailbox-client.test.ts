import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { E1000_P2VMAILBOX_ACK, E1000_P2VMAILBOX_PFU, MailboxHw } from "../../../src/nic/mailbox-hw.js";
import { E1000_CTRL, E1000_CTRL_RST, E1000_MBVFICR, E1000_P2VMAILBOX } from "../../../src/nic/regs.js";
import type { MailboxClientEnv } from "../../../src/vf-driver/mailbox-client.js";
import { E1000_VF_MBX_INIT_DELAY_NS, E1000_VF_MBX_INIT_TIMEOUT, MailboxClient } from "../../../src/vf-driver/mailbox-client.js";
import { Rig } from "../pf-driver/mailbox-rig.js";

/** A VF alone with the hardware: no PF driver answers. */
function deadPf(opts: { pfInReset?: boolean } = {}): { hw: MailboxHw; env: MailboxClientEnv; clock: { now: number } } {
  const hw = new MailboxHw(1);
  if (!opts.pfInReset) hw.pfResetDone();
  const clock = { now: 0 };
  const env: MailboxClientEnv = {
    mmio: {
      read: (off, size) => hw.vfRead(0, off, size),
      write: (off, size, v) => (off === E1000_CTRL ? (v & E1000_CTRL_RST ? hw.vfReset(0) : undefined) : hw.vfWrite(0, off, size, v)),
    },
    delay: (ns) => {
      clock.now += ns;
    },
  };
  return { hw, env, clock };
}

const ONE_SECOND = E1000_VF_MBX_INIT_DELAY_NS * E1000_VF_MBX_INIT_TIMEOUT;

describe("mailbox client: a dead PF is an error result, not an exception", () => {
  it("PF never answers: RESET times out waiting for the PF's ack after igbvf's 1 s", () => {
    const { env, clock } = deadPf();
    const c = new MailboxClient(env);
    expect(c.reset()).toEqual({ ok: false, error: { kind: "timeout", stage: "ack" } });
    expect(clock.now).toBe(ONE_SECOND);
  });

  it("PF stuck in reset (RSTI, never RSTD): the reset handshake times out", () => {
    const { env, clock } = deadPf({ pfInReset: true });
    const c = new MailboxClient(env, { pollNs: 1000, timeoutNs: 50_000 });
    expect(c.init()).toEqual({ ok: false, error: { kind: "timeout", stage: "reset" } });
    expect(clock.now).toBe(50_000);
  });

  it("PF holding the buffer forever: taking the lock times out", () => {
    const { hw, env } = deadPf();
    hw.pfWrite(E1000_P2VMAILBOX(0), 4, E1000_P2VMAILBOX_PFU);
    const c = new MailboxClient(env, { pollNs: 1000, timeoutNs: 10_000 });
    expect(c.setMac(0x020000000001)).toEqual({ ok: false, error: { kind: "timeout", stage: "lock" } });
  });

  it("the PF acks but never replies: timeout at the reply stage", () => {
    const rig = new Rig(1, { interrupts: false });
    const c = new MailboxClient(
      {
        mmio: rig.vfMmio(0),
        delay: () => {
          // Acknowledge whatever arrives but never answer (a PF that hangs mid-message).
          rig.hw.pfWrite(E1000_MBVFICR, 4, 0xffffffff);
          rig.hw.pfWrite(E1000_P2VMAILBOX(0), 4, E1000_P2VMAILBOX_ACK);
        },
      },
      { pollNs: 1000, timeoutNs: 20_000 },
    );
    expect(c.reset()).toEqual({ ok: false, error: { kind: "timeout", stage: "reply" } });
  });

  it("bad arguments are refused locally without touching the mailbox", () => {
    const rig = new Rig(1);
    const c = rig.client(0);
    expect(c.init().ok).toBe(true);
    const before = rig.server.counters(0).received;
    expect(c.addVlan(5000)).toMatchObject({ ok: false, error: { kind: "invalid-argument" } });
    expect(c.setMaxFrame(20)).toMatchObject({ ok: false, error: { kind: "invalid-argument" } });
    expect(rig.server.counters(0).received).toBe(before);
  });

  it("random timeouts and poll intervals always end in a result", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 0, max: 100_000 }), fc.boolean(), (pollNs, timeoutNs, inReset) => {
        const { env, clock } = deadPf({ pfInReset: inReset });
        const r = new MailboxClient(env, { pollNs, timeoutNs }).init();
        expect(r.ok).toBe(false);
        expect(clock.now).toBeLessThanOrEqual(timeoutNs + pollNs);
      }),
      { numRuns: 100 },
    );
  });
});

describe("mailbox client: with a live PF", () => {
  it("polls while the PF runs only on its own schedule (no interrupt wiring)", () => {
    const rig = new Rig(2, { interrupts: false });
    const c = rig.client(1, { pollNs: 10_000 });
    const r = c.init();
    expect(r).toEqual({ ok: true, value: { mac: 0, version: "1.2" } });
    expect(c.setMulticast(Array.from({ length: 25 }, (_, i) => 0x333300000000 + i)).ok).toBe(true);
    expect(rig.server.state(1).multicast).toHaveLength(25);
    expect(rig.now).toBeGreaterThan(0);
  });
});
