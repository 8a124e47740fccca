#!/usr/bin/python3
"""Optuna side of bench/pruning.ts: the same synthetic learning curves
(bench/data/curves.json, formula and noise re-implemented and verified against
the file's checks), Optuna 3.1's TPE sampler with its pruners, 100 trials x 100
steps per run, one sequential worker: report steps 1..100, stop at the first
should_prune(), otherwise return y(100).

Runs under Debian's python3-optuna: ALWAYS /usr/bin/python3 (install it with
`apt-get install -y python3-optuna` if `import optuna` fails). Study names are
fixed (curves-<pruner>-<seed>) so Hyperband's bracket assignment, which hashes
the study name, repeats from run to run.

Prints one JSON array of runs on stdout:
  [{"sampler": "tpe", "pruner": "median", "seed": 1, "steps": 1698, "ms": ...,
    "trials": [{"id": 0, "pruned": false, "steps": 100, "observed": 0.31, "clean100": 0.30}, ...]}, ...]

    /usr/bin/python3 bench/optuna_pruning.py --curves bench/data/curves.json --seeds 20 --trials 100 \
        --pruners nop,median,sha,hyperband [--jobs 2]
"""
import argparse
import json
import math
import multiprocessing
import sys
import time
import warnings

import optuna

optuna.logging.set_verbosity(optuna.logging.ERROR)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

MASK = 0xFFFFFFFF


def lowbias32(x):
    x &= MASK
    x ^= x >> 16
    x = (x * 0x7FEB352D) & MASK
    x ^= x >> 15
    x = (x * 0x846CA68B) & MASK
    x ^= x >> 16
    return x


def noise_z(seed, trial, step):
    h0 = lowbias32((seed + 0x9E3779B9) & MASK)
    h1 = lowbias32(h0 ^ trial)
    h2 = lowbias32(h1 ^ step)
    h3 = lowbias32(h2 ^ 0x68BC21EB)
    u1 = (h2 + 0.5) / 4294967296.0
    u2 = (h3 + 0.5) / 4294967296.0
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def terms(p):
    u = math.log10(p["lr"])
    b = math.log2(p["batch_size"])
    w = math.log10(p["weight_decay"])
    m = p["momentum"]
    u_star = -2.5 + 0.2 * (b - 6)
    final = 0.05 + 0.04 * (u - u_star) ** 2 + 0.1 * (m - 0.9) ** 2 + 0.01 * (w + 4) ** 2 + 0.005 * (b - 6) ** 2
    tau = max(1.0, 25 * 10 ** (-0.35 * (u + 2)) * (1 - 0.6 * m) * 2 ** (0.2 * (b - 6)))
    a = 1 + 0.5 * m
    return final, a, tau


def y_clean(p, step):
    final, a, tau = terms(p)
    return final + a * math.exp(-step / tau)


def y_noisy(suite, p, seed, trial, step):
    return y_clean(p, step) + suite["noise_sd"] * noise_z(seed, trial, step)


def verify(suite):
    failures = []
    n = 0

    def close(got, want, what):
        if not abs(got - want) <= 1e-12 * max(1.0, abs(want)):
            failures.append(f"{what}: got {got!r}, want {want!r}")

    for chk in suite["checks"]:
        if "noise_z" in chk:
            for z in chk["noise_z"]:
                close(noise_z(z["seed"], z["trial"], z["step"]), z["z"], f"z{(z['seed'], z['trial'], z['step'])}")
                n += 1
            continue
        p = chk["params"]
        final, a, tau = terms(p)
        for k, v in (("final", final), ("a", a), ("tau", tau)):
            if k in chk:
                close(v, chk[k], f"{k} of {p}")
                n += 1
        for key, vals in chk.items():
            if key == "y_clean":
                for step, want in vals.items():
                    close(y_clean(p, int(step)), want, f"y_clean[{step}] of {p}")
                    n += 1
            elif key.startswith("y_seed"):
                seed, trial = key[len("y_seed"):].split("_trial")
                for step, want in vals.items():
                    close(y_noisy(suite, p, int(seed), int(trial), int(step)), want, f"{key}[{step}] of {p}")
                    n += 1
    if failures or n == 0:
        sys.exit(f"curves.json checks FAILED ({len(failures)} of {n}):\n  " + "\n  ".join(failures or ["no checks found"]))
    return n


def make_pruner(name):
    if name == "nop":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner()
    if name == "sha":
        return optuna.pruners.SuccessiveHalvingPruner()
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    raise SystemExit(f"unknown pruner {name}")


def run(args):
    suite, pruner, seed, n_trials = args
    started = time.perf_counter()
    P = {p["name"]: p for p in suite["params"]}
    study = optuna.create_study(
        study_name=f"curves-{pruner}-{seed}",
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=make_pruner(pruner),
    )
    records = []

    def objective(trial):
        p = {}
        for name, spec in P.items():
            if spec["type"] == "int":
                p[name] = trial.suggest_int(name, spec["low"], spec["high"], log=spec["log"])
            else:
                p[name] = trial.suggest_float(name, spec["low"], spec["high"], log=spec["log"])
        rec = {"id": trial.number, "pruned": False, "steps": 0, "clean100": y_clean(p, suite["max_step"])}
        records.append(rec)
        last = None
        for step in range(1, suite["max_step"] + 1):
            last = y_noisy(suite, p, seed, trial.number, step)
            trial.report(last, step)
            rec["steps"] += 1
            if trial.should_prune():
                rec["pruned"] = True
                raise optuna.TrialPruned()
        rec["observed"] = last
        return last

    study.optimize(objective, n_trials=n_trials)
    return {
        "sampler": "tpe",
        "pruner": pruner,
        "seed": seed,
        "steps": sum(r["steps"] for r in records),
        "trials": records,
        "ms": (time.perf_counter() - started) * 1000.0,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--curves", required=True)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--pruners", default="nop,median,sha,hyperband")
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args()
    with open(a.curves) as f:
        suite = json.load(f)
    n = verify(suite)
    print(f"optuna {optuna.__version__}: curves.json {n} checks pass", file=sys.stderr)
    work = [(suite, p, seed, a.trials) for p in a.pruners.split(",") for seed in range(1, a.seeds + 1)]
    if a.jobs > 1:
        with multiprocessing.Pool(a.jobs) as pool:
            runs = pool.map(run, work)
    else:
        runs = []
        for w in work:
            runs.append(run(w))
            print(f"optuna {w[1]} seed {w[2]}: {runs[-1]['steps']} steps", file=sys.stderr)
    json.dump(runs, sys.stdout)


if __name__ == "__main__":
    main()
