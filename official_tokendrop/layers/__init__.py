"""Keras 3 layers for token-dropping BERT."""

from official_tokendrop.layers.activations import HIDDEN_ACTIVATIONS, gelu_approximate, gelu_exact
from official_tokendrop.layers.token_frequency import TokenFrequency
from official_tokendrop.layers.token_importance import TokenImportance
from official_tokendrop.layers.token_routing import MergeTokens, SplitTokens
from official_tokendrop.layers.token_selection import TokenSelection
from official_tokendrop.layers.transformer_block import TransformerBlock

__all__ = [
    "HIDDEN_ACTIVATIONS",
    "MergeTokens",
    "SplitTokens",
    "TokenFrequency",
    "TokenImportance",
    "TokenSelection",
    "TransformerBlock",
    "gelu_approximate",
    "gelu_exact",
]
