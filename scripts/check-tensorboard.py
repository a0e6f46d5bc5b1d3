#!/usr/bin/env python3
"""Opens agon run directories with TensorBoard itself and checks them.

For each RUN_DIR: loads its event files with TensorBoard's EventAccumulator
(its Python reader, which checks both CRCs of every record), lists every tag
with its (step, value) points and the text samples, and checks that every
value of every row of RUN_DIR/metrics.jsonl is there at the right step (as
a 32-bit float, the precision the events hold). With --server it also starts
`tensorboard --load_fast=true` (the Rust data server the web page reads from)
on a local port and checks the same values through its HTTP API. Exits 1 on
any mismatch.

    python3 -m venv /tmp/tb && /tmp/tb/bin/pip install tensorboard
    /tmp/tb/bin/python scripts/check-tensorboard.py --server runs/smoke

By hand, not in CI: the Rust tests read the files back without Python
(host/src/train/tensorboard.rs, tests/tensorboard.rs).
"""

import json
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import tensorboard
from tensorboard.backend.event_processing import event_accumulator

PRETRAINING = "discriminator-pretraining"


def f32(value):
    """`value` rounded to a 32-bit float, as the event file holds it."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


def expected_points(run_dir):
    """(tag, step, value) of every value of every row of metrics.jsonl."""
    with open(os.path.join(run_dir, "metrics.jsonl")) as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    points = []
    for row in rows:
        if row["phase"] == PRETRAINING:
            for key in ("d_loss", "d_accuracy", "elapsed_seconds"):
                if row.get(key) is not None:
                    points.append((f"discriminator_pretraining/{key}", row["epoch"], row[key]))
            continue
        for key, value in row.items():
            if key in ("phase", "epoch", "global_epoch") or value is None:
                continue
            prefix = "metrics" if key not in (
                "g_loss", "mean_reward", "d_loss", "d_accuracy", "elapsed_seconds") else "train"
            points.append((f"{prefix}/{key}", row["global_epoch"], value))
    return rows, points


def compare(run_dir, scalars, reader):
    """Whether `scalars` ({tag: {step: value}}) holds every metrics value."""
    rows, points = expected_points(run_dir)
    problems = []
    for tag, step, value in points:
        got = scalars.get(tag, {}).get(step)
        if got is None or f32(got) != f32(value):
            problems.append(f"{tag} at step {step}: {got} in TensorBoard, {value} in metrics.jsonl")
    for problem in problems:
        print(f"  MISMATCH ({reader}) {problem}")
    if not problems:
        print(f"  {reader}: every value of the {len(rows)} rows of metrics.jsonl "
              f"({len(points)} points) is there")
    return not problems


def check_files(run_dir):
    accumulator = event_accumulator.EventAccumulator(
        run_dir, size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    print(f"{run_dir}: {len(tags['scalars'])} scalar tags, text tags {tags['tensors']}")
    scalars = {}
    for tag in sorted(tags["scalars"]):
        events = accumulator.Scalars(tag)
        scalars[tag] = {e.step: e.value for e in events}
        shown = ", ".join(f"{e.step}: {e.value:.6g}" for e in events)
        print(f"  {tag:<42} {shown}")
    for tag in tags["tensors"]:
        for event in accumulator.Tensors(tag):
            strings = [s.decode("utf-8", "replace") for s in event.tensor_proto.string_val]
            print(f"  {tag} @ {event.step}: {strings[0][:60]!r} (+{len(strings) - 1} more)")
    return compare(run_dir, scalars, "EventAccumulator")


def get_json(port, path, **query):
    url = f"http://127.0.0.1:{port}{path}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def server_scalars(port, run):
    tags = get_json(port, "/data/plugin/scalars/tags").get(run, {})
    return {
        tag: {step: value for _, step, value in
              get_json(port, "/data/plugin/scalars/scalars", run=run, tag=tag)}
        for tag in tags
    }


def check_server(run_dir):
    """Starts a tensorboard server on `run_dir` alone (its run is then ".")."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", os.path.abspath(run_dir),
         "--host", "127.0.0.1", "--port", str(port), "--load_fast=true"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, points = expected_points(run_dir)
        # The server starts, then its data server loads in the background:
        # wait for every point.
        deadline = time.time() + 90
        scalars = {}
        while time.time() < deadline and server.poll() is None:
            try:
                scalars = server_scalars(port, ".")
            except OSError:
                scalars = {}
            if all(step in scalars.get(tag, {}) for tag, step, _ in points):
                break
            time.sleep(1)
        texts = get_json(port, "/data/plugin/text/tags").get(".", []) if scalars else []
        print(f"{run_dir} through the tensorboard server: {len(scalars)} scalar tags, "
              f"text tags {texts}")
        return compare(run_dir, scalars, "tensorboard --load_fast=true")
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=30)
        if not scalars:
            print(errors.decode("utf-8", "replace")[-2000:])


def main():
    args = sys.argv[1:]
    server = "--server" in args
    run_dirs = [a for a in args if a != "--server"]
    if not run_dirs:
        sys.exit(f"usage: {sys.argv[0]} [--server] RUN_DIR...")
    print(f"tensorboard {tensorboard.__version__}")
    ok = all([check_files(run_dir) for run_dir in run_dirs])
    if server:
        ok = all([check_server(run_dir) for run_dir in run_dirs]) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
