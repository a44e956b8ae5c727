import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parseHostFile } from "../../../src/config/parse.js";
import { SimHost, type PfPort } from "../../../src/config/host.js";
import { isIovError } from "../../../src/errors.js";
import { virtfnRid } from "../../../src/sriov/rid.js";
import { VF_SETTLE_NS } from "../../../src/sriov/regs.js";

const HOST = (template: string) => `host: { memory: 8GiB, cpus: 4 }
fabric:
  rootPorts:
    - slot: 1
      device: { template: ${template} }
`;

function mkHost(template: string): { host: SimHost; pf: PfPort } {
  const host = new SimHost(parseHostFile(HOST(template), "lifecycle.yaml"));
  host.enumerateAndProbe();
  return { host, pf: host.pfs[0]! };
}

interface Model {
  numVfs: number;
  total: number;
}

/** Everything the hardware and the driver must agree on after every command. */
function checkInvariants(host: SimHost, pf: PfPort, m: Model): void {
  expect(pf.driver.enabledVfs).toBe(m.numVfs);
  expect(pf.sriov.vfs.length).toBe(m.numVfs);
  expect(pf.sriov.vfEnabled).toBe(m.numVfs > 0);
  const off = pf.sriov.offset;
  const stride = pf.sriov.stride;
  pf.sriov.vfs.forEach((vf, k) => {
    // VF k at PF RID + offset + k × stride (bus carry included), and reachable there by config cycles
    expect(vf.rid).toBe(virtfnRid(pf.fn.rid, off, stride, k));
    const c = host.fabric.configRead(vf.bus, vf.devfn, 0, 4);
    if (host.fabric.nowNs() < vf.readyAtNs) expect(c.status).toBe("CRS");
    else {
      expect(c.status).toBe("SC");
      expect(c.value).toBe(0xffffffff); // a VF's Vendor and Device ID read 0xFFFF
    }
    // VF BARk of VF n = VF BARk base + n × per-VF size, and a memory read there reaches VF n
    for (const b of pf.template.vfBars) {
      const addr = pf.sriov.vfBarAddress(k, b.index);
      expect(addr).toBe(pf.sriov.vfBarBase(b.index) + k * pf.sriov.vfBarSize(b.index));
      const t = host.fabric.resolveMmio(addr + 8);
      expect(t?.fn).toBe(vf);
    }
  });
}

describe("VF lifecycle and the sriov_numvfs contract (model-based)", () => {
  for (const template of ["intel-82576", "intel-82599"]) {
    it(`${template}: random sriov_numvfs writes, PF/VF FLRs and time steps keep hardware, driver and fabric consistent`, () => {
      type Cmd = fc.Command<Model, { host: SimHost; pf: PfPort }>;
      const write = (text: string, n: number | undefined): Cmd => ({
        check: () => true,
        run: (m, r) => {
          let err: unknown;
          try {
            r.pf.driver.writeNumVfs(text);
          } catch (e) {
            err = e;
          }
          if (n === undefined) expect(isIovError(err, "EINVAL") || isIovError(err, "ERANGE")).toBe(true);
          else if (n > m.total) expect(isIovError(err, "ERANGE")).toBe(true);
          else if (n !== 0 && m.numVfs !== 0 && n !== m.numVfs) expect(isIovError(err, "EBUSY")).toBe(true);
          else {
            expect(err).toBeUndefined();
            m.numVfs = n;
          }
          checkInvariants(r.host, r.pf, m);
        },
        toString: () => `echo ${JSON.stringify(text)} > sriov_numvfs`,
      });
      const flrPf: Cmd = {
        check: () => true,
        run: (m, r) => {
          r.pf.driver.resetFunction(); // FLR + Linux's sriov_restore_state
          checkInvariants(r.host, r.pf, m);
        },
        toString: () => "PF FLR",
      };
      const flrVf = (kSeed: number): Cmd => ({
        check: (m) => m.numVfs > 0,
        run: (m, r) => {
          const k = kSeed % m.numVfs;
          const vf = r.pf.sriov.vfs[k]!;
          // software waits until the VF answers (a config write to a function returning CRS is not taken)
          if (r.host.fabric.nowNs() < vf.readyAtNs) r.host.tick(vf.readyAtNs - r.host.fabric.nowNs());
          r.host.fabric.cfgWrite(vf.bus, vf.devfn, 0x04, 2, 0x0004);
          expect(vf.cfg.read(0x04, 2)).toBe(0x0004);
          // the VF's own Device Control: Initiate FLR (VF's PCIe capability at 0xa0)
          r.host.fabric.cfgWrite(vf.bus, vf.devfn, 0xa0 + 0x08, 2, 0x8000);
          expect(vf.cfg.read(0x04, 2)).toBe(0); // Command back to reset
          expect(r.host.fabric.configRead(vf.bus, vf.devfn, 0, 4).status).toBe("CRS");
          checkInvariants(r.host, r.pf, m);
        },
        toString: () => `VF ${kSeed} FLR`,
      });
      const tick = (ms: number): Cmd => ({
        check: () => true,
        run: (m, r) => {
          r.host.tick(ms * 1_000_000);
          checkInvariants(r.host, r.pf, m);
        },
        toString: () => `sleep ${ms} ms`,
      });
      const total = mkHost(template).pf.template.totalVfs;
      const cmds = fc.oneof(
        fc.integer({ min: 0, max: total + 3 }).map((n) => write(String(n), n)),
        fc.constantFrom("abc", "-1", "", "0x10000", "99999").map((t) => write(t, t === "0x10000" || t === "99999" ? 0xffff + 1 : undefined)),
        fc.constant(flrPf),
        fc.nat().map(flrVf),
        fc.integer({ min: 1, max: 150 }).map(tick),
      );
      fc.assert(
        fc.property(fc.commands([cmds], { maxCommands: 25 }), (cs) => {
          const r = mkHost(template);
          fc.modelRun(() => ({ model: { numVfs: 0, total: r.pf.template.totalVfs }, real: r }), cs);
        }),
        { numRuns: 40 },
      );
    });
  }

  it("NumVFs is read-only while VF Enable is set, and the device recomputes offset/stride with ARI", () => {
    const { host, pf } = mkHost("intel-82576");
    const cap = pf.sriov.cap;
    pf.driver.writeNumVfs("3");
    host.fabric.cfgWrite(pf.fn.bus, pf.fn.devfn, cap + 0x10, 2, 5);
    expect(host.fabric.cfgRead(pf.fn.bus, pf.fn.devfn, cap + 0x10, 2)).toBe(3);
    pf.driver.writeNumVfs("0");
    // the root port forwards ARI, so the driver set ARI Capable Hierarchy: offset 128; clearing it gives 384 (82576 dumps)
    expect(pf.sriov.offset).toBe(128);
    const ctrl = host.fabric.cfgRead(pf.fn.bus, pf.fn.devfn, cap + 0x08, 2);
    host.fabric.cfgWrite(pf.fn.bus, pf.fn.devfn, cap + 0x08, 2, ctrl & ~0x10);
    expect(pf.sriov.offset).toBe(384);
    // the second PF of the card has no ARI Capable Hierarchy bit of its own (lowest-numbered PF only)
    const pf1 = host.pfs[1]!;
    host.fabric.cfgWrite(pf1.fn.bus, pf1.fn.devfn, pf1.sriov.cap + 0x08, 2, 0x10);
    expect(host.fabric.cfgRead(pf1.fn.bus, pf1.fn.devfn, pf1.sriov.cap + 0x08, 2) & 0x10).toBe(0);
  });

  it("VFs answer config requests only after the 100 ms settle (CRS before)", () => {
    const { host, pf } = mkHost("intel-82576");
    pf.driver.writeNumVfs("2"); // the driver itself waits the 100 ms
    const vf = pf.sriov.vfs[0]!;
    expect(host.fabric.configRead(vf.bus, vf.devfn, 0, 2).status).toBe("SC");
    // enable directly (as firmware or a hostile host would) without waiting: CRS
    pf.driver.writeNumVfs("0");
    const cap = pf.sriov.cap;
    host.fabric.cfgWrite(pf.fn.bus, pf.fn.devfn, cap + 0x10, 2, 2);
    host.fabric.cfgWrite(pf.fn.bus, pf.fn.devfn, cap + 0x08, 2, 0x19);
    const v2 = pf.sriov.vfs[0]!;
    expect(host.fabric.configRead(v2.bus, v2.devfn, 0, 2).status).toBe("CRS");
    host.tick(VF_SETTLE_NS);
    expect(host.fabric.configRead(v2.bus, v2.devfn, 0, 2).status).toBe("SC");
  });

  it("a VF's config space: IDs 0xFFFF, BARs 0, Memory Space Enable hardwired 0, no INTx pin", () => {
    const { host, pf } = mkHost("intel-82599");
    pf.driver.writeNumVfs("4");
    const vf = pf.sriov.vfs[3]!;
    const rd = (o: number, s: 1 | 2 | 4) => host.fabric.cfgRead(vf.bus, vf.devfn, o, s);
    expect(rd(0, 4)).toBe(0xffffffff);
    for (let i = 0; i < 6; i++) {
      host.fabric.cfgWrite(vf.bus, vf.devfn, 0x10 + 4 * i, 4, 0xffffffff);
      expect(rd(0x10 + 4 * i, 4)).toBe(0);
    }
    host.fabric.cfgWrite(vf.bus, vf.devfn, 0x04, 2, 0x0007);
    expect(rd(0x04, 2)).toBe(0x0004); // only Bus Master sticks
    expect(rd(0x3d, 1)).toBe(0);
    // VF Memory Space is the PF's VF MSE: the VF still decodes its BAR
    expect(host.fabric.resolveMmio(pf.sriov.vfBarAddress(3, 0))?.fn).toBe(vf);
  });
});
