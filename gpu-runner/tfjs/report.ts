/**
 * The tune report: one self-contained HTML file with inline SVG charts —
 * optimisation history, parameter importance (fANOVA-lite), parallel
 * coordinates and learning curves of the top trials. No PNG: no plotting
 * library is available to Node here without native builds.
 */
export type ScalarParam = number | string | boolean;

export interface ReportTrial {
  id: number;
  state: "complete" | "pruned" | "failed";
  /** The final (best validation) value; undefined when pruned/failed without one. */
  value?: number;
  params: Record<string, ScalarParam>;
  curve: number[];
}

export interface ReportInput {
  title: string;
  objective: string;
  trials: ReportTrial[];
  summary: Array<[string, string]>;
}

/** Importance of each parameter: variance (over bins) of the mean objective per bin, normalised to sum 1. */
export function parameterImportance(trials: readonly ReportTrial[], bins = 4): Array<{ name: string; importance: number }> {
  const done = trials.filter((t): t is ReportTrial & { value: number } => t.value !== undefined && Number.isFinite(t.value));
  const names = [...new Set(done.flatMap((t) => Object.keys(t.params)))].sort();
  const raw = names.map((name) => {
    const present = done.filter((t) => name in t.params);
    if (present.length < 2) return { name, importance: 0 };
    const values = present.map((t) => t.params[name]);
    const numeric = values.every((v) => typeof v === "number");
    const keys = new Map<string, number[]>();
    if (numeric) {
      const nums = values as number[];
      const sorted = [...nums].sort((a, b) => a - b);
      present.forEach((t, i) => {
        const rank = sorted.indexOf(nums[i]);
        const bin = Math.min(bins - 1, Math.floor((rank / present.length) * bins));
        keys.set(String(bin), [...(keys.get(String(bin)) ?? []), t.value]);
      });
    } else {
      present.forEach((t, i) => keys.set(String(values[i]), [...(keys.get(String(values[i])) ?? []), t.value]));
    }
    const means = [...keys.values()].map((v) => v.reduce((s, x) => s + x, 0) / v.length);
    const grand = means.reduce((s, x) => s + x, 0) / means.length;
    return { name, importance: means.reduce((s, x) => s + (x - grand) ** 2, 0) / means.length };
  });
  const total = raw.reduce((s, r) => s + r.importance, 0);
  return raw.map((r) => ({ name: r.name, importance: total > 0 ? r.importance / total : 0 })).sort((a, b) => b.importance - a.importance);
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const fmt = (v: number): string => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : String(Number(v.toPrecision(4))));

interface Frame {
  w: number;
  h: number;
  pad: number;
}

function scale(lo: number, hi: number, a: number, b: number): (v: number) => number {
  const span = hi - lo || 1;
  return (v) => a + ((v - lo) / span) * (b - a);
}

function axes(f: Frame, xLabel: string, yLabel: string, yLo: number, yHi: number): string {
  const { w, h, pad } = f;
  return (
    `<line x1="${pad}" y1="${h - pad}" x2="${w - 10}" y2="${h - pad}" stroke="#444"/>` +
    `<line x1="${pad}" y1="10" x2="${pad}" y2="${h - pad}" stroke="#444"/>` +
    `<text x="${w / 2}" y="${h - 8}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>` +
    `<text x="12" y="${h / 2}" transform="rotate(-90 12 ${h / 2})" text-anchor="middle" font-size="12">${esc(yLabel)}</text>` +
    `<text x="${pad - 4}" y="${h - pad}" text-anchor="end" font-size="10">${fmt(yLo)}</text>` +
    `<text x="${pad - 4}" y="16" text-anchor="end" font-size="10">${fmt(yHi)}</text>`
  );
}

function historyChart(input: ReportInput): string {
  const f: Frame = { w: 640, h: 300, pad: 50 };
  const pts = input.trials.filter((t) => t.value !== undefined).sort((a, b) => a.id - b.id);
  if (pts.length === 0) return "<p>No finished trial.</p>";
  const vals = pts.map((t) => t.value as number);
  const lo = Math.min(...vals);
  const hi = Math.max(...vals);
  const ids = input.trials.map((t) => t.id);
  const sx = scale(Math.min(...ids), Math.max(...ids), f.pad, f.w - 20);
  const sy = scale(lo, hi, f.h - f.pad, 20);
  let best = -Infinity;
  const line = pts.map((t) => {
    best = Math.max(best, t.value as number);
    return `${sx(t.id).toFixed(1)},${sy(best).toFixed(1)}`;
  });
  const dots = pts
    .map((t) => `<circle cx="${sx(t.id).toFixed(1)}" cy="${sy(t.value as number).toFixed(1)}" r="4" fill="${t.state === "pruned" ? "#e69f00" : "#0072b2"}"><title>trial ${t.id}: ${fmt(t.value as number)} (${t.state})</title></circle>`)
    .join("");
  return `<svg width="${f.w}" height="${f.h}" xmlns="http://www.w3.org/2000/svg">${axes(f, "trial", input.objective, lo, hi)}<polyline fill="none" stroke="#d55e00" stroke-width="2" points="${line.join(" ")}"/>${dots}</svg><p class="legend">blue: complete, orange: pruned (last reported value), red line: best so far</p>`;
}

function importanceChart(input: ReportInput): string {
  const imp = parameterImportance(input.trials);
  const top = Math.max(1e-12, ...imp.map((p) => p.importance));
  const rowH = 22;
  const w = 640;
  const h = imp.length * rowH + 20;
  const bars = imp
    .map((p, i) => {
      const y = 10 + i * rowH;
      return `<text x="150" y="${y + 14}" text-anchor="end" font-size="12">${esc(p.name)}</text><rect x="156" y="${y + 3}" width="${((p.importance / top) * (w - 230)).toFixed(1)}" height="14" fill="#009e73"/><text x="${160 + (p.importance / top) * (w - 230)}" y="${y + 14}" font-size="11">${(p.importance * 100).toFixed(1)}%</text>`;
    })
    .join("");
  return `<svg width="${w}" height="${h}" xmlns="http://www.w3.org/2000/svg">${bars}</svg>`;
}

function parallelChart(input: ReportInput): string {
  const done = input.trials.filter((t) => t.value !== undefined);
  if (done.length === 0) return "<p>No finished trial.</p>";
  const names = [...new Set(done.flatMap((t) => Object.keys(t.params)))].sort();
  const axesNames = [...names, input.objective];
  const w = Math.max(640, axesNames.length * 70);
  const h = 320;
  const x = (i: number): number => 40 + (i * (w - 80)) / Math.max(1, axesNames.length - 1);
  const norm = axesNames.map((name) => {
    const vals = done.map((t) => (name === input.objective ? t.value : t.params[name])).filter((v) => v !== undefined);
    if (vals.every((v) => typeof v === "number")) {
      const nums = vals as number[];
      const positive = nums.every((v) => v > 0);
      const logish = positive && Math.max(...nums) / Math.min(...nums) > 100;
      const tf = (v: number): number => (logish ? Math.log10(v) : v);
      const lo = Math.min(...nums.map(tf));
      const hi = Math.max(...nums.map(tf));
      return (v: ScalarParam | undefined): number | undefined => (typeof v === "number" ? (hi > lo ? (tf(v) - lo) / (hi - lo) : 0.5) : undefined);
    }
    const cats = [...new Set(vals.map(String))].sort();
    return (v: ScalarParam | undefined): number | undefined => (v === undefined ? undefined : cats.length > 1 ? cats.indexOf(String(v)) / (cats.length - 1) : 0.5);
  });
  const values = done.map((t) => t.value as number);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const lines = done
    .map((t) => {
      const pts: string[] = [];
      axesNames.forEach((name, i) => {
        const v = norm[i](name === input.objective ? t.value : t.params[name]);
        if (v !== undefined) pts.push(`${x(i).toFixed(1)},${(h - 40 - v * (h - 70)).toFixed(1)}`);
      });
      const q = hi > lo ? ((t.value as number) - lo) / (hi - lo) : 1;
      const color = `rgb(${Math.round(220 * (1 - q))},${Math.round(80 + 100 * q)},${Math.round(200 * q)})`;
      return `<polyline fill="none" stroke="${color}" stroke-opacity="0.7" points="${pts.join(" ")}"><title>trial ${t.id}: ${fmt(t.value as number)}</title></polyline>`;
    })
    .join("");
  const axisLines = axesNames
    .map((name, i) => `<line x1="${x(i)}" y1="30" x2="${x(i)}" y2="${h - 40}" stroke="#999"/><text x="${x(i)}" y="${h - 20 + (i % 2) * 12}" text-anchor="middle" font-size="10">${esc(name)}</text>`)
    .join("");
  return `<svg width="${w}" height="${h}" xmlns="http://www.w3.org/2000/svg">${axisLines}${lines}</svg><p class="legend">each line a trial; colour from red (worst) to blue (best); categorical axes in sorted order, wide positive ranges on a log scale</p>`;
}

function curvesChart(input: ReportInput, top = 5): string {
  const best = input.trials.filter((t) => t.value !== undefined && t.curve.length > 0).sort((a, b) => (b.value as number) - (a.value as number)).slice(0, top);
  if (best.length === 0) return "<p>No learning curve.</p>";
  const f: Frame = { w: 640, h: 300, pad: 50 };
  const all = best.flatMap((t) => t.curve).filter((v) => v > -1e8);
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const maxLen = Math.max(...best.map((t) => t.curve.length));
  const sx = scale(0, Math.max(1, maxLen - 1), f.pad, f.w - 20);
  const sy = scale(lo, hi, f.h - f.pad, 20);
  const colors = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00"];
  const lines = best
    .map((t, i) => `<polyline fill="none" stroke="${colors[i % colors.length]}" stroke-width="2" points="${t.curve.map((v, e) => `${sx(e).toFixed(1)},${sy(Math.max(v, lo)).toFixed(1)}`).join(" ")}"><title>trial ${t.id}</title></polyline>`)
    .join("");
  const legend = best.map((t, i) => `<span style="color:${colors[i % colors.length]}">trial ${t.id} (${fmt(t.value as number)})</span>`).join(" · ");
  return `<svg width="${f.w}" height="${f.h}" xmlns="http://www.w3.org/2000/svg">${axes(f, "epoch", `validation ${input.objective}`, lo, hi)}${lines}</svg><p class="legend">${legend}</p>`;
}

export interface Chart {
  name: string;
  /** The standalone SVG document. */
  svg: string;
}

/** The four charts as standalone SVGs (for plots/*.svg and PNG conversion). */
export function renderCharts(input: ReportInput): Chart[] {
  const only = (html: string): string => /<svg[\s\S]*<\/svg>/.exec(html)?.[0] ?? "";
  return [
    { name: "history", svg: only(historyChart(input)) },
    { name: "importance", svg: only(importanceChart(input)) },
    { name: "parallel-coordinates", svg: only(parallelChart(input)) },
    { name: "learning-curves", svg: only(curvesChart(input)) },
  ].filter((c) => c.svg !== "");
}

/** The report as one HTML document. */
export function renderReport(input: ReportInput): string {
  const summary = input.summary.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("");
  const rows = [...input.trials]
    .sort((a, b) => a.id - b.id)
    .map((t) => `<tr><td>${t.id}</td><td>${t.state}</td><td>${t.value === undefined ? "" : fmt(t.value)}</td><td>${t.curve.length}</td><td><code>${esc(JSON.stringify(t.params))}</code></td></tr>`)
    .join("");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(input.title)}</title>
<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}th{text-align:left;padding-right:1em}td{padding:2px 8px;vertical-align:top}code{font-size:11px}.legend{font-size:12px;color:#555}table.trials{border-collapse:collapse}table.trials td{border-top:1px solid #ddd}</style>
</head><body>
<h1>${esc(input.title)}</h1>
<table>${summary}</table>
<h2>Optimisation history</h2>${historyChart(input)}
<h2>Parameter importance</h2><p class="legend">fANOVA-lite: variance of the mean objective over quartile bins (numeric) or values (categorical) of each parameter, normalised; a rough guide with few trials.</p>${importanceChart(input)}
<h2>Parallel coordinates</h2>${parallelChart(input)}
<h2>Learning curves of the top trials</h2>${curvesChart(input)}
<h2>Trials</h2><table class="trials"><tr><th>id</th><th>state</th><th>${esc(input.objective)}</th><th>epochs</th><th>parameters</th></tr>${rows}</table>
</body></html>
`;
}
