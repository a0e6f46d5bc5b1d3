#!/usr/bin/env python3
"""Runs the PyTorch peer and `agon bench` back to back on this machine and
prints the comparison table of docs/performance.md (medians, ratios).

    python3 benches/compare.py --runs 3 --threads 2 \
        --python /path/to/venv-with-torch/bin/python

The peer (benches/torch_seqgan_peer.py) needs `pip install torch numpy`;
agon needs `cargo build --release` first. Run it on a quiet machine: both
sides are timed with the same thread count, one after the other.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKLOADS = ["mle", "sample", "dtrain", "rollout-batched", "rollout-naive"]
# Run only when named (--workloads), on both sides.
NAMED = ["dtrain-gru", "dense-step", "gumbel-step"]


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def run_peer(python, threads, runs, workloads):
    per_workload = {}
    for _ in range(runs):
        out = subprocess.run(
            [python, os.path.join(HERE, "torch_seqgan_peer.py"), "--threads", str(threads),
             "--workloads", ",".join(workloads)],
            check=True, capture_output=True, text=True).stdout
        for row in json_lines(out):
            per_workload.setdefault(row["workload"], []).append(row)
    return {
        name: {
            "per_second": statistics.median(r["per_second"] for r in rows),
            "impl": rows[0]["impl"],
            "runs": len(rows),
        }
        for name, rows in per_workload.items()
    }


def run_agon(agon, threads, runs, workloads):
    out = subprocess.run(
        [agon, "bench", "--json", "--repeat", str(runs), "--threads", str(threads),
         "--workloads", ",".join(workloads)],
        check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return {row["workload"]: row for row in json_lines(out)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default=sys.executable, help="a Python with torch installed")
    ap.add_argument("--agon", default=os.path.join(ROOT, "target", "release", "agon"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma list of: " + ",".join(WORKLOADS + NAMED))
    a = ap.parse_args()
    workloads = a.workloads.split(",")
    peer = run_peer(a.python, a.threads, a.runs, workloads)
    agon = run_agon(a.agon, a.threads, a.runs, workloads)
    print(f"| workload | unit | PyTorch ({next(iter(peer.values()))['impl']}) /s | agon /s | agon / PyTorch | agon peak RSS |")
    print("|---|---|---:|---:|---:|---:|")
    for name in workloads:
        if name not in peer or name not in agon:
            continue
        ours, theirs = agon[name], peer[name]
        ratio = ours["per_second"] / theirs["per_second"]
        print(f"| {name} | {ours['unit']} | {theirs['per_second']:,.0f} | {ours['per_second']:,.0f} "
              f"| {ratio:.2f}× | {ours['peak_rss_mib']:.0f} MiB |")
    # Every agon rollout result against both peer rollout variants.
    for ours_name in ("rollout-batched",):
        for peer_name in ("rollout-naive", "rollout-batched"):
            if ours_name in agon and peer_name in peer:
                r = agon[ours_name]["per_second"] / peer[peer_name]["per_second"]
                print(f"\nagon {ours_name} / PyTorch {peer_name}: {r:.2f}×", end="")
    print()


if __name__ == "__main__":
    main()
