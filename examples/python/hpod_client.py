"""A small, typed Python client for the hpod tuning daemon (gRPC hpod.v1).

The stubs are generated, not committed: run ``examples/python/generate.sh``
first. They are looked up in ``$HPOD_PY_GEN_DIR`` when set, else in the
``gen/`` directory next to this file.

Example::

    from hpod_client import HpodClient, float_param, int_param, categorical_param

    with HpodClient.connect("127.0.0.1:50051") as hpo:
        hpo.create_study(
            "demo",
            [float_param("x", -5, 5), int_param("layers", 1, 4),
             categorical_param("act", ["relu", "tanh"])],
            max_trials=20,
        )
        while True:
            s = hpo.suggest("demo", worker_id="host:0")
            if s.study_done:
                break
            if not s.trials:
                time.sleep(s.retry_after or 1.0)
                continue
            trial = s.trials[0]
            loss = train(**trial.params)
            hpo.report("demo", trial.id, loss, final=True, worker_id="host:0")
        print(hpo.best("demo"))

Parameter values come back as plain Python values: ``float`` (number_value),
``int`` (int_value), ``str`` (string_value), ``bool`` (bool_value) or a
:class:`LrSchedule` (lr_schedule_value).
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Union

_GEN_DIR = os.environ.get("HPOD_PY_GEN_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "gen"
)
if not os.path.isfile(os.path.join(_GEN_DIR, "hpod", "v1", "hpod_service_pb2.py")):
    raise ImportError(
        f"hpod Python stubs not found in {_GEN_DIR}: run examples/python/generate.sh "
        "(or set HPOD_PY_GEN_DIR to the directory it generated into)"
    )
if _GEN_DIR not in sys.path:
    sys.path.insert(0, _GEN_DIR)

import grpc  # noqa: E402
from google.protobuf import duration_pb2  # noqa: E402,F401

from hpod.v1 import hpod_service_pb2 as svc  # noqa: E402
from hpod.v1 import hpod_service_pb2_grpc as svc_grpc  # noqa: E402
from hpod.v1 import search_space_pb2 as space  # noqa: E402
from hpod.v1 import study_pb2 as study_pb  # noqa: E402
from hpod.v1 import trial_pb2 as trial_pb  # noqa: E402

__all__ = [
    "HpodClient",
    "HpodError",
    "LrSchedule",
    "ParamValue",
    "SuggestedTrial",
    "SuggestResult",
    "ReportResult",
    "TrialResult",
    "StudyInfo",
    "float_param",
    "int_param",
    "categorical_param",
    "to_param_value",
    "from_param_value",
    "svc",
    "space",
    "study_pb",
    "trial_pb",
]


# --------------------------------------------------------------------------
# Plain-value conversion
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class LrSchedule:
    """A concrete learning-rate schedule (``ParameterValue.lr_schedule_value``)."""

    kind: str  # e.g. "COSINE_ANNEALING" (LrScheduleKind without its prefix)
    values: Dict[str, float] = field(default_factory=dict)
    milestones: List[int] = field(default_factory=list)
    mode: str = ""
    total_steps: int = 0
    warmup_steps: int = 0
    warmup_start_factor: float = 0.0

    def to_json(self) -> Dict[str, Any]:
        return {
            "kind": self.kind,
            "values": dict(self.values),
            "milestones": list(self.milestones),
            "mode": self.mode,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "warmup_start_factor": self.warmup_start_factor,
        }


ParamValue = Union[float, int, str, bool, LrSchedule, None]

_LR_PREFIX = "LR_SCHEDULE_KIND_"


def from_param_value(v: space.ParameterValue) -> ParamValue:
    """Converts a ``ParameterValue`` to a plain Python value (None when unset)."""
    kind = v.WhichOneof("kind")
    if kind == "number_value":
        return float(v.number_value)
    if kind == "int_value":
        return int(v.int_value)
    if kind == "string_value":
        return str(v.string_value)
    if kind == "bool_value":
        return bool(v.bool_value)
    if kind == "lr_schedule_value":
        s = v.lr_schedule_value
        name = space.LrScheduleKind.Name(s.kind) if s.kind in space.LrScheduleKind.values() else str(s.kind)
        return LrSchedule(
            kind=name[len(_LR_PREFIX):] if name.startswith(_LR_PREFIX) else name,
            values=dict(s.values),
            milestones=list(s.milestones),
            mode=s.mode,
            total_steps=int(s.total_steps),
            warmup_steps=int(s.warmup_steps),
            warmup_start_factor=float(s.warmup_start_factor),
        )
    return None


def to_param_value(value: ParamValue) -> space.ParameterValue:
    """Converts a plain Python value to a ``ParameterValue``.

    ``bool`` maps to bool_value, ``int`` to int_value, ``float`` to
    number_value, ``str`` to string_value and :class:`LrSchedule` to
    lr_schedule_value.
    """
    if isinstance(value, bool):  # before int: bool is an int subclass
        return space.ParameterValue(bool_value=value)
    if isinstance(value, int):
        return space.ParameterValue(int_value=value)
    if isinstance(value, float):
        return space.ParameterValue(number_value=value)
    if isinstance(value, str):
        return space.ParameterValue(string_value=value)
    if isinstance(value, LrSchedule):
        kind = value.kind if value.kind.startswith(_LR_PREFIX) else _LR_PREFIX + value.kind
        return space.ParameterValue(
            lr_schedule_value=space.LrSchedule(
                kind=space.LrScheduleKind.Value(kind),
                values=dict(value.values),
                milestones=list(value.milestones),
                mode=value.mode,
                total_steps=value.total_steps,
                warmup_steps=value.warmup_steps,
                warmup_start_factor=value.warmup_start_factor,
            )
        )
    raise TypeError(f"unsupported parameter value {value!r} ({type(value).__name__})")


def params_to_dict(params: Mapping[str, space.ParameterValue]) -> Dict[str, ParamValue]:
    """A trial's params map as ``{name: plain value}``, sorted by name."""
    return {k: from_param_value(params[k]) for k in sorted(params)}


def to_jsonable(value: ParamValue) -> Any:
    """A plain value as something ``json.dumps`` accepts."""
    return value.to_json() if isinstance(value, LrSchedule) else value


# --------------------------------------------------------------------------
# Search-space helpers
# --------------------------------------------------------------------------


def float_param(
    name: str, low: float, high: float, *, log: bool = False, step: Optional[float] = None
) -> space.Parameter:
    """A float parameter in [low, high]; ``log`` samples in log space."""
    d = space.FloatDomain(low=float(low), high=float(high), log=log)
    if step is not None:
        d.step = float(step)
    return space.Parameter(name=name, float_domain=d)


def int_param(name: str, low: int, high: int, *, log: bool = False, step: Optional[int] = None) -> space.Parameter:
    """An integer parameter in [low, high]."""
    d = space.IntDomain(low=int(low), high=int(high), log=log)
    if step is not None:
        d.step = int(step)
    return space.Parameter(name=name, int_domain=d)


def categorical_param(name: str, choices: Sequence[ParamValue]) -> space.Parameter:
    """A categorical parameter over ``choices`` (all numbers, strings or bools)."""
    return space.Parameter(
        name=name,
        categorical_domain=space.CategoricalDomain(choices=[to_param_value(c) for c in choices]),
    )


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


class HpodError(Exception):
    """A failed RPC: ``code`` is the gRPC status code, ``details`` its message."""

    def __init__(self, method: str, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{method}: {code.name}: {details}")
        self.method = method
        self.code = code
        self.details = details


@dataclass(frozen=True)
class StudyInfo:
    name: str
    state: str  # StudyState name, e.g. "STUDY_STATE_ACTIVE"
    created: bool  # False when an existing study was loaded
    max_trials: int
    resolved_algorithm: str
    raw: study_pb.Study


@dataclass(frozen=True)
class SuggestedTrial:
    id: int
    params: Dict[str, ParamValue]
    raw: trial_pb.Trial


@dataclass(frozen=True)
class SuggestResult:
    trials: List[SuggestedTrial]
    study_done: bool
    # Seconds to wait before asking again, when nothing was handed out but the
    # study is not done; None when the server gave no retry_after.
    retry_after: Optional[float]
    reason: str


@dataclass(frozen=True)
class ReportResult:
    decision: str  # "DECISION_CONTINUE", "DECISION_PRUNE", ...
    reason: str
    trial_state: str  # TrialState name

    @property
    def should_prune(self) -> bool:
        return self.decision == "DECISION_PRUNE"


@dataclass(frozen=True)
class TrialResult:
    id: int
    state: str
    params: Dict[str, ParamValue]
    values: List[float]  # the final measurement's values (one per objective)
    intermediate: List[tuple]  # [(step, values), ...]
    worker_id: str
    raw: trial_pb.Trial

    @property
    def value(self) -> Optional[float]:
        return self.values[0] if self.values else None


def _enum_name(enum: Any, number: int) -> str:
    try:
        return enum.Name(number)
    except ValueError:
        return str(number)


def _trial_result(t: trial_pb.Trial) -> TrialResult:
    return TrialResult(
        id=int(t.id),
        state=_enum_name(trial_pb.TrialState, t.state),
        params=params_to_dict(t.params),
        values=list(t.final_measurement.values) if t.HasField("final_measurement") else [],
        intermediate=[(m.step if m.HasField("step") else None, list(m.values)) for m in t.intermediate],
        worker_id=t.worker_id,
        raw=t,
    )


# --------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------


class HpodClient:
    """A thin wrapper around ``hpod.v1.HpodService``.

    One client (one channel) is safe to share between threads; creating one
    per worker is fine too. Use as a context manager or call :meth:`close`.
    """

    def __init__(self, channel: grpc.Channel, *, timeout: float = 30.0) -> None:
        self._channel = channel
        self._stub = svc_grpc.HpodServiceStub(channel)
        self.timeout = timeout

    @classmethod
    def connect(cls, address: str, *, timeout: float = 30.0) -> "HpodClient":
        """Opens an insecure channel to ``host:port``."""
        return cls(grpc.insecure_channel(address), timeout=timeout)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "HpodClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stub(self) -> svc_grpc.HpodServiceStub:
        """The raw generated stub, for RPCs this wrapper does not cover."""
        return self._stub

    def _call(self, name: str, request: Any) -> Any:
        try:
            # wait_for_ready: ride out a daemon that is still starting.
            return getattr(self._stub, name)(request, timeout=self.timeout, wait_for_ready=True)
        except grpc.RpcError as e:  # pragma: no cover - exercised against a live daemon
            code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
            details = e.details() if hasattr(e, "details") else str(e)
            raise HpodError(name, code, details or "") from None

    # -- studies ------------------------------------------------------------

    def create_study(
        self,
        name: str,
        parameters: Sequence[space.Parameter],
        *,
        directions: Sequence[str] = ("minimize",),
        objective_names: Optional[Sequence[str]] = None,
        algorithm: str = "",
        seed: int = 0,
        max_trials: int = 0,
        pruner: str = "none",
        load_if_exists: bool = True,
    ) -> StudyInfo:
        """Creates a study (or loads an equal one with ``load_if_exists``).

        ``directions``: "minimize"/"maximize" per objective. ``pruner``:
        "none" by default so every trial runs to its final report; "" gives
        the daemon's default pruner.
        """
        names = list(objective_names) if objective_names else (
            ["value"] if len(directions) == 1 else [f"objective_{i}" for i in range(len(directions))]
        )
        if len(names) != len(directions):
            raise ValueError("objective_names and directions differ in length")
        objectives = []
        for n, d in zip(names, directions):
            d = d.lower()
            if d not in ("minimize", "maximize"):
                raise ValueError(f"direction must be minimize or maximize, not {d!r}")
            objectives.append(
                study_pb.Objective(
                    name=n,
                    direction=study_pb.DIRECTION_MINIMIZE if d == "minimize" else study_pb.DIRECTION_MAXIMIZE,
                )
            )
        spec = study_pb.StudySpec(
            search_space=space.SearchSpace(parameters=list(parameters)),
            objectives=objectives,
            algorithm=study_pb.AlgorithmSpec(name=algorithm, seed=seed),
            max_trials=max_trials,
        )
        if pruner:
            spec.pruner.name = pruner
        resp = self._call(
            "CreateStudy",
            svc.CreateStudyRequest(study=study_pb.Study(name=name, spec=spec), load_if_exists=load_if_exists),
        )
        return self._study_info(resp.study, created=resp.created)

    def get_study(self, name: str) -> StudyInfo:
        resp = self._call("GetStudy", svc.GetStudyRequest(name=name))
        return self._study_info(resp.study, created=False)

    @staticmethod
    def _study_info(s: study_pb.Study, *, created: bool) -> StudyInfo:
        return StudyInfo(
            name=s.name,
            state=_enum_name(study_pb.StudyState, s.state),
            created=created,
            max_trials=int(s.spec.max_trials),
            resolved_algorithm=s.resolved_algorithm,
            raw=s,
        )

    # -- trials -------------------------------------------------------------

    def suggest(self, study: str, worker_id: str, count: int = 1) -> SuggestResult:
        """Asks for trials. A worker that still holds a RUNNING trial gets it again.

        Check ``study_done`` (no more trials will come) and ``retry_after``
        (nothing now, ask again after that many seconds).
        """
        resp = self._call("Suggest", svc.SuggestRequest(study=study, count=count, worker_id=worker_id))
        retry_after: Optional[float] = None
        if resp.HasField("retry_after"):
            retry_after = resp.retry_after.seconds + resp.retry_after.nanos / 1e9
        return SuggestResult(
            trials=[SuggestedTrial(id=int(t.id), params=params_to_dict(t.params), raw=t) for t in resp.trials],
            study_done=resp.study_done,
            retry_after=retry_after,
            reason=resp.reason,
        )

    def report(
        self,
        study: str,
        trial_id: int,
        value: Union[float, Sequence[float]],
        step: Optional[int] = None,
        final: bool = False,
        *,
        worker_id: str = "",
        metrics: Optional[Mapping[str, float]] = None,
        elapsed: Optional[float] = None,
    ) -> ReportResult:
        """Reports an intermediate value (``step=k``) or the final one (``final=True``).

        ``value`` is one float, or one per objective. The answer's
        ``should_prune`` tells the worker to stop the trial early.
        """
        if final and step is not None:
            raise ValueError("a final report carries no step")
        if not final and step is None:
            raise ValueError("an intermediate report needs a step (or pass final=True)")
        values = [float(value)] if isinstance(value, (int, float)) else [float(v) for v in value]
        req = svc.ReportRequest(
            study=study,
            trial_id=trial_id,
            values=values,
            final=final,
            worker_id=worker_id,
            metrics=dict(metrics or {}),
        )
        if step is not None:
            req.step = int(step)
        if elapsed is not None:
            req.elapsed.seconds = int(math.floor(elapsed))
            req.elapsed.nanos = int(round((elapsed - math.floor(elapsed)) * 1e9)) % 1_000_000_000
        resp = self._call("Report", req)
        return ReportResult(
            decision=_enum_name(trial_pb.Decision, resp.decision),
            reason=resp.reason,
            trial_state=_enum_name(trial_pb.TrialState, resp.trial_state),
        )

    def fail(self, study: str, trial_id: int, reason: str, *, worker_id: str = "") -> ReportResult:
        """Gives up on a trial: it becomes FAILED with ``reason``."""
        resp = self._call(
            "Report",
            svc.ReportRequest(study=study, trial_id=trial_id, failed=True, failure_reason=reason, worker_id=worker_id),
        )
        return ReportResult(
            decision=_enum_name(trial_pb.Decision, resp.decision),
            reason=resp.reason,
            trial_state=_enum_name(trial_pb.TrialState, resp.trial_state),
        )

    def heartbeat(self, study: str, trial_id: int, worker_id: str = "") -> ReportResult:
        """Keeps a RUNNING trial's lease alive."""
        resp = self._call("Heartbeat", svc.HeartbeatRequest(study=study, trial_id=trial_id, worker_id=worker_id))
        return ReportResult(
            decision=_enum_name(trial_pb.Decision, resp.decision),
            reason=resp.reason,
            trial_state=_enum_name(trial_pb.TrialState, resp.trial_state),
        )

    def list_trials(self, study: str, *, page_size: int = 100) -> Iterator[TrialResult]:
        """All trials of a study, following page tokens."""
        token = ""
        while True:
            resp = self._call("ListTrials", svc.ListTrialsRequest(study=study, page_size=page_size, page_token=token))
            for t in resp.trials:
                yield _trial_result(t)
            token = resp.next_page_token
            if not token:
                return

    def best(self, study: str) -> Optional[TrialResult]:
        """The best feasible trial (the first of the Pareto set for several
        objectives), or None when no trial is complete yet."""
        trials = self.best_trials(study)
        return trials[0] if trials else None

    def best_trials(self, study: str) -> List[TrialResult]:
        """The best trial, or the Pareto set for a multi-objective study."""
        resp = self._call("GetBestTrials", svc.GetBestTrialsRequest(study=study))
        return [_trial_result(t) for t in resp.trials]
