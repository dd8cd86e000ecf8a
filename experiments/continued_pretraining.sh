#!/usr/bin/env bash
# Continued pretraining through task.init_checkpoint: the demo model's
# export, then STEPS steps of token-dropping pretraining on another corpus,
# against the same STEPS steps from random weights (same data, same order,
# same seed). Prints both runs' held-out loss on the new corpus.
#
#   bash experiments/continued_pretraining.sh            # sqlite_docs.txt, 200 steps
#   CORPUS=path/to/domain.txt STEPS=300 bash experiments/continued_pretraining.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
CORPUS=${CORPUS:-../shared/data/corpus/sqlite_docs.txt}
STEPS=${STEPS:-200}
WORK=${WORK:-runs/continued}
VOCAB=runs/demo/data/vocab.txt

# The general model: the demo (its vocabulary was learned without CORPUS).
[ -f runs/demo/export/config.json ] || $PY -m official_tokendrop.train \
    --experiment=token_drop_bert/demo --mode=train_and_eval --model_dir=runs/demo

# The domain: its first 20,000 lines to train on, its last 2,000 held out.
mkdir -p "$WORK/text"
head -n 20000 "$CORPUS" > "$WORK/text/train.txt"
tail -n 2000 "$CORPUS" > "$WORK/text/heldout.txt"
for split in train heldout; do
    [ -f "$WORK/$split/dataset_config.json" ] || $PY -m official_tokendrop.data.create_pretraining_data \
        --input_files="$WORK/text/$split.txt" --vocab_file=$VOCAB --output_dir="$WORK/$split" \
        --seq_length=128 --max_predictions_per_seq=20 --num_shards=1
done

for start in random demo_export; do
    init=""
    [ $start = demo_export ] && init=",task.init_checkpoint=runs/demo/export"
    $PY -m official_tokendrop.train --experiment=token_drop_bert/demo --mode=train_and_eval \
        --model_dir="$WORK/from_$start" --params_override="task.sample_data=false,task.export=false,\
task.seed=0,task.vocab_file=$VOCAB,task.train_data.input_path=$WORK/train/*.tfrecord,\
task.validation_data.input_path=$WORK/heldout/*.tfrecord,trainer.train_steps=$STEPS,\
trainer.validation_interval=$STEPS,trainer.checkpoint_interval=$STEPS,trainer.validation_steps=0$init"
done
for start in random demo_export; do
    $PY -c "import json,sys; r=json.load(open(sys.argv[1])); print(f'from {sys.argv[2]}: held-out loss {r[\"loss\"]:.4f}, mlm_acc {r[\"mlm_accuracy\"]:.4f} at step {r[\"step\"]}')" \
        "$WORK/from_$start/eval_results.json" $start
done
