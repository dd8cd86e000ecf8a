"""Token-dropping BERT models."""

from official_tokendrop.models.bert_pretrainer import BertPretrainer
from official_tokendrop.models.token_drop_bert_encoder import TokenDropBertEncoder

__all__ = ["BertPretrainer", "TokenDropBertEncoder"]
