#!/usr/bin/env python3
"""Tests of scripts/results-tables.py, on reports shaped as `agon compare`
writes compare.json (host/src/compare/analysis.rs; tests/experiment_loop.rs
checks that agon's own reports have the fields read here) and runs as
`agon train` and `agon eval` write them. Standard library only; `.ci/run`
runs it:

    python3 scripts/test_results_tables.py
"""

import json
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SCRIPT = Path(__file__).with_name("results-tables.py")
TEMPERATURES = [0.7, 0.8, 0.9, 1.0, 1.1, 1.2]


def estimate(mean, half=0.01, n=3):
    return {"mean": mean, "n": n, "low": mean - half, "high": mean + half}


def difference(value, p):
    return {"difference": value, "low": value - 0.05, "high": value + 0.05, "p_value": p, "df": 2.0,
            "test": "paired t"}


def at(metric, t):
    return metric if t == 1.0 else f"{metric}_t{t:g}"


def make_runs(results, sweep, seeds, label):
    """Run directories as `agon train` and `agon eval` leave them; returns
    their paths as a report names them (relative to where compare ran)."""
    runs = []
    for i, seed in enumerate(seeds):
        run = results / sweep / "runs" / f"00{i}_seed-{seed}"
        run.mkdir(parents=True)
        rows = [
            {"phase": "mle", "epoch": 40, "nll_oracle": 9.0, "elapsed_seconds": 100.0 + i},
            {"phase": "discriminator-pretraining", "epoch": 150, "d_loss": 0.1, "elapsed_seconds": 200.0 + i},
            {"phase": "adversarial", "epoch": 80, "nll_oracle": 8.7, "elapsed_seconds": 400.0 + 10 * i},
        ]
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        for name, shift in [("eval", 0.5), ("eval-2", 0.0)]:
            # eval-2 is the newer evaluation, the one `agon compare` reads.
            test = {"method": "paired bootstrap", "mean_difference": -0.3 - i / 100 + shift,
                    "ci_low": -0.32 - i / 100 + shift, "ci_high": -0.28 - i / 100 + shift,
                    "p_value": 0.0002 if seed != 3 else 0.0123, "resamples": 10000, "pairs": 9984}
            (run / name).mkdir()
            (run / name / "eval.json").write_text(json.dumps(
                {"comparisons": [{"metric": "nll_oracle", "baseline": "mle", "model": "final", "test": test}]}))
        runs.append(f"elsewhere/{sweep}/runs/00{i}_seed-{seed}")
    return runs


def seqgan_group(results, sweep, seeds, label, shift):
    return {
        "label": label, "runs": make_runs(results, sweep, seeds, label), "seeds": seeds,
        "curve": [
            [{"global_epoch": 0, "phase": "mle", "epoch": 0}, {"nll_oracle": estimate(11.4 + shift)}],
            [{"global_epoch": 40, "phase": "mle", "epoch": 40},
             {"nll_oracle": estimate(9.04 + shift), "nll_test": estimate(8.7)}],
            # D pretraining rounds: no NLL at these points.
            [{"global_epoch": 40, "phase": "discriminator-pretraining", "epoch": 10}, {"d_loss": estimate(0.1)}],
            [{"global_epoch": 60, "phase": "adversarial", "epoch": 20},
             {"nll_oracle": estimate(8.9 + shift), "nll_test": estimate(8.8)}],
        ],
        "phase_ends": [
            ["mle", {"nll_oracle": estimate(9.04 + shift), "nll_test": estimate(8.7)}],
            ["adversarial", {"nll_oracle": estimate(8.75 + shift), "nll_test": estimate(8.9),
                             "d_accuracy": estimate(0.998, n=2), "mean_reward": estimate(-0.0036)}],
        ],
        "adversarial_change": {"nll_oracle": difference(-0.2937 + shift, 0.0047),
                               "nll_test": difference(0.163, 0.0141)},
    }


def seqgan_report(group, shift):
    label = group["label"]
    models = []
    for model, base in [("mle", 9.0 + shift), ("final", 8.7 + shift)]:
        metrics = {}
        for t in TEMPERATURES:
            # Each temperature its own value, so a wrong key shows.
            metrics[at("nll_oracle", t)] = estimate(base + t)
            metrics[at("nll_test", t)] = estimate(base - t)
        models.append({"group": label, "model": model, "metrics": metrics})
    matched = [
        # A row against another group's curve comes first; it is not this
        # run's own MLE curve and must not be read as it.
        {"group": label, "model": "final", "baseline": "other / mle (pooled over its seeds)",
         "temperature": 1.0, "difference": difference(9.9, 0.5), "runs": 3, "outside": 0}]
    for t in TEMPERATURES:
        row = {"group": label, "model": "final", "baseline": "mle", "temperature": t,
               "difference": difference(-0.2 - t / 10, 0.03), "runs": 3, "outside": 0}
        if t == 0.7:
            row.update(difference=None, runs=0, outside=3)
        if t == 0.8:
            row.update(difference=None, runs=1, outside=2)
        if t == 0.9:
            row.update(runs=2, outside=1)
        matched.append(row)
    return {
        "headline": "nll_oracle", "higher_is_better": False, "task": "synthetic-oracle",
        "commits": ["abcdef0123456789"], "machines": ["Test CPU (avx2+fma)"], "groups": [group],
        "differences": [], "per_sample": [], "per_sample_notes": [], "quality_diversity": [],
        "quality_diversity_metrics": None, "matched_quality": matched,
        "evaluations": {"models": models, "changes": [], "against_baseline": []},
    }


def table1_rows_report(results):
    seqgan = seqgan_group(results, "seqgan-again", [1, 2, 3], "SeqGAN", 0.0)
    groups = [seqgan]
    for label, sweep, end in [("scheduled sampling", "ss", 9.2774), ("PG-BLEU", "pg", 1.1308)]:
        g = seqgan_group(results, sweep, [1, 2, 3], label, 0.0)
        phase = "mle" if label != "PG-BLEU" else "adversarial"
        g["phase_ends"] = [[phase, {"nll_oracle": estimate(end), "nll_test": estimate(7.7861)}]]
        if label == "scheduled sampling":
            g["curve"] = [c for c in g["curve"] if c[0]["phase"] == "mle"]
            g["adversarial_change"] = {}
        groups.append(g)
    return {
        "commits": ["0123456789"], "machines": ["Test CPU (avx2+fma)"], "groups": groups,
        "differences": [{"group": "scheduled sampling", "baseline": "SeqGAN", "metric": "nll_oracle",
                         **difference(0.57, 0.001)},
                        {"group": "scheduled sampling", "baseline": "SeqGAN", "metric": "g_loss",
                         **difference(1.0, 0.5)}],
        "matched_quality": [], "evaluations": {"models": [], "changes": [], "against_baseline": []},
    }


TABLES = ["seqgan-table1", "table1-other-rows", "seqgan-adversarial-change", "seqgan-eval-per-seed",
          "seqgan-temperatures", "seqgan-matched-quality", "table1-rows-curves", "table1-rows-against-seqgan"]
DOC = "# Results\n\nSome prose, kept.\n\n" + "\n\nMore prose.\n\n".join(
    f"<!-- table: {name} -->\n| an | old | table |\n<!-- /table -->" for name in TABLES
) + "\n\n![a figure the script copies](images/seqgan-oracle-cpu-confirm.png)\n\nThe end.\n"


def outside_blocks(text):
    return re.sub(r"(<!-- table: [a-z0-9-]+ -->\n).*?(<!-- /table -->)", r"\1\2", text, flags=re.S)


class ResultsTables(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        root = Path(self.tmp.name)
        self.results = root / "results"
        for name, sweep, seeds, shift in [("seqgan-oracle-seeds", "seqgan-oracle-cpu-seeds", [1, 2, 3], 0.0),
                                          ("seqgan-oracle-confirm", "seqgan-oracle-cpu-confirm", [4, 5, 6], 0.01)]:
            group = seqgan_group(self.results, sweep, seeds, sweep, shift)
            self.write_report(name, seqgan_report(group, shift))
        self.doc = root / "results.md"
        self.doc.write_text(DOC)

    def tearDown(self):
        self.tmp.cleanup()

    def write_report(self, name, report):
        (self.results / "reports" / name).mkdir(parents=True)
        (self.results / "reports" / name / "compare.json").write_text(json.dumps(report))

    def run_script(self, *args, doc=None, cwd=None):
        return subprocess.run(
            [sys.executable, str(SCRIPT), "--results-dir", str(self.results), "--doc", str(doc or self.doc), *args],
            capture_output=True, text=True, cwd=cwd)

    def block(self, text, name):
        return re.search(rf"<!-- table: {name} -->\n(.*?)<!-- /table -->", text, flags=re.S).group(1)

    def test_tables_are_written_from_the_reports_and_the_rest_is_kept(self):
        out = self.run_script()
        self.assertEqual(out.returncode, 0, out.stderr)
        text = self.doc.read_text()
        self.assertEqual(outside_blocks(text), outside_blocks(DOC), "the text outside the tables is kept")
        table1 = self.block(text, "seqgan-table1")
        self.assertIn("| row | paper | seeds 1–3 | seeds 4–6 (confirmation) |", table1)
        self.assertIn("| Random (untrained generator, N(0, 0.1²) weights) | 10.310 | 11.4000 [11.3900, 11.4100] | "
                      "11.4100 [11.4000, 11.4200] |", table1)
        # Wall times: the last row of the phase, over both seed sets' runs.
        self.assertIn("| MLE | 9.038 (120 epochs) | 9.0400 [9.0300, 9.0500] | 9.0500 [9.0400, 9.0600] | 40 epochs | "
                      "100–102 s |", table1)
        self.assertIn("| SeqGAN | 8.736 | **8.7500 [8.7400, 8.7600]** | **8.7600 [8.7500, 8.7700]** | ", table1)
        self.assertIn("| 400–420 s |", table1)
        change = self.block(text, "seqgan-adversarial-change")
        self.assertIn("| NLL-oracle | −0.2937 [−0.3437, −0.2437] | 0.0047 | −0.2837 [−0.3337, −0.2337] | 0.0047 |",
                      change)
        # An estimate over fewer runs than the group has says so.
        self.assertIn("| D accuracy, last d-step (not a change) | 0.9980 [0.9880, 1.0080] (n=2 of 3) |", change)
        self.assertIn("| mean reward, last g-step (not a change) | −0.0036 [−0.0136, 0.0064] |", change)
        # Each run's paired bootstrap from its newest evaluation (eval-2),
        # found under the results directory although the report names
        # another; the bootstrap's floor p printed as a bound.
        per_seed = self.block(text, "seqgan-eval-per-seed")
        self.assertIn("| 2 | −0.3100 [−0.3300, −0.2900] | < 2e-4 | paired bootstrap, 9,984 pairs", per_seed)
        self.assertIn("| 3 | −0.3200 [−0.3400, −0.3000] | 0.0123 |", per_seed)
        self.assertIn("| 6 |", per_seed)
        # Both generators at each temperature, each from its own key.
        temperatures = self.block(text, "seqgan-temperatures")
        self.assertIn("| 0.8 | end of MLE | 9.8000 [9.7900, 9.8100] | 8.2000 [8.1900, 8.2100] | 9.8100", temperatures)
        self.assertIn("| 1.2 | SeqGAN | 9.9000 [9.8900, 9.9100] | 7.5000 [7.4900, 7.5100] |", temperatures)
        # At equal NLL-test against the run's own MLE curve only.
        matched = self.block(text, "seqgan-matched-quality")
        self.assertIn("| T = 0.7 | outside the MLE curve (all 3 runs) | – |", matched)
        self.assertIn("| T = 0.8 | no interval (1 run(s) inside the MLE curve, 2 outside) | – |", matched)
        self.assertIn("| T = 0.9 | −0.2900 [−0.3400, −0.2400] (1 of 3 runs outside) | 0.0300 |", matched)
        self.assertIn("| T = 1 | −0.3000 [−0.3500, −0.2500] | 0.0300 |", matched)
        self.assertIn("runs of commit abcdef0 on Test CPU (avx2+fma)", text)
        # Tables whose report is missing are left as they are, and named.
        for name in ["table1-other-rows", "table1-rows-curves", "table1-rows-against-seqgan"]:
            self.assertEqual(self.block(text, name), "| an | old | table |\n")
            self.assertIn(f"{name}: ", out.stderr)
        self.assertIn("table1-rows/compare.json not found", out.stderr)
        # Run again: nothing changes, and --check agrees.
        again = self.run_script()
        self.assertIn("every table and figure the reports can render is current", again.stdout)
        self.assertEqual(self.doc.read_text(), text)
        self.assertEqual(self.run_script("--check").returncode, 0)

    def test_table1s_other_rows_come_from_their_report(self):
        self.write_report("table1-rows", table1_rows_report(self.results))
        out = self.run_script()
        self.assertEqual(out.returncode, 0, out.stderr)
        text = self.doc.read_text()
        other = self.block(text, "table1-other-rows")
        self.assertIn("| Scheduled sampling | 8.985 | 9.2774 [9.2674, 9.2874] (NLL-test 7.7861 [7.7761, 7.7961]) | "
                      "40 epochs,", other)
        self.assertIn("| PG-BLEU | 8.946 | 1.1308 [1.1208, 1.1408] (NLL-test", other)
        self.assertIn("runs of commit 0123456 on Test CPU (avx2+fma)", other)
        # The curves side by side, every 10th epoch with an NLL, in the
        # order of the phases (not D pretraining's rounds).
        curves = self.block(text, "table1-rows-curves")
        self.assertEqual(re.findall(r"^\| (mle|adversarial|discriminator-pretraining) \| (\d+) ", curves, re.M),
                         [("mle", "0"), ("mle", "40"), ("adversarial", "20")])
        self.assertIn("| adversarial | 20 | 8.9000 / 8.8000 | – / – | 8.9000 / 8.8000 |", curves)
        against = self.block(text, "table1-rows-against-seqgan")
        self.assertIn("| scheduled sampling − SeqGAN | nll_oracle | +0.5700 [+0.5200, +0.6200] | 0.0010 |", against)
        self.assertNotIn("g_loss", against)
        self.assertIn("| PG-BLEU: end − end of MLE | nll_oracle | −0.2937", against)

    def test_a_text_sections_tables_come_from_its_report(self):
        groups, models, changes, against, points, matched = [], [], [], [], [], []
        for i, (label, sweep) in enumerate([("MLE only (104 epochs)", "coco-mle-seeds"), ("SeqGAN", "coco-seeds")]):
            groups.append({"label": label, "runs": make_runs(self.results, sweep, [1, 2, 3], label),
                           "seeds": [1, 2, 3], "curve": [], "adversarial_change": {},
                           "phase_ends": [["adversarial", {"d_accuracy": estimate(0.98),
                                                           "mean_reward": estimate(0.047)}]]})
            # An MLE-only run (no adversarial epochs) has no `mle` model.
            for model, base in ([("final", 0.2)] if i == 0 else [("mle", 0.1), ("final", 0.3)]):
                # `agon eval` of a text task: T = 1 metrics only ...
                metrics = {m: estimate(base + j) for j, m in enumerate(
                    ["bleu2", "bleu3", "self_bleu2", "lm_nll", "reverse_lm_nll", "nll_test"])}
                models.append({"group": label, "model": model, "metrics": metrics})
                # ... and the temperature sweep as compare's points.
                for t in [0.7, 1.0, 1.3]:
                    points.append({"group": label, "model": model, "temperature": t,
                                   "quality": estimate(base + t / 100), "diversity": estimate(base + 1 + t / 100),
                                   "lm_nll": estimate(base + 2 + t / 100), "reverse_lm_nll": None})
        for t in [0.7, 1.0, 1.3]:
            matched.append({"group": "SeqGAN", "model": "final", "baseline": "mle", "temperature": t,
                            "difference": difference(-0.01 * t, 0.2), "runs": 3, "outside": 0})
            matched.append({"group": "SeqGAN", "model": "final",
                            "baseline": "MLE only (104 epochs) / final (pooled over its seeds)", "temperature": t,
                            "difference": difference(-0.02 * t, 0.1), "runs": 3, "outside": 0})
        for metric in ["bleu2", "lm_nll"]:
            against.append({"group": "SeqGAN", "against": "MLE only (104 epochs)/final", "metric": metric,
                            **difference(0.042, 0.026)})
            # Another group's change first; SeqGAN's own is read.
            changes.append({"group": "other", "against": "other/mle", "metric": metric, **difference(0.9, 0.5)})
            changes.append({"group": "SeqGAN", "against": "SeqGAN/mle", "metric": metric,
                            **difference(0.051, 0.03)})
        per_sample = [{"group": "SeqGAN", "baseline": "MLE only (104 epochs)", "metric": "bleu2", "seeds": [1, 2, 3],
                       "test": {"method": "paired bootstrap", "mean_difference": 0.0066, "ci_low": 0.0028,
                                "ci_high": 0.0104, "p_value": 0.0002, "resamples": 10000, "pairs": 3000}}]
        self.write_report("coco", {"commits": ["c0c0c0c0"], "machines": ["Test CPU (avx2+fma)"], "groups": groups,
                                   "differences": [], "matched_quality": matched, "per_sample": per_sample,
                                   "quality_diversity": points, "quality_diversity_metrics": ["bleu2", "self_bleu2"],
                                   "evaluations": {"models": models, "changes": changes,
                                                   "against_baseline": against}})
        names = ["evaluations", "differences", "temperatures", "wall-times", "end-of-run", "matched"]
        self.doc.write_text("".join(f"<!-- table: coco-{t} -->\n<!-- /table -->\n" for t in names))
        out = self.run_script()
        self.assertEqual(out.returncode, 0, out.stderr)
        text = self.doc.read_text()
        evaluations = self.block(text, "coco-evaluations")
        self.assertIn("| metric | MLE only (104 epochs) | SeqGAN run, end of MLE | SeqGAN run, final |", evaluations)
        self.assertIn("| BLEU-2 | 0.2000 [0.1900, 0.2100] | 0.1000 [0.0900, 0.1100] | 0.3000 [0.2900, 0.3100] |",
                      evaluations)
        self.assertIn("| reverse LM score (`reverse_lm_nll`) | 4.2000", evaluations)
        differences = self.block(text, "coco-differences")
        self.assertIn("| BLEU-2 | +0.0420 [−0.0080, +0.0920] | 0.0260 | +0.0510 [+0.0010, +0.1010] | 0.0300 |",
                      differences)
        self.assertIn("| BLEU-3 | – | – | – | – |", differences)
        temperatures = self.block(text, "coco-temperatures")
        self.assertIn("| model | T | BLEU-2 | Self-BLEU-2 | LM score | reverse LM score |", temperatures)
        self.assertIn("| SeqGAN final | 0.7 | 0.3070 [0.2970, 0.3170] | 1.3070 [1.2970, 1.3170] | "
                      "2.3070 [2.2970, 2.3170] | – |", temperatures)
        self.assertIn("| SeqGAN run, end of MLE | 1.3 | 0.1130 [0.1030, 0.1230] |", temperatures)
        self.assertIn("| SeqGAN | seeds 1–3 | 400–420 s | 100–102 s |", self.block(text, "coco-wall-times"))
        end = self.block(text, "coco-end-of-run")
        self.assertIn("| D accuracy at the end | 0.9800 [0.9700, 0.9900] |", end)
        self.assertIn("| SeqGAN − MLE only (104 epochs), BLEU-2 per sample (3,000 pairs over seeds 1, 2, 3) | "
                      "+0.0066 [+0.0028, +0.0104], p < 2e-4 |", end)
        matched_table = self.block(text, "coco-matched")
        self.assertIn("BLEU-2 at equal Self-BLEU-2:", matched_table)
        self.assertIn("| T = 1.3 | −0.0130 [−0.0630, +0.0370] | 0.2000 | −0.0260 [−0.0760, +0.0240] | 0.1000 |",
                      matched_table)
        # A report whose sweep is at another BLEU order than the section's
        # leaves the temperature table alone.
        report = json.loads((self.results / "reports" / "coco" / "compare.json").read_text())
        report["quality_diversity_metrics"] = ["bleu3", "self_bleu3"]
        (self.results / "reports" / "coco" / "compare.json").write_text(json.dumps(report))
        out = self.run_script()
        self.assertIn("coco-temperatures: reports/coco: its quality–diversity points are", out.stderr)

    def test_scratchgan_on_coco_is_held_against_the_pooled_mle_curve(self):
        groups, models = [], []
        for i, label in enumerate(["MLE 40 epochs", "MLE 104 epochs", "ScratchGAN from scratch"]):
            groups.append({"label": label, "runs": make_runs(self.results, f"sweep-{i}", [1, 2, 3], label),
                           "seeds": [1, 2, 3], "curve": [], "phase_ends": [], "adversarial_change": {}})
            models.append({"group": label, "model": "final",
                           "metrics": {"bleu2": estimate(0.7 - i / 10), "nll_test": estimate(5.0 + i)}})
        matched = []
        for t in [0.7, 1.0, 1.3]:
            # Its own run's curve first (not the one read), then the pooled one.
            matched.append({"group": "ScratchGAN from scratch", "model": "final", "baseline": "mle",
                            "temperature": t, "difference": difference(0.5, 0.5), "runs": 3, "outside": 0})
            matched.append({"group": "ScratchGAN from scratch", "model": "final",
                            "baseline": "MLE 40 epochs / final (pooled over its seeds)", "temperature": t,
                            "difference": None if t == 1.3 else difference(-0.13 + t / 100, 0.003),
                            "runs": 0 if t == 1.3 else 3, "outside": 3 if t == 1.3 else 0})
        self.write_report("scratchgan-coco", {
            "commits": ["5c5c5c5c"], "machines": ["Test CPU (avx2+fma)"], "groups": groups, "differences": [],
            "matched_quality": matched, "evaluations": {"models": models, "changes": [], "against_baseline": []}})
        self.doc.write_text("<!-- table: scratchgan-coco-evaluations -->\n<!-- /table -->\n"
                            "<!-- table: scratchgan-coco-matched -->\n<!-- /table -->\n")
        out = self.run_script()
        self.assertEqual(out.returncode, 0, out.stderr)
        text = self.doc.read_text()
        evaluations = self.block(text, "scratchgan-coco-evaluations")
        self.assertIn("| metric (T = 1) | MLE 40 epochs | MLE 104 epochs | ScratchGAN from scratch |", evaluations)
        self.assertIn("| BLEU-2 | 0.7000 [0.6900, 0.7100] | 0.6000 [0.5900, 0.6100] | 0.5000 [0.4900, 0.5100] |",
                      evaluations)
        self.assertIn("| BLEU-3 | – | – | – |", evaluations)
        self.assertIn("| wall time per run | 400–420 s | 400–420 s | 400–420 s |", evaluations)
        matched_table = self.block(text, "scratchgan-coco-matched")
        self.assertIn("| T = 1 | −0.1200 [−0.1700, −0.0700] | 0.0030 |", matched_table)
        self.assertIn("| T = 1.3 | outside the pooled curve (all 3 runs) | – |", matched_table)

    def test_relgan_tables_come_from_their_reports(self):
        group = seqgan_group(self.results, "relgan-oracle-short-seeds", [1, 2, 3], "relgan-oracle", 0.0)
        report = seqgan_report(group, 0.0)
        report["evaluations"]["changes"] = [
            {"group": "relgan-oracle", "against": "relgan-oracle/mle", "metric": m, **difference(-0.0128, 0.0065)}
            for m in ["nll_oracle", "nll_test"]]
        self.write_report("relgan-oracle", report)
        self.doc.write_text("<!-- table: relgan-oracle-runs -->\n<!-- /table -->\n"
                            "<!-- table: relgan-oracle-matched -->\n<!-- /table -->\n"
                            "<!-- table: relgan-coco-evaluations -->\nwaits\n<!-- /table -->\n")
        out = self.run_script()
        self.assertEqual(out.returncode, 0, out.stderr)
        text = self.doc.read_text()
        runs = self.block(text, "relgan-oracle-runs")
        self.assertIn("| row (seeds 1–3; NLLs from `agon eval`) |", runs)
        self.assertIn("| RelGAN's generator at the end of its MLE epochs | 10.0000 [9.9900, 10.0100] | "
                      "8.0000 [7.9900, 8.0100] | — |", runs)
        self.assertIn("| 0.9980 [0.9880, 1.0080] (n=2 of 3) (RSGAN: pairs ordered right) |", runs)
        self.assertIn("| change within each run (paired t over the seeds) | −0.0128 [−0.0628, +0.0372], "
                      "p = 0.0065 |", runs)
        self.assertIn("| T = 1.1 | −0.3100 [−0.3600, −0.2600] | 0.0300 |", self.block(text, "relgan-oracle-matched"))
        self.assertEqual(self.block(text, "relgan-coco-evaluations"), "waits\n")

    def test_the_full_schedules_tables_come_from_their_own_reports(self):
        # The configs' own schedules are a report of their own: a table of
        # the shortened schedule's report never fills theirs, nor theirs it.
        group = seqgan_group(self.results, "relgan-oracle-seeds", [1, 2, 3], "relgan-oracle", 0.0)
        self.write_report("relgan-oracle-full", seqgan_report(group, 0.0))
        self.doc.write_text("<!-- table: relgan-oracle-full-runs -->\n<!-- /table -->\n"
                            "<!-- table: relgan-oracle-runs -->\nshort\n<!-- /table -->\n")
        out = self.run_script()
        self.assertEqual(out.returncode, 0, out.stderr)
        text = self.doc.read_text()
        self.assertIn("| RelGAN's generator at the end of its MLE epochs | 10.0000 [9.9900, 10.0100] | ",
                      self.block(text, "relgan-oracle-full-runs"))
        self.assertEqual(self.block(text, "relgan-oracle-runs"), "short\n")

    def test_a_conditional_tasks_tables_come_from_its_reports(self):
        def group(label, sweep):
            runs = make_runs(self.results, sweep, [1, 2, 3], label)
            for i, run in enumerate(runs):
                run_dir = self.results.joinpath(*Path(run).parts[-3:])
                test = {"method": "paired bootstrap", "mean_difference": -0.0067 - i / 1000, "ci_low": -0.0122,
                        "ci_high": -0.0014, "p_value": 0.015, "resamples": 10000, "pairs": 1000}
                models = [{"label": f"{run_dir.name}/{model}",
                           "metrics": {"bleu": 0.1182 - d - i / 100, "nll_test": 2.7051 + d}}
                          for model, d in [("mle", 0.0), ("final", 0.0067)]]
                (run_dir / "eval-2" / "eval.json").write_text(json.dumps(
                    {"models": models, "comparisons": [{"metric": "bleu", "test": test}]}))
            curve = [[{"global_epoch": e, "phase": "mle", "epoch": e}, {"bleu": estimate(0.01 * e)}]
                     for e in range(2, 15, 2) if label == "MLE only (14 epochs)" or e <= 8]
            return {"label": label, "runs": runs, "seeds": [1, 2, 3], "curve": curve,
                    "phase_ends": [["adversarial", {"d_accuracy": estimate(0.593), "mean_reward": estimate(0.268)}],
                                   ["discriminator-pretraining", {"d_accuracy": estimate(0.547)}]],
                    "adversarial_change": {}}
        adversarial = group("multi30k", "multi30k-seeds")
        models = [{"group": "multi30k", "model": m, "metrics": {"bleu": estimate(v), "nll_test": estimate(2.6)}}
                  for m, v in [("mle", 0.134), ("final", 0.1192)]]
        changes = [{"group": "multi30k", "against": "multi30k/mle", "metric": "bleu", **difference(-0.0148, 0.19)}]
        self.write_report("multi30k-adversarial", {
            "commits": ["3030303030"], "machines": ["Test CPU (avx2+fma)"], "groups": [adversarial],
            "differences": [], "matched_quality": [],
            "evaluations": {"models": models, "changes": changes, "against_baseline": []}})
        mle_only = group("MLE only (14 epochs)", "multi30k-mle-seeds")
        adversarial = dict(adversarial, label="adversarial")
        models = [{"group": g, "model": m, "metrics": {"bleu": estimate(v), "nll_test": estimate(2.2)}}
                  for g, m, v in [("MLE only (14 epochs)", "final", 0.2146), ("adversarial", "mle", 0.134),
                                  ("adversarial", "final", 0.1192)]]
        against = [{"group": "adversarial", "against": "MLE only (14 epochs)/final", "metric": "bleu",
                    **difference(-0.0954, 0.008)}]
        self.write_report("multi30k", {
            "commits": ["3030303030"], "machines": ["Test CPU (avx2+fma)"], "groups": [mle_only, adversarial],
            "differences": [], "matched_quality": [],
            "evaluations": {"models": models, "changes": [], "against_baseline": against}})
        self.doc.write_text("".join(f"<!-- table: multi30k-{t} -->\n<!-- /table -->\n"
                                    for t in ["per-seed", "over-seeds", "against-mle", "wall-times"]))
        out = self.run_script()
        self.assertEqual(out.returncode, 0, out.stderr)
        text = self.doc.read_text()
        per_seed = self.block(text, "multi30k-per-seed")
        self.assertIn("| 2 | 0.1082 → 0.1015 | −0.0077 [−0.0122, −0.0014] | 0.0150 | 2.7051 → 2.7118 |", per_seed)
        over = self.block(text, "multi30k-over-seeds")
        self.assertIn("| BLEU | 0.1340 [0.1240, 0.1440] | 0.1192 [0.1092, 0.1292] | "
                      "−0.0148 [−0.0648, +0.0352], p = 0.1900 |", over)
        self.assertIn("| NLL-test | 2.6000 [2.5900, 2.6100] | 2.6000 [2.5900, 2.6100] | – |", over)
        self.assertIn("| D accuracy after pretraining |  | 0.5470 [0.5370, 0.5570] |  |", over)
        against_mle = self.block(text, "multi30k-against-mle")
        # The MLE-only curve past epoch 8 and before its last epoch (14).
        self.assertEqual(re.findall(r"epoch (\d+) \(learning curve\)", against_mle), ["10", "12"])
        self.assertIn("| MLE only (14 epochs), epoch 12 (learning curve) | 0.1200 [0.1100, 0.1300] | – |",
                      against_mle)
        self.assertIn("| adversarial final − MLE only (14 epochs) final (paired t) | −0.0954 [−0.1454, −0.0454], "
                      "p = 0.0080 | – |", against_mle)
        self.assertIn("| MLE only (14 epochs) | seeds 1–3 | 400–420 s | 100–102 s |",
                      self.block(text, "multi30k-wall-times"))

    def test_runs_are_read_under_the_results_directory_only(self):
        # A `sweeps/` where the script runs, holding other runs under the
        # path the report names, is not read.
        other = Path(self.tmp.name) / "cwd"
        decoy = other / "elsewhere" / "seqgan-oracle-cpu-seeds" / "runs" / "000_seed-1"
        decoy.mkdir(parents=True)
        (decoy / "metrics.jsonl").write_text(json.dumps({"phase": "mle", "elapsed_seconds": 99999.0}) + "\n")
        self.assertEqual(self.run_script(cwd=other).returncode, 0)
        self.assertNotIn("99999", self.doc.read_text())

    def test_figures_are_their_reports_plots(self):
        plot = self.results / "reports" / "seqgan-oracle-confirm" / "learning_curves.png"
        plot.write_bytes(b"a plot")
        self.assertEqual(self.run_script("--check").returncode, 1)
        out = self.run_script()
        self.assertIn("copied seqgan-oracle-cpu-confirm.png", out.stdout)
        image = Path(self.tmp.name) / "images" / "seqgan-oracle-cpu-confirm.png"
        self.assertEqual(image.read_bytes(), b"a plot")
        self.assertEqual(self.run_script("--check").returncode, 0)
        plot.write_bytes(b"another plot")
        out = self.run_script("--check")
        self.assertEqual(out.returncode, 1)
        self.assertIn("seqgan-oracle-cpu-confirm.png is not its report's plot", out.stdout)

    def test_a_figure_waits_for_a_table_from_its_report(self):
        # The document shows the figure but none of its tables comes from
        # the plot's report: the figure is not replaced.
        self.doc.write_text("![x](images/seqgan-oracle-cpu-confirm.png)\n")
        plot = self.results / "reports" / "seqgan-oracle-confirm" / "learning_curves.png"
        plot.write_bytes(b"a plot")
        self.assertEqual(self.run_script("--check").returncode, 0)
        self.run_script()
        self.assertFalse((Path(self.tmp.name) / "images").exists())

    def test_check_finds_a_number_that_is_not_the_reports(self):
        self.run_script()
        text = self.doc.read_text()
        self.doc.write_text(text.replace("−0.2937 [", "−0.2936 ["))
        out = self.run_script("--check")
        self.assertEqual(out.returncode, 1)
        self.assertIn("-| NLL-oracle | −0.2936", out.stdout)
        self.assertIn("+| NLL-oracle | −0.2937", out.stdout)
        self.assertIn("−0.2936 [", self.doc.read_text(), "--check writes nothing")

    def test_a_crlf_document_keeps_its_line_ends(self):
        self.doc.write_bytes(DOC.replace("\n", "\r\n").encode())
        self.assertEqual(self.run_script().returncode, 0)
        data = self.doc.read_bytes()
        self.assertNotIn(b"\n", data.replace(b"\r\n", b""))
        self.assertIn(b"| NLL-oracle | \xe2\x88\x920.2937", data)

    def test_bad_documents_are_refused_with_the_line(self):
        bad = Path(self.tmp.name) / "bad.md"
        bad.write_text("x\n<!-- table: no-such-table -->\n<!-- /table -->\n")
        out = self.run_script(doc=bad)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn(f"{bad}:2: no table 'no-such-table'", out.stderr)
        bad.write_text("x\n<!-- table: seqgan-table1 -->\n")
        out = self.run_script(doc=bad)
        self.assertIn(f"{bad}:2: table 'seqgan-table1' has no `<!-- /table -->` after it", out.stderr)
        bad.write_text("<!-- /table -->\n")
        self.assertIn(f"{bad}:1: `<!-- /table -->` without", self.run_script(doc=bad).stderr)

    def test_the_results_document_names_only_known_tables(self):
        docs = SCRIPT.parent.parent / "docs" / "results.md"
        empty = Path(self.tmp.name) / "empty"
        empty.mkdir()
        out = subprocess.run([sys.executable, str(SCRIPT), "--results-dir", str(empty), "--doc", str(docs),
                              "--check"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)


if __name__ == "__main__":
    unittest.main()
