"""A prepared TFDS `glue/<task>` directory reads as GLUE's own files do.

The TFDS directory is prepared by TFDS' own `glue` builder from the same
sample files (its download replaced by the local directory), so the test
checks our reading of TFDS against our reading of the files it came from.
"""

import importlib.resources
import importlib.resources.abc  # noqa: F401  (TFDS reads `importlib_resources.abc`)
import os
import sys
from unittest import mock

import numpy as np
import pytest
import tensorflow_datasets as tfds

from glue_samples import write_glue
from official_tokendrop.errors import MissingFileError
from official_tokendrop.finetuning.glue_data import read_glue, task_directory


def _prepare(glue, data_dir, name):
    """TFDS' builder run on the sample files under `glue` (nothing downloaded;
    TFDS' builder asks `importlib_resources`, a backport the pinned set
    lacks and reading does not use, for what the standard library's
    `importlib.resources` has)."""
    with mock.patch.object(tfds.download.DownloadManager, "download_and_extract", lambda self, url: glue), \
            mock.patch.dict(sys.modules, {"importlib_resources": importlib.resources}):
        tfds.builder(f"glue/{name}", data_dir=data_dir).download_and_prepare()


@pytest.mark.parametrize("name, title", [("mnli", "MNLI"), ("stsb", "STS-B")])
def test_tfds_reads_as_the_files_it_was_prepared_from(tmp_path, name, title):
    glue = write_glue(tmp_path / "glue", [title])
    data_dir = str(tmp_path / "tfds")
    _prepare(glue, data_dir, name)
    assert task_directory(data_dir, name) == data_dir
    from_tfds, from_files = read_glue(name, data_dir), read_glue(name, os.path.join(glue, title))
    assert set(from_tfds.splits) == set(from_files.splits)
    for split, ours in from_files.splits.items():
        theirs = from_tfds.splits[split]
        assert theirs.texts == ours.texts and theirs.labels == ours.labels, split
        assert theirs.index == ours.index and theirs.source.startswith(f"TFDS glue/{name} {split} in "), split
        if ours.labels:
            # TFDS numbers MNLI's labels in another order; the targets are ours.
            np.testing.assert_array_equal(from_tfds.targets(split), from_files.targets(split))


def test_an_unprepared_tfds_task_is_one_line(tmp_path):
    (tmp_path / "glue" / "rte").mkdir(parents=True)
    with pytest.raises(MissingFileError, match=r"holds glue/rte but not the prepared version \S+ this "
                                               r"tensorflow-datasets reads \(nothing is downloaded\)"):
        read_glue("rte", str(tmp_path))
