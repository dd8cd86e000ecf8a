"""The in-domain fine-tuning task, built from the domain file's held-out
lines: do two of them stand next to each other in the file, or far apart?

Its text is the held-out split of `--domain_file` (every 10th line), which
no arm pretrains on, so every sentence is new to every model while its
subject is the domain's. The held-out lines of each document (runs of
lines between blank lines, the converter's document breaks) are cut into
blocks of `BLOCK` consecutive lines; block k goes to dev when k % 10 == 8,
to test when k % 10 == 9, else to train, and a pair never leaves its
block's split, so no sentence is in two splits. For each two consecutive
held-out lines of a block (10 lines apart in the file) a seeded coin makes
the pair "near" (the two lines) or "far" (the first line and a line of
another block of the split that is not next to its own), so the classes
are balanced. The labels come from positions alone: a model answers from
what it knows of how the domain's text goes on (its subjects, its terms,
the order of its explanations), which is what continued pretraining on
the domain should teach and what the general-English tasks cannot show.
"""

import os

import numpy as np

from official_tokendrop.data.task_rows import Split, write_task_file

from .stages import StudyError

NAME = "domain_neighbours"
BLOCK = 20  # held-out lines per block: 200 lines of the file, a few pages of sqlite_docs
SPLITS = ("train", "dev", "test")


def documents(path):
    """The documents of a held-out split's text file: lists of its
    non-blank lines, cut at blank lines."""
    found, current = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                current.append(line)
            elif current:
                found.append(current)
                current = []
    return found + ([current] if current else [])


def split_of(block):
    """The split of the `block`-th block: 8 of 10 train, one dev, one test."""
    return {8: "dev", 9: "test"}.get(block % 10, "train")


def neighbour_rows(docs, block=BLOCK, seed=0):
    """{split: [(label, text, text_b)]} of the near/far pairs of `docs`
    (lists of held-out lines, in file order); see the module docstring."""
    blocks = [doc[i:i + block] for doc in docs for i in range(0, len(doc), block)]
    members = {split: [] for split in SPLITS}
    for index, lines in enumerate(b for b in blocks if len(b) >= 2):
        members[split_of(index)].append((index, lines))
    short = [split for split in SPLITS if len(members[split]) < 2]
    if short:
        raise StudyError(f"{NAME}: the held-out lines give {sum(len(m) for m in members.values())} blocks of "
                         f"{block}, too few for two in each of {', '.join(short)} (a longer --domain_file).")
    rng, rows = np.random.default_rng(seed), {}
    for split, blocks_of_split in members.items():
        rows[split] = []
        for index, lines in blocks_of_split:
            others = [other for i, other in blocks_of_split if abs(i - index) > 1]
            for first, second in zip(lines, lines[1:]):
                if rng.random() < 0.5:
                    rows[split].append(("near", first, second))
                else:
                    other = others[rng.integers(len(others))]
                    rows[split].append(("far", first, other[rng.integers(len(other))]))
    return rows


def build(heldout_text, directory, block=BLOCK, seed=0):
    """{split: path} of the task's files in `directory`, built from the
    held-out text file `heldout_text` (kept when a finished build is there)."""
    paths = {split: os.path.join(directory, f"{NAME}.{split}.tsv") for split in SPLITS}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    os.makedirs(directory, exist_ok=True)
    for split, rows in neighbour_rows(documents(heldout_text), block, seed).items():
        labels, texts, pairs = (list(column) for column in zip(*rows))
        write_task_file(paths[split] + ".tmp", Split(paths[split], labels, texts, pairs))
    for path in paths.values():  # all three or none
        os.replace(path + ".tmp", path)
    return paths
