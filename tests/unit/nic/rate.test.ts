import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PhysMem } from "../../../src/memory/physmem.js";
import { IDENTITY_TRANSLATOR } from "../../../src/pcie/dma.js";
import { Nic } from "../../../src/nic/nic.js";
import { defaultVfPortConfig } from "../../../src/nic/port-config.js";
import { TokenBucket, mbpsToBytesPerNs } from "../../../src/nic/rate.js";
import { RecordingMsi, TinyDriver, frame } from "./tiny-driver.js";

const MAC_A = 0x0200_0000_0001;
const REMOTE = 0x0299_0000_0001;

/** A VF limited to `mbps` at 5 µs with `n` frames of `size` bytes queued and its doorbell rung; bytes on the wire counted. */
function rateLimitedVf(mbps: number, size: number, n: number): { nic: Nic; wire: { bytes: number } } {
  const mem = new PhysMem();
  const wire = { bytes: 0 };
  const nic = new Nic({ mem, translator: IDENTITY_TRANSLATOR, msiSink: new RecordingMsi(), template: { maxVfs: 1, queuesPerVf: 1 }, uplink: (_b, _o, l) => (wire.bytes += l) });
  nic.setNumVfs(1);
  nic.poll(5_000);
  nic.setVfConfig(0, { ...defaultVfPortConfig(), mac: MAC_A, maxTxRate: mbps });
  const d = new TinyDriver(nic.vfMmio(0), mem, 0x100_0000, 256);
  d.upTx();
  for (let i = 0; i < n; i++) d.queue(frame(REMOTE, MAC_A, size - 14, { seed: i }));
  d.bump();
  return { nic, wire };
}

describe("TX rate limiter (token bucket in simulated time)", () => {
  it("bytes taken never exceed rate × elapsed + burst, for any request pattern", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2_000_000 }), fc.integer({ min: 1, max: 9736 })), { minLength: 1, maxLength: 300 }),
        (mbps, reqs) => {
          const b = new TokenBucket();
          const t0 = 1_000;
          b.configure(mbps, t0);
          let now = t0;
          let taken = 0;
          for (const [dt, bytes] of reqs) {
            now += dt;
            if (b.tryTake(bytes, now)) taken += bytes;
            expect(taken).toBeLessThanOrEqual(mbpsToBytesPerNs(mbps) * (now - t0) + b.burst + 1e-6);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a frame that waits is sent once the bucket holds it (readyAtNs)", () => {
    const b = new TokenBucket();
    b.configure(8, 0); // 1 byte per µs
    expect(b.tryTake(b.burst, 0)).toBe(true);
    expect(b.tryTake(1000, 0)).toBe(false);
    const t = b.readyAtNs(1000, 0);
    expect(t).toBe(1000 * 1000);
    expect(b.tryTake(1000, t - 1)).toBe(false);
    expect(b.tryTake(1000, t)).toBe(true);
  });

  it("over a long simulated interval a VF's sent bytes stay under max_tx_rate × time + burst, and everything is sent eventually", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 10, max: 2_000 }),
        fc.array(fc.integer({ min: 1_000, max: 3_000_000 }), { minLength: 20, maxLength: 80 }),
        fc.integer({ min: 60, max: 1500 }),
        (mbps, steps, size) => {
          const n = 200;
          const { nic, wire } = rateLimitedVf(mbps, size, n);
          const rate = mbpsToBytesPerNs(mbps);
          const burst = Math.max(9736, rate * 1_000_000);
          let now = 5_000;
          expect(wire.bytes).toBeLessThanOrEqual(burst);
          for (const dt of steps) {
            now += dt;
            nic.poll(now);
            expect(wire.bytes).toBeLessThanOrEqual(rate * (now - 5_000) + burst + 1e-6);
          }
          // liveness: following nextWakeNs drains the queue
          for (let guard = 0; guard < 1000 && nic.stats(0).txPackets < n; guard++) {
            const t = nic.nextWakeNs();
            expect(Number.isFinite(t)).toBe(true);
            now = Math.max(now, t);
            nic.poll(now);
            expect(wire.bytes).toBeLessThanOrEqual(rate * (now - 5_000) + burst + 1e-6);
          }
          expect(nic.stats(0).txPackets).toBe(n);
          expect(wire.bytes).toBe(n * size);
          expect(nic.nextWakeNs()).toBe(Infinity);
          if (n * size > burst) expect(nic.stats(0).rateStalls).toBeGreaterThan(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("a timer that polls only at the deadlines takeNewWakeNs reports (kept as the earliest pending) sends everything, never early, like one following nextWakeNs", () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 2_000 }), fc.integer({ min: 60, max: 1500 }), fc.integer({ min: 1, max: 60 }), (mbps, size, n) => {
        const { nic, wire } = rateLimitedVf(mbps, size, n);
        const rate = mbpsToBytesPerNs(mbps);
        const burst = Math.max(9736, rate * 1_000_000);
        let armed = nic.takeNewWakeNs(); // what a platform timer would be armed at after the doorbell
        let now = 5_000;
        for (let guard = 0; guard < 1000 && nic.stats(0).txPackets < n; guard++) {
          expect(Number.isFinite(armed)).toBe(true);
          expect(armed).toBe(nic.nextWakeNs()); // the armed time is the true next deadline
          now = Math.max(now, armed);
          nic.poll(now);
          armed = nic.takeNewWakeNs();
          expect(wire.bytes).toBeLessThanOrEqual(rate * (now - 5_000) + burst + 1e-6);
        }
        expect(nic.stats(0).txPackets).toBe(n);
        expect(wire.bytes).toBe(n * size);
        expect(armed).toBe(Infinity);
      }),
      { numRuns: 40 },
    );
  });

  it("min_tx_rate above max_tx_rate is refused", () => {
    const nic = new Nic({ mem: new PhysMem(), translator: IDENTITY_TRANSLATOR, msiSink: new RecordingMsi(), template: { maxVfs: 1, queuesPerVf: 1 } });
    expect(() => nic.setVfConfig(0, { ...defaultVfPortConfig(), minTxRate: 200, maxTxRate: 100 })).toThrow(/min_tx_rate/);
  });
});
