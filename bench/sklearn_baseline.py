#!/usr/bin/python3
"""scikit-learn defaults on the splits bench/tune.ts used (Debian python3-sklearn).

Reads a JSON object on stdin: {"task", "x", "y", "train", "test", "seed"} where
train/test are row indices (train = the tuner's train + validation rows, so the
baselines see the same non-test data). Prints one JSON object: model -> test
score (accuracy for classification, R^2 for regression). Every model is
standardised (StandardScaler) and otherwise at scikit-learn's defaults
(LogisticRegression gets max_iter=1000 so it converges).
"""
import json
import sys
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main() -> None:
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    req = json.load(sys.stdin)
    x = np.asarray(req["x"], dtype=float)
    y = np.asarray(req["y"])
    tr = np.asarray(req["train"], dtype=int)
    te = np.asarray(req["test"], dtype=int)
    seed = int(req.get("seed", 0))
    if req["task"] == "classification":
        models = {
            "LogisticRegression": LogisticRegression(max_iter=1000),
            "MLPClassifier": MLPClassifier(random_state=seed),
        }
        y = y.astype(int)
    else:
        models = {"Ridge": Ridge(), "MLPRegressor": MLPRegressor(random_state=seed)}
        y = y.astype(float)
    out = {}
    for name, model in models.items():
        pipe = make_pipeline(StandardScaler(), model)
        pipe.fit(x[tr], y[tr])
        out[name] = float(pipe.score(x[te], y[te]))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
