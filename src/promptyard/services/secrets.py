"""Secrets at rest: provider API keys and webhook signing secrets are stored encrypted, never in clear.

AES-256-GCM with a key derived from the server's secret (Settings.secret(), carried in the session's
`info`: PROMPTYARD_SECRET_KEY or <data_dir>/secret.key). Each value is bound to where it belongs
(`context`, e.g. "provider:12") as associated data, so a ciphertext copied into another row does not
decrypt. Stored form: "v1:" + urlsafe base64 of nonce (12 bytes) + ciphertext and tag.

A secret is never returned by the API nor shown on a page: callers keep `hint` (its last four
characters) for people to recognise it by, and `scrub` removes it from any text (a provider's error
message) before that text is stored, logged or shown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from promptyard.errors import Conflict

_VERSION = "v1:"


def _key(session: Session) -> bytes:
    secret = session.info.get("secret") or b""
    return hmac.new(secret, b"promptyard/secrets/v1", hashlib.sha256).digest()


def encrypt(session: Session, plain: str, context: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(session)).encrypt(nonce, plain.encode("utf-8"), context.encode())
    return _VERSION + base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt(session: Session, stored: str, context: str) -> str:
    """The clear text; Conflict when it cannot be read (the server's secret changed since it was stored)."""
    try:
        if not stored.startswith(_VERSION):
            raise ValueError(stored[:3])
        raw = base64.urlsafe_b64decode(stored[len(_VERSION):])
        return AESGCM(_key(session)).decrypt(raw[:12], raw[12:], context.encode()).decode("utf-8")
    except (ValueError, InvalidTag):
        raise Conflict("errors.secrets.unreadable") from None


def hint(plain: str) -> str:
    """What may be shown of a secret: its last four characters, and only of a long one."""
    return plain[-4:] if len(plain) >= 12 else ""


def scrub(text: str, *secrets: str | None) -> str:
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "***")
    return text
