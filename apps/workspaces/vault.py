"""Envelope encryption for a workspace's secrets.

Each workspace has its own Fernet key, stored wrapped (encrypted) by the studio's master key
(settings.STUDIO_MASTER_KEY). A leaked database alone reveals no secret; rotating the master
key re-wraps the small per-workspace keys, not every secret.
"""

from __future__ import annotations

from cryptography.fernet import Fernet
from django.conf import settings


def _master() -> Fernet:
    return Fernet(settings.STUDIO_MASTER_KEY.encode())


def new_wrapped_key() -> bytes:
    """A fresh workspace key, wrapped by the master key, ready to store."""
    return _master().encrypt(Fernet.generate_key())


def workspace_cipher(wrapped_key: bytes) -> Fernet:
    """The Fernet that encrypts and decrypts one workspace's secrets."""
    return Fernet(_master().decrypt(bytes(wrapped_key)))
