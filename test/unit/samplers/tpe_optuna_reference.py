#!/usr/bin/python3
"""Reference log densities of Optuna 3.1's univariate Parzen estimator (independent TPE), for
tpe-optuna-parity.test.ts. Regenerate with: /usr/bin/python3 test/unit/samplers/tpe_optuna_reference.py

Each case: a distribution, observations (oldest first) and points; Optuna's log_pdf at the points. Observations
of stepped domains are distinct, so the order numpy's argsort gives tied values (implementation-defined) does not
matter.
"""
import json
import os

import numpy as np
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator, _ParzenEstimatorParameters
from optuna.samplers._tpe.sampler import default_weights

rng = np.random.RandomState(7)
cases = []


def add(name, domain, dist, obs, points):
    params = _ParzenEstimatorParameters(True, 1.0, True, False, default_weights, False)
    est = _ParzenEstimator({"x": np.asarray(obs, dtype=float)}, {"x": dist}, params)
    internal = np.asarray(points, dtype=int if isinstance(dist, CategoricalDistribution) else float)
    cases.append({"name": name, "domain": domain, "obs": list(map(float, obs)), "points": list(map(float, points)),
                  "logpdf": est.log_pdf({"x": internal}).tolist()})


for n in (0, 1, 5, 24, 40):
    add("float/%d" % n, {"type": "float", "low": -5, "high": 10, "log": False}, FloatDistribution(-5, 10),
        rng.uniform(-5, 10, size=n), np.linspace(-5, 10, 13))
add("float-log/30", {"type": "float", "low": 1e-4, "high": 10, "log": True}, FloatDistribution(1e-4, 10, log=True),
    np.exp(rng.uniform(np.log(1e-4), np.log(10), size=30)), np.exp(np.linspace(np.log(1e-4), np.log(10), 13)))
add("float-step/40", {"type": "float", "low": 0, "high": 10, "log": False, "step": 0.1}, FloatDistribution(0, 10, step=0.1),
    np.round(rng.choice(101, size=40, replace=False) * 0.1, 10), np.round(np.arange(0, 101, 7) * 0.1, 10))
add("int/30", {"type": "int", "low": 1, "high": 100, "log": False, "step": 1}, IntDistribution(1, 100),
    rng.choice(np.arange(1, 101), size=30, replace=False), np.arange(1, 101, 9))
choices = ["a", "b", "c", "d"]
add("categorical/40", {"type": "categorical", "valueKind": "string", "choices": choices}, CategoricalDistribution(choices),
    rng.randint(0, 4, size=40), np.arange(4))

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "tpe-optuna-reference.json"), "w") as fh:
    json.dump({"optuna": "3.1", "cases": cases}, fh, indent=1)
