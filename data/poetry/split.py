"""Splits Texygen's shi.txt (16,394 quatrains) into train.txt and test.txt.

    python3 data/poetry/split.py /path/to/shi.txt

Seeded shuffle (random.Random(1234)); the first 2,000 poems are the test set,
the other 14,394 the training set. Lines are kept as they are (characters
separated by spaces, 24 tokens: 20 characters and 4 punctuation marks).
"""
import random
import sys

lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
lines = [l.strip() for l in lines if l.strip()]
order = list(range(len(lines)))
random.Random(1234).shuffle(order)
test = [lines[i] for i in sorted(order[:2000])]
train = [lines[i] for i in sorted(order[2000:])]
for name, part in (("train", train), ("test", test)):
    with open(f"data/poetry/{name}.txt", "w", encoding="utf-8") as f:
        f.write("\n".join(part) + "\n")
print(len(train), len(test))
