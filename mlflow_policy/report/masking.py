"""Reporters mask through :mod:`mlflow_policy.secrets` (kept below every layer, so that the
policy layer's messages use the very same rules)."""

from mlflow_policy.secrets import MASK, is_secret_name, is_secret_path, mask, mask_text

__all__ = ["MASK", "is_secret_name", "is_secret_path", "mask", "mask_text"]
