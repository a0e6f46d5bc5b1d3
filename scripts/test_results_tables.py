#!/usr/bin/env python3
"""Tests of scripts/results-tables.py, on reports shaped as `agon compare`
writes compare.json (host/src/compare/analysis.rs) and runs as `agon train`
and `agon eval` write them. Standard library only; `.ci/run` runs it:

    python3 scripts/test_results_tables.py
"""

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SCRIPT = Path(__file__).with_name("results-tables.py")


def estimate(mean, half=0.01, n=3):
    return {"mean": mean, "n": n, "low": mean - half, "high": mean + half}


def difference(value, p):
    return {"difference": value, "low": value - 0.05, "high": value + 0.05, "p_value": p, "df": 2.0,
            "test": "paired t"}


def seqgan_report(results, sweep, seeds, shift):
    """A one-group report over `seeds`, its runs under results/sweep."""
    runs = []
    for i, seed in enumerate(seeds):
        run = results / sweep / "runs" / f"00{i}_seed-{seed}"
        (run / "eval").mkdir(parents=True)
        rows = [
            {"phase": "mle", "epoch": 40, "nll_oracle": 9.0, "elapsed_seconds": 100.0 + i},
            {"phase": "adversarial", "epoch": 80, "nll_oracle": 8.7, "elapsed_seconds": 400.0 + 10 * i},
        ]
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        test = {"method": "paired bootstrap", "mean_difference": -0.3 - i / 100, "ci_low": -0.32 - i / 100,
                "ci_high": -0.28 - i / 100, "p_value": 0.0002, "resamples": 10000, "pairs": 9984}
        (run / "eval" / "eval.json").write_text(json.dumps(
            {"comparisons": [{"metric": "nll_oracle", "baseline": "mle", "model": "final", "test": test}]}))
        # As `agon compare` names runs: by the path it was given.
        runs.append(f"elsewhere/{sweep}/runs/00{i}_seed-{seed}")
    models = []
    for model, base in [("mle", 9.0 + shift), ("final", 8.7 + shift)]:
        metrics = {}
        for t in ["", "_t0.7", "_t0.8", "_t0.9", "_t1.1", "_t1.2"]:
            metrics["nll_oracle" + t] = estimate(base)
            metrics["nll_test" + t] = estimate(base - 0.3)
        models.append({"group": sweep, "model": model, "metrics": metrics})
    matched = [{"group": sweep, "model": "final", "baseline": "mle", "temperature": t,
                "difference": None if t == 0.7 else difference(-0.2, 0.03), "runs": 0 if t == 0.7 else 3,
                "outside": 3 if t == 0.7 else 0} for t in [0.7, 0.8, 0.9, 1.0, 1.1, 1.2]]
    return {
        "headline": "nll_oracle", "higher_is_better": False, "task": "synthetic-oracle",
        "commits": ["abcdef0123456789"], "machines": ["Test CPU (avx2+fma)"],
        "groups": [{
            "label": sweep, "runs": runs, "seeds": seeds,
            "curve": [[{"global_epoch": 0, "phase": "mle", "epoch": 0},
                       {"nll_oracle": estimate(11.4 + shift)}]],
            "phase_ends": [
                ["mle", {"nll_oracle": estimate(9.04 + shift), "nll_test": estimate(8.7)}],
                ["adversarial", {"nll_oracle": estimate(8.75 + shift), "nll_test": estimate(8.9),
                                 "d_accuracy": estimate(0.998), "mean_reward": estimate(0.0036)}],
            ],
            "adversarial_change": {"nll_oracle": difference(-0.2937 + shift, 0.0047),
                                   "nll_test": difference(0.163, 0.0141)},
        }],
        "differences": [], "per_sample": [], "per_sample_notes": [], "quality_diversity": [],
        "quality_diversity_metrics": None, "matched_quality": matched,
        "evaluations": {"models": models, "changes": [], "against_baseline": []},
    }


DOC = """# Results

Some prose, kept.

<!-- table: seqgan-adversarial-change -->
an old table
<!-- /table -->

More prose.

![a figure the script copies](images/seqgan-oracle-cpu-confirm.png)

<!-- table: seqgan-eval-per-seed -->
<!-- /table -->

<!-- table: table1-rows-curves -->
| waits | for | table1-rows |
<!-- /table -->

<!-- table: seqgan-table1 -->
<!-- /table -->
"""


class ResultsTables(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        root = Path(self.tmp.name)
        self.results = root / "results"
        for name, sweep, seeds, shift in [("seqgan-oracle-seeds", "seqgan-oracle-cpu-seeds", [1, 2, 3], 0.0),
                                          ("seqgan-oracle-confirm", "seqgan-oracle-cpu-confirm", [4, 5, 6], 0.01)]:
            report = seqgan_report(self.results, sweep, seeds, shift)
            (self.results / "reports" / name).mkdir(parents=True)
            (self.results / "reports" / name / "compare.json").write_text(json.dumps(report))
        self.doc = root / "results.md"
        self.doc.write_text(DOC)

    def tearDown(self):
        self.tmp.cleanup()

    def run_script(self, *args, doc=None):
        return subprocess.run(
            [sys.executable, str(SCRIPT), "--results-dir", str(self.results), "--doc", str(doc or self.doc), *args],
            capture_output=True, text=True)

    def test_tables_are_written_from_the_reports_and_the_rest_is_kept(self):
        out = self.run_script()
        self.assertEqual(out.returncode, 0, out.stderr)
        text = self.doc.read_text()
        self.assertIn("Some prose, kept.\n", text)
        self.assertIn("More prose.\n", text)
        self.assertNotIn("an old table", text)
        # The adversarial change of each seed set, with its p-value.
        self.assertIn("| NLL-oracle | -0.2937 [-0.3437, -0.2437] | 0.0047 | -0.2837 [-0.3337, -0.2337] | 0.0047 |",
                      text)
        self.assertIn("| D accuracy, last d-step (not a change) | 0.9980 [0.9880, 1.0080] |", text)
        # Each run's paired bootstrap, read from its eval/eval.json (found
        # under the results directory although the report names another).
        self.assertIn("| 2 | -0.3100 [-0.3300, -0.2900] | 0.0002 | paired bootstrap, 9,984 pairs", text)
        self.assertIn("| 6 |", text)
        self.assertIn("runs of commit abcdef0 on Test CPU (avx2+fma)", text)
        # A table whose report is missing is left as it is, and named.
        self.assertIn("| waits | for | table1-rows |", text)
        self.assertIn("table1-rows-curves", out.stderr)
        # Table 1 is written without the rows of a report not there yet.
        self.assertIn("| MLE | 9.038 (120 epochs) | 9.0400 [9.0300, 9.0500] | 9.0500 [9.0400, 9.0600] | 40 epochs | "
                      "100–102 s |", text)
        self.assertIn("| PG-BLEU | 8.946 | `reports/table1-rows` not there yet |", text)
        self.assertIn("| SeqGAN | 8.736 | **8.7500 [8.7400, 8.7600]** |", text)
        self.assertIn("table1-rows/compare.json not found", out.stderr)
        # Run again: nothing changes, and --check agrees.
        again = self.run_script()
        self.assertIn("every table and figure the reports can render is current", again.stdout)
        self.assertEqual(self.doc.read_text(), text)
        self.assertEqual(self.run_script("--check").returncode, 0)

    def test_table1_takes_its_other_rows_from_their_report(self):
        seqgan = seqgan_report(self.results, "seqgan-oracle-cpu-seeds-again", [1, 2, 3], 0.0)["groups"][0]
        seqgan["label"] = "SeqGAN"
        other = {}
        for label, sweep, end in [("scheduled sampling", "ss", 9.2774), ("PG-BLEU", "pg", 1.1308)]:
            g = seqgan_report(self.results, sweep, [1, 2, 3], 0.0)["groups"][0]
            g["label"] = label
            g["phase_ends"] = [["mle" if label != "PG-BLEU" else "adversarial",
                                {"nll_oracle": estimate(end), "nll_test": estimate(7.7861)}]]
            other[label] = g
        report = {"commits": ["0123456789"], "machines": ["Test CPU (avx2+fma)"],
                  "groups": [seqgan, other["scheduled sampling"], other["PG-BLEU"]],
                  "differences": [{"group": "scheduled sampling", "baseline": "SeqGAN", "metric": "nll_oracle",
                                   "difference": difference(0.57, 0.001)}],
                  "matched_quality": [], "evaluations": {"models": []}}
        (self.results / "reports" / "table1-rows").mkdir()
        (self.results / "reports" / "table1-rows" / "compare.json").write_text(json.dumps(report))
        out = self.run_script()
        self.assertEqual(out.returncode, 0, out.stderr)
        text = self.doc.read_text()
        self.assertIn("| Scheduled sampling | 8.985 | 9.2774 [9.2674, 9.2874] (NLL-test 7.7861 [7.7761, 7.7961]) "
                      "| not run |", text)
        self.assertIn("| PG-BLEU | 8.946 | 1.1308 [1.1208, 1.1408] (NLL-test", text)
        self.assertIn("runs of commit abcdef0, 0123456 on Test CPU (avx2+fma)", text)
        # The curves of the three groups side by side.
        self.assertIn("| mle | 0 | 11.4000 / – | 11.4000 / – | 11.4000 / – |", text)

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

    def test_check_finds_a_number_that_is_not_the_reports(self):
        self.run_script()
        text = self.doc.read_text()
        self.doc.write_text(text.replace("-0.2937 [", "-0.2936 ["))
        out = self.run_script("--check")
        self.assertEqual(out.returncode, 1)
        self.assertIn("-| NLL-oracle | -0.2936", out.stdout)
        self.assertIn("+| NLL-oracle | -0.2937", out.stdout)
        self.assertIn("-0.2936 [", self.doc.read_text(), "--check writes nothing")

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
