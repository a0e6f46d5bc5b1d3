"""Differential fuzzer: `agon score --json` against sacreBLEU, rouge-score and
NLTK (Texygen's BLEU) on random text: odd Unicode, whitespace and
punctuation, HTML entities, numbers, empty lines, several references. Each
disagreement beyond 1e-9 is shrunk to a minimal input and printed. A tool
for maintainers, not run by CI (it needs the Python packages):

    python3 -m venv /tmp/metricenv && /tmp/metricenv/bin/pip install sacrebleu rouge-score nltk
    cargo build --release -p agon
    /tmp/metricenv/bin/python scripts/reference/fuzz_metrics.py [sacrebleu|rouge|stem|texygen|all] [N] [SEED]

`AGON` names another agon binary. On 2026-12-06 (sacrebleu 2.6.0, rouge-score
0.1.2, nltk 3.10.4, Python 3.11.7) it found sacreBLEU's zero-match early stop
and Python's U+001C..U+001F whitespace, both since fixed; with
`--lowercase`, letters newer than the Python's Unicode version still differ
(docs/metrics.md).

Reference file reading follows the sacreBLEU CLI: open(..., encoding='utf-8', newline='\n'),
one line per '\n' (a final '\n' ends the last line), then line.rstrip() (sacrebleu).
"""
import json
import math
import os
import random
import subprocess
import sys
import tempfile

import nltk
import rouge_score
import sacrebleu
from nltk.stem import porter
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from rouge_score import rouge_scorer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AGON = os.environ.get("AGON", os.path.join(ROOT, "target/release/agon"))
ENV = dict(os.environ, AGON_HOME=tempfile.mkdtemp(prefix="agon-home-"))
TOL = 1e-9
WORK = tempfile.mkdtemp(prefix="agon-fuzz-")

# ---------------------------------------------------------------- agon


def run_agon(hyp: bytes, refs, args):
    """Writes the files, runs agon score --json. Returns ('ok', dict) or ('err', text)."""
    hp = os.path.join(WORK, "hyp.txt")
    with open(hp, "wb") as f:
        f.write(hyp)
    cmd = [AGON, "score", "--json", "--hyp", hp] + list(args)
    for i, r in enumerate(refs):
        rp = os.path.join(WORK, f"ref{i}.txt")
        with open(rp, "wb") as f:
            f.write(r)
        cmd += ["--ref", rp]
    p = subprocess.run(cmd, env=ENV, capture_output=True, timeout=60)
    if p.returncode != 0:
        return "err", (p.returncode, p.stderr.decode("utf-8", "replace").strip()[:300])
    return "ok", json.loads(p.stdout)


# ---------------------------------------------------------------- reference reading


def read_lines(data: bytes):
    """sacreBLEU CLI: utf-8 (BOM kept), newline='\\n', iterate lines (keep other separators)."""
    text = data.decode("utf-8")
    if text == "":
        return []
    parts = text.split("\n")
    if parts[-1] == "":
        parts.pop()
    return parts


# ---------------------------------------------------------------- generators

ASCII_WORDS = ("the cat sat on a mat dog runs running happily ran connected relational "
               "ponies caresses generously The Cat DOG A It's don't U.S.A. e.g. etc. Mr. 's n't "
               "hello world Hello, quick brown fox jumps over lazy").split()
NUMBERS = ["1,000", "3.14", ".5", "5.", "1-2", "10-20", "-3", "1.000,5", "2024", "0", "9-a", "a-9",
           "1-", "1.", "1,", ",1", "x1.2y", "1,2,3", "12.34.56"]
ENTITIES = ["&quot;", "&amp;", "&lt;", "&gt;", "&amp;quot;", "&apos;", "&nbsp;", "<skipped>",
            "&lt;skipped&gt;", "&", "&#39;", "&amp;amp;", "&quot", "&QUOT;", "<skip<skipped>ped>",
            "-\\n"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["--", "...", ".,", ",.", "?!", "''", "``", "a.b", "a,b", "a.,b", ".a", ",a"]
UNICODE = ["東京", "日本語", "2024年", "café", "naïve", "e\u0301", "😀", "👍🏽", "עברית", "العربية",
           "İstanbul", "İ", "STRASSE", "straße", "ß", "ẞ", "ΣΟΦΟΣ", "ΟΔΟΣ.", "Σ", "ς", "σ", "ΑΣ,",
           "\u212a", "\u212b", "ǅ", "ﬁ", "Ａ", "Ⅻ", "\u00ad", "\u200b", "\u200d", "\u180e", "—", "“quotes”",
           "‘s’", "…", "„", "«x»", "¿qué?", "Ω", "\u2126", "\ufeff", "İİ", "ǰ", "ŉ", "\u0345", "Ɤ", "\ua7cb",
           "\u1e9e", "Ⓐ", "𝐀", "١٢٣", "½", "²", "\U0001f1fa\U0001f1f8", "\ufffd", "\u0000"[:0] or "x\u0301.",
           "Привет", "МИР,", "Ǆ", "ﬀ", "\u0130.", "\u03a3\u03a3", "Σ.", "AΣ"]
SEPS = [" "] * 12 + ["\t", "  ", "\u00a0", "\u2009", "\u3000", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e",
                     "\x1f", "\u2028", "\u2029", "\x85", "\r", "\u1680", "\u2007", "\u202f", "\u205f", "\u200b",
                     " \t "]


def rand_token(rng, weights=(6, 2, 1.5, 2, 2.5)):
    pools = [ASCII_WORDS, NUMBERS, ENTITIES, PUNCT, UNICODE]
    pool = rng.choices(pools, weights=weights)[0]
    t = rng.choice(pool)
    if rng.random() < 0.05:
        t = t + rng.choice(PUNCT + UNICODE)
    if rng.random() < 0.03:
        t = rng.choice(PUNCT) + t
    return t


def rand_sep(rng, odd):
    return rng.choice(SEPS) if rng.random() < odd else " "


def rand_line(rng, maxlen=9, odd=0.15, weights=(6, 2, 1.5, 2, 2.5)):
    n = rng.choice([0, 1, 1, 2, 3] + list(range(2, maxlen + 1)))
    toks = [rand_token(rng, weights) for _ in range(n)]
    s = ""
    for i, t in enumerate(toks):
        s += (rand_sep(rng, odd) if i else "") + t
    if rng.random() < 0.1:
        s = rand_sep(rng, 0.7) + s
    if rng.random() < 0.1:
        s = s + rand_sep(rng, 0.7)
    return s


def perturb(rng, line, odd=0.15):
    toks = line.split(" ")
    out = []
    for t in toks:
        r = rng.random()
        if r < 0.12:
            continue
        if r < 0.2:
            out.append(rand_token(rng))
        if r < 0.25:
            t = t.upper() if rng.random() < 0.5 else t.lower()
        out.append(t)
    if len(out) > 2 and rng.random() < 0.3:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return rand_sep(rng, odd).join(out) if rng.random() < 0.5 else " ".join(out)


def assemble(rng, lines, bom_p=0.03):
    nl = "\r\n" if rng.random() < 0.15 else "\n"
    s = nl.join(lines)
    if rng.random() < 0.7:
        s += nl
    if rng.random() < bom_p:
        s = "\ufeff" + s
    return s.encode("utf-8")


def reference_line(rng, line):
    # One line (a newline would break the alignment); now and then a blank
    # one, which agon scores as the tools do, with a warning.
    if rng.random() < 0.05:
        return rng.choice(["", "   ", "\t"])
    return line if "\n" not in line else "x"


# ---------------------------------------------------------------- sacreBLEU + rouge (line-aligned)

_scorers = {}


def rouge_ref(hyps, refstreams, stem):
    if stem not in _scorers:
        _scorers[stem] = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=stem)
    sc = _scorers[stem]
    acc = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for i, h in enumerate(hyps):
        m = sc.score_multi([s[i] for s in refstreams], h)
        for k in acc:
            acc[k] += m[k].fmeasure
    n = len(hyps)
    return {"rouge1": acc["rouge1"] / n, "rouge2": acc["rouge2"] / n, "rouge_l": acc["rougeL"] / n}


def sacre_ref(hyps, refstreams, lc):
    hyps = [h.rstrip() for h in hyps]
    refstreams = [[r.rstrip() for r in s] for s in refstreams]
    m = sacrebleu.BLEU(lowercase=lc)
    s = m.corpus_score(hyps, refstreams)
    return {"sacrebleu": s.score / 100, "bp": s.bp, "sys_len": s.sys_len, "ref_len": s.ref_len,
            "precisions": [p / 100 for p in s.precisions], "signature": str(m.get_signature()),
            "nomatch": not any(s.counts)}


def read_files(hyp_b, ref_bs):
    """The hypothesis and reference lines, or ('err', why) as the CLI refuses them."""
    try:
        hyps = read_lines(hyp_b)
        refs = [read_lines(r) for r in ref_bs]
    except UnicodeDecodeError as e:
        return "err", f"decode {e}"
    if not hyps:
        return "err", "empty hyp file"
    return hyps, refs


def aligned_reference(hyp_b, ref_bs, lc, stem, metrics):
    """Reference result for the files, or ('err', why)."""
    hyps, refs = read_files(hyp_b, ref_bs)
    if hyps == "err":
        return hyps, refs
    for r in refs:
        if len(r) != len(hyps):
            return "err", "line count"
    out = {}
    if "sacrebleu" in metrics:
        out.update(sacre_ref(hyps, refs, lc))
    if "rouge" in metrics:
        out.update(rouge_ref(hyps, refs, stem))
    return "ok", out


def compare_aligned(hyp_b, ref_bs, lc, stem, metrics=("sacrebleu", "rouge")):
    """Returns list of (key, agon, ref) disagreements, and max abs diff dict."""
    args = ["--metric", ",".join(metrics)]
    if lc:
        args.append("--lowercase")
    if stem:
        args.append("--rouge-stemmer")
    ka, a = run_agon(hyp_b, ref_bs, args)
    kr, r = aligned_reference(hyp_b, ref_bs, lc, stem, metrics)
    diffs, bad = {}, []
    if ka != kr:
        bad.append(("status", (ka, a if ka == "err" else "ok"), (kr, r if kr == "err" else "ok")))
        return bad, diffs
    if ka == "err":
        return bad, diffs
    am = a["metrics"]
    keys = []
    if "sacrebleu" in metrics:
        keys.append("sacrebleu")
        sb = a["sacrebleu"]
        for k, ak in [("bp", "brevity_penalty"), ("sys_len", "hypothesis_length"), ("ref_len", "reference_length")]:
            d = abs(sb[ak] - r[k])
            diffs[k] = d
            if d > TOL:
                bad.append((k, sb[ak], r[k]))
        for i, (x, y) in enumerate(zip(sb["precisions"], r["precisions"])):
            if abs(x - y) > TOL:
                bad.append((f"p{i+1}", x, y))
        if sb["signature"] != r["signature"]:
            bad.append(("signature", sb["signature"], r["signature"]))
    if "rouge" in metrics:
        keys += ["rouge1", "rouge2", "rouge_l"]
    for k in keys:
        d = abs(am[k] - r[k])
        diffs[k] = d
        if d > TOL or math.isnan(am[k]) != math.isnan(r[k]):
            bad.append((k, am[k], r[k]))
    return bad, diffs


def gen_aligned(rng):
    nlines = rng.choice([1, 1, 2, 3, 4, 6])
    nrefs = rng.choice([1, 1, 1, 2, 3])
    odd = rng.choice([0.0, 0.1, 0.4])
    weights = rng.choice([(6, 2, 1.5, 2, 2.5), (10, 0, 0, 0, 0), (1, 1, 1, 1, 1), (2, 0, 0, 0, 6), (2, 3, 3, 3, 0)])
    base = [rand_line(rng, odd=odd, weights=weights) for _ in range(nlines)]
    streams = []
    for _ in range(nrefs):
        streams.append([reference_line(rng, perturb(rng, b, odd) if rng.random() < 0.8 else rand_line(rng, weights=weights))
                        for b in base])
    if rng.random() < 0.1:
        hyps = list(streams[0])  # identical -> BLEU 1 when long enough
    else:
        hyps = [perturb(rng, b, odd) if rng.random() < 0.85 else "" for b in base]
    hyp_b = assemble(rng, hyps)
    ref_bs = [assemble(rng, s) for s in streams]
    return hyp_b, ref_bs


# ---------------------------------------------------------------- stemmer (through rouge)

STEM_BASES = ("connect relat condit gener hop hopp fil fail agre plaster motor sing conflat troubl siz "
              "tann fall hiss fizz happ sky fly cri di li ti sens form electr vietnam predic oper feud "
              "decis call formal triplic adjust depend adopt homolog commun activ angular effect bowdler "
              "prob rat ceas control rol valen hesit digit conform radic differ vil analog ration "
              "abc bcd xyz yyy ay oy uy by cy a b y e i o u aa ee oo ii bb ss ll zz ff ing ed "
              "1 12 a1 1a 9z z9 ye yo ya ey oe ae ue uu ou ie ei").split()
STEM_SUFFIXES = ("- s es ies ied eed ed ing ings ly ally alli ously ousli fully fulli lessly abli bli logi "
                 "ational tional enci anci izer ation ator alism iveness fulness ousness aliti iviti biliti "
                 "icate ative alize iciti ical ful ness al ance ence er ic able ible ant ement ment ent ion "
                 "ou ism ate iti ous ive ize e le ll y iness ily ying yed sses ss us is ys eing eer er1 "
                 "ing2 9 0s 1ed ation1 izing ization isation eds ingly edly nesses ments ences ities ").split()


def rand_stem_word(rng, base=None):
    if base is None and rng.random() < 0.15:
        return "".join(rng.choice("aeiouybcdlmnrstxz19") for _ in range(rng.randint(1, 9)))
    if base is None and rng.random() < 0.08:
        return rng.choice(["sky", "skies", "dying", "lying", "tying", "news", "innings", "inning",
                           "outings", "outing", "cannings", "canning", "howe", "proceed", "exceed",
                           "succeed", "dies", "ties", "lies", "pies", "cries", "died", "tied",
                           "skying", "newss", "howes", "proceeds", "exceeded", "yying", "yy", "yyy",
                           "yyyy", "eed", "feed", "bleed", "agreed", "ied", "ies", "sses", "ss", "us"])
    b = base or rng.choice(STEM_BASES)
    s = rng.choice(STEM_SUFFIXES)
    w = b + ("" if s == "-" else s)
    if rng.random() < 0.2:
        w = w + rng.choice(STEM_SUFFIXES).strip("-")
    if rng.random() < 0.1:
        w = w.upper() if rng.random() < 0.5 else w.capitalize()
    return w


def gen_stem(rng):
    nlines = rng.choice([1, 3, 6])
    hyps, refs = [], []
    for _ in range(nlines):
        k = rng.randint(1, 12)
        bases = [rng.choice(STEM_BASES) for _ in range(k)]
        hyps.append(" ".join(rand_stem_word(rng, b if rng.random() < 0.8 else None) for b in bases))
        refs.append(" ".join(rand_stem_word(rng, b if rng.random() < 0.8 else None) for b in bases[::-1]))
    return assemble(rng, hyps, 0), [assemble(rng, refs, 0)]


# ---------------------------------------------------------------- Texygen BLEU / Self-BLEU / distinct

SMOOTH = SmoothingFunction().method1


def tok_whitespace(line, lc):
    return (line.lower() if lc else line).split()


def tok_char(line, lc):
    return [c for c in (line.lower() if lc else line) if not c.isspace()]


TOKS = {"whitespace": tok_whitespace, "char": tok_char}


def nltk_bleu(refs, hyp, n):
    return sentence_bleu(refs, hyp, weights=tuple([1.0 / n] * n), smoothing_function=SMOOTH)


def texygen_reference(hyp_b, ref_bs, orders, lc, tokname, metrics):
    hyps, refs = read_files(hyp_b, ref_bs)
    if hyps == "err":
        return hyps, refs
    tok = TOKS[tokname]
    H = [tok(h, lc) for h in hyps]
    R = [tok(l, lc) for r in refs for l in r]
    out = {}
    if "bleu" in metrics:
        for n in orders:
            try:
                out[f"bleu{n}"] = sum(nltk_bleu(R, h, n) for h in H) / len(H)
            except Exception as e:  # no references at all
                return "err", "nltk %s: %s" % (type(e).__name__, e)
    if "self-bleu" in metrics:
        if len(H) < 2:  # NLTK raises with no references; agon refuses (consistent)
            return "err", "self-bleu needs 2 hypotheses"
        for n in orders:
            try:
                out[f"self_bleu{n}"] = sum(nltk_bleu(H[:i] + H[i + 1:], h, n) for i, h in enumerate(H)) / len(H)
            except Exception as e:  # e.g. a single hypothesis: no references
                out[f"self_bleu{n}"] = ("exception", type(e).__name__)
    if "distinct" in metrics:
        for n in (1, 2):
            grams = [tuple(h[i:i + n]) for h in H for i in range(len(h) - n + 1)]
            out[f"distinct{n}"] = len(set(grams)) / len(grams) if grams else 0.0
    return "ok", out


def compare_texygen(hyp_b, ref_bs, orders, lc, tokname, metrics=("bleu", "self-bleu", "distinct")):
    args = ["--metric", ",".join(metrics), "--orders", ",".join(map(str, orders)), "--tokenizer", tokname]
    if lc:
        args.append("--lowercase")
    ka, a = run_agon(hyp_b, ref_bs if "bleu" in metrics else [], args)
    kr, r = texygen_reference(hyp_b, ref_bs, orders, lc, tokname, metrics)
    bad, diffs = [], {}
    if ka != kr:
        bad.append(("status", (ka, a if ka == "err" else "ok"), (kr, r if kr == "err" else "ok")))
        return bad, diffs
    if ka == "err":
        return bad, diffs
    for k, v in r.items():
        av = a["metrics"].get(k)
        if isinstance(v, tuple):
            bad.append((k, av, v))
            continue
        if av is None:
            bad.append((k, None, v))
            continue
        d = abs(av - v)
        diffs[k.rstrip("0123456789") + ("" if k.startswith("distinct") else "")] = max(diffs.get(k.rstrip("0123456789"), 0), d)
        if d > TOL:
            bad.append((k, av, v))
    return bad, diffs


def gen_texygen(rng):
    vocab = rng.choice([["a", "b"], ["a", "b", "c", "d"], ASCII_WORDS[:12], ASCII_WORDS + UNICODE[:20]])
    odd = rng.choice([0.0, 0.0, 0.2])

    def line(allow_empty):
        n = rng.choice(([0] if allow_empty else []) + [1, 1, 2, 3, 4, 5, 6, 8])
        s = ""
        for i in range(n):
            sep = rand_sep(rng, odd)
            s += (sep if i else "") + rng.choice(vocab)
        return s

    # >= 2 hypotheses: with one, Self-BLEU has no references (agon: error; NLTK: KeyError)
    hyps = [line(True) for _ in range(rng.choice([2, 2, 3, 5, 8]))]
    refs = [line(rng.random() < 0.1) for _ in range(rng.choice([1, 2, 4, 8]))]
    if rng.random() < 0.2:
        refs[0] = hyps[0] or "a"
    return assemble(rng, hyps, 0.02), [assemble(rng, refs, 0.02)]


# ---------------------------------------------------------------- minimiser


def minimise(data, pred):
    """data: (hyp_b, [ref_b...]); pred(data) -> bool. Greedy: drop lines, then chars."""
    def files(d):
        return [d[0]] + list(d[1])

    def rebuild(fs):
        return fs[0], fs[1:]

    fs = files(data)
    # 1. drop line indices (same index from all files: keeps alignment) then per-file lines
    changed = True
    while changed:
        changed = False
        split = [f.split(b"\n") for f in fs]
        n = max(len(s) for s in split)
        for i in range(n - 1, -1, -1):
            cand = [b"\n".join(s[:i] + s[i + 1:]) for s in split]
            if cand != fs and pred(rebuild(cand)):
                fs, changed = cand, True
                break
    # 2. drop chunks of characters in each file
    for fi in range(len(fs)):
        chunk = 16
        while chunk >= 1:
            i = 0
            while True:
                s = fs[fi].decode("utf-8", "surrogateescape")
                if i >= len(s):
                    break
                c = s[:i] + s[i + chunk:]
                cand = list(fs)
                cand[fi] = c.encode("utf-8", "surrogateescape")
                if pred(rebuild(cand)):
                    fs = cand
                else:
                    i += chunk
            chunk //= 2
    return rebuild(fs)


# ---------------------------------------------------------------- drivers

PRIO = {'status': 0, 'sacrebleu': 1, 'rouge1': 1, 'rouge2': 1, 'rouge_l': 1, 'sys_len': 2, 'ref_len': 2, 'bp': 3, 'signature': 3}


def report(name, bad, data, settings, pred):
    small = minimise(data, pred)
    print(f"  MISMATCH [{name}] settings={settings}")
    print(f"    original: hyp={data[0]!r} refs={data[1]!r}")
    print(f"    minimal : hyp={small[0]!r} refs={small[1]!r}")
    print(f"    diffs (key, agon, ref): {bad[:6]}")
    sys.stdout.flush()
    return small


def drive(kind, n, seed):
    rng = random.Random(seed)
    maxd, nbad, seen = {}, 0, set()
    for i in range(n):
        if kind in ("sacrebleu", "rouge", "stem"):
            data = gen_stem(rng) if kind == "stem" else gen_aligned(rng)
            lc = rng.random() < 0.4 and kind == "sacrebleu"
            stem = rng.random() < (1.0 if kind == "stem" else 0.4)
            metrics = ("rouge",) if kind == "stem" else ("sacrebleu", "rouge")
            bad, diffs = compare_aligned(*data, lc, stem, metrics)
            settings = dict(lc=lc, stem=stem)

            def pred(d, lc=lc, stem=stem, metrics=metrics, key=None):
                b, _ = compare_aligned(*d, lc, stem, metrics)
                return bool(b) and (key is None or any(x[0] == key for x in b))
        else:
            data = gen_texygen(rng)
            orders = sorted(rng.sample([1, 2, 3, 4, 5], rng.randint(1, 3)))
            orders = [o for o in orders if o >= 2] or [2]
            lc = rng.random() < 0.3
            tokname = "char" if rng.random() < 0.2 else "whitespace"
            bad, diffs = compare_texygen(*data, orders, lc, tokname)
            settings = dict(orders=orders, lc=lc, tok=tokname)

            def pred(d, orders=orders, lc=lc, tokname=tokname, key=None):
                b, _ = compare_texygen(*d, orders, lc, tokname)
                return bool(b) and (key is None or any(x[0] == key for x in b))
        for k, v in diffs.items():
            maxd[k] = max(maxd.get(k, 0.0), v)
        if bad:
            nbad += 1
            if len(seen) < 40:
                key = sorted(bad, key=lambda b: PRIO.get(b[0], 5))[0][0]
                sig = (key, str(settings))
                if sig in seen:
                    continue
                seen.add(sig)
                report(kind, bad, data, settings, lambda d, key=key: pred(d, key=key))
    print(f"{kind}: {n} cases, {nbad} with disagreements, max abs diff {maxd}")


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "all"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    print("versions:", f"sacrebleu {sacrebleu.__version__}, rouge-score 0.1.2, nltk {nltk.__version__}, python {sys.version.split()[0]}")
    for k in (["sacrebleu", "stem", "texygen"] if kind == "all" else [kind]):
        drive(k, n, seed)
