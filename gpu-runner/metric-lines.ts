/**
 * Metric lines: how a trial that does not call hpod itself hands its results
 * to the runner, one JSON object per stdout line under the key "hpod":
 *
 *   {"hpod": {"step": 3, "value": 0.42}}                      intermediate value at step 3
 *   {"hpod": {"step": 3, "values": [0.42, 17.0]}}             several objectives
 *   {"hpod": {"final": 0.40}}                                 the trial's result
 *   {"hpod": {"final": [0.40, 12.5], "step": 20}}             several objectives, taken at step 20
 *
 * Optional on either kind: "metrics": {"name": number} (recorded, not
 * optimised) and "constraints": [number] (one per study constraint). A value
 * may be a JSON number or one of the strings "NaN", "Infinity", "-Infinity".
 * Any other line — including JSON without the "hpod" key — is ordinary output.
 * A line with the "hpod" key that breaks these rules is reported as invalid
 * (the runner logs it and ignores it).
 */

export interface MetricReport {
  kind: "intermediate" | "final";
  /** Required for intermediate values; optional on a final one. */
  step?: number;
  values: number[];
  constraintValues: number[];
  metrics: Record<string, number>;
}

export type ParsedLine = { type: "none" } | { type: "report"; report: MetricReport } | { type: "invalid"; error: string };

const NONE: ParsedLine = { type: "none" };
const KEYS = new Set(["step", "value", "values", "final", "metrics", "constraints"]);

function toNumber(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (v === "NaN") return NaN;
  if (v === "Infinity" || v === "inf") return Infinity;
  if (v === "-Infinity" || v === "-inf") return -Infinity;
  return undefined;
}

function toNumbers(v: unknown, what: string): number[] | string {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) return `${what} is empty`;
  const out: number[] = [];
  for (const item of list) {
    const n = toNumber(item);
    if (n === undefined) return `${what} holds ${JSON.stringify(item)}, not a number`;
    out.push(n);
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parses one stdout line (without its newline). */
export function parseMetricLine(line: string): ParsedLine {
  const text = line.trim();
  if (!text.startsWith("{") || !text.includes('"hpod"')) return NONE;
  let outer: unknown;
  try {
    outer = JSON.parse(text);
  } catch {
    return NONE;
  }
  if (!isRecord(outer) || !("hpod" in outer)) return NONE;
  const h = outer.hpod;
  const bad = (error: string): ParsedLine => ({ type: "invalid", error });
  if (!isRecord(h)) return bad(`"hpod" must be an object`);
  for (const key of Object.keys(h)) if (!KEYS.has(key)) return bad(`unknown key "${key}" (known: ${[...KEYS].join(", ")})`);

  let step: number | undefined;
  if (h.step !== undefined) {
    if (typeof h.step !== "number" || !Number.isSafeInteger(h.step)) return bad(`"step" must be an integer, got ${JSON.stringify(h.step)}`);
    step = h.step;
  }
  let metrics: Record<string, number> = {};
  if (h.metrics !== undefined) {
    if (!isRecord(h.metrics)) return bad(`"metrics" must be an object of numbers`);
    metrics = {};
    for (const [k, v] of Object.entries(h.metrics)) {
      const n = toNumber(v);
      if (n === undefined) return bad(`"metrics.${k}" is ${JSON.stringify(v)}, not a number`);
      metrics[k] = n;
    }
  }
  let constraintValues: number[] = [];
  if (h.constraints !== undefined) {
    const c = toNumbers(h.constraints, `"constraints"`);
    if (typeof c === "string") return bad(c);
    constraintValues = c;
  }

  if (h.final !== undefined) {
    if (h.value !== undefined || h.values !== undefined) return bad(`"final" carries the result; "value"/"values" do not go with it`);
    const values = toNumbers(h.final, `"final"`);
    if (typeof values === "string") return bad(values);
    return { type: "report", report: { kind: "final", step, values, constraintValues, metrics } };
  }
  if (h.value !== undefined && h.values !== undefined) return bad(`give "value" or "values", not both`);
  const raw = h.value ?? h.values;
  if (raw === undefined) return bad(`needs "value" (or "values") with "step", or "final"`);
  if (h.value !== undefined && Array.isArray(h.value)) return bad(`"value" is one number; use "values" for several`);
  const values = toNumbers(raw, h.value !== undefined ? `"value"` : `"values"`);
  if (typeof values === "string") return bad(values);
  if (step === undefined) return bad(`an intermediate value needs "step"`);
  return { type: "report", report: { kind: "intermediate", step, values, constraintValues, metrics } };
}

/** Longest line kept whole; beyond it the line is dropped (it cannot be a metric line worth parsing). */
export const MAX_LINE_CHARS = 1 << 20;

/** Splits a byte stream into lines (\n or \r\n), keeping a partial last line until more arrives. */
export class LineSplitter {
  private pending = "";
  private dropping = false;
  private readonly decoder = new TextDecoder("utf-8");

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer | Uint8Array): void {
    this.pending += this.decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = this.pending.indexOf("\n")) >= 0) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      if (this.dropping) this.dropping = false;
      else this.onLine(line.endsWith("\r") ? line.slice(0, -1) : line);
    }
    if (this.pending.length > MAX_LINE_CHARS) {
      // A huge line without a newline (binary output, a progress bar): drop it up to its end.
      this.pending = "";
      this.dropping = true;
    }
  }

  /** Emits the last line when it had no newline. */
  end(): void {
    this.pending += this.decoder.decode();
    if (this.pending !== "" && !this.dropping) this.onLine(this.pending);
    this.pending = "";
    this.dropping = false;
  }
}
