"""hpod learning-rate schedules as torch.optim.lr_scheduler objects.

A schedule comes from hpod as JSON (the runner's HPOD_PARAMS_JSON, or a
--schedule argument): the proto3 JSON form of hpod.v1.LrSchedule,

    {"kind": "LR_SCHEDULE_KIND_COSINE_ANNEALING", "values": {"T_max": 8, "eta_min": 0.0},
     "milestones": [], "mode": "", "totalSteps": 10, "warmupSteps": 2, "warmupStartFactor": 0.1}

(int64 fields may be JSON numbers or strings; snake_case keys are accepted
too). hpod fills every hyperparameter the study left out with its default, so
each kind maps onto its PyTorch class directly:

    constant                        ConstantLR(factor, total_iters)
    step                            StepLR(step_size, gamma)
    multi_step                      MultiStepLR(milestones, gamma)
    exponential                     ExponentialLR(gamma)
    cosine_annealing                CosineAnnealingLR(T_max, eta_min)
    cosine_annealing_warm_restarts  CosineAnnealingWarmRestarts(T_0, T_mult, eta_min)
    one_cycle                       OneCycleLR(max_lr, total_steps, pct_start, anneal_strategy=mode,
                                               div_factor, final_div_factor, three_phase)
    cyclic                          CyclicLR(base_lr, max_lr, step_size_up, step_size_down, mode, gamma)
    polynomial                      PolynomialLR(total_iters, power)
    reduce_on_plateau               ReduceLROnPlateau(mode, factor, patience, threshold,
                                                      threshold_mode ("rel"/"abs" from 0/1), cooldown,
                                                      min_lr, eps)

A warm-up (warmupSteps W > 0, warmupStartFactor f) is
SequentialLR([LinearLR(start_factor=f, end_factor=1, total_iters=W), main], milestones=[W]);
ReduceLROnPlateau cannot sit in a SequentialLR, so it takes over after the
LinearLR steps. The optimiser's lr is the schedule's base lr B: the trial's
own lr for most kinds, base_lr for cyclic and max_lr / div_factor for
one_cycle (as hpod's lr(step) formulas define it; see docs/LR_SCHEDULES.md).

One scheduler step per epoch here: set the study's total_steps to the number
of epochs.
"""
from typing import Any, Dict, Mapping, Optional

from torch.optim import Optimizer
from torch.optim import lr_scheduler as L

KIND_PREFIX = "LR_SCHEDULE_KIND_"

# hpod's defaults for hyperparameters a study leaves out (server/core/lr-schedule-spec.ts).
# The daemon fills them in the schedules it hands out; they are repeated here so that a
# schedule written by hand (--schedule) may leave them out too. HORIZON: the main
# schedule's length, totalSteps - warmupSteps.
HORIZON = "horizon"
DEFAULTS: Dict[str, Dict[str, Any]] = {
    "constant": {"factor": 1.0, "total_iters": 5},
    "step": {"gamma": 0.1},
    "multi_step": {"gamma": 0.1},
    "exponential": {},
    "cosine_annealing": {"T_max": HORIZON, "eta_min": 0.0},
    "cosine_annealing_warm_restarts": {"T_mult": 1, "eta_min": 0.0},
    "one_cycle": {"total_steps": HORIZON, "pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4, "three_phase": 0},
    "cyclic": {"step_size_up": 2000, "gamma": 1.0},
    "polynomial": {"total_iters": HORIZON, "power": 1.0},
    "reduce_on_plateau": {"factor": 0.1, "patience": 10, "threshold": 1e-4, "threshold_mode": 0, "cooldown": 0, "min_lr": 0.0, "eps": 1e-8},
}
DEFAULT_MODES = {"one_cycle": "cos", "cyclic": "triangular", "reduce_on_plateau": "min"}


def _get(s: Mapping[str, Any], camel: str, snake: str, default: Any) -> Any:
    if camel in s:
        return s[camel]
    return s.get(snake, default)


def normalize(schedule: Mapping[str, Any]) -> Dict[str, Any]:
    """The schedule with a lower-case kind ("cosine_annealing") and plain Python numbers."""
    kind = str(schedule.get("kind", ""))
    if kind.startswith(KIND_PREFIX):
        kind = kind[len(KIND_PREFIX):]
    kind = kind.lower()
    if kind not in DEFAULTS:
        raise ValueError(f"unknown learning-rate schedule kind {schedule.get('kind')!r}")
    total = int(_get(schedule, "totalSteps", "total_steps", 0) or 0)
    warmup = int(_get(schedule, "warmupSteps", "warmup_steps", 0) or 0)
    values = {k: float(v) for k, v in dict(schedule.get("values", {})).items()}
    for name, default in DEFAULTS[kind].items():
        if name not in values:
            values[name] = float(max(1, total - warmup) if default == HORIZON else default)
    if kind == "cyclic" and "step_size_down" not in values:
        values["step_size_down"] = values["step_size_up"]
    return {
        "kind": kind,
        "values": values,
        "milestones": sorted(int(m) for m in schedule.get("milestones", [])),
        "mode": str(schedule.get("mode", "") or "") or DEFAULT_MODES.get(kind, ""),
        "total_steps": total,
        "warmup_steps": warmup,
        # LinearLR's default start factor when warm-up steps come without one
        "warmup_start_factor": float(_get(schedule, "warmupStartFactor", "warmup_start_factor", 0) or (1 / 3 if warmup > 0 else 0)),
    }


def base_lr_of(s: Mapping[str, Any], lr: float) -> float:
    """B: the lr the schedule starts from (and the warm-up ramps to)."""
    v = s["values"]
    if s["kind"] == "cyclic":
        return v["base_lr"]
    if s["kind"] == "one_cycle":
        return v["max_lr"] / v["div_factor"]
    return lr


def _main(s: Mapping[str, Any], opt: Optimizer) -> Any:
    k, v = s["kind"], s["values"]

    def i(name: str) -> int:
        return int(v[name])

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
        return L.OneCycleLR(
            opt,
            max_lr=v["max_lr"],
            total_steps=i("total_steps"),
            pct_start=v["pct_start"],
            anneal_strategy=s["mode"] or "cos",
            div_factor=v["div_factor"],
            final_div_factor=v["final_div_factor"],
            three_phase=bool(v.get("three_phase", 0)),
            cycle_momentum=False,
        )
    if k == "cyclic":
        return L.CyclicLR(
            opt,
            base_lr=v["base_lr"],
            max_lr=v["max_lr"],
            step_size_up=i("step_size_up"),
            step_size_down=i("step_size_down"),
            mode=s["mode"] or "triangular",
            gamma=v["gamma"],
            cycle_momentum=False,
        )
    if k == "polynomial":
        return L.PolynomialLR(opt, total_iters=i("total_iters"), power=v["power"])
    raise ValueError(f"unknown learning-rate schedule kind {k!r}")


class EpochScheduler:
    """Steps a torch scheduler once per epoch; `step(metric)` feeds ReduceLROnPlateau."""

    def __init__(self, optimizer: Optimizer, schedule: Optional[Mapping[str, Any]], lr: float) -> None:
        self.optimizer = optimizer
        self.schedule = normalize(schedule) if schedule else None
        self.warmup: Any = None
        self.plateau: Any = None
        self.scheduler: Any = None
        self.epoch = 0
        if self.schedule is None:
            return
        s = self.schedule
        self.base = base_lr_of(s, lr)
        for group in optimizer.param_groups:
            group["lr"] = self.base
            group.pop("initial_lr", None)
        w, f = s["warmup_steps"], s["warmup_start_factor"]
        if s["kind"] == "reduce_on_plateau":
            v = s["values"]
            if w > 0:
                self.warmup = L.LinearLR(optimizer, start_factor=f, end_factor=1.0, total_iters=w)
            self.plateau = L.ReduceLROnPlateau(
                optimizer,
                mode=s["mode"] or "min",
                factor=v["factor"],
                patience=int(v["patience"]),
                threshold=v["threshold"],
                threshold_mode=["rel", "abs"][int(v.get("threshold_mode", 0))],
                cooldown=int(v["cooldown"]),
                min_lr=v["min_lr"],
                eps=v["eps"],
            )
        elif w > 0:
            warm = L.LinearLR(optimizer, start_factor=f, end_factor=1.0, total_iters=w)
            self.scheduler = L.SequentialLR(optimizer, [warm, _main(s, optimizer)], milestones=[w])
        else:
            self.scheduler = _main(s, optimizer)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def step(self, metric: Optional[float] = None) -> None:
        """After an epoch (and its optimizer steps)."""
        self.epoch += 1
        if self.scheduler is not None:
            self.scheduler.step()
        elif self.plateau is not None:
            w = self.schedule["warmup_steps"] if self.schedule else 0
            if self.epoch <= w:
                self.warmup.step()
                if self.epoch == w:
                    for group in self.optimizer.param_groups:
                        group["lr"] = self.base
            else:
                self.plateau.step(metric)
