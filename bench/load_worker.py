#!/usr/bin/python3
"""Python (grpcio) workers for bench/load.ts and bench/crash.ts.

One process runs several workers, one thread each (grpcio's C core does the
I/O and releases the GIL while a call waits), each with its own worker_id.
Workers in groups of --workers-per-channel share one channel, and every channel
has its own connection (grpc.use_local_subchannel_pool).

Two modes, both driven by their parent over stdin/stdout, one JSON object a line:

``serve`` (bench/load.ts; same messages as the grpc-js client processes of
bench/speed, see bench/speed/protocol.ts)
    in:  {"type": "prepare", "assignment": {...}}   connect, answer {"type": "ready"}
         {"type": "go", "window": {"measureFrom": ms, "measureUntil": ms}}
                                                    run, answer {"type": "result", "result": {...}}
         {"type": "exit"}
    A trial is Suggest(count 1), ``intermediate`` intermediate Reports (steps
    0..K-1) and a final Report. Only trials (echo calls) that finish inside the
    window (wall-clock ms, the same clock as the parent's Date.now()) count.

``crash`` (bench/stress/crash-engine.ts)
    in:  {"type": "address", "address": "host:port"}   the (restarted) daemon to use
         {"type": "stop"}                               retry what is pending, then exit
    out: {"ack": {"study", "trial", "step"}, "retried": bool}   step is an int or "final"
         {"problem": "..."}   {"done": {...counters}}
    Each worker loops Suggest -> intermediate Reports -> final Report on its
    study. A Report that got no answer (UNAVAILABLE, DEADLINE_EXCEEDED,
    CANCELLED: the daemon was killed) is retried, exactly as it was sent, until
    a daemon answers; FAILED_PRECONDITION on a retry means the lease ran out
    meanwhile (an honest answer, not a loss). Only answered Reports are acked.

Run with Debian's interpreter: /usr/bin/python3 (python3-grpcio, python3-protobuf).
The stubs are found as examples/python/hpod_client.py finds them
($HPOD_PY_GEN_DIR, else examples/python/gen; run examples/python/generate.sh).
"""
import argparse
import json
import math
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "python"))

import hpod_client  # noqa: E402,F401  (puts the generated stubs on sys.path)
import grpc  # noqa: E402
from hpod.v1 import diagnostics_service_pb2 as diag  # noqa: E402
from hpod.v1 import diagnostics_service_pb2_grpc as diag_grpc  # noqa: E402
from hpod.v1 import hpod_service_pb2 as svc  # noqa: E402
from hpod.v1 import hpod_service_pb2_grpc as svc_grpc  # noqa: E402

ERROR_BACKOFF_S = 0.02
DRAIN_GRACE_S = 5.0
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]
RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED)

_out_lock = threading.Lock()


def emit(obj):
    line = json.dumps(obj, separators=(",", ":"))
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def now_ms():
    return time.time() * 1000.0


def numeric(v):
    kind = v.WhichOneof("kind")
    if kind == "number_value":
        return v.number_value
    if kind == "int_value":
        return float(v.int_value)
    return 0.0


def objective(params):
    """The same cheap objective as bench/speed/client-proc.ts."""
    x = numeric(params["x"]) if "x" in params else 0.0
    lr = numeric(params["lr"]) if "lr" in params else 0.0
    n = numeric(params["n"]) if "n" in params else 0.0
    return x * x + (math.log10(lr if lr > 0 else 1e-5) + 3) ** 2 + 0.1 * n


# ---------------------------------------------------------------------------
# serve: measured Suggest/Report (or Echo) loops for bench/load.ts
# ---------------------------------------------------------------------------


class Recorder:
    def __init__(self, phase, window):
        self.phase = phase
        self.frm = window["measureFrom"]
        self.until = window["measureUntil"]
        self.lock = threading.Lock()
        self.completed = 0
        self.errors = 0
        self.first_error = ""
        self.suggest_ms = []
        self.report_ms = []
        self.round_trip_ms = []
        self.echo_ms = []

    def in_window(self):
        t = now_ms()
        return self.frm <= t < self.until

    def running(self):
        return now_ms() < self.until

    def error(self, e):
        with self.lock:
            self.errors += 1
            if not self.first_error:
                if isinstance(e, grpc.RpcError):
                    self.first_error = "%s: %s" % (e.code().name, e.details())
                else:
                    self.first_error = "%s: %s" % (type(e).__name__, e)

    def result(self, stuck):
        return {
            "phase": self.phase,
            "completed": self.completed,
            "errors": self.errors,
            "firstError": self.first_error,
            "suggestMs": self.suggest_ms,
            "reportMs": self.report_ms,
            "roundTripMs": self.round_trip_ms,
            "echoMs": self.echo_ms,
            "stuckLoops": stuck,
        }


def trial_loop(stub, a, worker_id, rec):
    timeout = a["callTimeoutMs"] / 1000.0
    k = int(a.get("intermediate", 0) or 0)
    pc = time.perf_counter
    while rec.running():
        try:
            t0 = pc()
            s = stub.Suggest(svc.SuggestRequest(study=a["study"], count=1, worker_id=worker_id), timeout=timeout)
            t1 = pc()
            if not s.trials:
                rec.error(RuntimeError("Suggest handed out no trial (study_done=%s, reason=%s)" % (s.study_done, s.reason)))
                time.sleep(ERROR_BACKOFF_S)
                continue
            trial = s.trials[0]
            value = objective(trial.params)
            reports = []
            tr = t1
            for step in range(k + 1):
                final = step == k
                if final:
                    req = svc.ReportRequest(study=a["study"], trial_id=trial.id, values=[value], final=True, worker_id=worker_id)
                else:
                    req = svc.ReportRequest(study=a["study"], trial_id=trial.id, step=step, values=[value + 1.0 / (step + 1)], worker_id=worker_id)
                stub.Report(req, timeout=timeout)
                t = pc()
                reports.append((t - tr) * 1000.0)
                tr = t
            if rec.in_window():
                with rec.lock:
                    rec.completed += 1
                    rec.suggest_ms.append((t1 - t0) * 1000.0)
                    rec.report_ms.extend(reports)
                    rec.round_trip_ms.append((tr - t0) * 1000.0)
        except Exception as e:  # noqa: BLE001 - every failure is counted, none stops the loop
            rec.error(e)
            time.sleep(ERROR_BACKOFF_S)


def echo_loop(stub, a, rec):
    timeout = a["callTimeoutMs"] / 1000.0
    payload = b"a" * int(a["payloadBytes"])
    pc = time.perf_counter
    while rec.running():
        try:
            t0 = pc()
            stub.Echo(diag.EchoRequest(payload=payload), timeout=timeout)
            t1 = pc()
            if rec.in_window():
                with rec.lock:
                    rec.completed += 1
                    rec.echo_ms.append((t1 - t0) * 1000.0)
        except Exception as e:  # noqa: BLE001
            rec.error(e)
            time.sleep(ERROR_BACKOFF_S)


class Prepared:
    def __init__(self, a):
        self.a = a
        per = max(1, int(a["workersPerChannel"]))
        count = (len(a["workerIds"]) + per - 1) // per
        self.channels = [grpc.insecure_channel(a["address"], options=CHANNEL_OPTIONS) for _ in range(count)]
        for ch in self.channels:
            grpc.channel_ready_future(ch).result(timeout=10)
        make = diag_grpc.DiagnosticsServiceStub if a["phase"] == "echo" else svc_grpc.HpodServiceStub
        self.stubs = [make(ch) for ch in self.channels]
        self.per = per

    def run(self, window):
        a = self.a
        rec = Recorder(a["phase"], window)
        threads = []
        for i, wid in enumerate(a["workerIds"]):
            stub = self.stubs[i // self.per]
            if a["phase"] == "echo":
                th = threading.Thread(target=echo_loop, args=(stub, a, rec), daemon=True)
            else:
                th = threading.Thread(target=trial_loop, args=(stub, a, wid, rec), daemon=True)
            threads.append(th)
        for th in threads:
            th.start()
        limit = time.monotonic() + max(0.0, (rec.until - now_ms()) / 1000.0) + a["callTimeoutMs"] / 1000.0 + DRAIN_GRACE_S
        for th in threads:
            th.join(max(0.0, limit - time.monotonic()))
        stuck = sum(1 for th in threads if th.is_alive())
        for ch in self.channels:
            ch.close()
        with rec.lock:
            return rec.result(stuck)


def serve():
    prepared = None
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        msg = json.loads(line)
        try:
            if msg["type"] == "prepare":
                prepared = Prepared(msg["assignment"])
                emit({"type": "ready"})
            elif msg["type"] == "go":
                if prepared is None:
                    raise RuntimeError("go before prepare")
                result = prepared.run(msg["window"])
                prepared = None
                emit({"type": "result", "result": result})
            elif msg["type"] == "exit":
                break
        except Exception as e:  # noqa: BLE001 - reported to the parent, which fails the phase
            emit({"type": "failed", "error": "%s: %s" % (type(e).__name__, e)})
    os._exit(0)  # do not wait for grpc's background threads


# ---------------------------------------------------------------------------
# crash: Suggest/Report loops that survive daemon restarts (bench/crash.ts)
# ---------------------------------------------------------------------------


def crash_value(study, trial, step):
    """Must equal `value` in bench/stress/crash-engine.ts: (trial * 1000 + step) / 7 + study.length (final: step -1)."""
    return (trial * 1000 + step) / 7 + len(study)


class Target:
    """The current daemon address; a new one arrives on stdin after every restart."""

    def __init__(self):
        self.cv = threading.Condition()
        self.address = None
        self.generation = 0
        self.stopping = False

    def set(self, address):
        with self.cv:
            self.address = address
            self.generation += 1
            self.cv.notify_all()

    def stop(self):
        with self.cv:
            self.stopping = True
            self.cv.notify_all()

    def wait_newer(self, generation, timeout):
        with self.cv:
            if self.generation == generation and not self.stopping:
                self.cv.wait(timeout)
            return self.generation


class CrashWorker:
    def __init__(self, target, worker_id, study, steps, counters):
        self.target = target
        self.wid = worker_id
        self.study = study
        self.steps = steps
        self.counters = counters
        self.generation = -1
        self.channel = None
        self.stub = None
        self.pending = None  # (trial, step) whose Report got no answer

    def connect(self):
        with self.target.cv:
            gen, address = self.target.generation, self.target.address
        if gen != self.generation:
            if self.channel is not None:
                self.channel.close()
            self.channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
            self.stub = svc_grpc.HpodServiceStub(self.channel)
            self.generation = gen

    def report_request(self, trial, step):
        if step == "final":
            return svc.ReportRequest(study=self.study, trial_id=trial, values=[crash_value(self.study, trial, -1)], final=True, worker_id=self.wid)
        return svc.ReportRequest(study=self.study, trial_id=trial, step=step, values=[crash_value(self.study, trial, step)], worker_id=self.wid)

    def backoff(self):
        """After a call that got no answer: wait for the next daemon, or a moment on the same one."""
        self.target.wait_newer(self.generation, 0.05)

    def retry_pending(self, final_attempt=False):
        """Resends the unanswered Report; True once it is settled (acknowledged or honestly refused)."""
        trial, step = self.pending
        try:
            self.stub.Report(self.report_request(trial, step), timeout=5)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.FAILED_PRECONDITION:
                self.pending = None  # the lease ran out meanwhile
                self.counters["expired"] += 1
                return True
            if e.code() in RETRYABLE and not final_attempt:
                return False
            emit({"problem": "%s retry of %s/%s/%s: %s %s" % (self.wid, self.study, trial, step, e.code().name, e.details())})
            self.pending = None
            return True
        emit({"ack": {"study": self.study, "trial": trial, "step": step}, "retried": True})
        self.counters["retried"] += 1
        self.pending = None
        return True

    def run(self):
        while not self.target.stopping:
            self.connect()
            if self.pending is not None:
                if not self.retry_pending():
                    self.backoff()
                continue
            try:
                resp = self.stub.Suggest(svc.SuggestRequest(study=self.study, count=1, worker_id=self.wid), timeout=5)
            except grpc.RpcError as e:
                if e.code() not in RETRYABLE:
                    emit({"problem": "%s suggest: %s %s" % (self.wid, e.code().name, e.details())})
                self.backoff()
                continue
            if not resp.trials:
                time.sleep(0.05)
                continue
            t = resp.trials[0]
            have = set(m.step for m in t.intermediate)
            for step in list(range(self.steps)) + ["final"]:
                if step != "final" and step in have:
                    continue
                if self.target.stopping:
                    return
                try:
                    self.stub.Report(self.report_request(t.id, step), timeout=5)
                except grpc.RpcError as e:
                    if e.code() in RETRYABLE:
                        self.pending = (t.id, step)
                    else:
                        emit({"problem": "%s report %s/%s/%s: %s %s" % (self.wid, self.study, t.id, step, e.code().name, e.details())})
                    self.backoff()
                    break
                emit({"ack": {"study": self.study, "trial": t.id, "step": step}, "retried": False})

    def finish(self):
        """After stop: one last try of what is pending, on the last daemon (the engine has just restarted it)."""
        if self.pending is not None and self.target.address is not None:
            self.connect()
            deadline = time.monotonic() + 15
            while self.pending is not None and time.monotonic() < deadline:
                if not self.retry_pending(final_attempt=time.monotonic() + 1 > deadline):
                    time.sleep(0.1)
        if self.channel is not None:
            self.channel.close()


def crash(args):
    target = Target()
    studies = args.studies.split(",")
    counters = {"retried": 0, "expired": 0}
    workers = [CrashWorker(target, "%s%d" % (args.worker_prefix, i), studies[i % len(studies)], args.steps, counters) for i in range(args.workers)]
    threads = []
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        msg = json.loads(line)
        if msg["type"] == "address":
            target.set(msg["address"])
            if not threads:
                threads = [threading.Thread(target=w.run, daemon=True) for w in workers]
                for th in threads:
                    th.start()
        elif msg["type"] == "stop":
            break
    target.stop()
    for th in threads:
        th.join(30)
    for w in workers:
        w.finish()
    emit({"done": {"workers": len(workers), "retried": counters["retried"], "expired": counters["expired"], "stillPending": sum(1 for w in workers if w.pending is not None)}})
    os._exit(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    sub.add_parser("serve")
    c = sub.add_parser("crash")
    c.add_argument("--studies", required=True, help="comma-separated; worker i works on studies[i % len]")
    c.add_argument("--workers", type=int, default=8)
    c.add_argument("--steps", type=int, default=5, help="intermediate reports per trial (steps 0..steps-1)")
    c.add_argument("--worker-prefix", default="py")
    a = ap.parse_args()
    if a.mode == "serve":
        serve()
    else:
        crash(a)


if __name__ == "__main__":
    main()
