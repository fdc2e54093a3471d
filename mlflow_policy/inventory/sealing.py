"""Vaulted values inside templates. Static mode never decrypts an inline vault, yet
Ansible would deploy the secret: a template that *uses* one therefore renders to an
opaque vaulted value, and one that reads decrypted vault-file text is rendered but marked
vaulted. Use is detected exactly: the vaulted value is replaced by a :class:`Sealed`
stand-in whose every operation reports itself to the templates being rendered."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlflow_policy.core import VaultedValue


class Frame:
    """What one template string read while rendering: opaque vaulted values (then its
    result is itself an opaque vaulted value) or decrypted plaintext (then its result is
    rendered but counts as vaulted)."""

    __slots__ = ("ciphertexts", "opaque", "redact", "secret")

    def __init__(self, *, redact: bool = False) -> None:
        self.opaque = False
        self.secret = False
        self.ciphertexts: list[str] = []
        # second pass over an opaque template: vaulted values print as "***", to give the
        # derived value a redacted text (postgresql://mlflow:***@db/mlflow)
        self.redact = redact


class UsesVault(Exception):
    """A template used a vaulted value; never a LookupError, so Jinja cannot swallow it."""


class Sealed:
    """Stands for a VaultedValue while templates render: any use of it (printing,
    comparing, concatenating, filtering) marks the template opaque. Values merely passed
    through are caught when the result is checked."""

    __slots__ = ("ciphertext", "frames")

    def __init__(self, ciphertext: str, frames: list[Frame]) -> None:
        self.ciphertext = ciphertext
        self.frames = frames

    def _touch(self, *_args: Any, **_kwargs: Any) -> Any:
        for frame in self.frames:
            frame.opaque = True
            frame.ciphertexts.append(self.ciphertext)
        raise UsesVault("it uses a vaulted value")

    def _text(self, *_args: Any) -> str:
        if self.frames and self.frames[-1].redact:
            return REDACTED
        return str(self._touch())

    __str__ = __format__ = _text
    __repr__ = __bool__ = __len__ = __iter__ = _touch
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = _touch
    __add__ = __radd__ = __mul__ = __rmul__ = __mod__ = __rmod__ = _touch
    __contains__ = __getitem__ = __call__ = __int__ = __float__ = __index__ = _touch

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._touch()


def seal(value: Any, frames: list[Frame]) -> Any:
    if isinstance(value, VaultedValue):
        return Sealed(value.ciphertext, frames)
    if isinstance(value, Mapping):
        return {k: seal(v, frames) for k, v in value.items()}
    if isinstance(value, list):
        return [seal(v, frames) for v in value]
    return value


REDACTED = "***"
# Whether the model's VaultedValue can carry a redacted text (an optional field).
_HAS_REDACTED = "redacted" in getattr(VaultedValue, "__dataclass_fields__", {})


def derived(source: str, frame: Frame, redacted: str | None = None) -> VaultedValue:
    # Equal for hosts whose template and secrets are equal, so `consistent` still works.
    kwargs: dict[str, Any] = {}
    if redacted is not None and _HAS_REDACTED:
        kwargs["redacted"] = redacted
    return VaultedValue("\x00".join([source, *frame.ciphertexts]), **kwargs)
