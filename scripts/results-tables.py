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
stderr), so sections can be re-run one at a time. Python 3.8+, standard
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
        """A run directory named in a report: as written, or the same
        `SWEEP/runs/CELL` under this results directory (reports name runs by
        the path `agon compare` was given)."""
        p = Path(path)
        if p.is_dir():
            return p
        moved = self.dir.joinpath(*p.parts[-3:])
        if moved.is_dir():
            return moved
        raise Missing(f"run directory {path} not found")


# ---------------------------------------------------------------- reading


def group(report, label):
    for g in report["groups"]:
        if g["label"] == label:
            return g
    raise KeyError(f"no group {label!r} (groups: {[g['label'] for g in report['groups']]})")


def only_group(report):
    if len(report["groups"]) != 1:
        raise KeyError(f"{len(report['groups'])} groups where one was expected")
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


def matched(report, group_label, temperature):
    if not report["matched_quality"]:
        raise Missing("the report has no matched-quality rows (evaluate the runs with `agon eval --temperatures`)")
    for m in report["matched_quality"]:
        if (m["group"] == group_label and m["model"] == "final" and m["baseline"] == "mle"
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


def matched_cells(report, group_label, temperature):
    """A model − its run's MLE curve at equal NLL-test, and p: two cells."""
    m = matched(report, group_label, temperature)
    if m is None or m["difference"] is None:
        return [f"outside the MLE curve ({m['outside'] if m else '?'} of {len(group(report, group_label)['runs'])} runs)",
                "–"]
    note = f" ({m['outside']} run(s) outside)" if m["outside"] else ""
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


def eval_comparison(inputs, run, metric):
    path = inputs.run_dir(run) / "eval" / "eval.json"
    if not path.is_file():
        raise Missing(f"{path} not found (run the section's `agon eval`)")
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    for c in report.get("comparisons", []):
        if c["metric"] == metric:
            return report, c["test"]
    return report, None


# ---------------------------------------------------------------- formatting


def num(x):
    return f"{x:.4f}"


def estimate(e):
    if e is None:
        return "–"
    if e.get("low") is None or e.get("high") is None:
        return f"{num(e['mean'])} (n={e['n']})"
    return f"{num(e['mean'])} [{num(e['low'])}, {num(e['high'])}]"


def difference(d):
    if d is None:
        return "–"
    return f"{d['difference']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"


def p_value(p):
    return "< 1e-4" if p < 1e-4 else f"{p:.4f}"


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


SEQGAN_SETS = [("seeds 1–3", "seqgan-oracle-seeds"), ("seeds 4–6 (confirmation)", "seqgan-oracle-confirm")]


@generated("seqgan-table1", ["seqgan-oracle-seeds", "seqgan-oracle-confirm", "table1-rows"])
def seqgan_table1(inputs):
    sets = [only_group(inputs.report(r)) for _, r in SEQGAN_SETS]
    try:
        rows_report = inputs.report("table1-rows")
        ss = group(rows_report, "scheduled sampling")
        pg = group(rows_report, "PG-BLEU")
    except Missing:
        # The section runs before table1-rows: its rows wait for that report.
        rows_report = None
    both = {"runs": sets[0]["runs"] + sets[1]["runs"]}

    def with_test(g, phase):
        return f"{estimate(phase_end(g, phase, 'nll_oracle'))} (NLL-test {estimate(phase_end(g, phase, 'nll_test'))})"

    rows = [
        ["Random (untrained generator, N(0, 0.1²) weights)", "10.310"]
        + [estimate(curve_point(g, "mle", 0, "nll_oracle")) for g in sets]
        + ["—", "—"],
        ["MLE", "9.038 (120 epochs)"]
        + [estimate(phase_end(g, "mle", "nll_oracle")) for g in sets]
        + ["40 epochs", seconds(wall_seconds(inputs, both, "mle"))],
        ["Scheduled sampling", "8.985",
         with_test(ss, "mle") if rows_report else "`reports/table1-rows` not there yet", "not run",
         "40 epochs, the probability of feeding back the model's own token rising 0 → 0.25",
         seconds(wall_seconds(inputs, ss)) if rows_report else "–"],
        ["PG-BLEU", "8.946",
         with_test(pg, "adversarial") if rows_report else "`reports/table1-rows` not there yet", "not run",
         "the MLE epochs, then 80 adversarial epochs of BLEU-4 rewards",
         seconds(wall_seconds(inputs, pg)) if rows_report else "–"],
        ["SeqGAN", "8.736"]
        + [f"**{estimate(phase_end(g, 'adversarial', 'nll_oracle'))}**" for g in sets]
        + ["the MLE epochs, 50 × 3 rounds of D pretraining, 80 adversarial epochs",
           seconds(wall_seconds(inputs, both))],
    ]
    header = ["row", "paper", "seeds 1–3", "seeds 4–6 (confirmation)", "CPU schedule", "wall time per run (to the end of the row's phase)"]
    return table(header, rows)


@generated("seqgan-adversarial-change", ["seqgan-oracle-seeds", "seqgan-oracle-confirm"])
def seqgan_adversarial_change(inputs):
    sets = [only_group(inputs.report(r)) for _, r in SEQGAN_SETS]
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
        rows.append([name] + sum(([estimate(phase_end(g, phase, metric)), ""] for g in sets), []))
    header = ["metric", "seeds 1–3", "p", "seeds 4–6 (confirmation)", "p"]
    return table(header, rows)


@generated("seqgan-eval-per-seed", ["seqgan-oracle-seeds", "seqgan-oracle-confirm"])
def seqgan_eval_per_seed(inputs):
    rows = []
    for _, name in SEQGAN_SETS:
        g = only_group(inputs.report(name))
        for run, seed in zip(g["runs"], g["seeds"]):
            report, test = eval_comparison(inputs, run, "nll_oracle")
            if test is None:
                raise Missing(f"{run}: eval.json has no nll_oracle comparison")
            rows.append([
                str(seed),
                f"{test['mean_difference']:+.4f} [{test['ci_low']:+.4f}, {test['ci_high']:+.4f}]",
                p_value(test["p_value"]),
                f"{test['method']}, {test['pairs']:,} pairs, {test['resamples']:,} resamples",
            ])
    return table(["seed", "final − end of MLE, NLL-oracle", "p", "test"], rows)


SEQGAN_TEMPERATURES = [0.7, 0.8, 0.9, 1.0, 1.1, 1.2]


def metric_at(metric, t):
    return metric if abs(t - 1.0) < 1e-9 else f"{metric}_t{t:g}"


@generated("seqgan-temperatures", ["seqgan-oracle-seeds", "seqgan-oracle-confirm"])
def seqgan_temperatures(inputs):
    rows = []
    for t in SEQGAN_TEMPERATURES:
        for model, name in [("mle", "end of MLE"), ("final", "SeqGAN")]:
            row = [f"{t:g}", name]
            for _, r in SEQGAN_SETS:
                report = inputs.report(r)
                label = only_group(report)["label"]
                row += [estimate(evaluated(report, label, model, metric_at(m, t))) for m in ("nll_oracle", "nll_test")]
            rows.append(row)
    header = ["T", "generator", "NLL-oracle, seeds 1–3", "NLL-test, seeds 1–3",
              "NLL-oracle, seeds 4–6", "NLL-test, seeds 4–6"]
    return table(header, rows)


@generated("seqgan-matched-quality", ["seqgan-oracle-seeds", "seqgan-oracle-confirm"])
def seqgan_matched_quality(inputs):
    rows = []
    for t in SEQGAN_TEMPERATURES:
        row = [f"T = {t:g}"]
        for _, r in SEQGAN_SETS:
            report = inputs.report(r)
            row += matched_cells(report, only_group(report)["label"], t)
        rows.append(row)
    header = ["SeqGAN sampled at", "seeds 1–3", "p", "seeds 4–6 (confirmation)", "p"]
    return table(header, rows)


@generated("table1-rows-against-seqgan", ["table1-rows"])
def table1_rows_against_seqgan(inputs):
    report = inputs.report("table1-rows")
    rows = []
    for d in report["differences"]:
        if d["metric"] in ("nll_oracle", "nll_test"):
            diff = d["difference"]
            rows.append([f"{d['group']} − {d['baseline']}", d["metric"], difference(diff), p_value(diff["p_value"]),
                         f"{diff['test']} (df {diff['df']:.1f})"])
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
    points = []
    for g in groups:
        for point, _ in g["curve"]:
            key = (point["global_epoch"], point["phase"], point["epoch"])
            if key not in points:
                points.append(key)
    points.sort()
    rows = []
    for global_epoch, phase, epoch in points:
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
        return [estimate(evaluated(rep, g["label"], model, m)) for m in ("nll_oracle", "nll_test")]

    def d_accuracy(g):
        return estimate(phase_end(g, "adversarial", "d_accuracy"))

    rows = [
        ["ScratchGAN from scratch, 1,000 steps"] + at_t1(report, scratch, "final")
        + [d_accuracy(scratch), seconds(wall_seconds(inputs, scratch))],
        ["ScratchGAN after MLE: its end of MLE"] + at_t1(report, after, "mle")
        + ["—", seconds(wall_seconds(inputs, after, "mle"))],
        ["ScratchGAN after MLE: after 400 dense steps"] + at_t1(report, after, "final")
        + [d_accuracy(after), seconds(wall_seconds(inputs, after))],
        ["SeqGAN CPU, seeds 1–3 (above): its end of MLE"] + at_t1(seqgan_report, seqgan, "mle")
        + ["—", seconds(wall_seconds(inputs, seqgan, "mle"))],
    ]
    header = ["run (3 seeds)", "NLL-oracle at T = 1", "NLL-test at T = 1", "D accuracy at the end",
              "wall time per run (to the end of the row's phase)"]
    return table(header, rows)


@generated("scratchgan-oracle-changes", ["scratchgan-oracle"])
def scratchgan_oracle_changes(inputs):
    report = inputs.report("scratchgan-oracle")
    rows = []
    for label in SCRATCHGAN_GROUPS:
        for metric, name in [("nll_oracle", "NLL-oracle"), ("nll_test", "NLL-test")]:
            c = eval_change(report, label, metric)
            rows.append([label, f"{name}, final − end of MLE", difference(c), p_value(c["p_value"]) if c else "–"])
        for t in SEQGAN_TEMPERATURES:
            rows.append([label, f"NLL-oracle at equal NLL-test, sampled at T = {t:g}"]
                        + matched_cells(report, label, t))
    return table(["run (3 seeds)", "within each run (paired t over seeds)", "value [95% interval]", "p"], rows)


# Figures: docs/images/NAME ← a plot `agon compare` drew in a report
# (copied when the report is there, like the tables).
FIGURES = {
    "seqgan-oracle-cpu-confirm.png": ("seqgan-oracle-confirm", "learning_curves.png"),
    "seqgan-oracle-quality-coverage.png": ("seqgan-oracle-seeds", "quality_diversity.png"),
    "scratchgan-oracle-quality-coverage.png": ("scratchgan-oracle", "quality_diversity.png"),
}


def copy_figures(results_dir, text, images, check):
    """Copies each figure the document (`text`) shows whose report is
    there; returns the names that differ from (or are missing in)
    `images`."""
    differ = []
    for name, (report, plot) in FIGURES.items():
        source = Path(results_dir) / "reports" / report / plot
        if f"(images/{name})" not in text or not source.is_file():
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
        m = BEGIN.match(line.rstrip("\n"))
        if m:
            if open_block:
                raise SystemExit(f"{doc}:{i + 1}: table {m.group(1)!r} starts inside table {open_block[0]!r}")
            open_block = (m.group(1), i)
        elif line.rstrip("\n") == END:
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
        lines = doc.read_text(encoding="utf-8").splitlines(keepends=True)
    except OSError as e:
        raise SystemExit(f"cannot read {doc}: {e.strerror}")
    if not Path(args.results_dir).is_dir():
        raise SystemExit(f"{args.results_dir}: no such results directory (set --results-dir or RESULTS_DIR)")

    out, last, changed, kept = [], 0, [], []
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
        new = [line + "\n" for line in body]
        old = lines[begin + 1:end]
        if new != old:
            changed.append((name, old, new))
        out += lines[last:begin + 1] + new
        last = end
    out += lines[last:]

    for message in kept:
        print(f"kept as it is: {message}", file=sys.stderr)
    figures = copy_figures(args.results_dir, "".join(out), doc.parent / "images", args.check)
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
        tmp.write_text("".join(out), encoding="utf-8")
        os.replace(tmp, doc)
    for name, _, _ in changed:
        print(f"rewrote {name}")
    if not changed and not figures:
        print(f"{doc}: every table and figure the reports can render is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
