#!/usr/bin/env python3
"""Runs one hpod study with several parallel worker threads.

    examples/python/generate.sh
    /usr/bin/python3 examples/python/parallel_study.py \
        --address 127.0.0.1:50051 --study demo --workers 4 --trials 40

Creates (or loads) a study minimising a deterministic function of

    x       float in [-5, 5]
    lr      float in [1e-4, 1], log scale
    layers  int in [1, 4]
    act     categorical "relu" | "tanh"

with algorithm "random" (seed 1), no pruner and max_trials = --trials. Each
worker has a stable worker_id and loops Suggest -> Report(step=0..2) ->
final Report until the study is done, honouring retry_after. The last line on
stdout is a JSON summary:

    {"trials": 40, "complete": 40, "best_value": ..., "best_params": {...},
     "distinct_ids": true, ...}

Exit status: 0 on success, 1 when a worker failed or the deadline passed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hpod_client import (  # noqa: E402
    HpodClient,
    ParamValue,
    categorical_param,
    float_param,
    int_param,
    to_jsonable,
)

INTERMEDIATE_STEPS = 3


def objective(params: Mapping[str, ParamValue]) -> float:
    """Deterministic loss of a parameter set (lower is better; minimum 0)."""
    x = float(params["x"])  # type: ignore[arg-type]
    lr = float(params["lr"])  # type: ignore[arg-type]
    layers = int(params["layers"])  # type: ignore[arg-type]
    act = params["act"]
    return (
        (x - 1.0) ** 2
        + (math.log10(lr) + 2.0) ** 2
        + 0.25 * (layers - 3) ** 2
        + (0.0 if act == "relu" else 0.5)
    )


def intermediate(final: float, step: int) -> float:
    """A learning curve that decreases towards the final value."""
    return final + 1.0 / (step + 1)


@dataclass
class WorkerLog:
    worker_id: str
    trial_ids: List[int] = field(default_factory=list)
    complete: int = 0
    pruned: int = 0
    retries: int = 0
    error: Optional[str] = None


def run_worker(
    address: str,
    study: str,
    log: WorkerLog,
    deadline: float,
    stop: threading.Event,
    max_retry_sleep: float,
) -> None:
    try:
        with HpodClient.connect(address) as hpo:
            while not stop.is_set():
                if time.monotonic() > deadline:
                    raise TimeoutError("deadline passed before the study was done")
                s = hpo.suggest(study, log.worker_id)
                if not s.trials:
                    if s.study_done:
                        return
                    # Paused, or nothing to hand out right now: ask again later.
                    log.retries += 1
                    wait = s.retry_after if s.retry_after is not None else 0.2
                    stop.wait(max(0.0, min(wait, max_retry_sleep, deadline - time.monotonic())))
                    continue
                for trial in s.trials:
                    log.trial_ids.append(trial.id)
                    final = objective(trial.params)
                    pruned = False
                    for step in range(INTERMEDIATE_STEPS):
                        r = hpo.report(study, trial.id, intermediate(final, step), step=step, worker_id=log.worker_id)
                        if r.should_prune:
                            pruned = True
                            break
                    if pruned:
                        log.pruned += 1
                        continue
                    r = hpo.report(study, trial.id, final, final=True, worker_id=log.worker_id)
                    if r.trial_state == "TRIAL_STATE_COMPLETE":
                        log.complete += 1
                    elif r.trial_state == "TRIAL_STATE_PRUNED":
                        log.pruned += 1
                    else:
                        raise RuntimeError(f"trial {trial.id}: final report left it {r.trial_state}")
    except Exception as e:  # noqa: BLE001 - reported in the summary
        log.error = f"{type(e).__name__}: {e}"
        stop.set()


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--address", required=True, help="host:port of the hpod daemon")
    p.add_argument("--study", required=True, help="study name ([a-z0-9][a-z0-9_.-]*)")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--trials", type=int, default=40, help="the study's max_trials")
    p.add_argument("--worker-prefix", default=socket.gethostname(), help="worker ids are PREFIX:wN")
    p.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
    p.add_argument("--max-retry-sleep", type=float, default=5.0, help="cap on one retry_after sleep")
    args = p.parse_args(argv)
    if args.workers < 1 or args.trials < 1:
        p.error("--workers and --trials must be >= 1")

    with HpodClient.connect(args.address) as hpo:
        info = hpo.create_study(
            args.study,
            [
                float_param("x", -5.0, 5.0),
                float_param("lr", 1e-4, 1.0, log=True),
                int_param("layers", 1, 4),
                categorical_param("act", ["relu", "tanh"]),
            ],
            directions=["minimize"],
            algorithm="random",
            seed=1,
            max_trials=args.trials,
            pruner="none",
            load_if_exists=True,
        )
        print(
            f"study {info.name}: {'created' if info.created else 'loaded'}, state {info.state}, "
            f"algorithm {info.resolved_algorithm or 'random'}, max_trials {info.max_trials}",
            file=sys.stderr,
        )
        if info.max_trials != args.trials:
            # The daemon leaves max_trials out of the load_if_exists identity
            # (it can be changed with UpdateStudy); the study's own budget wins.
            print(
                f"warning: study {info.name} exists with max_trials {info.max_trials}, not {args.trials}",
                file=sys.stderr,
            )

        deadline = time.monotonic() + args.timeout
        stop = threading.Event()
        logs = [WorkerLog(worker_id=f"{args.worker_prefix}:w{i}") for i in range(args.workers)]
        threads = [
            threading.Thread(
                target=run_worker,
                args=(args.address, args.study, log, deadline, stop, args.max_retry_sleep),
                name=log.worker_id,
                daemon=True,
            )
            for log in logs
        ]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started

        all_ids = [i for log in logs for i in log.trial_ids]
        best = hpo.best(args.study)
        errors: Dict[str, str] = {log.worker_id: log.error for log in logs if log.error}
        summary = {
            "trials": len(all_ids),
            "complete": sum(log.complete for log in logs),
            "pruned": sum(log.pruned for log in logs),
            "best_value": best.value if best else None,
            "best_params": {k: to_jsonable(v) for k, v in best.params.items()} if best else None,
            "best_trial_id": best.id if best else None,
            # No trial id was handed to two workers, or twice to one.
            "distinct_ids": len(set(all_ids)) == len(all_ids),
            "per_worker": {log.worker_id: len(log.trial_ids) for log in logs},
            "retries": sum(log.retries for log in logs),
            "elapsed_s": round(elapsed, 3),
            "errors": errors,
        }
    for wid, err in errors.items():
        print(f"worker {wid}: {err}", file=sys.stderr)
    print(json.dumps(summary, sort_keys=True), flush=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
