#!/usr/bin/python3
"""Reference pruning decisions of Optuna 3.1 (Debian's python3-optuna) for
test/unit/pruners/optuna-parity.test.ts.

Each scenario runs one sequential study: trial i reports curve(i, step) at the
scenario's steps, stops at the first prune, and otherwise returns its last
value. The output lists, per trial, the step at which Optuna pruned it (null:
completed). Regenerate with:

    /usr/bin/python3 test/unit/pruners/optuna_reference.py > test/unit/pruners/optuna-reference.json
"""
import json
import math
import warnings

import optuna
from optuna.pruners import MedianPruner, PatientPruner, PercentilePruner, SuccessiveHalvingPruner, ThresholdPruner

optuna.logging.set_verbosity(optuna.logging.ERROR)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def curve(i, step, direction="minimize"):
    """Deterministic noisy curves that cross, improving in the study's
    direction (2 - the loss when maximising); trial 7 reports NaN at step 5."""
    if direction == "maximize":
        return 2.0 - curve(i, step)
    if i == 7 and step == 5:
        return float("nan")
    a = (i * 0.6180339887498949) % 1.0
    b = (i * 0.7548776662466927) % 1.0
    return a + (1.0 + 3.0 * b) / (step + 1.0) + 0.05 * math.sin(7.0 * i + 3.0 * step)


STEPS_DENSE = list(range(0, 20))
STEPS_SPARSE = [0, 1, 3, 4, 7, 8, 9, 13, 16, 17, 19, 24, 30]

# name -> (pruner factory, direction, steps, trials, hpod spec as the test maps it)
SCENARIOS = {
    "median_min": (lambda: MedianPruner(), "minimize", STEPS_DENSE, 30),
    "median_max": (lambda: MedianPruner(), "maximize", STEPS_DENSE, 30),
    "median_warmup_interval": (lambda: MedianPruner(n_startup_trials=3, n_warmup_steps=4, interval_steps=3), "minimize", STEPS_SPARSE, 30),
    "percentile25_min": (lambda: PercentilePruner(25.0, n_startup_trials=4), "minimize", STEPS_DENSE, 30),
    "percentile25_max": (lambda: PercentilePruner(25.0, n_startup_trials=4, n_warmup_steps=2), "maximize", STEPS_SPARSE, 30),
    "percentile0_min": (lambda: PercentilePruner(0.0, n_startup_trials=2), "minimize", STEPS_DENSE, 20),
    "percentile90_max": (lambda: PercentilePruner(90.0, n_startup_trials=2), "maximize", STEPS_DENSE, 20),
    "threshold": (lambda: ThresholdPruner(lower=0.2, upper=2.0, n_warmup_steps=2, interval_steps=2), "minimize", STEPS_SPARSE, 20),
    "patience3_min": (lambda: PatientPruner(None, patience=3), "minimize", STEPS_DENSE, 20),
    "patience1_max": (lambda: PatientPruner(None, patience=1), "maximize", STEPS_SPARSE, 20),
    "patience2_median": (lambda: PatientPruner(MedianPruner(n_startup_trials=3), patience=2), "minimize", STEPS_DENSE, 30),
    "sha_auto_rf4_min": (lambda: SuccessiveHalvingPruner(), "minimize", STEPS_DENSE, 30),
    "sha_1_rf3_max": (lambda: SuccessiveHalvingPruner(min_resource=1, reduction_factor=3), "maximize", STEPS_DENSE, 30),
    "sha_2_rf2_mesr1_min": (lambda: SuccessiveHalvingPruner(min_resource=2, reduction_factor=2, min_early_stopping_rate=1), "minimize", STEPS_SPARSE, 30),
}


def run(factory, direction, steps, n):
    study = optuna.create_study(study_name="ref", direction=direction, pruner=factory(), sampler=optuna.samplers.RandomSampler(seed=0))
    pruned_at = {}

    def objective(trial):
        i = trial.number
        trial.suggest_float("x", 0.0, 1.0)
        last = None
        for s in steps:
            last = curve(i, s, direction)
            trial.report(last, s)
            if trial.should_prune():
                pruned_at[i] = s
                raise optuna.TrialPruned()
        return last

    study.optimize(objective, n_trials=n)
    return [pruned_at.get(i) for i in range(n)]


out = {"optuna": optuna.__version__, "scenarios": {}}
for name, (factory, direction, steps, n) in SCENARIOS.items():
    out["scenarios"][name] = {"direction": direction, "steps": steps, "trials": n, "prunedAt": run(factory, direction, steps, n)}
print(json.dumps(out, indent=1))
