"""official_tokendrop: token-dropping BERT pretraining in Keras 3."""

__version__ = "0.1.0"
