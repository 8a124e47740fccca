/**
 * hpod's learning-rate schedules against PyTorch itself: for every kind (and
 * warm-up compositions, and reduce-on-plateau fed a fixed metric sequence)
 * a small Python script computes torch.optim.lr_scheduler's lr over 1,000
 * steps with a dummy optimiser; the TypeScript implementation
 * (server/core/lr-schedule.ts, via the SDK) and the Python twin
 * (examples/python/hpod_lr.py) must agree with it to 1e-9 relative.
 *
 * Needs /usr/bin/python3 with torch (.ci/install-torch.sh). Without torch the
 * test is skipped with the reason, unless HPOD_REQUIRE_TORCH=1, which turns
 * the missing torch into a failure. The TypeScript-vs-Python part needs only
 * /usr/bin/python3 and runs whenever it exists.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { createScheduler, resolveLrSchedule, type LrScheduleValue } from "../../client/lr-schedule.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const PYTHON = "/usr/bin/python3";
const EXAMPLES = join(ROOT, "examples", "python");
const STEPS = 1000;
const TOL = 1e-9;

// ---- availability -----------------------------------------------------------------

function pythonMissing(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  return null;
}

function torchMissing(): string | null {
  const py = pythonMissing();
  if (py) return py;
  const r = spawnSync(PYTHON, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8", timeout: 120_000 });
  if (r.error) return `${PYTHON} -c 'import torch' could not run: ${r.error.message}`;
  if (r.status !== 0) {
    const last = r.stderr.trim().split("\n").pop() ?? "";
    return `${PYTHON} cannot import torch (run .ci/install-torch.sh): ${last}`;
  }
  return null;
}

const pySkip = pythonMissing();
const torchSkip = torchMissing();
if (torchSkip && process.env.HPOD_REQUIRE_TORCH === "1") throw new Error(`HPOD_REQUIRE_TORCH=1 but ${torchSkip}`);
if (torchSkip) console.warn(`lr-schedule torch comparison skipped: ${torchSkip}`);

// ---- cases ---------------------------------------------------------------------------

interface Case {
  name: string;
  schedule: LrScheduleValue;
  /** The optimiser's lr (ignored by cyclic and one_cycle). */
  baseLr: number;
  metrics?: number[];
}

function sched(kind: LrScheduleValue["kind"], values: Record<string, number>, extra: Partial<LrScheduleValue> = {}): LrScheduleValue {
  return { kind, values, milestones: [], mode: "", totalSteps: STEPS, warmupSteps: 0, warmupStartFactor: 0, ...extra };
}

/** A loss-like sequence with plateaus and noise (deterministic). */
const lossLike = Array.from({ length: STEPS }, (_, t) => 1 / (1 + Math.floor(t / 60)) + (0.01 * ((t * 37) % 11)) / 11);
const accuracyLike = lossLike.map((m) => 1 - m);

const CASES: Case[] = [
  { name: "constant (default factor 1)", schedule: sched("constant", {}), baseLr: 0.1 },
  { name: "constant factor 0.25, total_iters 40", schedule: sched("constant", { factor: 0.25, total_iters: 40 }), baseLr: 0.1 },
  { name: "step 30 x 0.5", schedule: sched("step", { step_size: 30, gamma: 0.5 }), baseLr: 0.1 },
  { name: "step 7 x 0.9", schedule: sched("step", { step_size: 7, gamma: 0.9 }), baseLr: 0.3 },
  { name: "multi_step with a repeated milestone", schedule: sched("multi_step", { gamma: 0.3 }, { milestones: [600, 100, 250, 250] }), baseLr: 0.1 },
  { name: "exponential 0.995", schedule: sched("exponential", { gamma: 0.995 }), baseLr: 0.1 },
  { name: "cosine_annealing T_max = total_steps", schedule: sched("cosine_annealing", {}), baseLr: 0.1 },
  { name: "cosine_annealing T_max 150, eta_min 1e-4 (past T_max)", schedule: sched("cosine_annealing", { T_max: 150, eta_min: 1e-4 }), baseLr: 0.1 },
  { name: "cosine_annealing T_max 100, eta_min 0 (exact troughs)", schedule: sched("cosine_annealing", { T_max: 100 }), baseLr: 0.05 },
  { name: "cosine_annealing T_max 7 (142 half periods)", schedule: sched("cosine_annealing", { T_max: 7, eta_min: 0.001 }), baseLr: 0.1 },
  { name: "warm_restarts T_0 50, T_mult 2", schedule: sched("cosine_annealing_warm_restarts", { T_0: 50, T_mult: 2, eta_min: 1e-5 }), baseLr: 0.1 },
  { name: "warm_restarts T_0 37, T_mult 1", schedule: sched("cosine_annealing_warm_restarts", { T_0: 37 }), baseLr: 0.1 },
  { name: "one_cycle cos", schedule: sched("one_cycle", { max_lr: 0.5 }), baseLr: 0.1 },
  {
    name: "one_cycle linear three_phase",
    schedule: sched("one_cycle", { max_lr: 0.2, total_steps: 1200, pct_start: 0.25, div_factor: 10, final_div_factor: 100, three_phase: 1 }, { mode: "linear" }),
    baseLr: 0.1,
  },
  {
    name: "one_cycle cos three_phase, last step = total_steps",
    schedule: sched("one_cycle", { max_lr: 0.8, total_steps: 999, pct_start: 0.4, three_phase: 1 }, { mode: "cos" }),
    baseLr: 0.1,
  },
  {
    name: "cyclic triangular 100/50",
    schedule: sched("cyclic", { base_lr: 0.01, max_lr: 0.1, step_size_up: 100, step_size_down: 50 }, { mode: "triangular" }),
    baseLr: 0.1,
  },
  { name: "cyclic triangular2 80", schedule: sched("cyclic", { base_lr: 0.001, max_lr: 0.05, step_size_up: 80 }, { mode: "triangular2" }), baseLr: 0.1 },
  {
    name: "cyclic exp_range 60/140",
    schedule: sched("cyclic", { base_lr: 0.002, max_lr: 0.2, step_size_up: 60, step_size_down: 140, gamma: 0.998 }, { mode: "exp_range" }),
    baseLr: 0.1,
  },
  { name: "polynomial 800, power 2", schedule: sched("polynomial", { total_iters: 800, power: 2 }), baseLr: 0.1 },
  { name: "polynomial horizon, power 0.5", schedule: sched("polynomial", { power: 0.5 }), baseLr: 0.1 },
  {
    name: "reduce_on_plateau min/rel, cooldown, min_lr",
    schedule: sched("reduce_on_plateau", { factor: 0.5, patience: 5, cooldown: 3, min_lr: 1e-4 }, { mode: "min" }),
    baseLr: 0.1,
    metrics: lossLike,
  },
  {
    name: "reduce_on_plateau max/abs",
    schedule: sched("reduce_on_plateau", { factor: 0.3, patience: 2, threshold: 0.01, threshold_mode: 1 }, { mode: "max" }),
    baseLr: 0.1,
    metrics: accuracyLike,
  },
  { name: "reduce_on_plateau defaults", schedule: sched("reduce_on_plateau", {}), baseLr: 0.1, metrics: lossLike },
  // Linear warm-up followed by each kind (SequentialLR(LinearLR, main, milestones=[W])).
  { name: "warm-up 50 -> cosine_annealing", schedule: sched("cosine_annealing", {}, { warmupSteps: 50, warmupStartFactor: 0.1 }), baseLr: 0.1 },
  { name: "warm-up 20 -> step", schedule: sched("step", { step_size: 25, gamma: 0.8 }, { warmupSteps: 20, warmupStartFactor: 0.5 }), baseLr: 0.1 },
  { name: "warm-up 100 (default factor) -> one_cycle", schedule: sched("one_cycle", { max_lr: 0.3 }, { warmupSteps: 100 }), baseLr: 0.1 },
  {
    name: "warm-up 30 -> cyclic exp_range",
    schedule: sched("cyclic", { base_lr: 0.01, max_lr: 0.1, step_size_up: 50, gamma: 0.999 }, { mode: "exp_range", warmupSteps: 30, warmupStartFactor: 0.2 }),
    baseLr: 0.1,
  },
  {
    name: "warm-up 40 -> reduce_on_plateau",
    schedule: sched("reduce_on_plateau", { factor: 0.5, patience: 4 }, { warmupSteps: 40, warmupStartFactor: 0.01 }),
    baseLr: 0.1,
    metrics: lossLike,
  },
  {
    name: "warm-up 10 -> constant 0.5 x 20",
    schedule: sched("constant", { factor: 0.5, total_iters: 20 }, { warmupSteps: 10, warmupStartFactor: 0.25 }),
    baseLr: 0.1,
  },
  {
    name: "warm-up 25 -> warm_restarts",
    schedule: sched("cosine_annealing_warm_restarts", { T_0: 40, T_mult: 3, eta_min: 1e-4 }, { warmupSteps: 25, warmupStartFactor: 0.3 }),
    baseLr: 0.1,
  },
  { name: "warm-up 60 -> polynomial", schedule: sched("polynomial", { power: 1.5 }, { warmupSteps: 60, warmupStartFactor: 0.05 }), baseLr: 0.1 },
  {
    name: "warm-up 15 -> multi_step",
    schedule: sched("multi_step", { gamma: 0.1 }, { milestones: [200, 500], warmupSteps: 15, warmupStartFactor: 0.4 }),
    baseLr: 0.1,
  },
  { name: "warm-up 5 -> exponential", schedule: sched("exponential", { gamma: 0.99 }, { warmupSteps: 5, warmupStartFactor: 0.6 }), baseLr: 0.1 },
];

/** Cases as sent to Python: schedules completed with their defaults, snake_case. */
function casesJson(): string {
  return JSON.stringify({
    steps: STEPS,
    cases: CASES.map((c) => {
      const s = resolveLrSchedule(c.schedule);
      return {
        name: c.name,
        base_lr: c.baseLr,
        metrics: c.metrics ?? null,
        schedule: {
          kind: s.kind,
          values: s.values,
          milestones: s.milestones,
          mode: s.mode,
          total_steps: s.totalSteps,
          warmup_steps: s.warmupSteps,
          warmup_start_factor: s.warmupStartFactor,
        },
      };
    }),
  });
}

function tsValues(c: Case): number[] {
  const s = createScheduler(c.schedule, c.baseLr);
  const out = [s.lr];
  for (let t = 1; t < STEPS; t++) out.push(s.step(c.metrics?.[t - 1]));
  return out;
}

// ---- Python scripts -------------------------------------------------------------------

/** hpod_lr.py over the cases: {name: [lr...]}. */
const HPOD_LR_SCRIPT = String.raw`
import json, sys
sys.path.insert(0, sys.argv[2])
import hpod_lr
spec = json.load(open(sys.argv[1]))
out = {}
for c in spec["cases"]:
    s = hpod_lr.create_scheduler(c["schedule"], c["base_lr"])
    m = c["metrics"]
    lrs = [s.lr]
    for t in range(1, spec["steps"]):
        lrs.append(s.step(None if m is None else m[t - 1]))
    out[c["name"]] = lrs
json.dump(out, sys.stdout)
`;

/**
 * PyTorch's own values: a dummy SGD optimiser whose lr is the schedule's
 * base lr B, the main scheduler, and for warm-up
 * SequentialLR([LinearLR(start_factor=f, end_factor=1, total_iters=W), main], [W]).
 * ReduceLROnPlateau cannot sit in a SequentialLR: after LinearLR's W steps
 * the lr is set to B and ReduceLROnPlateau takes over.
 */
const TORCH_SCRIPT = String.raw`
import json, sys, warnings
warnings.filterwarnings("ignore")
import torch
from torch.optim import lr_scheduler as L

spec = json.load(open(sys.argv[1]))
steps = spec["steps"]

def base_of(s, base_lr):
    v = s["values"]
    if s["kind"] == "cyclic":
        return v["base_lr"]
    if s["kind"] == "one_cycle":
        return v["max_lr"] / v["div_factor"]
    return base_lr

def build(s, opt):
    k, v = s["kind"], s["values"]
    i = lambda n: int(v[n])
    if k == "constant":
        return L.ConstantLR(opt, factor=v["factor"], total_iters=i("total_iters"))
    if k == "step":
        return L.StepLR(opt, step_size=i("step_size"), gamma=v["gamma"])
    if k == "multi_step":
        return L.MultiStepLR(opt, milestones=s["milestones"], gamma=v["gamma"])
    if k == "exponential":
        return L.ExponentialLR(opt, gamma=v["gamma"])
    if k == "cosine_annealing":
        return L.CosineAnnealingLR(opt, T_max=i("T_max"), eta_min=v["eta_min"])
    if k == "cosine_annealing_warm_restarts":
        return L.CosineAnnealingWarmRestarts(opt, T_0=i("T_0"), T_mult=i("T_mult"), eta_min=v["eta_min"])
    if k == "one_cycle":
        return L.OneCycleLR(opt, max_lr=v["max_lr"], total_steps=i("total_steps"), pct_start=float(v["pct_start"]),
                            anneal_strategy=s["mode"], div_factor=v["div_factor"], final_div_factor=v["final_div_factor"],
                            three_phase=bool(v["three_phase"]), cycle_momentum=False)
    if k == "cyclic":
        return L.CyclicLR(opt, base_lr=v["base_lr"], max_lr=v["max_lr"], step_size_up=i("step_size_up"),
                          step_size_down=i("step_size_down"), mode=s["mode"], gamma=v["gamma"], cycle_momentum=False)
    if k == "polynomial":
        return L.PolynomialLR(opt, total_iters=i("total_iters"), power=v["power"])
    raise ValueError(k)

def lr_of(opt):
    return float(opt.param_groups[0]["lr"])

out = {}
for c in spec["cases"]:
    s = c["schedule"]
    B = base_of(s, c["base_lr"])
    W, f = s["warmup_steps"], s["warmup_start_factor"]
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=B, momentum=0.9)
    lrs = []
    if s["kind"] == "reduce_on_plateau":
        v = s["values"]
        warm = L.LinearLR(opt, start_factor=f, end_factor=1.0, total_iters=W) if W > 0 else None
        plateau = L.ReduceLROnPlateau(opt, mode=s["mode"], factor=v["factor"], patience=int(v["patience"]),
                                      threshold=v["threshold"], threshold_mode=["rel", "abs"][int(v["threshold_mode"])],
                                      cooldown=int(v["cooldown"]), min_lr=v["min_lr"], eps=v["eps"])
        lrs.append(lr_of(opt))
        for t in range(1, steps):
            opt.step()
            if t - 1 < W:
                warm.step()
                if t == W:
                    for g in opt.param_groups:
                        g["lr"] = B
            else:
                plateau.step(c["metrics"][t - 1])
            lrs.append(lr_of(opt))
    else:
        if W > 0:
            warm = L.LinearLR(opt, start_factor=f, end_factor=1.0, total_iters=W)
            main = build(s, opt)
            sch = L.SequentialLR(opt, [warm, main], milestones=[W])
        else:
            sch = build(s, opt)
        lrs.append(lr_of(opt))
        for t in range(1, steps):
            opt.step()
            sch.step()
            lrs.append(lr_of(opt))
    out[c["name"]] = lrs
json.dump({"torch": torch.__version__, "values": out}, sys.stdout)
`;

// ---- comparison ---------------------------------------------------------------------

/** Largest |a - r| / |r| over the steps (0 where equal; Infinity where r = 0 and a != 0). */
function maxRelError(a: readonly number[], ref: readonly number[]): { err: number; at: number } {
  let err = 0;
  let at = -1;
  for (let i = 0; i < ref.length; i++) {
    const x = a[i] as number;
    const r = ref[i] as number;
    const e = x === r ? 0 : Math.abs(x - r) / Math.abs(r);
    if (!(e <= err)) {
      err = e;
      at = i;
    }
  }
  return { err, at };
}

const tmp = mkdtempSync(join(tmpdir(), "hpod-lr-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function runPython(script: string, name: string): string {
  const casesFile = join(tmp, "cases.json");
  writeFileSync(casesFile, casesJson());
  const scriptFile = join(tmp, name);
  writeFileSync(scriptFile, script);
  const r = spawnSync(PYTHON, [scriptFile, casesFile, EXAMPLES], {
    encoding: "utf8",
    timeout: 240_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${name} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

let pyCache: Record<string, number[]> | undefined;
function pythonValues(): Record<string, number[]> {
  pyCache ??= JSON.parse(runPython(HPOD_LR_SCRIPT, "hpod_lr_values.py")) as Record<string, number[]>;
  return pyCache;
}

describe("learning-rate schedules: cases", () => {
  it("cover every kind, with and without warm-up", () => {
    const kinds = new Set(CASES.map((c) => c.schedule.kind));
    expect(kinds.size).toBe(10);
    const warmKinds = new Set(CASES.filter((c) => c.schedule.warmupSteps > 0).map((c) => c.schedule.kind));
    expect(warmKinds.size).toBe(10);
  });
});

describe.skipIf(pySkip !== null)(`TypeScript vs Python twin (hpod_lr.py)${pySkip ? ` [skipped: ${pySkip}]` : ""}`, () => {
  it(`agree to ${TOL} relative over ${STEPS} steps`, () => {
    const py = pythonValues();
    for (const c of CASES) {
      const { err, at } = maxRelError(tsValues(c), py[c.name] ?? []);
      expect(err, `${c.name}: max relative error at step ${at}`).toBeLessThanOrEqual(TOL);
    }
  });
});

describe.skipIf(torchSkip !== null)(`against torch.optim.lr_scheduler${torchSkip ? ` [skipped: ${torchSkip}]` : ""}`, () => {
  it(
    `TypeScript and Python agree with PyTorch to ${TOL} relative over ${STEPS} steps`,
    () => {
      const torch = JSON.parse(runPython(TORCH_SCRIPT, "torch_values.py")) as { torch: string; values: Record<string, number[]> };
      const py = pythonValues();
      const rows: string[] = [];
      const failures: string[] = [];
      for (const c of CASES) {
        const ref = torch.values[c.name];
        expect(ref, c.name).toHaveLength(STEPS);
        const ts = maxRelError(tsValues(c), ref!);
        const pyErr = maxRelError(py[c.name] ?? [], ref!);
        rows.push(`${c.name.padEnd(56)} ts ${ts.err.toExponential(2)} (step ${ts.at})  py ${pyErr.err.toExponential(2)} (step ${pyErr.at})`);
        if (!(ts.err <= TOL)) failures.push(`TS ${c.name}: ${ts.err} at step ${ts.at}`);
        if (!(pyErr.err <= TOL)) failures.push(`Python ${c.name}: ${pyErr.err} at step ${pyErr.at}`);
      }
      console.log(`max relative error vs torch ${torch.torch}:\n${rows.join("\n")}`);
      expect(failures).toEqual([]);
    },
    300_000,
  );
});
