"""The study's corpora: text files split into training and held-out lines,
a vocabulary and the TFRecords of both splits; the unigram predictor's
held-out loss on them."""

import dataclasses
import functools
import json
import os

import numpy as np

from official_tokendrop.data.create_pretraining_data import ConversionOptions, convert
from official_tokendrop.data.documents import ReadReport, text_lines
from official_tokendrop.data.pretrain_dataloader import pretrain_dataset
from official_tokendrop.data.vocabulary import Vocabulary, build_vocabulary, load_vocabulary

from .arms import ARMS
from .stages import StudyError

HELDOUT_EVERY, DOMAIN_HELDOUT_EVERY = 50, 10  # a single file needs a larger share for its eval batches


@dataclasses.dataclass(frozen=True)
class Corpus:
    """Text files split into training and held-out lines, a vocabulary and
    the TFRecords of both splits."""

    files: list  # the corpus files it was made of (names)
    heldout_every: int  # every n-th line of each file is held out
    vocabulary: Vocabulary  # its tokens, special ids and normalisation
    text: dict  # "train" / "heldout" -> the split's text file
    data: dict  # "train" / "heldout" -> TFRecord pattern

    @property
    def vocab(self):
        """The vocabulary's file (a vocab.txt, or a released model's tokenizer.json)."""
        return self.vocabulary.path

    @property
    def vocab_size(self):
        return len(self.vocabulary)

    def summary(self, unigram):
        """Its entry in results.json, with its unigram held-out loss."""
        return {"files": self.files, "heldout_every": self.heldout_every, "vocab": self.vocab,
                "vocab_size": self.vocab_size, "unigram_heldout_loss": unigram}


def unigram_cross_entropy(train_labels, train_weights, eval_labels, eval_weights, vocab_size):
    """Held-out loss of predicting each masked token by its training frequency.

    Frequencies are counted over the training split's weighted masked
    labels with add-one smoothing over the vocabulary; the loss is the
    weighted mean negative log-probability of the held-out labels.
    """
    counts = np.bincount(np.ravel(train_labels), weights=np.ravel(train_weights), minlength=vocab_size)
    log_p = np.log(counts + 1.0) - np.log(counts.sum() + vocab_size)
    weights = np.ravel(eval_weights)
    return float(-np.sum(log_p[np.ravel(eval_labels)] * weights) / np.sum(weights))


def masked_labels(pattern, scale, batches=None):
    """(masked ids, their weights) of the TFRecords `pattern` at `scale`
    (the first `batches` batches; all by default)."""
    data = pretrain_dataset(pattern, scale.batch, scale.seq, scale.predictions, is_training=False)
    ids, weights = [], []
    for i, batch in enumerate(data):
        if batches is not None and i >= batches:
            break
        ids.append(batch["masked_lm_ids"].numpy())
        weights.append(batch["masked_lm_weights"].numpy())
    if batches is not None and len(ids) < batches:
        raise StudyError(f"held-out data gives {len(ids)} full batches of {scale.batch}; "
                         f"the evaluation needs {batches}.")
    return np.concatenate(ids), np.concatenate(weights)


def _convert(input_files, vocab_file, output_dir, options):
    """The converter's work and its printed summary (`create_pretraining_data.main`)."""
    print(json.dumps(convert(input_files, vocab_file, output_dir, options), indent=2))


class Corpora:
    """Prepares the corpora of a study's runs in its work dir.

    Args:
        stages: `stages.Stages`, the work dir and its logs.
        scale: `arms.Scale`.
        seed: int, the conversion's masking seed.
        corpus_lines: int, lines read per corpus file (0: all).
    """

    def __init__(self, stages, scale, seed, corpus_lines=0):
        self.stages, self.scale, self.seed, self.corpus_lines = stages, scale, seed, corpus_lines

    def prepare(self, runs, files, domain_file, released_vocab=None):
        """{name: Corpus} of the runs' corpora (`arms.Arm.corpus`): the whole
        corpus ("corpus", its TFRecords at the top of the work dir); for
        the continuations of general, the corpus without `domain_file`
        ("general", with a vocabulary of its own) and the domain file under
        general's vocabulary ("domain"); for the released arms, the domain
        file under the released model's vocabulary `released_vocab`
        ("released"). Both domain corpora hold out the same lines."""
        needed, corpora, work = {ARMS[r].corpus for r in runs}, {}, self.stages.work
        domain = [f for f in files if os.path.basename(f) == domain_file]
        if "corpus" in needed:
            corpora["corpus"] = self.corpus(work, files, HELDOUT_EVERY)
        if needed & {"general", "domain"}:
            corpora["general"] = self.corpus(os.path.join(work, "general_data"),
                                             [f for f in files if f not in domain], HELDOUT_EVERY)
            corpora["domain"] = self.corpus(os.path.join(work, "domain_data"), domain, DOMAIN_HELDOUT_EVERY,
                                            corpora["general"].vocab)
        if "released" in needed:
            corpora["released"] = self.corpus(os.path.join(work, "released_data"), domain, DOMAIN_HELDOUT_EVERY,
                                              released_vocab)
        return corpora

    def split(self, directory, files, heldout_every):
        """{"train", "heldout"}: text files of `files`' lines, every
        `heldout_every`-th held out, one document break after each file.
        Read as the converter reads a corpus: undecodable lines are skipped
        and named, never guessed at."""
        text = {split: os.path.join(directory, f"{split}.txt") for split in ("train", "heldout")}
        if all(os.path.exists(p) for p in text.values()):
            return text
        report = ReadReport()
        with open(text["train"] + ".tmp", "w", encoding="utf-8") as train, \
                open(text["heldout"] + ".tmp", "w", encoding="utf-8") as heldout:
            for name in files:
                for i, line in enumerate(text_lines(name, report)):
                    if self.corpus_lines and i >= self.corpus_lines:
                        break
                    (heldout if i % heldout_every == 0 else train).write(line + "\n")
                train.write("\n")
                heldout.write("\n")
        if report.undecodable:
            self.stages.log(report.skipped())
        for p in text.values():
            os.replace(p + ".tmp", p)
        return text

    def corpus(self, directory, files, heldout_every, vocab=None):
        """Every `heldout_every`-th line of each of `files` held out, a
        vocabulary learned from the rest (or the vocabulary file `vocab`),
        and TFRecords of both splits, under `directory`."""
        s, stages = self.scale, self.stages
        os.makedirs(directory, exist_ok=True)
        logs = os.path.relpath(directory, stages.work)  # "." for the corpus
        text = self.split(directory, files, heldout_every)
        if vocab is None:
            vocab = os.path.join(directory, "vocab.txt")
            if not os.path.exists(vocab):
                stages.run(stages.program("official_tokendrop.data.vocabulary", f"--input_files={text['train']}",
                                          f"--vocab_size={s.vocab_size}", f"--max_lines={s.vocab_lines}",
                                          f"--output_file={vocab}"),
                           os.path.normpath(os.path.join(logs, "vocab.log")),
                           here=lambda: build_vocabulary([text["train"]], s.vocab_size, vocab,
                                                         max_lines=s.vocab_lines))
        data = {split: self.records(text[split], vocab, os.path.join(directory, split), logs)
                for split in ("train", "heldout")}
        corpus = Corpus([os.path.basename(f) for f in files], heldout_every, load_vocabulary(vocab), text, data)
        stages.log(f"data ready: {', '.join(corpus.files)}, vocabulary {corpus.vocab_size} tokens, "
                   f"TFRecords under {directory}")
        return corpus

    def records(self, text, vocab, output, logs):
        """The TFRecord pattern of the text file `text` converted into
        `output` (converted unless a finished conversion is there)."""
        s, split = self.scale, os.path.basename(output)
        if not os.path.exists(os.path.join(output, "dataset_config.json")) or any(
                f.endswith(".incomplete") for f in os.listdir(output)):
            options = ConversionOptions(seq_length=s.seq, max_predictions_per_seq=s.predictions, num_shards=4,
                                        dupe_factor=s.dupe_factor if split == "train" else 1,
                                        random_seed=self.seed)
            self.stages.run(
                self.stages.program(
                    "official_tokendrop.data.create_pretraining_data", f"--input_files={text}",
                    f"--vocab_file={vocab}", f"--output_dir={output}", f"--seq_length={s.seq}",
                    f"--max_predictions_per_seq={s.predictions}", f"--num_shards={options.num_shards}",
                    f"--dupe_factor={options.dupe_factor}", f"--random_seed={options.random_seed}"),
                os.path.normpath(os.path.join(logs, f"convert_{split}.log")),
                here=functools.partial(_convert, [text], vocab, output, options))
        return os.path.join(output, "*.tfrecord")

    def unigram(self, corpus):
        """The unigram predictor's loss on exactly the evaluated masked
        positions of `corpus`."""
        s = self.scale
        train = masked_labels(corpus.data["train"], s)
        heldout = masked_labels(corpus.data["heldout"], s, s.eval_batches)
        loss = unigram_cross_entropy(*train, *heldout, corpus.vocab_size)
        self.stages.log(f"unigram held-out loss {loss:.4f} ({int(heldout[1].sum())} masked positions of "
                        f"{', '.join(corpus.files)})")
        return loss
