"""The in-domain task: near/far pairs of held-out lines, by hand."""

import pytest

from experiments.study import domain_task
from experiments.study.stages import StudyError
from official_tokendrop.data.task_rows import read_task_file


def test_documents_are_the_runs_of_lines_between_blank_lines(tmp_path):
    heldout = tmp_path / "heldout.txt"
    heldout.write_text("a0\na1\n\nb0\n\n\nc0  \n")
    assert domain_task.documents(str(heldout)) == [["a0", "a1"], ["b0"], ["c0"]]


def test_pairs_stay_in_their_blocks_split_and_far_ones_come_from_a_block_not_next_to_theirs():
    lines = [f"l{i}" for i in range(40)]
    # Blocks of 2 lines: 20 blocks, one pair each; blocks 8 and 18 are dev,
    # 9 and 19 test, the 16 others train. A 1-line document makes no block.
    rows = domain_task.neighbour_rows([lines, ["alone"]], block=2, seed=0)
    assert {split: len(r) for split, r in rows.items()} == {"train": 16, "dev": 2, "test": 2}
    block = {line: i // 2 for i, line in enumerate(lines)}
    for split, pairs in rows.items():
        for label, first, second in pairs:
            assert domain_task.split_of(block[first]) == domain_task.split_of(block[second]) == split
            if label == "near":  # the next held-out line of its block
                assert block[second] == block[first] and int(second[1:]) == int(first[1:]) + 1
            else:
                assert label == "far" and abs(block[second] - block[first]) > 1
    firsts = [first for pairs in rows.values() for _, first, _ in pairs]
    assert sorted(firsts) == sorted(lines[::2])  # each block's first line opens its one pair
    labels = [label for pairs in rows.values() for label, _, _ in pairs]
    assert 0 < labels.count("near") < len(labels)
    # Seeded: the same pairs again; another seed flips other coins.
    assert domain_task.neighbour_rows([lines], block=2, seed=0) == rows
    assert domain_task.neighbour_rows([lines], block=2, seed=1) != rows


def test_too_few_held_out_lines_for_two_blocks_in_dev_and_test_are_one_line():
    with pytest.raises(StudyError, match="domain_neighbours: the held-out lines give 10 blocks of 2, too few for "
                                         r"two in each of dev, test \(a longer --domain_file\)"):
        domain_task.neighbour_rows([[f"l{i}" for i in range(20)]], block=2)


def test_build_writes_three_task_files_once(tmp_path):
    heldout = tmp_path / "heldout.txt"
    heldout.write_text("".join(f"line {i}\twith a tab\n" for i in range(80)) + "\n")
    paths = domain_task.build(str(heldout), str(tmp_path / "task"), block=4)
    assert list(paths) == ["train", "dev", "test"]
    splits = {split: read_task_file(path) for split, path in paths.items()}
    expected = domain_task.neighbour_rows(domain_task.documents(str(heldout)), block=4)
    for split, rows in expected.items():  # read back as written, tabs in texts included
        assert list(zip(splits[split].labels, splits[split].texts, splits[split].text_pairs)) == rows
    heldout.unlink()  # a finished build is kept
    assert domain_task.build(str(heldout), str(tmp_path / "task"), block=4) == paths
