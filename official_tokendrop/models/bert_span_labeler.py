"""BERT span labelling (SQuAD): start and end logits over the sequence."""

import keras
import keras_hub
from keras_hub.src.models.bert.bert_backbone import bert_kernel_initializer

from official_tokendrop.models.fine_tuning_task import FineTuningTask


@keras.saving.register_keras_serializable(package="official_tokendrop")
class BertSpanLabeler(FineTuningTask):
    """A BERT model that finds an answer's span in its input (SQuAD).

    One dense layer maps each position of the backbone's `sequence_output`
    to a start and an end logit, as BERT's SQuAD head does (no dropout, its
    truncated-normal initializer). The output is `[batch, 2, sequence]`:
    row 0 the start logits, row 1 the end logits. The labels are
    `[batch, 2]`: the first and the last position of the answer (0, [CLS],
    where there is none), so `compile`'s default loss, sparse categorical
    cross-entropy from logits averaged over both rows, is BERT's
    `(start_loss + end_loss) / 2`. Padding positions are not masked (as in
    BERT): the n-best search only considers context positions.

    Inputs are keras-hub `BertBackbone`'s (`token_ids`, `segment_ids`,
    `padding_mask`); SQuAD's windows are built in Python
    (`finetuning.squad_features`), so there is no keras-hub preprocessor.

    Args:
        backbone: A `keras_hub.models.BertBackbone` instance.
        preprocessor: `None`, or a keras-hub preprocessor that turns raw
            inputs into the backbone's (keras-hub `Task`'s argument).

    Example:
    ```python
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=100, num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=12,
    )
    labeler = BertSpanLabeler(backbone)
    features = {
        "token_ids": np.array([[2, 7, 3, 9, 10, 11, 3, 0]] * 2),
        "segment_ids": np.array([[0, 0, 0, 1, 1, 1, 1, 0]] * 2),
        "padding_mask": np.array([[1, 1, 1, 1, 1, 1, 1, 0]] * 2),
    }
    spans = np.array([[4, 5], [0, 0]])  # an answer at 4..5; none ([CLS])
    labeler.fit(features, spans, batch_size=2)
    logits = labeler.predict(features)  # [2, 2, 8]
    ```
    """

    backbone_cls = keras_hub.models.BertBackbone

    def __init__(self, backbone, preprocessor=None, **kwargs):
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.span_dense = keras.layers.Dense(
            2,
            kernel_initializer=bert_kernel_initializer(),
            dtype=backbone.dtype_policy,
            name="span_logits",
        )
        self.start_end_first = keras.layers.Permute((2, 1), dtype=backbone.dtype_policy, name="start_end_first")

        # === Functional Model ===
        inputs = backbone.input
        sequence = backbone(inputs)["sequence_output"]
        outputs = self.start_end_first(self.span_dense(sequence))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", **kwargs):
        """keras-hub's `Task.compile` defaults: `"auto"` is Adam at 5e-5
        (BERT's SQuAD rate), the span loss above, and the accuracy of the
        start and end positions together."""
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(5e-5)
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if metrics == "auto":
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="position_accuracy")]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

