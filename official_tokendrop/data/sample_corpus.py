"""A real-English sample corpus that needs no download.

Extracts the prose of documentation strings from Python source already on
the machine (the standard library, then installed packages such as keras
and numpy): one docstring per document, one sentence per line. Code
examples, argument lists and other non-prose lines are dropped. The output
is deterministic for a given set of installed files.

    python -m official_tokendrop.data.sample_corpus --output_file=sample.txt
"""

import ast
import importlib.util
import os
import re
import sys

from absl import app, flags

from official_tokendrop.errors import RunError

DEFAULT_PACKAGES = ("keras", "numpy", "absl")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
_NOT_PROSE = re.compile(r"^(>>>|\.\.\.|```|[-=*~]{3,}|[A-Za-z_]+ ?(\(.*\))?:\s*$|\S+ : )")


def _source_roots(packages):
    roots = [os.path.dirname(os.__file__)]
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec and spec.submodule_search_locations:
            roots.extend(spec.submodule_search_locations)
    return roots


def _python_files(root):
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in ("site-packages", "test", "tests", "__pycache__"))
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(directory, name)


def _docstrings(path):
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            text = ast.get_docstring(node)
            if text:
                yield text


def _is_prose(sentence):
    words = _WORD.findall(sentence)
    return (
        len(words) >= 4
        and sum(len(w) for w in words) >= 0.6 * len(sentence)
        and sentence[0].isupper()
        and sentence[-1] in ".!?"
    )


def prose_sentences(docstring):
    """The prose sentences of one docstring, code and field lists removed."""
    sentences = []
    for paragraph in re.split(r"\n\s*\n", docstring):
        lines = [line.strip() for line in paragraph.splitlines()]
        if not lines or any(_NOT_PROSE.match(line) for line in lines):
            continue
        text = " ".join(lines)
        sentences.extend(s for s in _SENTENCE_END.split(text) if _is_prose(s))
    return sentences


def write_sample_corpus(output_file, max_bytes=2_000_000, packages=DEFAULT_PACKAGES):
    """Writes up to `max_bytes` of docstring prose; returns (documents, bytes)."""
    seen, documents, size = set(), 0, 0
    with open(output_file, "w", encoding="utf-8") as out:
        for root in _source_roots(packages):
            for path in _python_files(root):
                for docstring in _docstrings(path):
                    sentences = [s for s in prose_sentences(docstring) if s not in seen]
                    if len(sentences) < 2:
                        continue
                    seen.update(sentences)
                    block = "\n".join(sentences) + "\n\n"
                    out.write(block)
                    documents += 1
                    size += len(block.encode("utf-8"))
                    if size >= max_bytes:
                        return documents, size
    if documents == 0:
        raise RunError("Found no docstring prose on this machine.")
    return documents, size


FLAGS = flags.FLAGS


def main(argv):
    del argv
    documents, size = write_sample_corpus(FLAGS.output_file, int(FLAGS.max_megabytes * 1e6))
    print(f"{documents} documents, {size / 1e6:.2f} MB -> {FLAGS.output_file}", file=sys.stderr)


if __name__ == "__main__":
    flags.DEFINE_string("output_file", None, "Where to write the corpus.")
    flags.DEFINE_float("max_megabytes", 2.0, "Size limit.")
    flags.mark_flag_as_required("output_file")
    app.run(main)
