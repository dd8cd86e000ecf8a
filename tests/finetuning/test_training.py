"""The fine-tuning head: predictions read both texts of a pair, and each
model starts from the pretrained weights."""

import hashlib

import keras_hub
import numpy as np
import pytest

from official_tokendrop.data.vocabulary import Vocabulary
from official_tokendrop.finetuning import training
from official_tokendrop.finetuning.pretrained import Pretrained

TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c")


def tiny_pretrained():
    backbone = keras_hub.models.BertBackbone(vocabulary_size=len(TOKENS), num_layers=1, num_heads=2, hidden_dim=8,
                                             intermediate_dim=16, max_sequence_length=8, dropout=0.0)
    vocabulary = Vocabulary(TOKENS, "tokens", hashlib.sha256(b"").hexdigest())
    return Pretrained("tiny", backbone, keras_hub.models.BertTokenizer(vocabulary=list(TOKENS)), vocabulary, None)


@pytest.mark.slow
def test_predictions_of_pairs_read_both_texts_on_a_copy_of_the_backbone():
    pretrained = tiny_pretrained()
    model = training.build_model(pretrained, 3, 8, 1e-3, steps=10)
    assert model.backbone is not pretrained.backbone
    for ours, theirs in zip(model.backbone.weights, pretrained.backbone.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    pairs = (["a b", "a b", "c"], ["c", "a a b", "c"])
    logits = model(model.preprocessor(x=tuple(np.array(column) for column in pairs)), training=False)
    np.testing.assert_array_equal(training.predict(model, pairs, batch_size=3), np.argmax(logits, axis=-1))
    # The second text changes the input: rows 0 and 1 differ only there.
    assert not np.allclose(logits[0], logits[1])
    assert training.training_steps(examples=65, batch_size=32, epochs=3) == 9
