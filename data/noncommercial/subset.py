"""Makes the conditional-task subsets in data/noncommercial/ from the shared
corpora (see ../SOURCES.md for their origin and licences). Written for agon;
run from the repository root with the shared data at ../shared/data:

    python3 data/noncommercial/subset.py

Every choice is seeded (`random.Random(1234)`) and keeps line alignment and
file order; lines are unchanged.
"""
import random
from pathlib import Path

SHARED = Path("../shared/data")
OUT = Path("data/noncommercial")


def read(path):
    return (SHARED / path).read_text(encoding="utf-8").splitlines()


def write(path, lines):
    path = OUT / path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def subset(streams, count, seed):
    """The same `count` rows (file order kept) of line-aligned `streams`."""
    n = len(streams[0])
    assert all(len(s) == n for s in streams)
    keep = sorted(random.Random(seed).sample(range(n), min(count, n)))
    return [[s[i] for i in keep] for s in streams]


# Multi30k de→en: 10,000 of the 29,000 training pairs; test2016 whole.
de, en = subset([read("translation/multi30k/train.de"), read("translation/multi30k/train.en")], 10_000, 1234)
write("multi30k/train.de", de)
write("multi30k/train.en", en)
write("multi30k/test2016.de", read("translation/multi30k/test.de"))
write("multi30k/test2016.en", read("translation/multi30k/test.en"))

# DialogSum: 3,000 of the 12,460 training dialogues; the test set whole with
# its three reference summaries.
src, tgt = subset([read("summarization/dialogsum/train.src"), read("summarization/dialogsum/train.tgt")], 3_000, 1234)
write("dialogsum/train.src", src)
write("dialogsum/train.tgt", tgt)
for name in ["test.src", "test.tgt", "test.tgt2", "test.tgt3"]:
    write(f"dialogsum/{name}", read(f"summarization/dialogsum/{name}"))

# DailyDialog single-turn pairs: 10,000 of the shared 40,000 training pairs,
# 1,000 of the 6,740 test pairs.
src, tgt = subset([read("dialogue/dailydialog/train.src"), read("dialogue/dailydialog/train.tgt")], 10_000, 1234)
write("dailydialog/train.src", src)
write("dailydialog/train.tgt", tgt)
src, tgt = subset([read("dialogue/dailydialog/test.src"), read("dialogue/dailydialog/test.tgt")], 1_000, 1234)
write("dailydialog/test.src", src)
write("dailydialog/test.tgt", tgt)

# End-to-end tests: 300 training and 60 test pairs of Multi30k.
de, en = subset([read("translation/multi30k/train.de"), read("translation/multi30k/train.en")], 300, 7)
Path("tests/fixtures/conditional").mkdir(parents=True, exist_ok=True)
for name, lines in [("train.de", de), ("train.en", en)]:
    Path(f"tests/fixtures/conditional/{name}").write_text("".join(l + "\n" for l in lines), encoding="utf-8")
de, en = subset([read("translation/multi30k/test.de"), read("translation/multi30k/test.en")], 60, 7)
for name, lines in [("test.de", de), ("test.en", en)]:
    Path(f"tests/fixtures/conditional/{name}").write_text("".join(l + "\n" for l in lines), encoding="utf-8")
print("done")
