"""`BertTextRegressor`: one real number per text or text pair (STS-B)."""

import keras
from keras_hub.models import BertBackbone, BertTextClassifierPreprocessor
from keras_hub.src.models.bert.bert_backbone import bert_kernel_initializer  # BertTextClassifier's head init

from official_tokendrop.models.fine_tuning_task import FineTuningTask


@keras.saving.register_keras_serializable(package="official_tokendrop")
class BertTextRegressor(FineTuningTask):
    """An end-to-end BERT model for regression: a linear head on the pooled
    [CLS] output, as keras-hub's `BertTextClassifier` with one output and no
    activation, trained with mean squared error.

    keras-hub has no text regressor; this is its classifier's head with
    `num_classes=1` and a regression loss, built the same way so it loads
    and saves as keras-hub tasks do (`from_preset`, `save_to_preset`,
    `keras.saving.load_model`).

    Args:
        backbone: A `keras_hub.models.BertBackbone` instance.
        preprocessor: A `keras_hub.models.BertTextClassifierPreprocessor` or
            `None`. If `None`, inputs must be preprocessed (token ids,
            segment ids and padding mask).
        dropout: float. The dropout rate on the pooled output before the
            output layer.

    Example:
    ```python
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=100, num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=16)
    tokenizer = keras_hub.models.BertTokenizer(
        vocabulary=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"])
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=16)
    regressor = BertTextRegressor(backbone, preprocessor=preprocessor)
    regressor.fit(x=(["a b", "b"], ["a", "a b"]), y=[4.2, 1.0], batch_size=2)
    # Keras reads a 2-tuple as (x, y): pairs to predict go as (x,) batches.
    pairs = tf.data.Dataset.from_tensor_slices(((["a b"], ["a"]),)).batch(1)
    regressor.predict(pairs)  # shape (1, 1)
    ```
    """

    backbone_cls = BertBackbone
    preprocessor_cls = BertTextClassifierPreprocessor

    def __init__(self, backbone, preprocessor=None, dropout=0.1, **kwargs):
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.output_dropout = keras.layers.Dropout(dropout, dtype=backbone.dtype_policy,
                                                   name="regressor_dropout")
        self.output_dense = keras.layers.Dense(1, kernel_initializer=bert_kernel_initializer(),
                                               dtype=backbone.dtype_policy, name="score")

        # === Functional Model ===
        inputs = backbone.input
        pooled = backbone(inputs)["pooled_output"]
        outputs = self.output_dense(self.output_dropout(pooled))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.dropout = dropout

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", **kwargs):
        """As `keras.Model.compile`; "auto" is Adam(5e-5) (keras-hub's task
        default), mean squared error, and the mean absolute error metric."""
        super().compile(
            optimizer=keras.optimizers.Adam(5e-5) if optimizer == "auto" else optimizer,
            loss=keras.losses.MeanSquaredError() if loss == "auto" else loss,
            metrics=[keras.metrics.MeanAbsoluteError()] if metrics == "auto" else metrics,
            **kwargs,
        )

    def get_config(self):
        config = super().get_config()
        config.update({"dropout": self.dropout})
        return config
