"""Learning-rate schedules of hpod, in pure Python (no torch, no grpc).

The Python twin of server/core/lr-schedule.ts (the TypeScript SDK's
``lrAt`` / ``createScheduler``): the same API shape, the same defaults and
rules (server/core/lr-schedule-spec.ts) and the same formulas, which follow
``torch.optim.lr_scheduler`` (see docs/LR_SCHEDULES.md). Tests check the two
against each other and against PyTorch itself.

Usage in a worker::

    from hpod_lr import lr_at, create_scheduler

    sched = trial.params["sched"]          # hpod_client.LrSchedule (or a dict)
    base_lr = trial.params["lr"]           # the optimiser's lr
    s = create_scheduler(sched, base_lr)
    for step in range(total_steps):
        for g in optimizer.param_groups:
            g["lr"] = s.lr
        loss = train_one_step()
        s.step(loss)                       # the metric matters only for reduce_on_plateau

A schedule is accepted as a dict (``{"kind": "cosine_annealing", "values":
{...}, "milestones": [...], "mode": "", "total_steps": 1000, "warmup_steps":
0, "warmup_start_factor": 0.0}``, camelCase keys too), an
``hpod_client.LrSchedule`` (kind ``"COSINE_ANNEALING"``) or a generated
``search_space_pb2.LrSchedule`` (kind an enum number).
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

__all__ = [
    "LR_KINDS",
    "KIND_SPECS",
    "DEFAULT_WARMUP_START_FACTOR",
    "LrScheduleError",
    "Schedule",
    "Scheduler",
    "to_schedule",
    "complete_schedule",
    "schedule_problem",
    "resolve_schedule",
    "schedule_base_lr",
    "lr_at",
    "create_scheduler",
]

# Same order as the proto's LrScheduleKind (value = index + 1).
LR_KINDS: Tuple[str, ...] = (
    "constant",
    "step",
    "multi_step",
    "exponential",
    "cosine_annealing",
    "cosine_annealing_warm_restarts",
    "one_cycle",
    "cyclic",
    "polynomial",
    "reduce_on_plateau",
)

DEFAULT_WARMUP_START_FACTOR = 1.0 / 3

INF = math.inf


class LrScheduleError(ValueError):
    """A schedule that cannot be evaluated (missing/illegal hyperparameter, bad step)."""


# --------------------------------------------------------------------------
# Rules (mirror of server/core/lr-schedule-spec.ts; a test keeps them equal)
# --------------------------------------------------------------------------

# name: (type, min, min_inclusive, max, max_inclusive, choices, default, slot)
#   type: "float" | "int" | "string" | "bool"
#   default: None (required), ("value", v), ("horizon",), ("same_as", name)
#   slot: "values" | "mode"


def _r(name, typ, lo=None, lo_incl=True, hi=None, hi_incl=True, choices=None, default=None, slot="values"):
    return {
        "name": name,
        "type": typ,
        "min": None if lo is None else (lo, lo_incl),
        "max": None if hi is None else (hi, hi_incl),
        "choices": list(choices) if choices else None,
        "default": default,
        "slot": slot,
    }


def _v(x):
    return ("value", x)


_HORIZON = ("horizon",)


def _gamma(default=None):
    return _r("gamma", "float", 0, False, 1, True, default=None if default is None else _v(default))


_ETA_MIN = _r("eta_min", "float", 0, True, default=_v(0))

KIND_SPECS: Dict[str, Dict[str, Any]] = {
    "constant": {
        "base_lr": "optimizer",
        "milestones": False,
        "stateful": False,
        "hyperparameters": [
            _r("factor", "float", 0, False, 1, True, default=_v(1)),
            _r("total_iters", "int", 1, True, default=_v(5)),
        ],
    },
    "step": {
        "base_lr": "optimizer",
        "milestones": False,
        "stateful": False,
        "hyperparameters": [_r("step_size", "int", 1, True), _gamma(0.1)],
    },
    "multi_step": {"base_lr": "optimizer", "milestones": True, "stateful": False, "hyperparameters": [_gamma(0.1)]},
    "exponential": {"base_lr": "optimizer", "milestones": False, "stateful": False, "hyperparameters": [_gamma()]},
    "cosine_annealing": {
        "base_lr": "optimizer",
        "milestones": False,
        "stateful": False,
        "hyperparameters": [_r("T_max", "int", 1, True, default=_HORIZON), _ETA_MIN],
    },
    "cosine_annealing_warm_restarts": {
        "base_lr": "optimizer",
        "milestones": False,
        "stateful": False,
        "hyperparameters": [
            _r("T_0", "int", 1, True),
            _r("T_mult", "int", 1, True, default=_v(1)),
            _ETA_MIN,
        ],
    },
    "one_cycle": {
        "base_lr": "max_lr / div_factor",
        "milestones": False,
        "stateful": False,
        "hyperparameters": [
            _r("max_lr", "float", 0, False),
            _r("total_steps", "int", 1, True, default=_HORIZON),
            _r("pct_start", "float", 0, False, 1, False, default=_v(0.3)),
            _r("anneal_strategy", "string", choices=["cos", "linear"], default=_v("cos"), slot="mode"),
            _r("div_factor", "float", 0, False, default=_v(25)),
            _r("final_div_factor", "float", 0, False, default=_v(1e4)),
            _r("three_phase", "bool", default=_v(0)),
        ],
    },
    "cyclic": {
        "base_lr": "base_lr",
        "milestones": False,
        "stateful": False,
        "hyperparameters": [
            _r("base_lr", "float", 0, False),
            _r("max_lr", "float", 0, False),
            _r("step_size_up", "int", 1, True, default=_v(2000)),
            _r("step_size_down", "int", 1, True, default=("same_as", "step_size_up")),
            _r("mode", "string", choices=["triangular", "triangular2", "exp_range"], default=_v("triangular"), slot="mode"),
            _r("gamma", "float", 0, False, 1, True, default=_v(1)),
        ],
    },
    "polynomial": {
        "base_lr": "optimizer",
        "milestones": False,
        "stateful": False,
        "hyperparameters": [
            _r("total_iters", "int", 1, True, default=_HORIZON),
            _r("power", "float", 0, False, default=_v(1)),
        ],
    },
    "reduce_on_plateau": {
        "base_lr": "optimizer",
        "milestones": False,
        "stateful": True,
        "hyperparameters": [
            _r("mode", "string", choices=["min", "max"], default=_v("min"), slot="mode"),
            _r("factor", "float", 0, False, 1, False, default=_v(0.1)),
            _r("patience", "int", 0, True, default=_v(10)),
            _r("threshold", "float", 0, True, default=_v(1e-4)),
            _r("threshold_mode", "string", choices=["rel", "abs"], default=_v("rel")),
            _r("cooldown", "int", 0, True, default=_v(0)),
            _r("min_lr", "float", 0, True, default=_v(0)),
            _r("eps", "float", 0, True, default=_v(1e-8)),
        ],
    },
}

_WARMUP_FACTOR_RULE = _r("warmup_start_factor", "float", 0, False, 1, True)


# --------------------------------------------------------------------------
# Schedules
# --------------------------------------------------------------------------


@dataclass
class Schedule:
    """A concrete schedule (the fields of the proto's ``LrSchedule``)."""

    kind: str
    values: Dict[str, float] = field(default_factory=dict)
    milestones: List[int] = field(default_factory=list)
    mode: str = ""
    total_steps: int = 0
    warmup_steps: int = 0
    warmup_start_factor: float = 0.0


_PREFIX = "lr_schedule_kind_"


def _kind_name(kind: Any) -> str:
    if isinstance(kind, bool):
        raise LrScheduleError(f"lr schedule kind: unknown kind {kind!r}")
    if isinstance(kind, int):
        if 1 <= kind <= len(LR_KINDS):
            return LR_KINDS[kind - 1]
        raise LrScheduleError(f"lr schedule kind: unknown kind {kind!r}")
    name = str(kind).lower()
    if name.startswith(_PREFIX):
        name = name[len(_PREFIX):]
    if name not in KIND_SPECS:
        raise LrScheduleError(f"lr schedule kind: unknown kind {kind!r}")
    return name


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    for n in names:
        if isinstance(obj, Mapping):
            if n in obj:
                return obj[n]
        elif hasattr(obj, n):
            return getattr(obj, n)
    return default


def to_schedule(obj: Any) -> Schedule:
    """A :class:`Schedule` of a dict, an ``hpod_client.LrSchedule`` or a proto ``LrSchedule``."""
    if isinstance(obj, Schedule):
        return Schedule(
            obj.kind, dict(obj.values), list(obj.milestones), obj.mode, obj.total_steps, obj.warmup_steps, obj.warmup_start_factor
        )
    return Schedule(
        kind=_kind_name(_get(obj, "kind")),
        values={str(k): float(v) for k, v in dict(_get(obj, "values", default={}) or {}).items()},
        milestones=[int(m) for m in (_get(obj, "milestones", default=[]) or [])],
        mode=str(_get(obj, "mode", default="") or ""),
        total_steps=int(_get(obj, "total_steps", "totalSteps", default=0) or 0),
        warmup_steps=int(_get(obj, "warmup_steps", "warmupSteps", default=0) or 0),
        warmup_start_factor=float(_get(obj, "warmup_start_factor", "warmupStartFactor", default=0.0) or 0.0),
    )


def _horizon(s: Schedule) -> Optional[int]:
    if not s.total_steps > 0:
        return None
    return max(1, s.total_steps - max(0, s.warmup_steps))


def complete_schedule(obj: Any) -> Schedule:
    """A copy with every omitted hyperparameter set to its default (as the daemon does)."""
    s = to_schedule(obj)
    s.milestones.sort()
    for rule in KIND_SPECS[s.kind]["hyperparameters"]:
        d = rule["default"]
        if d is None:
            continue
        if rule["slot"] == "mode":
            if s.mode == "":
                s.mode = str(d[1])
            continue
        name = rule["name"]
        if name in s.values:
            continue
        if d[0] == "value":
            if isinstance(d[1], str):
                s.values[name] = float(rule["choices"].index(d[1]))
            else:
                s.values[name] = float(d[1])
        elif d[0] == "horizon":
            h = _horizon(s)
            if h is not None:
                s.values[name] = float(h)
        elif d[0] == "same_as":
            if d[1] in s.values:
                s.values[name] = s.values[d[1]]
    if s.warmup_steps > 0 and s.warmup_start_factor == 0:
        s.warmup_start_factor = DEFAULT_WARMUP_START_FACTOR
    return s


def _in_bounds(v: float, rule: Mapping[str, Any]) -> bool:
    if not math.isfinite(v):
        return False
    if rule["min"] is not None:
        lo, incl = rule["min"]
        if v < lo if incl else v <= lo:
            return False
    if rule["max"] is not None:
        hi, incl = rule["max"]
        if v > hi if incl else v >= hi:
            return False
    return True


def _legal(v: float, rule: Mapping[str, Any]) -> bool:
    t = rule["type"]
    if t == "bool":
        return v in (0, 1)
    if t == "int":
        return float(v).is_integer() and _in_bounds(v, rule)
    if t == "float":
        return _in_bounds(v, rule)
    return float(v).is_integer() and 0 <= v < len(rule["choices"])


def schedule_problem(s: Schedule) -> Optional[Tuple[str, str]]:
    """(field, message) of the first problem of a completed schedule, or None."""
    spec = KIND_SPECS.get(s.kind)
    if spec is None:
        return ("kind", f"unknown schedule kind {s.kind!r}")
    if s.total_steps < 0:
        return ("total_steps", f"must be an integer >= 0 (got {s.total_steps})")
    if s.warmup_steps < 0:
        return ("warmup_steps", f"must be an integer >= 0 (got {s.warmup_steps})")
    if s.warmup_steps > 0 and not _legal(s.warmup_start_factor, _WARMUP_FACTOR_RULE):
        return ("warmup_start_factor", f"must be in (0, 1] with warm-up steps (got {s.warmup_start_factor})")
    rules = {r["name"]: r for r in spec["hyperparameters"] if r["slot"] == "values"}
    for name, v in s.values.items():
        rule = rules.get(name)
        if rule is None:
            return (f"values.{name}", f"{name!r} is not a hyperparameter of {s.kind} (known in values: {', '.join(rules) or 'none'})")
        if not _legal(v, rule):
            return (f"values.{name}", f"{name} of {s.kind} is out of range (got {v})")
    for name in rules:
        if name not in s.values:
            return (f"values.{name}", f"{s.kind} requires {name}")
    mode_rules = [r for r in spec["hyperparameters"] if r["slot"] == "mode"]
    if mode_rules:
        if s.mode not in mode_rules[0]["choices"]:
            return ("mode", f"{mode_rules[0]['name']} of {s.kind} must be one of {', '.join(mode_rules[0]['choices'])} (got {s.mode!r})")
    elif s.mode != "":
        return ("mode", f"{s.kind} takes no mode (got {s.mode!r})")
    if spec["milestones"]:
        if not s.milestones:
            return ("milestones", f"{s.kind} requires at least one milestone")
        for i, m in enumerate(s.milestones):
            if m < 1:
                return (f"milestones[{i}]", f"must be an integer >= 1 (got {m})")
    elif s.milestones:
        return ("milestones", f"{s.kind} takes no milestones")
    if s.kind == "one_cycle":
        pct, total = s.values["pct_start"], s.values["total_steps"]
        if not pct * total > 1:
            return ("values.pct_start", f"one_cycle needs pct_start * total_steps > 1 (got {pct} * {total})")
        if s.values["three_phase"] == 1 and not pct < 0.5:
            return ("values.pct_start", f"one_cycle with three_phase needs pct_start < 0.5 (got {pct})")
    return None


def resolve_schedule(obj: Any) -> Schedule:
    """The schedule completed with defaults and checked; raises LrScheduleError."""
    s = complete_schedule(obj)
    p = schedule_problem(s)
    if p is not None:
        raise LrScheduleError(f"lr schedule {p[0]}: {p[1]}")
    return s


# --------------------------------------------------------------------------
# Formulas (closed forms of torch.optim.lr_scheduler, PyTorch's operation order)
# --------------------------------------------------------------------------


def _i(s: Schedule, name: str) -> int:
    return int(s.values[name])


def _base(s: Schedule, base_lr: Optional[float]) -> float:
    kind = KIND_SPECS[s.kind]["base_lr"]
    if kind == "base_lr":
        return s.values["base_lr"]
    if kind == "max_lr / div_factor":
        return s.values["max_lr"] / s.values["div_factor"]
    if base_lr is None or not isinstance(base_lr, (int, float)) or not math.isfinite(base_lr) or base_lr < 0:
        raise LrScheduleError(f"base_lr must be a finite number >= 0 (got {base_lr!r})")
    return float(base_lr)


def schedule_base_lr(schedule: Any, base_lr: Optional[float]) -> float:
    """B: the lr the main schedule starts from and the warm-up ramps to."""
    return _base(resolve_schedule(schedule), base_lr)


def _warmup(B: float, f: float, W: int, t: int) -> float:
    # LinearLR closed form with end_factor 1.
    return B * (f + (1.0 - f) * min(W, t) / W)


def _one_cycle(s: Schedule, step: int) -> float:
    total = _i(s, "total_steps")
    if step > total:
        raise LrScheduleError(f"one_cycle: step {step} is past total_steps {total} (PyTorch's OneCycleLR raises here too)")
    max_lr = s.values["max_lr"]
    initial = max_lr / s.values["div_factor"]
    min_lr = initial / s.values["final_div_factor"]
    pct = s.values["pct_start"]
    if s.values["three_phase"] == 1:
        phases = [
            (float(pct * total) - 1, initial, max_lr),
            (float(2 * pct * total) - 2, max_lr, initial),
            (total - 1, initial, min_lr),
        ]
    else:
        phases = [(float(pct * total) - 1, initial, max_lr), (total - 1, max_lr, min_lr)]
    start = 0
    for i, (end, frm, to) in enumerate(phases):
        if step <= end or i == len(phases) - 1:
            p = (step - start) / (end - start)
            if s.mode == "linear":
                return (to - frm) * p + frm
            cos_out = math.cos(math.pi * p) + 1
            return to + (frm - to) / 2.0 * cos_out
        start = end
    raise LrScheduleError("one_cycle: no phase")  # unreachable


def _cyclic(s: Schedule, t: int) -> float:
    up = float(_i(s, "step_size_up"))
    down = float(_i(s, "step_size_down"))
    total_size = up + down
    step_ratio = up / total_size
    cycle = math.floor(1 + t / total_size)
    x = 1.0 + t / total_size - cycle
    if x <= step_ratio:
        scale_factor = x / step_ratio
    else:
        scale_factor = (x - 1) / (step_ratio - 1)
    base_lr = s.values["base_lr"]
    base_height = (s.values["max_lr"] - base_lr) * scale_factor
    if s.mode == "triangular2":
        return base_lr + base_height * (1 / (2.0 ** (cycle - 1)))
    if s.mode == "exp_range":
        return base_lr + base_height * s.values["gamma"] ** t
    return base_lr + base_height * 1.0


def _main(s: Schedule, B: float, m: int) -> float:
    k = s.kind
    if k == "constant":
        factor = s.values["factor"]
        return B * (factor + (1 if m >= _i(s, "total_iters") else 0) * (1 - factor))
    if k == "step":
        return B * s.values["gamma"] ** (m // _i(s, "step_size"))
    if k == "multi_step":
        return B * s.values["gamma"] ** bisect_right(s.milestones, m)
    if k == "exponential":
        return B * s.values["gamma"] ** m
    if k == "cosine_annealing":
        eta_min = s.values["eta_min"]
        return eta_min + (B - eta_min) * (1 + math.cos(math.pi * m / _i(s, "T_max"))) / 2
    if k == "cosine_annealing_warm_restarts":
        t0, mult = _i(s, "T_0"), _i(s, "T_mult")
        t_i, t_cur = t0, m
        if mult == 1:
            t_cur = m % t0
        else:
            while t_cur >= t_i:
                t_cur -= t_i
                t_i *= mult
        eta_min = s.values["eta_min"]
        return eta_min + (B - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2
    if k == "one_cycle":
        return _one_cycle(s, m)
    if k == "cyclic":
        return _cyclic(s, m)
    if k == "polynomial":
        n = _i(s, "total_iters")
        return B * (1.0 - min(n, m) / n) ** s.values["power"]
    raise LrScheduleError("reduce_on_plateau depends on the metric: use create_scheduler(schedule, base_lr).step(metric)")


def _check_step(step: Any) -> int:
    try:
        t = operator.index(step)  # ints, numpy integers; not floats
    except TypeError:
        t = None
    if isinstance(step, bool) or t is None or t < 0:
        raise LrScheduleError(f"step must be an integer >= 0 (got {step!r})")
    return t


def _lr(s: Schedule, base_lr: Optional[float], step: int) -> float:
    B = _base(s, base_lr)
    W = s.warmup_steps
    if step < W:
        return _warmup(B, s.warmup_start_factor, W, step)
    return _main(s, B, step - W)


def lr_at(schedule: Any, base_lr: Optional[float], step: int) -> float:
    """The lr at ``step`` (0-based) of a stateless schedule (every kind but reduce_on_plateau).

    ``base_lr`` is the optimiser's lr; cyclic and one_cycle use their own lr
    and ignore it (pass None).
    """
    s = resolve_schedule(schedule)
    return _lr(s, base_lr, _check_step(step))


class _Plateau:
    """ReduceLROnPlateau's state, as PyTorch keeps it."""

    def __init__(self, s: Schedule, lr: float) -> None:
        self.s = s
        self.lr = lr
        self.max_mode = s.mode == "max"
        self.abs_mode = s.values["threshold_mode"] == 1
        self.best = -INF if self.max_mode else INF
        self.bad = 0
        self.cooldown_counter = 0

    def _is_better(self, a: float, best: float) -> bool:
        th = self.s.values["threshold"]
        if not self.max_mode and not self.abs_mode:
            return a < best * (1.0 - th)
        if not self.max_mode and self.abs_mode:
            return a < best - th
        if self.max_mode and not self.abs_mode:
            return a > best * (th + 1.0)
        return a > best + th

    def step(self, current: float) -> None:
        if self._is_better(current, self.best):
            self.best = current
            self.bad = 0
        else:
            self.bad += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.bad = 0
        if self.bad > self.s.values["patience"]:
            old = self.lr
            new = max(old * self.s.values["factor"], self.s.values["min_lr"])
            if old - new > self.s.values["eps"]:
                self.lr = new
            self.cooldown_counter = int(self.s.values["cooldown"])
            self.bad = 0


class Scheduler:
    """A running schedule: ``lr`` is the current step's lr, ``step(metric)`` advances."""

    def __init__(self, schedule: Any, base_lr: Optional[float]) -> None:
        self.schedule = resolve_schedule(schedule)
        self._B = _base(self.schedule, base_lr)
        self._plateau = _Plateau(self.schedule, self._B) if self.schedule.kind == "reduce_on_plateau" else None
        self.step_count = 0
        self.lr = self._current()

    def _current(self) -> float:
        s, t = self.schedule, self.step_count
        if t < s.warmup_steps:
            return _warmup(self._B, s.warmup_start_factor, s.warmup_steps, t)
        if self._plateau is not None:
            return self._plateau.lr
        return _main(s, self._B, t - s.warmup_steps)

    def step(self, metric: Optional[float] = None) -> float:
        """Move to the next step and return its lr.

        ``metric`` is the value the step just finished produced: required by
        reduce_on_plateau after its warm-up, ignored otherwise.
        """
        if self._plateau is not None and self.step_count >= self.schedule.warmup_steps:
            if metric is None or isinstance(metric, bool):
                raise LrScheduleError(f"reduce_on_plateau: step(metric) needs the metric of step {self.step_count} (got {metric!r})")
            self._plateau.step(float(metric))
        self.step_count += 1
        self.lr = self._current()
        return self.lr


def create_scheduler(schedule: Any, base_lr: Optional[float]) -> Scheduler:
    """A running scheduler for any kind, reduce_on_plateau included."""
    return Scheduler(schedule, base_lr)


if __name__ == "__main__":  # a tiny demo: python3 hpod_lr.py
    demo = {"kind": "cosine_annealing", "values": {"eta_min": 0.0}, "total_steps": 10, "warmup_steps": 2}
    sched = create_scheduler(demo, 0.1)
    for _ in range(10):
        print(f"step {sched.step_count}: lr {sched.lr:.6g}")
        sched.step()
