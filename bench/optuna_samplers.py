"""Optuna 3.1 samplers by the names the bench scripts take (optuna_quality.py,
optuna_speed.py, load_optuna.py), seeded, with Optuna's defaults otherwise,
and the space bench/speed and bench/load use for their "Suggest". Imported by
those scripts from this folder (Python puts a script's own folder on sys.path).
"""
import optuna
from optuna.distributions import FloatDistribution, IntDistribution

# x, lr (log), n (int): the three parameters of bench/speed's and bench/load's trials.
SPEED_DISTRIBUTIONS = {
    "x": FloatDistribution(-5, 5),
    "lr": FloatDistribution(1e-5, 1, log=True),
    "n": IntDistribution(1, 8),
}

_SAMPLERS = {
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
    "tpe_multivariate": lambda seed: optuna.samplers.TPESampler(seed=seed, multivariate=True),
    "cmaes": lambda seed: optuna.samplers.CmaEsSampler(seed=seed),
    "qmc": lambda seed: optuna.samplers.QMCSampler(seed=seed),
    "nsga2": lambda seed: optuna.samplers.NSGAIISampler(seed=seed),
}


def make_sampler(kind, seed, allowed=None):
    """The sampler named `kind`; exits with a message for an unknown name or one outside `allowed`."""
    if kind not in _SAMPLERS or (allowed is not None and kind not in allowed):
        raise SystemExit("unknown Optuna sampler %r" % kind)
    return _SAMPLERS[kind](seed)
