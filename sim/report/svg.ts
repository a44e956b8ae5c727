/**
 * Hand-written SVG charts of a comparison: throughput and CPU (busy cores of every class) against
 * the sweep's x axis (VMs or frame size), one line per series (and frame size when there are
 * several). No dependency: plain SVG text, deterministic for a report.
 */
import type { CompareReport, ComparePoint } from "../compare.js";

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** A "nice" axis maximum and step (1, 2, 2.5, 5 × 10^k) for data up to `max`. */
export function niceAxis(max: number, ticks = 5): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step, step };
}

interface Line {
  label: string;
  color: string;
  pts: Array<{ x: number; y: number }>;
}

function lines(rep: CompareReport, value: (p: ComparePoint) => number): { lines: Line[]; xs: number[] } {
  const byX = rep.scenario.x;
  const frames = [...new Set(rep.points.map((p) => p.frameBytes))];
  const vmsSet = [...new Set(rep.points.map((p) => p.vms))];
  const xs = (byX === "vms" ? vmsSet : frames).sort((a, b) => a - b);
  const groups = new Map<string, Line>();
  const order: string[] = [];
  for (const p of rep.points) {
    const key =
      byX === "vms"
        ? frames.length > 1
          ? `${p.series} @${p.frameBytes} B`
          : p.series
        : vmsSet.length > 1
          ? `${p.series} ×${p.vms} VMs`
          : p.series;
    let g = groups.get(key);
    if (g === undefined) {
      g = { label: key, color: PALETTE[order.length % PALETTE.length]!, pts: [] };
      groups.set(key, g);
      order.push(key);
    }
    g.pts.push({ x: xs.indexOf(byX === "vms" ? p.vms : p.frameBytes), y: value(p) });
  }
  return { lines: order.map((k) => groups.get(k)!), xs };
}

function panel(title: string, yLabel: string, data: { lines: Line[]; xs: number[] }, xLabel: string, ox: number, oy: number, w: number, h: number): string {
  const padL = 56;
  const padB = 44;
  const padT = 28;
  const padR = 12;
  const pw = w - padL - padR;
  const ph = h - padT - padB;
  let maxY = 0;
  for (const l of data.lines) for (const p of l.pts) maxY = Math.max(maxY, p.y);
  const ax = niceAxis(maxY);
  const n = data.xs.length;
  const X = (i: number): number => ox + padL + (n === 1 ? pw / 2 : (i * pw) / (n - 1));
  const Y = (v: number): number => oy + padT + ph - (v / ax.top) * ph;
  const out: string[] = [];
  out.push(`<text x="${ox + padL + pw / 2}" y="${oy + 16}" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  for (let v = 0; v <= ax.top + 1e-9; v += ax.step) {
    const y = Y(v).toFixed(1);
    out.push(`<line x1="${ox + padL}" y1="${y}" x2="${ox + padL + pw}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${ox + padL - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="11">${esc(String(+v.toFixed(3)))}</text>`);
  }
  data.xs.forEach((x, i) => {
    const px = X(i).toFixed(1);
    out.push(`<line x1="${px}" y1="${oy + padT + ph}" x2="${px}" y2="${oy + padT + ph + 4}" stroke="#333"/>`);
    out.push(`<text x="${px}" y="${oy + padT + ph + 16}" text-anchor="middle" font-size="11">${x}</text>`);
  });
  out.push(`<line x1="${ox + padL}" y1="${oy + padT}" x2="${ox + padL}" y2="${oy + padT + ph}" stroke="#333"/>`);
  out.push(`<line x1="${ox + padL}" y1="${oy + padT + ph}" x2="${ox + padL + pw}" y2="${oy + padT + ph}" stroke="#333"/>`);
  out.push(`<text x="${ox + padL + pw / 2}" y="${oy + h - 8}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(${ox + 14},${oy + padT + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(yLabel)}</text>`);
  for (const l of data.lines) {
    const pts = l.pts.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(" ");
    out.push(`<polyline fill="none" stroke="${l.color}" stroke-width="2" points="${pts}"/>`);
    for (const p of l.pts) out.push(`<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="3" fill="${l.color}"/>`);
  }
  return out.join("\n");
}

/** The comparison as one SVG document: throughput and CPU panels, and a legend. */
export function compareSvg(rep: CompareReport): string {
  const W = 960;
  const PH = 340;
  const xLabel = rep.scenario.x === "vms" ? "VMs" : "frame size (B)";
  const thr = lines(rep, (p) => p.result.gbps);
  const cpu = lines(rep, (p) => p.result.cpu.guest.busyCores + p.result.cpu.host.busyCores + p.result.cpu.vhost.busyCores);
  const legendRows = Math.ceil(thr.lines.length / 3);
  const H = PH + 40 + legendRows * 18;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="15">${esc(rep.scenario.name)}</text>`);
  out.push(panel("Throughput", "Gb/s (L2, with FCS)", thr, xLabel, 0, 24, W / 2, PH));
  out.push(panel("CPU", "busy cores (guest + host + vhost)", cpu, xLabel, W / 2, 24, W / 2, PH));
  thr.lines.forEach((l, i) => {
    const col = i % 3;
    const row = Math.floor(i / 3);
    const x = 60 + col * 300;
    const y = PH + 40 + row * 18;
    out.push(`<line x1="${x}" y1="${y}" x2="${x + 24}" y2="${y}" stroke="${l.color}" stroke-width="3"/>`);
    out.push(`<text x="${x + 30}" y="${y}" dominant-baseline="middle" font-size="12">${esc(l.label)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
