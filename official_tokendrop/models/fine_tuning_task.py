"""The base of our fine-tuning heads (`BertSpanLabeler`, `BertTextRegressor`):
a keras-hub `Task` whose `compile` fills in "auto" defaults."""

import keras
import keras_hub


class FineTuningTask(keras_hub.models.Task):
    """A keras-hub `Task` with its own `compile`; a model loaded with
    `keras.saving.load_model` comes back compiled as it was saved (Keras
    skips that for a custom `compile` and warns)."""

    def compile_from_config(self, config):
        """Compiles a loaded model as it was saved; `compile` takes every
        argument Keras saves."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)
