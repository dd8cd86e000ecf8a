"""Token dropping against its controls, at a scale where the models learn.

On `../shared/data/corpus/` (every 50th line held out, a WordPiece
vocabulary learned from the rest) and one small BERT, the study trains the
arms of `arms.ARMS` on the same data order (one experiment seed) and
fine-tunes the models of the first lists on `../shared/data/tasks/`. Its
released arms continue a released BERT (`--init_checkpoint`, e.g.
all-MiniLM-L6-v2 at the `minilm` scale) on `--domain_file` under that
model's own vocabulary, beside the model as it ships and random weights of
its shape.

Cost is counted on two noise-free axes: FLOPs from
`official_tokendrop.models.flops` and step-seconds (each step at the seconds
of its training mode, measured for all arms and modes in one interleaved
benchmark before pretraining starts, so the long runs may share the machine
with light work). The held-out MLM loss (full encoder) is evaluated
`--evaluations` times per run next to the unigram predictor's loss on the
same masked positions (the continuations': the domain's held-out loss).

Modules, in the order a study uses them:
  arms        the table of arms (one row per arm) and the study's scales
  stages      the work dir, its logs and the record of the commands run
  corpora     corpus files -> held-out split, vocabulary, TFRecords; unigram loss
  configs     an arm's experiment config (the keys a user would set)
  costs       step-seconds and FLOPs of a run, sizes of the equal-cost arms,
              where a curve reaches another's loss
  benchmark   the interleaved step-time benchmark of every arm's modes
  pretraining the training runs and their held-out curves
  domain_task the in-domain task, built from the domain file's held-out lines
  finetuning  task files, slices, presets and fine-tunes at each learning
              rate of the scale's grid (picked on dev), in rounds
  results     results.json and commands.txt from the study's numbers
  goals       one line per goal, met or missed (reads results.json's numbers)
  report      results.md and the plots from results.json alone
  study       the stages in order; cli: the flags and `main`

Writes `experiments/results/<name>/`: results.json (every number),
results.md, commands.txt and two plots of held-out loss against cost (two
more of the domain's held-out loss when the continuations run). The data
stages run in the study's process (a program's start-up saved each);
commands.txt gives the commands that compute the same. A rerun reuses
finished work (data, benchmark, finished runs, exports, fine-tunes) and
resumes an interrupted run from its last checkpoint.
"""
