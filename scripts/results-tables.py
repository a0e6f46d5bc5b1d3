#!/usr/bin/env python3
"""Writes the generated tables of docs/results.md from `agon compare` reports.

A generated table sits in the document between two markers:

    <!-- table: seqgan-table1 -->
    ...
    <!-- /table -->

and everything between them is this script's: it reads the `compare.json`
reports that `scripts/regenerate-results.sh` writes under
RESULTS_DIR/reports/ (and, for wall times and per-seed tests, the run
directories and their eval/eval.json), renders the table, and ends it with
a line naming the reports, the commit(s) and the machine(s) of the runs.
The numbers are never typed: re-running a section and this script rewrites
them. The figures of FIGURES (docs/images/NAME) are copied from the plots
`agon compare` drew in the same reports.

    scripts/regenerate-results.sh seqgan-oracle table1-rows   # runs + reports
    scripts/results-tables.py                                 # rewrite docs/results.md
    scripts/results-tables.py --check                         # exit 1 if it is not current
    scripts/results-tables.py --list                          # the tables and their reports

A table whose reports are not there yet is left as it is (and named on
stderr), so sections can be re-run one at a time. Python 3.9+, standard
library only.
"""

import argparse
import difflib
import json
import os
import re
import sys
from pathlib import Path

BEGIN = re.compile(r"^<!-- table: ([a-z0-9-]+) -->$")
END = "<!-- /table -->"


class Missing(Exception):
    """An input of a table is not there (yet)."""


class Inputs:
    """The reports and run directories under one results directory."""

    def __init__(self, results_dir):
        self.dir = Path(results_dir)
        self._reports = {}
        self.used = []

    def report(self, name):
        if name not in self._reports:
            path = self.dir / "reports" / name / "compare.json"
            if not path.is_file():
                raise Missing(f"{path} not found")
            with open(path, encoding="utf-8") as f:
                self._reports[name] = json.load(f)
        if name not in self.used:
            self.used.append(name)
        return self._reports[name]

    def run_dir(self, path):
        """A run directory named in a report, as `SWEEP/runs/CELL` under this
        results directory: reports name runs by the path `agon compare` was
        given (relative to where it ran), and a `sweeps/` of the current
        directory may hold other runs."""
        run = self.dir.joinpath(*Path(path).parts[-3:])
        if not run.is_dir():
            raise Missing(f"run directory {run} (the report's {path}) not found")
        return run


# ---------------------------------------------------------------- reading


def group(report, label):
    for g in report["groups"]:
        if g["label"] == label:
            return g
    raise Missing(f"the report has no group {label!r} (its groups: {[g['label'] for g in report['groups']]})")


def only_group(report):
    if len(report["groups"]) != 1:
        raise Missing(f"the report has {len(report['groups'])} groups where one was expected")
    return report["groups"][0]


def phase_end(g, phase, metric):
    for name, metrics in g["phase_ends"]:
        if name == phase:
            return metrics.get(metric)
    return None


def curve_point(g, phase, epoch, metric):
    for point, metrics in g["curve"]:
        if point["phase"] == phase and point["epoch"] == epoch:
            return metrics.get(metric)
    return None


def evaluated(report, group_label, model, metric):
    if not report["evaluations"]["models"]:
        raise Missing("the report has no evaluations (run the section's `agon eval`)")
    for m in report["evaluations"]["models"]:
        if m["group"] == group_label and m["model"] == model:
            return m["metrics"].get(metric)
    return None


POOLED = " (pooled over its seeds)"


def matched(report, group_label, temperature, pooled=False):
    """The matched-quality row of the group's final model at `temperature`:
    against its own run's MLE curve, or (`pooled`) against the first
    group's curve pooled over its seeds."""
    if not report["matched_quality"]:
        raise Missing("the report has no matched-quality rows (evaluate the runs with `agon eval --temperatures`)")
    for m in report["matched_quality"]:
        baseline = m["baseline"].endswith(POOLED) if pooled else m["baseline"] == "mle"
        if (m["group"] == group_label and m["model"] == "final" and baseline
                and abs(m["temperature"] - temperature) < 1e-6):
            return m
    return None


def eval_change(report, group_label, metric):
    """final − mle of `metric` within each run of the group (paired over
    its seeds), from the report's evaluations."""
    for c in report["evaluations"]["changes"]:
        if c["group"] == group_label and c["against"] == f"{group_label}/mle" and c["metric"] == metric:
            return c
    return None


def matched_cells(report, group_label, temperature, pooled=False):
    """A final model − the MLE curve at equal diversity (its own run's, or
    the first group's pooled), and p: two cells."""
    m = matched(report, group_label, temperature, pooled)
    if m is None:
        raise Missing(f"no matched-quality row for {group_label} at T = {temperature:g}")
    runs = len(group(report, group_label)["runs"])
    curve = "the pooled curve" if pooled else "the MLE curve"
    if m["difference"] is None:
        if m["outside"] == runs:
            return [f"outside {curve} (all {runs} runs)", "–"]
        return [f"no interval ({m['runs']} run(s) inside {curve}, {m['outside']} outside)", "–"]
    note = f" ({m['outside']} of {runs} runs outside)" if m["outside"] else ""
    return [difference(m["difference"]) + note, p_value(m["difference"]["p_value"])]


def metrics_rows(run_dir):
    with open(run_dir / "metrics.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def wall_seconds(inputs, g, phase=None):
    """Each run's elapsed seconds at the end of `phase` (its last row of
    that phase), or at its last row."""
    times = []
    for run in g["runs"]:
        rows = metrics_rows(inputs.run_dir(run))
        if phase is not None:
            rows = [r for r in rows if r.get("phase") == phase]
        if rows:
            times.append(rows[-1]["elapsed_seconds"])
    return times


def newest_eval(run_dir):
    """The run's newest eval/eval.json (`eval`, `eval-2`, …), the one
    `agon compare` reads (compare/quality_diversity.rs)."""
    found = []
    for entry in run_dir.iterdir():
        n = 1 if entry.name == "eval" else None
        if entry.name.startswith("eval-") and entry.name[5:].isdigit():
            n = int(entry.name[5:])
        if n is not None and (entry / "eval.json").is_file():
            found.append((n, entry / "eval.json"))
    if not found:
        raise Missing(f"{run_dir} has no eval/eval.json (run the section's `agon eval`)")
    return max(found)[1]


def eval_comparison(inputs, run, metric):
    path = newest_eval(inputs.run_dir(run))
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    for c in report.get("comparisons", []):
        if c["metric"] == metric:
            return report, c["test"]
    return report, None


# ---------------------------------------------------------------- formatting


MINUS = "\u2212"  # the document's minus sign


def num(x):
    return f"{x:.4f}".replace("-", MINUS)


def signed(x):
    return f"{x:+.4f}".replace("-", MINUS)


def estimate(e, runs=None):
    """`mean [low, high]`; says how many runs it pools when that is not
    the `runs` the table's header promises (a run not evaluated or not
    finished drops out of `agon compare`'s estimates)."""
    if e is None:
        return "–"
    short = f" (n={e['n']} of {runs})" if runs is not None and e["n"] != runs else ""
    if e.get("low") is None or e.get("high") is None:
        return f"{num(e['mean'])} (n={e['n']})" if not short else f"{num(e['mean'])}{short}"
    return f"{num(e['mean'])} [{num(e['low'])}, {num(e['high'])}]{short}"


def difference(d):
    if d is None:
        return "–"
    return f"{signed(d['difference'])} [{signed(d['low'])}, {signed(d['high'])}]"


def p_value(p):
    return "< 1e-4" if p < 1e-4 else f"{p:.4f}"


def bootstrap_difference(test):
    """A paired test of `agon eval` (eval.json, compare's per-sample
    tests): `difference [low, high]`."""
    return f"{signed(test['mean_difference'])} [{signed(test['ci_low'])}, {signed(test['ci_high'])}]"


def bootstrap_p(test):
    """A bootstrap's p, whose floor is 2 / resamples (`agon eval` prints
    it the same way)."""
    floor = 2.0 / test["resamples"]
    if test["p_value"] <= floor:
        mantissa, exponent = f"{floor:.0e}".split("e")
        return f"< {mantissa}e{int(exponent)}"
    return p_value(test["p_value"])


def seconds(times):
    if not times:
        return "–"
    lo, hi = round(min(times)), round(max(times))
    return f"{lo} s" if lo == hi else f"{lo}–{hi} s"


def short(commit):
    return commit[:7]


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def provenance(inputs):
    commits, machines = [], []
    for name in inputs.used:
        r = inputs._reports[name]
        commits += [c for c in r.get("commits", []) if c not in commits]
        machines += [m for m in r.get("machines", []) if m not in machines]
    reports = ", ".join(f"`reports/{n}`" for n in inputs.used)
    return (
        f"*Generated by `scripts/results-tables.py` from {reports}: runs of commit "
        f"{', '.join(short(c) for c in commits) or 'unknown'} on "
        f"{'; '.join(machines) or 'an unnamed machine'}.*"
    )


# ---------------------------------------------------------------- the tables

TABLES = {}


def generated(name, reports):
    def register(render):
        TABLES[name] = (reports, render)
        return render

    return register


# The seeds looked at first, then the confirmation seeds.
SEQGAN_SETS = ["seqgan-oracle-seeds", "seqgan-oracle-confirm"]


def seeds_label(g, confirmation=False):
    seeds = g["seeds"]
    contiguous = seeds == list(range(seeds[0], seeds[-1] + 1)) if seeds else False
    label = f"seeds {seeds[0]}–{seeds[-1]}" if contiguous and len(seeds) > 1 else \
        "seeds " + ", ".join(str(x) for x in seeds)
    return label + (" (confirmation)" if confirmation else "")


def seqgan_sets(inputs):
    """The two seed sets' groups, and a header cell for each."""
    sets = [only_group(inputs.report(r)) for r in SEQGAN_SETS]
    return sets, [seeds_label(sets[0]), seeds_label(sets[1], confirmation=True)]


TABLE1_HEADER = ["paper", "CPU schedule", "wall time per run (to the end of the row's phase)"]


@generated("seqgan-table1", ["seqgan-oracle-seeds", "seqgan-oracle-confirm"])
def seqgan_table1(inputs):
    sets, labels = seqgan_sets(inputs)
    both = {"runs": sets[0]["runs"] + sets[1]["runs"]}

    def cells(phase_metric):
        return [estimate(phase_metric(g), len(g["runs"])) for g in sets]

    rows = [
        ["Random (untrained generator, N(0, 0.1²) weights)", "10.310"]
        + cells(lambda g: curve_point(g, "mle", 0, "nll_oracle")) + ["—", "—"],
        ["MLE", "9.038 (120 epochs)"] + cells(lambda g: phase_end(g, "mle", "nll_oracle"))
        + ["40 epochs", seconds(wall_seconds(inputs, both, "mle"))],
        ["SeqGAN", "8.736"]
        + [f"**{c}**" for c in cells(lambda g: phase_end(g, "adversarial", "nll_oracle"))]
        + ["the MLE epochs, 50 × 3 rounds of D pretraining, 80 adversarial epochs",
           seconds(wall_seconds(inputs, both))],
    ]
    return table(["row", "paper"] + labels + TABLE1_HEADER[1:], rows)


@generated("table1-other-rows", ["table1-rows"])
def table1_other_rows(inputs):
    report = inputs.report("table1-rows")
    ss, pg = group(report, "scheduled sampling"), group(report, "PG-BLEU")

    def with_test(g, phase):
        n = len(g["runs"])
        return (f"{estimate(phase_end(g, phase, 'nll_oracle'), n)} "
                f"(NLL-test {estimate(phase_end(g, phase, 'nll_test'), n)})")

    rows = [
        ["Scheduled sampling", "8.985", with_test(ss, "mle"),
         "40 epochs, the probability of feeding back the model's own token rising 0 → 0.25",
         seconds(wall_seconds(inputs, ss))],
        ["PG-BLEU", "8.946", with_test(pg, "adversarial"),
         "the MLE epochs, then 80 adversarial epochs of BLEU-4 rewards", seconds(wall_seconds(inputs, pg))],
    ]
    return table(["row", "paper", seeds_label(ss)] + TABLE1_HEADER[1:], rows)


@generated("seqgan-adversarial-change", ["seqgan-oracle-seeds", "seqgan-oracle-confirm"])
def seqgan_adversarial_change(inputs):
    sets, labels = seqgan_sets(inputs)
    rows = []
    for metric, name in [("nll_oracle", "NLL-oracle"), ("nll_test", "NLL-test")]:
        row = [name]
        for g in sets:
            d = g["adversarial_change"].get(metric)
            row += [difference(d), p_value(d["p_value"]) if d else "–"]
        rows.append(row)
    for phase, metric, name in [
        ("adversarial", "d_accuracy", "D accuracy, last d-step (not a change)"),
        ("adversarial", "mean_reward", "mean reward, last g-step (not a change)"),
    ]:
        rows.append([name] + sum(([estimate(phase_end(g, phase, metric), len(g["runs"])), ""] for g in sets), []))
    header = ["metric", labels[0], "p", labels[1], "p"]
    return table(header, rows)


@generated("seqgan-eval-per-seed", ["seqgan-oracle-seeds", "seqgan-oracle-confirm"])
def seqgan_eval_per_seed(inputs):
    rows = []
    for g in seqgan_sets(inputs)[0]:
        for run, seed in zip(g["runs"], g["seeds"]):
            report, test = eval_comparison(inputs, run, "nll_oracle")
            if test is None:
                raise Missing(f"{run}: eval.json has no nll_oracle comparison")
            rows.append([
                str(seed),
                bootstrap_difference(test),
                bootstrap_p(test),
                f"{test['method']}, {test['pairs']:,} pairs, {test['resamples']:,} resamples",
            ])
    return table(["seed", "final − end of MLE, NLL-oracle", "p", "test"], rows)


SEQGAN_TEMPERATURES = [0.7, 0.8, 0.9, 1.0, 1.1, 1.2]


def metric_at(metric, t):
    return metric if abs(t - 1.0) < 1e-9 else f"{metric}_t{t:g}"


@generated("seqgan-temperatures", ["seqgan-oracle-seeds", "seqgan-oracle-confirm"])
def seqgan_temperatures(inputs):
    sets, labels = seqgan_sets(inputs)
    rows = []
    for t in SEQGAN_TEMPERATURES:
        for model, name in [("mle", "end of MLE"), ("final", "SeqGAN")]:
            row = [f"{t:g}", name]
            for r, g in zip(SEQGAN_SETS, sets):
                row += [estimate(evaluated(inputs.report(r), g["label"], model, metric_at(m, t)), len(g["runs"]))
                        for m in ("nll_oracle", "nll_test")]
            rows.append(row)
    header = ["T", "generator"] + [f"{m}, {label.removesuffix(' (confirmation)')}"
                                   for label in labels for m in ("NLL-oracle", "NLL-test")]
    return table(header, rows)


@generated("seqgan-matched-quality", ["seqgan-oracle-seeds", "seqgan-oracle-confirm"])
def seqgan_matched_quality(inputs):
    sets, labels = seqgan_sets(inputs)
    rows = []
    for t in SEQGAN_TEMPERATURES:
        row = [f"T = {t:g}"]
        for r, g in zip(SEQGAN_SETS, sets):
            row += matched_cells(inputs.report(r), g["label"], t)
        rows.append(row)
    header = ["SeqGAN sampled at", labels[0], "p", labels[1], "p"]
    return table(header, rows)


@generated("table1-rows-against-seqgan", ["table1-rows"])
def table1_rows_against_seqgan(inputs):
    report = inputs.report("table1-rows")
    rows = []
    # Each difference's fields sit beside its group's (serde's flatten).
    for d in report["differences"]:
        if d["metric"] in ("nll_oracle", "nll_test"):
            rows.append([f"{d['group']} − {d['baseline']}", d["metric"], difference(d), p_value(d["p_value"]),
                         f"{d['test']} (df {d['df']:.1f})"])
    for label in ("scheduled sampling", "PG-BLEU"):
        g = group(report, label)
        for metric in ("nll_oracle", "nll_test"):
            d = g["adversarial_change"].get(metric)
            if d:
                rows.append([f"{label}: end − end of MLE", metric, difference(d), p_value(d["p_value"]),
                             f"{d['test']} (df {d['df']:.1f})"])
    return table(["difference (end of run)", "metric", "value [95% interval]", "p", "test"], rows)


@generated("table1-rows-curves", ["table1-rows"])
def table1_rows_curves(inputs):
    report = inputs.report("table1-rows")
    groups = report["groups"]
    phases = ["mle", "discriminator-pretraining", "adversarial"]
    points = []
    for g in groups:
        for point, metrics in g["curve"]:
            key = (phases.index(point["phase"]) if point["phase"] in phases else len(phases), point["epoch"],
                   point["phase"])
            # Every 10th epoch (the runs evaluate every 5th) where NLL-oracle
            # was measured (not the discriminator's pretraining rounds).
            if key not in points and point["epoch"] % 10 == 0 and "nll_oracle" in metrics:
                points.append(key)
    rows = []
    for _, epoch, phase in sorted(points):
        row = [phase, str(epoch)]
        for g in groups:
            cell = []
            for metric in ("nll_oracle", "nll_test"):
                e = curve_point(g, phase, epoch, metric)
                cell.append(num(e["mean"]) if e else "–")
            row.append(" / ".join(cell))
        rows.append(row)
    header = ["phase", "epoch"] + [f"{g['label']}: NLL-oracle / NLL-test" for g in groups]
    return table(header, rows)


SCRATCHGAN_GROUPS = ["ScratchGAN from scratch", "ScratchGAN after MLE"]


@generated("scratchgan-oracle-runs", ["scratchgan-oracle", "seqgan-oracle-seeds"])
def scratchgan_oracle_runs(inputs):
    report = inputs.report("scratchgan-oracle")
    scratch, after = (group(report, label) for label in SCRATCHGAN_GROUPS)
    seqgan_report = inputs.report("seqgan-oracle-seeds")
    seqgan = only_group(seqgan_report)

    def at_t1(rep, g, model):
        return [estimate(evaluated(rep, g["label"], model, m), len(g["runs"])) for m in ("nll_oracle", "nll_test")]

    def d_accuracy(g):
        return estimate(phase_end(g, "adversarial", "d_accuracy"), len(g["runs"]))

    rows = [
        ["ScratchGAN from scratch, 1,000 steps"] + at_t1(report, scratch, "final")
        + [d_accuracy(scratch), seconds(wall_seconds(inputs, scratch))],
        ["ScratchGAN after MLE: its end of MLE"] + at_t1(report, after, "mle")
        + ["—", seconds(wall_seconds(inputs, after, "mle"))],
        ["ScratchGAN after MLE: after 400 dense steps"] + at_t1(report, after, "final")
        + [d_accuracy(after), seconds(wall_seconds(inputs, after))],
        [f"SeqGAN CPU, {seeds_label(seqgan)} (above): its end of MLE"] + at_t1(seqgan_report, seqgan, "mle")
        + ["—", seconds(wall_seconds(inputs, seqgan, "mle"))],
    ]
    header = [f"run ({len(scratch['runs'])} seeds)", "NLL-oracle at T = 1", "NLL-test at T = 1", "D accuracy at the end",
              "wall time per run (to the end of the row's phase)"]
    return table(header, rows)


@generated("scratchgan-oracle-changes", ["scratchgan-oracle"])
def scratchgan_oracle_changes(inputs):
    report = inputs.report("scratchgan-oracle")
    scratch, after = SCRATCHGAN_GROUPS
    rows = []
    # A run from scratch has no MLE epochs: its `mle` model is the untrained
    # generator, so its change is from there, and its own "MLE curve" is the
    # untrained generator's (not a curve to hold it against).
    for label, start in [(scratch, "untrained (0 MLE epochs)"), (after, "end of MLE")]:
        for metric, name in [("nll_oracle", "NLL-oracle"), ("nll_test", "NLL-test")]:
            c = eval_change(report, label, metric)
            rows.append([label, f"{name}, final − {start}", difference(c), p_value(c["p_value"]) if c else "–"])
    for t in SEQGAN_TEMPERATURES:
        rows.append([after, f"NLL-oracle at equal NLL-test, sampled at T = {t:g}"] + matched_cells(report, after, t))
    n = len(group(report, after)["runs"])
    return table([f"run ({n} seeds)", "within each run (paired t over seeds)", "value [95% interval]", "p"], rows)


@generated("scratchgan-coco-evaluations", ["scratchgan-coco"])
def scratchgan_coco_evaluations(inputs):
    report = inputs.report("scratchgan-coco")
    groups = report["groups"]
    rows = [[metric_name(metric)] + [estimate(evaluated(report, g["label"], "final", metric), len(g["runs"]))
                                     for g in groups]
            for metric in ["bleu2", "bleu3", "self_bleu2", "lm_nll", "reverse_lm_nll", "nll_test"]]
    rows.append(["wall time per run"] + [seconds(wall_seconds(inputs, g)) for g in groups])
    return table(["metric (T = 1)"] + [g["label"] for g in groups], rows)


@generated("scratchgan-coco-matched", ["scratchgan-coco"])
def scratchgan_coco_matched(inputs):
    report = inputs.report("scratchgan-coco")
    first, last = report["groups"][0], report["groups"][-1]
    rows = [[f"T = {t:g}"] + matched_cells(report, last["label"], t, pooled=True) for t in TEXT_TEMPERATURES]
    header = [f"{last['label']} sampled at", f"BLEU-2 − the {first['label']} curve at equal Self-BLEU-2", "p"]
    return table(header, rows)


def change_cell(c):
    return f"{difference(c)}, p = {p_value(c['p_value'])}" if c else "–"


def relgan_oracle_runs(name):
    """RelGAN on the oracle (the shortened schedule's report, or the
    configs' own): end of MLE, final, and the change within each run."""
    def render(inputs):
        report = inputs.report(name)
        g = only_group(report)
        n = len(g["runs"])
        metrics = ("nll_oracle", "nll_test")
        rows = [
            ["RelGAN's generator at the end of its MLE epochs"]
            + [estimate(evaluated(report, g["label"], "mle", m), n) for m in metrics] + ["—"],
            ["the same after the RelGAN iterations"]
            + [estimate(evaluated(report, g["label"], "final", m), n) for m in metrics]
            + [f"{estimate(phase_end(g, 'adversarial', 'd_accuracy'), n)} (RSGAN: pairs ordered right)"],
            ["change within each run (paired t over the seeds)"]
            + [change_cell(eval_change(report, g["label"], m)) for m in metrics] + ["—"],
        ]
        header = [f"row ({seeds_label(g)}; NLLs from `agon eval`)", "NLL-oracle at T = 1", "NLL-test at T = 1",
                  "D accuracy at the end"]
        return table(header, rows)
    return render


def own_curve_matched(name, temperatures, quality):
    """A one-group report's final generator against each run's own MLE
    curve, at each temperature."""
    def render(inputs):
        report = inputs.report(name)
        g = only_group(report)
        rows = [[f"T = {t:g}"] + matched_cells(report, g["label"], t) for t in temperatures]
        return table(["final generator sampled at", f"{quality} − its run's MLE curve at equal diversity", "p"],
                     rows)
    return render


RELGAN_COCO_METRICS = ["bleu2", "bleu3", "bleu4", "bleu5", "self_bleu2", "self_bleu3", "self_bleu4", "self_bleu5",
                       "lm_nll", "reverse_lm_nll", "nll_test"]
RELGAN_COCO_TEMPERATURES = [0.7, 0.85, 1.15, 1.3]


def relgan_coco_evaluations(name):
    """RelGAN on COCO: every text metric at the end of MLE and at the end."""
    def render(inputs):
        report = inputs.report(name)
        g = only_group(report)
        n = len(g["runs"])
        rows = [[metric_name(m)] + [estimate(evaluated(report, g["label"], model, m), n) for model in ("mle", "final")]
                + [change_cell(eval_change(report, g["label"], m))] for m in RELGAN_COCO_METRICS]
        rows.append(["D accuracy at the end", "—",
                     f"{estimate(phase_end(g, 'adversarial', 'd_accuracy'), n)} (RSGAN: pairs ordered right)", "—"])
        header = ["metric (T = 1)", "RelGAN's generator, end of its MLE epochs", "after the RelGAN iterations",
                  "change within each run (paired t)"]
        return table(header, rows)
    return render


# The shortened CPU schedules (relgan-oracle, relgan-coco) and the
# configs' own (relgan-oracle-full, relgan-coco-full).
for _name in ("relgan-oracle", "relgan-oracle-full"):
    generated(f"{_name}-runs", [_name])(relgan_oracle_runs(_name))
    generated(f"{_name}-matched", [_name])(
        own_curve_matched(_name, SEQGAN_TEMPERATURES, "NLL-oracle (diversity: NLL-test)"))
for _name in ("relgan-coco", "relgan-coco-full"):
    generated(f"{_name}-evaluations", [_name])(relgan_coco_evaluations(_name))
    generated(f"{_name}-matched", [_name])(
        own_curve_matched(_name, RELGAN_COCO_TEMPERATURES, "BLEU-2 (diversity: Self-BLEU-2)"))


# The seed's real-text tasks: `agon compare` of the compute-matched MLE-only
# sweep (the first group) and the SeqGAN sweep, the report named after the
# section. Each: the metrics of its evaluation table (T = 1), and the BLEU
# order of its temperature sweep (`agon eval`'s sweep_order: the task's
# first headline order).
TEXT_SECTIONS = {
    "coco": (["bleu2", "bleu3", "self_bleu2", "lm_nll", "reverse_lm_nll", "nll_test"], 2),
    "poetry": (["bleu2", "bleu3", "self_bleu2", "lm_nll", "reverse_lm_nll", "nll_test"], 2),
    "obama": (["bleu2", "bleu3", "bleu4", "self_bleu3", "self_bleu4", "lm_nll", "reverse_lm_nll", "nll_test"], 3),
}
TEXT_TEMPERATURES = [0.7, 1.0, 1.3]


def metric_name(metric):
    for prefix, name in [("self_bleu", "Self-BLEU-"), ("bleu", "BLEU-")]:
        if metric.startswith(prefix):
            return name + metric[len(prefix):]
    return {"lm_nll": "LM score (`lm_nll`)", "reverse_lm_nll": "reverse LM score (`reverse_lm_nll`)",
            "nll_test": "NLL-test"}.get(metric, metric)


def text_groups(inputs, section):
    report = inputs.report(section)
    if len(report["groups"]) != 2:
        raise Missing(f"reports/{section}: {len(report['groups'])} groups, 2 expected (MLE only, SeqGAN)")
    return report, report["groups"][0], report["groups"][1]


def text_evaluations(section):
    def render(inputs):
        report, mle, seqgan = text_groups(inputs, section)
        rows = []
        for metric in TEXT_SECTIONS[section][0]:
            rows.append([metric_name(metric)] + [
                estimate(evaluated(report, g["label"], model, metric), len(g["runs"]))
                for g, model in [(mle, "final"), (seqgan, "mle"), (seqgan, "final")]])
        header = ["metric", f"{mle['label']}", f"{seqgan['label']} run, end of MLE", f"{seqgan['label']} run, final"]
        return table(header, rows)
    return render


def text_differences(section):
    def render(inputs):
        report, mle, seqgan = text_groups(inputs, section)
        against = {(d["group"], d["against"], d["metric"]): d for d in report["evaluations"]["against_baseline"]}
        rows = []
        for metric in TEXT_SECTIONS[section][0]:
            versus = against.get((seqgan["label"], f"{mle['label']}/final", metric))
            change = eval_change(report, seqgan["label"], metric)
            rows.append([metric_name(metric)] + sum(
                ([difference(d), p_value(d["p_value"]) if d else "–"] for d in (versus, change)), []))
        header = ["metric", f"{seqgan['label']} final − {mle['label']} final", "p",
                  f"{seqgan['label']} final − its end of MLE", "p"]
        return table(header, rows)
    return render


def text_temperatures(section):
    def render(inputs):
        report, mle, seqgan = text_groups(inputs, section)
        order = TEXT_SECTIONS[section][1]
        # `agon eval` keeps the temperature sweep of a text task apart from
        # its T = 1 metrics: compare's quality–diversity points hold it, at
        # one BLEU order (eval's `sweep_order`).
        if report.get("quality_diversity_metrics") != [f"bleu{order}", f"self_bleu{order}"]:
            raise Missing(f"reports/{section}: its quality–diversity points are "
                          f"{report.get('quality_diversity_metrics')}, not BLEU-{order} / Self-BLEU-{order}")
        points = {(p["group"], p["model"], round(p["temperature"], 4)): p for p in report["quality_diversity"]}
        rows = []
        for g, model, name in [(mle, "final", mle["label"]), (seqgan, "final", f"{seqgan['label']} final"),
                               (seqgan, "mle", f"{seqgan['label']} run, end of MLE")]:
            for t in TEXT_TEMPERATURES:
                point = points.get((g["label"], model, round(t, 4)))
                if point is None:
                    raise Missing(f"reports/{section}: no quality–diversity point of {g['label']}/{model} at T = {t:g}")
                rows.append([name, f"{t:g}"] + [estimate(point.get(k), len(g["runs"]))
                                                  for k in ("quality", "diversity", "lm_nll", "reverse_lm_nll")])
        header = ["model", "T", f"BLEU-{order}", f"Self-BLEU-{order}", "LM score", "reverse LM score"]
        return table(header, rows)
    return render


def text_end_of_run(section):
    def render(inputs):
        report, mle, seqgan = text_groups(inputs, section)
        n = len(seqgan["runs"])
        rows = [[name, estimate(phase_end(seqgan, phase, metric), n)] for phase, metric, name in [
            ("discriminator-pretraining", "d_accuracy", "D accuracy after pretraining"),
            ("adversarial", "d_accuracy", "D accuracy at the end"),
            ("adversarial", "mean_reward", "mean reward, last g-step")]]
        for d in report.get("per_sample", []):
            t = d["test"]
            rows.append([f"{d['group']} − {d['baseline']}, {metric_name(d['metric'])} per sample "
                         f"({t['pairs']:,} pairs over seeds {', '.join(str(x) for x in d['seeds'])})",
                         f"{bootstrap_difference(t)}, "
                         f"p {bootstrap_p(t) if bootstrap_p(t).startswith('<') else '= ' + bootstrap_p(t)}"])
        return table([f"{seqgan['label']} ({seeds_label(seqgan)})", "value"], rows)
    return render


def text_matched(section):
    def render(inputs):
        report, mle, seqgan = text_groups(inputs, section)
        order = TEXT_SECTIONS[section][1]
        rows = [[f"T = {t:g}"] + matched_cells(report, seqgan["label"], t)
                + matched_cells(report, seqgan["label"], t, pooled=True) for t in TEXT_TEMPERATURES]
        header = [f"{seqgan['label']} final sampled at", "− its run's end-of-MLE curve", "p",
                  f"− {mle['label']}'s curve (pooled)", "p"]
        return [f"BLEU-{order} at equal Self-BLEU-{order}:", ""] + table(header, rows)
    return render


def text_wall_times(section):
    def render(inputs):
        report = inputs.report(section)
        if len(report["groups"]) != 2:
            raise Missing(f"reports/{section}: {len(report['groups'])} groups, 2 expected")
        mle, seqgan = report["groups"]
        rows = [[g["label"], seeds_label(g), seconds(wall_seconds(inputs, g)),
                 seconds(wall_seconds(inputs, g, "mle"))] for g in (mle, seqgan)]
        return table(["run", "seeds", "whole run", "its MLE phase"], rows)
    return render


for _section in TEXT_SECTIONS:
    generated(f"{_section}-evaluations", [_section])(text_evaluations(_section))
    generated(f"{_section}-differences", [_section])(text_differences(_section))
    generated(f"{_section}-temperatures", [_section])(text_temperatures(_section))
    generated(f"{_section}-wall-times", [_section])(text_wall_times(_section))
    generated(f"{_section}-end-of-run", [_section])(text_end_of_run(_section))
    generated(f"{_section}-matched", [_section])(text_matched(_section))


# The conditional tasks: `agon compare` of the adversarial sweep alone
# (reports/SECTION-adversarial) and of the compute-matched MLE-only sweep
# beside it (reports/SECTION, the MLE-only group first). Each: its metrics,
# and the one `agon eval` tests per sample.
CONDITIONAL_SECTIONS = {
    "multi30k": (["bleu"], "bleu"),
    "dailydialog": (["bleu", "distinct1", "distinct2"], "bleu"),
    "dialogsum": (["rouge1", "rouge2", "rouge_l"], "rouge_l"),
}
CONDITIONAL_NAMES = {"bleu": "BLEU", "distinct1": "distinct-1", "distinct2": "distinct-2", "rouge1": "ROUGE-1",
                     "rouge2": "ROUGE-2", "rouge_l": "ROUGE-L", "nll_test": "NLL-test"}


def eval_models(inputs, run):
    """The newest eval.json's `mle` and `final` metrics of one run."""
    with open(newest_eval(inputs.run_dir(run)), encoding="utf-8") as f:
        report = json.load(f)
    models = {m["label"].rsplit("/", 1)[-1]: m["metrics"] for m in report.get("models", [])}
    if "mle" not in models or "final" not in models:
        raise Missing(f"{run}: its evaluation has no `mle` and `final` models")
    return report, models


def conditional_per_seed(section):
    def render(inputs):
        metrics, tested = CONDITIONAL_SECTIONS[section]
        g = only_group(inputs.report(f"{section}-adversarial"))
        rows = []
        for run, seed in zip(g["runs"], g["seeds"]):
            report, models = eval_models(inputs, run)
            test = next((c["test"] for c in report.get("comparisons", []) if c["metric"] == tested), None)
            if test is None:
                raise Missing(f"{run}: its evaluation has no {tested} comparison")
            rows.append([str(seed)]
                        + [f"{num(models['mle'][m])} → {num(models['final'][m])}" for m in metrics]
                        + [bootstrap_difference(test),
                           bootstrap_p(test),
                           f"{num(models['mle']['nll_test'])} → {num(models['final']['nll_test'])}"])
        header = (["seed"] + [f"{CONDITIONAL_NAMES[m]}, end of MLE → final" for m in metrics]
                  + [f"{CONDITIONAL_NAMES[tested]} final − MLE (paired bootstrap)", "p", "NLL-test, end of MLE → final"])
        return table(header, rows)
    return render


def conditional_over_seeds(section):
    def render(inputs):
        metrics, _ = CONDITIONAL_SECTIONS[section]
        report = inputs.report(f"{section}-adversarial")
        g = only_group(report)
        n = len(g["runs"])
        rows = [[CONDITIONAL_NAMES[m]] + [estimate(evaluated(report, g["label"], model, m), n)
                                          for model in ("mle", "final")]
                + [change_cell(eval_change(report, g["label"], m))] for m in metrics + ["nll_test"]]
        for phase, metric, name in [("discriminator-pretraining", "d_accuracy", "D accuracy after pretraining"),
                                    ("adversarial", "d_accuracy", "D accuracy at the end"),
                                    ("adversarial", "mean_reward", "mean reward, last g-step")]:
            rows.append([name, "", estimate(phase_end(g, phase, metric), n), ""])
        header = [f"metric ({seeds_label(g)})", "end of MLE", "final", "final − end of MLE (paired t)"]
        return table(header, rows)
    return render


def conditional_against_mle(section):
    def render(inputs):
        metrics, _ = CONDITIONAL_SECTIONS[section]
        metrics = metrics + ["nll_test"]
        report = inputs.report(section)
        if len(report["groups"]) != 2:
            raise Missing(f"reports/{section}: {len(report['groups'])} groups, 2 expected (MLE only, adversarial)")
        mle, adversarial = report["groups"]
        n = len(mle["runs"])
        last_mle_epoch = max((p["epoch"] for p, _ in adversarial["curve"] if p["phase"] == "mle"), default=0)
        final_epoch = max((p["epoch"] for p, _ in mle["curve"] if p["phase"] == "mle"), default=0)
        rows = []
        # The MLE-only runs' learning curve past the adversarial runs' MLE
        # phase: where the compute-matched point lies.
        for point, values in mle["curve"]:
            if point["phase"] == "mle" and last_mle_epoch < point["epoch"] < final_epoch:
                rows.append([f"{mle['label']}, epoch {point['epoch']} (learning curve)"]
                            + [estimate(values.get(m), n) for m in metrics])
        rows.append([f"{mle['label']}, final (`agon eval`)"]
                    + [estimate(evaluated(report, mle["label"], "final", m), n) for m in metrics])
        for model, name in [("mle", "end of MLE"), ("final", "final")]:
            rows.append([f"{adversarial['label']}, {name}"]
                        + [estimate(evaluated(report, adversarial["label"], model, m), len(adversarial["runs"]))
                           for m in metrics])
        against = {(d["group"], d["against"], d["metric"]): d for d in report["evaluations"]["against_baseline"]}
        rows.append([f"{adversarial['label']} final − {mle['label']} final (paired t)"]
                    + [change_cell(against.get((adversarial["label"], f"{mle['label']}/final", m))) for m in metrics])
        return table([""] + [CONDITIONAL_NAMES[m] for m in metrics], rows)
    return render


for _section in CONDITIONAL_SECTIONS:
    generated(f"{_section}-per-seed", [f"{_section}-adversarial"])(conditional_per_seed(_section))
    generated(f"{_section}-over-seeds", [f"{_section}-adversarial"])(conditional_over_seeds(_section))
    generated(f"{_section}-against-mle", [_section])(conditional_against_mle(_section))
    generated(f"{_section}-wall-times", [_section])(text_wall_times(_section))


# Figures: docs/images/NAME ← a plot `agon compare` drew in a report
# (copied when the report is there, like the tables).
FIGURES = {
    "seqgan-oracle-cpu-confirm.png": ("seqgan-oracle-confirm", "learning_curves.png"),
    "seqgan-oracle-quality-coverage.png": ("seqgan-oracle-seeds", "quality_diversity.png"),
    "scratchgan-oracle-quality-coverage.png": ("scratchgan-oracle", "quality_diversity.png"),
    "coco-seeds-quality-diversity.png": ("coco", "quality_diversity.png"),
    "scratchgan-coco-quality-diversity.png": ("scratchgan-coco", "quality_diversity.png"),
    "relgan-oracle-quality-coverage.png": ("relgan-oracle", "quality_diversity.png"),
    "relgan-coco-quality-diversity.png": ("relgan-coco", "quality_diversity.png"),
    "relgan-oracle-full-quality-coverage.png": ("relgan-oracle-full", "quality_diversity.png"),
    "relgan-coco-full-quality-diversity.png": ("relgan-coco-full", "quality_diversity.png"),
    "poetry-seeds-quality-diversity.png": ("poetry", "quality_diversity.png"),
    "obama-seeds-quality-diversity.png": ("obama", "quality_diversity.png"),
}


def copy_figures(results_dir, text, rendered, images, check):
    """Copies each figure the document (`text`) shows whose report a
    generated table of the document was written from (`rendered`), so that
    a figure never comes from other runs than the text around it; returns
    the names that differ from (or are missing in) `images`."""
    differ = []
    for name, (report, plot) in FIGURES.items():
        source = Path(results_dir) / "reports" / report / plot
        if f"(images/{name})" not in text or report not in rendered or not source.is_file():
            continue
        target = images / name
        data = source.read_bytes()
        if target.is_file() and target.read_bytes() == data:
            continue
        differ.append(name)
        if not check:
            images.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
    return differ


# ---------------------------------------------------------------- the document


def blocks(lines, doc):
    """(name, first line, end line) of each generated block."""
    found, open_block = [], None
    for i, line in enumerate(lines):
        m = BEGIN.match(line.rstrip("\r\n"))
        if m:
            if open_block:
                raise SystemExit(f"{doc}:{i + 1}: table {m.group(1)!r} starts inside table {open_block[0]!r}")
            open_block = (m.group(1), i)
        elif line.rstrip("\r\n") == END:
            if not open_block:
                raise SystemExit(f"{doc}:{i + 1}: `{END}` without a `<!-- table: NAME -->` before it")
            found.append((open_block[0], open_block[1], i))
            open_block = None
    if open_block:
        raise SystemExit(f"{doc}:{open_block[1] + 1}: table {open_block[0]!r} has no `{END}` after it")
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results-dir", default=os.environ.get("RESULTS_DIR", "sweeps"),
                        help="where scripts/regenerate-results.sh wrote the runs (default $RESULTS_DIR or sweeps/)")
    parser.add_argument("--doc", default="docs/results.md", help="the document to rewrite (default docs/results.md)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a table the reports can render differs from the document")
    parser.add_argument("--list", action="store_true", help="name the tables and figures and the reports each reads")
    args = parser.parse_args()

    if args.list:
        for name, (reports, _) in TABLES.items():
            print(f"{name}: {', '.join('reports/' + r for r in reports)}")
        for name, (report, plot) in FIGURES.items():
            print(f"images/{name}: reports/{report}/{plot}")
        return 0
    doc = Path(args.doc)
    try:
        with open(doc, encoding="utf-8", newline="") as f:
            lines = f.read().splitlines(keepends=True)
    except OSError as e:
        raise SystemExit(f"cannot read {doc}: {e.strerror}")
    if not Path(args.results_dir).is_dir():
        raise SystemExit(f"{args.results_dir}: no such results directory (set --results-dir or RESULTS_DIR)")

    # Generated lines end as the document's lines do.
    eol = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    out, last, changed, kept, rendered = [], 0, [], [], set()
    for name, begin, end in blocks(lines, doc):
        if name not in TABLES:
            raise SystemExit(f"{doc}:{begin + 1}: no table {name!r} in scripts/results-tables.py "
                             f"(the tables: {', '.join(TABLES)})")
        inputs = Inputs(args.results_dir)
        try:
            body = TABLES[name][1](inputs) + ["", provenance(inputs)]
        except Missing as e:
            kept.append(f"{name}: {e}")
            continue
        rendered.update(inputs.used)
        new = [line + eol for line in body]
        old = lines[begin + 1:end]
        if new != old:
            changed.append((name, old, new))
        out += lines[last:begin + 1] + new
        last = end
    out += lines[last:]

    for message in kept:
        print(f"kept as it is: {message}", file=sys.stderr)
    figures = copy_figures(args.results_dir, "".join(out), rendered, doc.parent / "images", args.check)
    if args.check:
        for name, old, new in changed:
            sys.stdout.writelines(difflib.unified_diff(old, new, f"{doc} ({name})", f"{args.results_dir} ({name})"))
        for name in figures:
            print(f"{doc.parent / 'images' / name} is not its report's plot")
        return 1 if changed or figures else 0
    for name in figures:
        print(f"copied {name}")
    if changed:
        tmp = doc.with_name(doc.name + ".tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write("".join(out))
        os.replace(tmp, doc)
    for name, _, _ in changed:
        print(f"rewrote {name}")
    if not changed and not figures:
        print(f"{doc}: every table and figure the reports can render is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
