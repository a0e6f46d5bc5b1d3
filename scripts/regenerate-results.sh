#!/usr/bin/env bash
# Re-runs the experiments behind docs/results.md at the checked-out commit:
# each section's sweeps, evaluations and comparisons, exactly the commands
# the section quotes, into one directory, so that every table can come
# from runs of one commit. Each comparison's report (`agon compare`:
# compare.md, compare.json, plots) goes to $RESULTS_DIR/reports/NAME;
# `scripts/results-tables.py` then rewrites the generated tables of
# results.md from those reports (the sections not converted to generated
# tables yet quote compare.md's "Evaluations" and phase-end tables).
#
#   scripts/regenerate-results.sh --list              # the sections
#   scripts/regenerate-results.sh coco poetry         # some sections
#   scripts/regenerate-results.sh all                 # every current section
#   scripts/regenerate-results.sh --dry-run all       # print the commands only
#   scripts/regenerate-results.sh --reports-only coco  # only the comparisons, of runs already made
#
# Runs go to $RESULTS_DIR (default `sweeps/`), with `agon` from
# target/release (build it first: `cargo build --release`). A sweep that
# was started before resumes and skips its finished cells, so the script
# can be stopped (Ctrl-C) and run again; an evaluation is re-done only if
# its run has no eval/eval.json. RESULTS_DIR/COMMIT records the commit each
# section ran at, and the script refuses to mix commits in one directory
# unless ALLOW_MIXED_COMMITS=1; RESULTS_DIR/MACHINE the machines (CPU and
# instruction set, as `agon --version` names them) that ran in it, and it
# refuses to mix machines unless ALLOW_MIXED_MACHINES=1.
#
# Time on the 2-core development machine, one section at a time, from the
# wall times results.md quotes: 1–1.6 h for seqgan-oracle (six seeds: 7–11
# min a seed on the Xeon with AVX-512, 16 on the AMD EPYC with AVX2),
# 40 min for table1-rows, 40 min for scratchgan-oracle, 30 min for
# scratchgan-coco, 1.5 h each for relgan-oracle and relgan-coco (their
# three seeds side by side on one thread each; relgan-oracle-full and
# relgan-coco-full, the configs' own schedules, about twice that), under
# 1 h each for coco and poetry, 1.5–2 h for obama (its compute-matched MLE
# baseline is 166 epochs, 25 min a seed on the Xeon alone), 1-4 h for each
# conditional task: 19-22 h for `all`.
set -euo pipefail
cd "$(dirname "$0")/.."

SECTIONS=(seqgan-oracle table1-rows scratchgan-oracle scratchgan-coco relgan-oracle
    relgan-coco relgan-oracle-full relgan-coco-full coco poetry obama multi30k dailydialog dialogsum)

dry_run=0
reports_only=0
if [ "${1:-}" = "--dry-run" ]; then
    dry_run=1
    shift
elif [ "${1:-}" = "--reports-only" ]; then
    # Writes the sections' `agon compare` reports again from the runs and
    # evaluations already in RESULTS_DIR (made by this or another commit:
    # each report names its runs' commits), training and evaluating nothing.
    reports_only=1
    shift
fi
if [ "${1:-}" = "--list" ] || [ $# = 0 ]; then
    printf '%s\n' "${SECTIONS[@]}"
    [ $# = 0 ] && echo "usage: $0 [--dry-run | --reports-only] SECTION... | all | --list" >&2 && exit 2
    exit 0
fi
wanted=("$@")
[ "$1" = all ] && wanted=("${SECTIONS[@]}")
for section in "${wanted[@]}"; do
    # Not `printf … | grep -q`: under pipefail, grep quitting at its first
    # match can kill printf with SIGPIPE and fail the pipeline at random.
    known=0
    for name in "${SECTIONS[@]}"; do if [ "$name" = "$section" ]; then known=1; fi; done
    if [ "$known" = 0 ]; then
        echo "$0: no section '$section'; the sections are: ${SECTIONS[*]}" >&2
        exit 2
    fi
done

AGON="${AGON:-$PWD/target/release/agon}"
agon=("$AGON")
if [ "$dry_run" = 1 ]; then
    agon=(echo agon)
elif [ ! -x "$AGON" ]; then
    echo "$0: $AGON not found: run \`cargo build --release\` first (or set AGON)" >&2
    exit 1
fi
OUT="${RESULTS_DIR:-sweeps}"
[ "$dry_run" = 1 ] || mkdir -p "$OUT"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD -- . ':!docs' 2>/dev/null || commit="$commit+changes"
if [ "$dry_run" = 0 ] && [ "$reports_only" = 0 ] && [ -f "$OUT/COMMIT" ] && ! grep -q " $commit\$" "$OUT/COMMIT" && [ "${ALLOW_MIXED_COMMITS:-0}" != 1 ]; then
    echo "$0: $OUT holds runs of another commit ($(cut -d' ' -f2 "$OUT/COMMIT" | sort -u | tr '\n' ' '));" \
        "use another RESULTS_DIR, or ALLOW_MIXED_COMMITS=1" >&2
    exit 1
fi
# Runs are bit-identical only on one kind of machine (CPU and the
# instruction set agon's kernels pick: docs/results.md), so one directory
# holds one machine's runs too. `agon --version` names this one.
machine="$([ "$dry_run" = 1 ] || "$AGON" --version 2>/dev/null | sed -n 's/^machine: //p' || true)"
# (grep finds no other machine, and fails, when only this one ran here.)
others="$([ -z "$machine" ] || [ ! -f "$OUT/MACHINE" ] || grep -vxF -- "$machine" "$OUT/MACHINE" | paste -sd';' - || true)"
if [ "$reports_only" = 0 ] && [ -n "$others" ] && [ "${ALLOW_MIXED_MACHINES:-0}" != 1 ]; then
    echo "$0: $OUT holds runs made on $others, and this machine is $machine:" \
        "float rounding differs between kinds of machine, so its runs would not reproduce those digits;" \
        "use another RESULTS_DIR, or ALLOW_MIXED_MACHINES=1" >&2
    exit 1
fi
# One line a machine that made runs here.
[ -z "$machine" ] || [ "$reports_only" = 1 ] || grep -qxF -- "$machine" "$OUT/MACHINE" 2>/dev/null ||
    echo "$machine" >>"$OUT/MACHINE"

sweep() {
    [ "$reports_only" = 1 ] && return
    "${agon[@]}" sweep "configs/sweeps/$1.yaml" --out "$OUT/$1"
}
# evaluate RUN_DIRS... -- EVAL_ARGS...: each run once.
evaluate() {
    [ "$reports_only" = 1 ] && return
    local runs=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do runs+=("$1"); shift; done
    shift || true
    for run in "${runs[@]}"; do
        [ "$dry_run" = 0 ] && [ -f "$run/eval/eval.json" ] && continue
        "${agon[@]}" eval "$run" "$@"
    done
}
# compare REPORT PATHS... [OPTIONS]: the report goes to $OUT/reports/REPORT,
# where scripts/results-tables.py reads it.
compare() {
    local report=$1
    shift
    "${agon[@]}" compare "$@" --out "$OUT/reports/$report"
}
# The language model sweep's one run: the name the agon that made it gave
# (`000_epochs-10_rounds-0_epochs-0_seed-100` before cell names told the two
# epochs apart), or, before it exists (--dry-run), the name this agon gives.
lm_of() {
    local runs=("$OUT/$1"/runs/000_*seed-100)
    if [ -d "${runs[0]}" ]; then
        echo "${runs[0]}"
    else
        echo "$OUT/$1/runs/000_mle.epochs-10_rounds-0_adversarial.epochs-0_seed-100"
    fi
}

run_section() {
    case "$1" in
    seqgan-oracle)
        sweep seqgan-oracle-cpu-seeds
        sweep seqgan-oracle-cpu-confirm
        evaluate "$OUT"/seqgan-oracle-cpu-{seeds,confirm}/runs/* -- --temperatures 0.7,0.8,0.9,1.1,1.2
        compare seqgan-oracle-seeds "$OUT/seqgan-oracle-cpu-seeds"
        compare seqgan-oracle-confirm "$OUT/seqgan-oracle-cpu-confirm" ;;
    table1-rows)
        sweep seqgan-oracle-cpu-seeds
        sweep seqgan-oracle-ss-cpu
        sweep seqgan-oracle-pg-bleu-cpu
        evaluate "$OUT"/seqgan-oracle-{ss,pg-bleu}-cpu/runs/* -- --temperatures 0.8,1.2
        compare table1-rows "$OUT/seqgan-oracle-cpu-seeds" "$OUT/seqgan-oracle-ss-cpu" "$OUT/seqgan-oracle-pg-bleu-cpu" \
            --names "SeqGAN,scheduled sampling,PG-BLEU" ;;
    scratchgan-oracle)
        sweep scratchgan-oracle-seeds
        sweep scratchgan-oracle-pretrained-seeds
        evaluate "$OUT"/scratchgan-oracle{,-pretrained}-seeds/runs/* -- --temperatures 0.7,0.8,0.9,1.1,1.2
        compare scratchgan-oracle "$OUT/scratchgan-oracle-seeds" "$OUT/scratchgan-oracle-pretrained-seeds" \
            --names "ScratchGAN from scratch,ScratchGAN after MLE" ;;
    scratchgan-coco)
        sweep coco-lm
        sweep scratchgan-coco-seeds
        sweep coco-mle-epochs
        evaluate "$OUT"/coco-mle-epochs/runs/* -- --temperatures 0.7,1.0,1.3,1.6 --lm "$(lm_of coco-lm)"
        evaluate "$OUT"/scratchgan-coco-seeds/runs/* -- --temperatures 0.7,1.0,1.3 --lm "$(lm_of coco-lm)"
        compare scratchgan-coco "$OUT/coco-mle-epochs" "$OUT/scratchgan-coco-seeds" \
            --names "MLE 40 epochs,MLE 104 epochs,ScratchGAN from scratch" ;;
    relgan-oracle)
        sweep relgan-oracle-short-seeds
        evaluate "$OUT"/relgan-oracle-short-seeds/runs/* -- --temperatures 0.7,0.8,0.9,1.1,1.2
        compare relgan-oracle "$OUT/relgan-oracle-short-seeds" ;;
    relgan-coco)
        sweep coco-lm
        sweep relgan-coco-short-seeds
        evaluate "$OUT"/relgan-coco-short-seeds/runs/* -- --temperatures 0.7,0.85,1.15,1.3 --lm "$(lm_of coco-lm)"
        compare relgan-coco "$OUT/relgan-coco-short-seeds" ;;
    # The configs' own schedules (40 MLE epochs, 400 iterations).
    relgan-oracle-full)
        sweep relgan-oracle-seeds
        evaluate "$OUT"/relgan-oracle-seeds/runs/* -- --temperatures 0.7,0.8,0.9,1.1,1.2
        compare relgan-oracle-full "$OUT/relgan-oracle-seeds" ;;
    relgan-coco-full)
        sweep coco-lm
        sweep relgan-coco-seeds
        evaluate "$OUT"/relgan-coco-seeds/runs/* -- --temperatures 0.7,0.85,1.15,1.3 --lm "$(lm_of coco-lm)"
        compare relgan-coco-full "$OUT/relgan-coco-seeds" ;;
    coco | poetry | obama)
        sweep "$1-seeds"
        sweep "$1-mle-seeds"
        sweep "$1-lm"
        evaluate "$OUT/$1-seeds"/runs/* "$OUT/$1-mle-seeds"/runs/* -- --temperatures 0.7,1.0,1.3 --lm "$(lm_of "$1-lm")"
        local epochs
        epochs=$(sed -n 's/^ *training.mle.epochs: *\[\([0-9]*\)\].*/\1/p' "configs/sweeps/$1-mle-seeds.yaml")
        compare "$1" "$OUT/$1-mle-seeds" "$OUT/$1-seeds" --names "MLE only ($epochs epochs),SeqGAN" ;;
    multi30k | dailydialog | dialogsum)
        sweep "$1-seeds"
        sweep "$1-mle-seeds"
        evaluate "$OUT/$1-seeds"/runs/* "$OUT/$1-mle-seeds"/runs/* --
        compare "$1-adversarial" "$OUT/$1-seeds"
        local epochs
        epochs=$(sed -n 's/^ *training.mle.epochs: *\[\([0-9]*\)\].*/\1/p' "configs/sweeps/$1-mle-seeds.yaml")
        compare "$1" "$OUT/$1-mle-seeds" "$OUT/$1-seeds" --names "MLE only ($epochs epochs),adversarial" ;;
    esac
}

for section in "${wanted[@]}"; do
    if [ "$reports_only" = 1 ]; then
        echo "== $section: the reports only ($(date -u +%FT%TZ))"
    else
        echo "== $section ($(date -u +%FT%TZ), $commit${machine:+, $machine})"
    fi
    started=$SECONDS
    run_section "$section"
    [ "$dry_run" = 1 ] || [ "$reports_only" = 1 ] && continue
    echo "$section $commit" >>"$OUT/COMMIT"
    echo "== $section done in $((SECONDS - started)) s"
done
[ "$dry_run" = 1 ] || echo "reports in $OUT/reports; now: scripts/results-tables.py --results-dir $OUT"
