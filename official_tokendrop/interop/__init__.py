"""Conversions between this project's models and other libraries' formats (keras-hub, Hugging Face transformers)."""
