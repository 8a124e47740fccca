#!/usr/bin/python3
"""Optuna 3.1's side of bench/load.ts: N processes doing the same loop as the
hpod workers on one shared study, on a journal file or an SQLite database.

Each process (forked after `import optuna`, so start-up is cheap) opens its own
storage, loads the study and loops until the window ends:

    trial = study.ask(DISTRIBUTIONS)           # "Suggest": x, lr (log), n (int), as in bench/speed
    trial.report(v, step) for step < K         # optional intermediate reports ("Report", each call a sample)
    study.tell(trial, value)                   # final "Report"

Only trials that finish inside the measured window count (wall-clock, as in
bench/speed). Any exception (sqlite3 "database is locked", a journal's torn-read
JSONDecodeError, ...) is counted by type, the loop goes on. Afterwards the
study is read back once: trials left RUNNING for good (an ask whose tell never
landed) are reported. CPU is the sum of utime+stime of all worker processes
over the window, read from /proc as for the daemon (there is no server: the
workers do all of Optuna's work themselves, storage included).

Prints one JSON object on stdout; progress and Optuna's own warnings go to stderr.
Run with Debian's interpreter: /usr/bin/python3 (apt-get install -y python3-optuna).
"""
import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import time
import traceback
import warnings

warnings.simplefilter("ignore")

import optuna  # noqa: E402
from optuna_samplers import SPEED_DISTRIBUTIONS, make_sampler as any_sampler  # noqa: E402

DISTRIBUTIONS = SPEED_DISTRIBUTIONS
ERROR_BACKOFF_S = 0.02
STUDY = "load"


def now_ms():
    return time.time() * 1000.0


def make_storage(kind, path):
    if kind == "journal":
        return optuna.storages.JournalStorage(optuna.storages.JournalFileStorage(path))
    if kind == "sqlite":
        return optuna.storages.RDBStorage("sqlite:///" + path)
    raise SystemExit("unknown storage %r" % kind)


def close_storage(storage):
    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()


def make_sampler(kind, seed):
    return any_sampler(kind, seed, allowed=("random", "tpe"))


def objective(p):
    return p["x"] ** 2 + (math.log10(p["lr"]) + 3) ** 2 + 0.1 * p["n"]


def worker(index, a, path, ready_q, go_evt, window, out_q):
    """One Optuna process. Sends ('ready', i), waits for the window, sends ('result', i, {...})."""
    res = {"completed": 0, "asked": 0, "errors": 0, "errorTypes": {}, "firstError": "", "askMs": [], "tellMs": [], "roundTripMs": []}

    def first_line(x):
        text = str(x)
        return text.splitlines()[0][:200] if text else ""

    def error(stage, e):
        # Optuna wraps storage failures (StorageInternalError around sqlite3's "database is locked"): name the cause.
        cause = e.__cause__ or e.__context__
        name = type(e).__name__ + ("(%s: %s)" % (type(cause).__name__, first_line(cause)[:60]) if cause is not None else "")
        res["errors"] += 1
        key = "%s %s" % (stage, name)
        res["errorTypes"][key] = res["errorTypes"].get(key, 0) + 1
        if not res["firstError"]:
            res["firstError"] = "%s: %s: %s" % (stage, name, first_line(e))

    try:
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        storage = make_storage(a.storage, path)
        study = optuna.load_study(study_name=STUDY, storage=storage, sampler=make_sampler(a.sampler, 1000 + index))
    except Exception as e:  # noqa: BLE001
        ready_q.put(("failed", index, traceback.format_exc()))
        return
    ready_q.put(("ready", index, None))
    go_evt.wait()
    frm, until = window[0], window[1]
    pc = time.perf_counter
    while now_ms() < until:
        try:
            t0 = pc()
            trial = study.ask(DISTRIBUTIONS)
            t1 = pc()
        except Exception as e:  # noqa: BLE001
            error("ask", e)
            time.sleep(ERROR_BACKOFF_S)
            continue
        res["asked"] += 1
        try:
            value = objective(trial.params)
            calls = []  # every trial.report and the tell, each a "Report" sample as on hpod's side
            tr = t1
            for step in range(a.intermediate):
                trial.report(value + 1.0 / (step + 1), step)
                t = pc()
                calls.append((t - tr) * 1000.0)
                tr = t
            study.tell(trial, value)
            t2 = pc()
            calls.append((t2 - tr) * 1000.0)
        except Exception as e:  # noqa: BLE001
            error("tell", e)
            time.sleep(ERROR_BACKOFF_S)
            continue
        t = now_ms()
        if frm <= t < until:
            res["completed"] += 1
            res["askMs"].append((t1 - t0) * 1000.0)
            res["tellMs"].extend(calls)
            res["roundTripMs"].append((t2 - t0) * 1000.0)
    out_q.put(("result", index, res))


def cpu_ms(pids):
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) * 1000.0 / ticks
        except (OSError, IndexError, ValueError):
            pass
    return total


def percentile(xs, q):
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def summary(xs):
    if not xs:
        return {"count": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None}
    return {"count": len(xs), "mean": sum(xs) / len(xs), "p50": percentile(xs, 0.5), "p90": percentile(xs, 0.9), "p99": percentile(xs, 0.99), "max": max(xs)}


def sleep_until(ms):
    d = (ms - now_ms()) / 1000.0
    if d > 0:
        time.sleep(d)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--storage", choices=["journal", "sqlite"], required=True)
    ap.add_argument("--sampler", choices=["random", "tpe"], default="random")
    ap.add_argument("--procs", type=int, required=True)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--intermediate", type=int, default=0)
    ap.add_argument("--dir", required=True, help="directory for the journal file / database (created, not removed)")
    a = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    os.makedirs(a.dir, exist_ok=True)
    path = os.path.join(a.dir, "journal.log" if a.storage == "journal" else "optuna.db")
    storage = make_storage(a.storage, path)
    optuna.create_study(study_name=STUDY, storage=storage, direction="minimize")
    close_storage(storage)
    del storage

    ctx = mp.get_context("fork")
    ready_q, out_q = ctx.Queue(), ctx.Queue()
    go_evt = ctx.Event()
    window = ctx.Array("d", 2)
    procs = [ctx.Process(target=worker, args=(i, a, path, ready_q, go_evt, window, out_q), daemon=True) for i in range(a.procs)]
    t_start = time.monotonic()
    for p in procs:
        p.start()
    failed = []
    for _ in procs:
        kind, i, info = ready_q.get(timeout=300)
        if kind == "failed":
            failed.append(info)
    startup_s = time.monotonic() - t_start
    if failed:
        print("load_optuna: %d of %d processes failed to start; first:\n%s" % (len(failed), a.procs, failed[0]), file=sys.stderr)
    start = now_ms() + 100
    window[0] = start + a.warmup * 1000
    window[1] = start + (a.warmup + a.seconds) * 1000
    go_evt.set()
    pids = [p.pid for p in procs]
    sleep_until(window[0])
    c0, w0 = cpu_ms(pids), now_ms()
    sleep_until(window[1])
    c1, w1 = cpu_ms(pids), now_ms()

    results = []
    deadline = time.monotonic() + 60
    while len(results) < a.procs - len(failed) and time.monotonic() < deadline:
        try:
            results.append(out_q.get(timeout=max(0.1, deadline - time.monotonic()))[2])
        except Exception:  # noqa: BLE001 - queue.Empty
            break
    join_by = time.monotonic() + 10
    for p in procs:
        p.join(max(0.0, join_by - time.monotonic()))
    stuck = sum(1 for p in procs if p.is_alive())
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join()

    # Read the study back once: what did the storage end up with?
    states = {}
    readback_error = ""
    try:
        st = make_storage(a.storage, path)
        for t in optuna.load_study(study_name=STUDY, storage=st).get_trials(deepcopy=False):
            states[t.state.name] = states.get(t.state.name, 0) + 1
        close_storage(st)
    except Exception as e:  # noqa: BLE001
        readback_error = "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:200] if str(e) else "")

    error_types = {}
    for r in results:
        for k, v in r["errorTypes"].items():
            error_types[k] = error_types.get(k, 0) + v
    completed = sum(r["completed"] for r in results)
    asked = sum(r["asked"] for r in results)
    out = {
        "storage": a.storage,
        "sampler": a.sampler,
        "procs": a.procs,
        "seconds": a.seconds,
        "startupSeconds": startup_s,
        "completed": completed,
        "perSecond": completed / a.seconds,
        "asked": asked,
        "errors": sum(r["errors"] for r in results),
        "errorTypes": error_types,
        "firstError": next((r["firstError"] for r in results if r["firstError"]), ""),
        "processesFailed": len(failed),
        "processesStuck": stuck,
        "latencyMs": {
            "ask": summary([x for r in results for x in r["askMs"]]),
            "tell": summary([x for r in results for x in r["tellMs"]]),
            "roundTrip": summary([x for r in results for x in r["roundTripMs"]]),
        },
        "cpuMs": c1 - c0,
        "cpuCores": (c1 - c0) / (w1 - w0) if w1 > w0 else None,
        "cpuMsPerTrial": (c1 - c0) / completed if completed else None,
        "finalStates": states,
        "leftRunning": states.get("RUNNING", 0),
        "readbackError": readback_error,
        "storageBytes": os.path.getsize(path) if os.path.exists(path) else None,
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
