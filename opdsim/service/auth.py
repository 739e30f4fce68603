"""API keys with roles, stored hashed, loaded from a TOML file or the environment (never from code).

A keys file lists one table per key::

    [[keys]]
    id = "desk-1"          # who: named in the audit of idempotency keys, never secret
    role = "desk"          # patient | desk | triage | doctor | display | admin
    sha256 = "9f86d0..."   # hex SHA-256 of the key itself; the key is never stored
    # patient = "P-0042"   # required for role patient: the patient this key books for
    # doctor = "dr_anand"  # required for role doctor: the doctor whose queue this key drives

The keys are long random secrets (``python -c "import secrets; print(secrets.token_urlsafe(32))"``), so a plain
SHA-256 resists guessing as well as a slow password hash would, and costs nothing per request; a slow hash
(pbkdf2) protects low-entropy passwords, which API keys are not. ``OPDSIM_API_KEYS`` may hold the same TOML text
instead of a file.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from opdsim.engine import OpdsimError

__all__ = ["ENV_VAR", "KeyRing", "KeysError", "Principal", "Role", "hash_key", "load_keys"]

ENV_VAR = "OPDSIM_API_KEYS"


class KeysError(OpdsimError, ValueError):
    """The keys file (or ``OPDSIM_API_KEYS``) is missing or malformed."""


class Role(StrEnum):
    """What a key may do (see the roles table in docs/service.md)."""

    PATIENT = "patient"
    DESK = "desk"
    TRIAGE = "triage"
    DOCTOR = "doctor"
    DISPLAY = "display"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """The holder of a key: its id, role, and the patient or doctor it is bound to."""

    id: str
    role: Role
    patient: str | None = None
    doctor: str | None = None


def hash_key(key: str) -> str:
    """Hex SHA-256 of an API key: what a keys file stores."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyRing:
    """Principals by key hash."""

    def __init__(self, by_hash: Mapping[str, Principal]) -> None:
        self._by_hash = dict(by_hash)

    def __len__(self) -> int:
        return len(self._by_hash)

    def find(self, key: str) -> Principal | None:
        """The principal holding ``key``, or None."""
        return self._by_hash.get(hash_key(key))


def _parse(text: str, where: str) -> KeyRing:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KeysError(f"{where}: not valid TOML: {exc}") from None
    entries = data.get("keys")
    if not isinstance(entries, list) or not entries:
        raise KeysError(f"{where}: keys: expected at least one [[keys]] table")
    by_hash: dict[str, Principal] = {}
    ids: set[str] = set()
    for i, entry in enumerate(entries):
        at = f"{where}: keys[{i}]"
        if not isinstance(entry, dict):
            raise KeysError(f"{at}: expected a table")
        unknown = set(entry) - {"id", "role", "sha256", "patient", "doctor"}
        if unknown:
            raise KeysError(f"{at}: unknown field {sorted(unknown)[0]!r}")
        pid = entry.get("id")
        if not isinstance(pid, str) or not pid or len(pid) > 64:
            raise KeysError(f"{at}.id: {pid!r} is not a name of 1 to 64 characters")
        if pid in ids:
            raise KeysError(f"{at}.id: {pid!r} is used twice")
        ids.add(pid)
        try:
            role = Role(str(entry.get("role")))
        except ValueError:
            allowed = ", ".join(r.value for r in Role)
            raise KeysError(f"{at}.role: {entry.get('role')!r} is not one of {allowed}") from None
        digest = entry.get("sha256")
        if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise KeysError(f"{at}.sha256: expected 64 lowercase hex digits (the key's SHA-256), got {digest!r}")
        if digest in by_hash:
            raise KeysError(f"{at}.sha256: the same key is listed twice")
        patient = entry.get("patient")
        doctor = entry.get("doctor")
        if role is Role.PATIENT and (not isinstance(patient, str) or not patient):
            raise KeysError(f"{at}.patient: a patient key needs the patient id it books for")
        if role is Role.DOCTOR and (not isinstance(doctor, str) or not doctor):
            raise KeysError(f"{at}.doctor: a doctor key needs the doctor id it acts for")
        by_hash[digest] = Principal(
            pid,
            role,
            patient if role is Role.PATIENT else None,
            doctor if role is Role.DOCTOR else None,
        )
    return KeyRing(by_hash)


def load_keys(path: Path | None) -> KeyRing:
    """Load the keys from ``path``, or from ``OPDSIM_API_KEYS`` when ``path`` is None.

    Raises
    ------
    KeysError
        The file is missing or unreadable, the variable is unset, or an entry is malformed.
    """
    if path is None:
        text = os.environ.get(ENV_VAR)
        if not text:
            raise KeysError(f"no API keys: pass --keys KEYS.toml or set {ENV_VAR} to the keys' TOML text")
        return _parse(text, ENV_VAR)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeysError(f"{path}: keys file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeysError(f"{path}: cannot read the keys file: {exc}") from None
    return _parse(text, str(path))
