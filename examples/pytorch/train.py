#!/usr/bin/env python3
"""A real PyTorch training script for hpod's GPU runner: an MLP on the 8x8
handwritten digits (data/digits.csv.gz, see data/digits.rst), one scheduler
step per epoch, validation accuracy per epoch printed as runner metric lines:

    {"hpod": {"step": 3, "value": 0.9472, "metrics": {"train_loss": 0.21, "lr": 0.05}}}
    {"hpod": {"final": 0.9583, "metrics": {"last_accuracy": 0.9556, "epochs": 8}}}

Hyperparameters come from HPOD_PARAMS_JSON (set by `hpo runner`) and/or the
command line (which wins), e.g.

    python3 train.py --lr 0.05 --batch-size 32 --hidden 64 --optimizer sgd \
        --schedule '{"kind": "LR_SCHEDULE_KIND_STEP", "values": {"step_size": 3, "gamma": 0.5}}'

Runs on a GPU when CUDA is available (the runner sets CUDA_VISIBLE_DEVICES to
the slot's GPUs), else on the CPU.
"""
import argparse
import csv
import gzip
import json
import os
import sys
import time

import warnings

import torch
from torch import nn

from hpod_torch_schedule import EpochScheduler

HERE = os.path.dirname(os.path.abspath(__file__))
# torch 1.13's SequentialLR (the warm-up) steps its schedulers with an epoch argument and warns about it.
warnings.filterwarnings("ignore", message="The epoch parameter in `scheduler.step\\(\\)`")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lr", type=float, help="learning rate (the optimiser's base lr)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--hidden", type=int, help="hidden units")
    p.add_argument("--dropout", type=float)
    p.add_argument("--optimizer", choices=["sgd", "adam"])
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--schedule", help="an hpod LrSchedule as JSON (empty: constant lr)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--data", default=os.path.join(HERE, "data", "digits.csv.gz"))
    p.add_argument("--seed", type=int, default=0, help="seed of the model's initialisation and batch order")
    p.add_argument("--threads", type=int, default=int(os.environ.get("HPOD_TORCH_THREADS", "1")),
                   help="CPU threads (default 1: the runner runs trials side by side)")
    return p.parse_args(argv)


DEFAULTS = {"lr": 0.05, "batch_size": 32, "hidden": 64, "dropout": 0.1, "optimizer": "sgd", "weight_decay": 0.0, "schedule": None}


def hyperparameters(args):
    """Defaults, then HPOD_PARAMS_JSON, then the command line."""
    hp = dict(DEFAULTS)
    env = os.environ.get("HPOD_PARAMS_JSON")
    if env:
        hp.update(json.loads(env))
    for key in DEFAULTS:
        value = getattr(args, key)
        if value is not None:
            hp[key] = value
    if isinstance(hp["schedule"], str):
        hp["schedule"] = json.loads(hp["schedule"]) if hp["schedule"].strip() else None
    return hp


def load_digits(path):
    xs, ys = [], []
    with gzip.open(path, "rt") as f:
        for row in csv.reader(f):
            if row:
                xs.append([float(v) / 16.0 for v in row[:64]])
                ys.append(int(row[64]))
    x = torch.tensor(xs)
    y = torch.tensor(ys)
    # A fixed split: 80 % train, 20 % validation.
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(1234))
    cut = int(0.8 * len(y))
    return (x[order[:cut]], y[order[:cut]]), (x[order[cut:]], y[order[cut:]])


def metric_line(**payload):
    print(json.dumps({"hpod": payload}), flush=True)


def main(argv):
    args = parse_args(argv)
    hp = hyperparameters(args)
    torch.set_num_threads(max(1, args.threads))
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    (xt, yt), (xv, yv) = load_digits(args.data)
    xt, yt, xv, yv = xt.to(device), yt.to(device), xv.to(device), yv.to(device)

    model = nn.Sequential(
        nn.Linear(64, int(hp["hidden"])), nn.ReLU(), nn.Dropout(float(hp["dropout"])), nn.Linear(int(hp["hidden"]), 10)
    ).to(device)
    lr = float(hp["lr"])
    if hp["optimizer"] == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=float(hp["weight_decay"]))
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=float(hp["weight_decay"]))
    sched = EpochScheduler(opt, hp["schedule"], lr)
    loss_fn = nn.CrossEntropyLoss()
    batch = int(hp["batch_size"])
    print(f"training on {device}: {len(yt)} train / {len(yv)} validation digits, hyperparameters {json.dumps(hp)}", file=sys.stderr, flush=True)

    best = 0.0
    acc = 0.0
    started = time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(yt), generator=torch.Generator().manual_seed(args.seed * 1000 + epoch)).to(device)
        total = 0.0
        lr_used = sched.lr
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        model.eval()
        with torch.no_grad():
            acc = float((model(xv).argmax(1) == yv).float().mean())
        best = max(best, acc)
        sched.step(acc)
        metric_line(step=epoch, value=round(acc, 6), metrics={"train_loss": round(total / len(yt), 6), "lr": lr_used})
    metric_line(final=round(best, 6), metrics={"last_accuracy": round(acc, 6), "epochs": args.epochs, "seconds": round(time.time() - started, 3)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
