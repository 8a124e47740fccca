#!/usr/bin/python3
"""Optuna's side of the sampler-speed benchmark (bench/sampler-speed.ts --optuna).

For each sampler and each trial count N: an in-memory study pre-filled with N
synthetic COMPLETE trials (uniform random parameters and values) on the same
4-parameter space as the TypeScript side, then --suggestions timed rounds of
study.ask(distributions) + study.tell(trial, value): the cost of one trial.
Prints a JSON list of rows {contender, trials, p50, p90, mean, samples} (ms).

Run with Debian's interpreter: /usr/bin/python3 (apt-get install -y python3-optuna).
"""
import argparse
import json
import math
import random
import sys
import time
import warnings

warnings.simplefilter("ignore")

import optuna  # noqa: E402
from optuna.distributions import CategoricalDistribution  # noqa: E402
from optuna_samplers import SPEED_DISTRIBUTIONS, make_sampler as sampler_for  # noqa: E402

DISTRIBUTIONS = {
    **SPEED_DISTRIBUTIONS,
    "act": CategoricalDistribution(["relu", "gelu", "tanh"]),
}


def synthetic(n, rng):
    trials = []
    for _ in range(n):
        params = {
            "x": rng.uniform(-5, 5),
            "lr": math.exp(rng.uniform(math.log(1e-5), 0)),
            "n": rng.randint(1, 8),
            "act": rng.choice(["relu", "gelu", "tanh"]),
        }
        trials.append(optuna.trial.create_trial(params=params, distributions=DISTRIBUTIONS, value=rng.random()))
    return trials


def percentile(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--counts", default="100,1000,10000")
    ap.add_argument("--suggestions", type=int, default=20)
    ap.add_argument("--samplers", default="random,tpe,tpe_multivariate")
    a = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    rows = []
    for kind in [k for k in a.samplers.split(",") if k]:
        for n in [int(c) for c in a.counts.split(",") if c]:
            study = optuna.create_study(sampler=sampler_for(kind, 7), direction="minimize")
            study.add_trials(synthetic(n, random.Random(12345 + n)))
            rng = random.Random(1)
            # One untimed round (imports, caches).
            t = study.ask(DISTRIBUTIONS)
            study.tell(t, rng.random())
            times = []
            for _ in range(a.suggestions):
                t0 = time.perf_counter()
                t = study.ask(DISTRIBUTIONS)
                study.tell(t, rng.random())
                times.append((time.perf_counter() - t0) * 1000)
            row = {
                "contender": "optuna_" + kind,
                "trials": n,
                "p50": percentile(times, 50),
                "p90": percentile(times, 90),
                "mean": sum(times) / len(times),
                "samples": len(times),
            }
            print("  %s @ %d: p50 %.3f ms" % (row["contender"], n, row["p50"]), file=sys.stderr)
            rows.append(row)
    json.dump(rows, sys.stdout)


if __name__ == "__main__":
    main()
