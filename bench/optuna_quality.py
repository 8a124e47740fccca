#!/usr/bin/python3
"""Optuna's side of the quality benchmark (bench/quality.ts --optuna).

Runs Optuna 3.1's samplers (random, TPE, multivariate TPE, CMA-ES, QMC) on the
test functions of bench/data/functions.json and prints, as JSON on stdout,
results[contender][function][budget index][seed index] = best value found
within the budget. The functions are implemented here again from their
formulas and verified against their checks (1e-6 relative), like the
TypeScript side.

Run with Debian's interpreter: /usr/bin/python3 (apt-get install -y python3-optuna).
Seeds are 1..N: QMCSampler(seed=0) silently uses a random seed in Optuna 3.1.
"""
import argparse
import json
import math
import multiprocessing
import sys
import warnings

import optuna
import optuna_samplers

warnings.simplefilter("ignore")


def implement(spec):
    name, d, c = spec["name"], spec["dim"], spec["constants"]
    base = name.rstrip("0123456789")

    def xs(x):
        return [x["x%d" % i] for i in range(d)]

    if base == "branin":
        b, cc, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
        return lambda x: (x["x1"] - b * x["x0"] ** 2 + cc * x["x0"] - 6) ** 2 + 10 * (1 - t) * math.cos(x["x0"]) + 10
    if base == "hartmann":
        A, P, alpha = c["A"], c["P"], c["alpha"]

        def hartmann(x):
            v = xs(x)
            return -sum(
                alpha[i] * math.exp(-sum(A[i][j] * (v[j] - P[i][j]) ** 2 for j in range(d))) for i in range(len(alpha))
            )

        return hartmann
    if base == "rosenbrock":

        def rosenbrock(x):
            v = xs(x)
            return sum(100 * (v[i + 1] - v[i] ** 2) ** 2 + (1 - v[i]) ** 2 for i in range(d - 1))

        return rosenbrock
    if base == "ackley":

        def ackley(x):
            v = xs(x)
            sq = sum(t * t for t in v)
            cs = sum(math.cos(2 * math.pi * t) for t in v)
            return -20 * math.exp(-0.2 * math.sqrt(sq / d)) - math.exp(cs / d) + 20 + math.e

        return ackley
    if base == "levy":

        def levy(x):
            w = [1 + (t - 1) / 4 for t in xs(x)]
            s = math.sin(math.pi * w[0]) ** 2
            for i in range(d - 1):
                s += (w[i] - 1) ** 2 * (1 + 10 * math.sin(math.pi * w[i] + 1) ** 2)
            return s + (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)

        return levy
    if base == "styblinski_tang":
        return lambda x: 0.5 * sum(t ** 4 - 16 * t ** 2 + 5 * t for t in xs(x))
    if base == "rastrigin":
        return lambda x: 10 * d + sum(t * t - 10 * math.cos(2 * math.pi * t) for t in xs(x))
    if base == "six_hump_camel":
        return lambda x: (4 - 2.1 * x["x0"] ** 2 + x["x0"] ** 4 / 3) * x["x0"] ** 2 + x["x0"] * x["x1"] + (
            -4 + 4 * x["x1"] ** 2
        ) * x["x1"] ** 2
    if base == "goldstein_price":

        def goldstein_price(x):
            a, b = x["x0"], x["x1"]
            p = 1 + (a + b + 1) ** 2 * (19 - 14 * a + 3 * a ** 2 - 14 * b + 6 * a * b + 3 * b ** 2)
            q = 30 + (2 * a - 3 * b) ** 2 * (18 - 32 * a + 12 * a ** 2 + 48 * b - 36 * a * b + 27 * b ** 2)
            return p * q

        return goldstein_price
    if base == "cat_shifted_sphere":

        def cat_shifted_sphere(x):
            k = x["variant"]
            sh = c["shift"][k]
            return c["offset"][k] + c["weight"][k] * sum((x["x%d" % i] - sh[i]) ** 2 for i in range(3))

        return cat_shifted_sphere
    raise SystemExit("function %r has no implementation here (formula: %s)" % (name, spec["formula"]))


def load(path):
    with open(path) as fh:
        doc = json.load(fh)
    out = {}
    for spec in doc["functions"]:
        f = implement(spec)
        for chk in spec["checks"]:
            got = f(chk["x"])
            if not abs(got - chk["f"]) <= 1e-6 * abs(chk["f"]) + 1e-12:
                raise SystemExit("%s: check failed at %r: got %r, expected %r" % (spec["name"], chk["x"], got, chk["f"]))
        out[spec["name"]] = (spec, f)
    return out


def make_sampler(kind, seed):
    return optuna_samplers.make_sampler(kind, seed, allowed=("random", "tpe", "tpe_multivariate", "cmaes", "qmc"))


def suggest(trial, p):
    if p["type"] == "float":
        return trial.suggest_float(p["name"], p["low"], p["high"], log=p.get("log", False), step=p.get("step"))
    if p["type"] == "int":
        return trial.suggest_int(p["name"], int(p["low"]), int(p["high"]), log=p.get("log", False), step=p.get("step", 1))
    return trial.suggest_categorical(p["name"], p["choices"])


FUNCTIONS = {}


def run_one(job):
    kind, fname, seed, budgets = job
    warnings.simplefilter("ignore")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    spec, f = FUNCTIONS[fname]
    study = optuna.create_study(sampler=make_sampler(kind, seed), direction="minimize")
    study.optimize(lambda t: f({p["name"]: suggest(t, p) for p in spec["params"]}), n_trials=max(budgets))
    values = [t.value for t in study.trials]
    best, running = [], math.inf
    for v in values:
        running = min(running, v)
        best.append(running)
    return kind, fname, seed, [best[b - 1] for b in budgets]


def init(path):
    FUNCTIONS.update(load(path))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--functions-file", required=True)
    ap.add_argument("--budgets", default="50,200")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--samplers", default="random,tpe,tpe_multivariate,cmaes,qmc")
    ap.add_argument("--only", default="", help="comma-separated function names (default: all)")
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args()
    init(a.functions_file)
    budgets = sorted(int(b) for b in a.budgets.split(","))
    names = [n for n in a.only.split(",") if n] or list(FUNCTIONS)
    for n in names:
        if n not in FUNCTIONS:
            raise SystemExit("unknown function %r" % n)
    kinds = [k for k in a.samplers.split(",") if k]
    for k in kinds:
        make_sampler(k, 1)
    jobs = [(k, n, s, budgets) for k in kinds for n in names for s in range(1, a.seeds + 1)]
    print("optuna %s: %d runs (%d samplers x %d functions x %d seeds, %d trials each)"
          % (optuna.__version__, len(jobs), len(kinds), len(names), a.seeds, max(budgets)), file=sys.stderr)
    if a.jobs > 1:
        with multiprocessing.Pool(a.jobs, initializer=init, initargs=(a.functions_file,)) as pool:
            done = pool.map(run_one, jobs, chunksize=1)
    else:
        done = [run_one(j) for j in jobs]
    results = {"optuna_" + k: {n: [[] for _ in budgets] for n in names} for k in kinds}
    for kind, fname, seed, bests in sorted(done, key=lambda r: r[2]):
        per_budget = results["optuna_" + kind][fname]
        for i, v in enumerate(bests):
            per_budget[i].append(v)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
