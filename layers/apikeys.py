"""Keys of the channel systems that push cases: one per system, bound to its channel, revocable.

A key is shown once, when made (``onemap apikey add``); the store keeps only
its SHA-256 digest. A key is ``om_<key id>_<secret>``: the id names it in the
list and in the audit, the secret (256 random bits) is what proves it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import pandas as pd

from layers.audit import audit_rows
from layers.errors import InvalidValue
from layers.glossary import CHANNELS
from layers.store import Condition, Store

PREFIX = "om_"


@dataclass(frozen=True)
class ApiKey:
    """A live key: its id, the channel whose cases it writes and reads, and its label."""

    key_id: str
    channel: str
    label: str


def _digest(key: str) -> str:
    # 256 random bits: nothing to guess, so a plain digest (not a slow hash) is enough to look it up.
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def add_key(store: Store, channel: str, *, label: str = "", created_by: str = "", now=None) -> tuple[str, str]:
    """A new key for ``channel``'s system: (its id, the key). The key is not kept; show it once."""
    # A channel is shipped (the glossary) or came with a profile an ingest stored (the channels layer).
    known = [*CHANNELS, *(c for c in store.read("channels")["channel"] if c not in CHANNELS)]
    if channel not in known:
        raise InvalidValue(f"unknown channel {channel!r}; channels: {', '.join(known)}")
    key_id = secrets.token_hex(4)
    key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    at = pd.Timestamp(now or pd.Timestamp.now())
    store.upsert_many({
        "api_keys": pd.DataFrame([{"key_id": key_id, "key_hash": _digest(key), "channel": channel, "label": label,
                                   "created_at": at, "created_by": created_by, "revoked_at": pd.NaT}]),
        "audit": audit_rows(created_by or "?", "apikey.add", "api_keys",
                            [(key_id, None, {"channel": channel, "label": label})], now=at)})
    return key_id, key


def key_for(keys: pd.DataFrame, presented: str | None) -> ApiKey | None:
    """The live key ``presented`` is, among the stored ``keys``; None for a wrong, revoked or missing key."""
    if not presented or not presented.startswith(PREFIX):
        return None
    key_id = presented[len(PREFIX):].split("_", 1)[0]
    rows = keys[keys["key_id"] == key_id]
    if rows.empty or pd.notna(rows["revoked_at"].iat[0]):
        return None
    if not hmac.compare_digest(str(rows["key_hash"].iat[0]), _digest(presented)):
        return None
    return ApiKey(key_id, str(rows["channel"].iat[0]), str(rows["label"].iat[0] or ""))


def list_keys(store: Store) -> pd.DataFrame:
    """The keys, without their digests, oldest first."""
    return store.read("api_keys").drop(columns="key_hash").sort_values("created_at", ignore_index=True)


def revoke_key(store: Store, key_id: str, *, by: str = "", now=None) -> bool:
    """End a key now; False if there is no such key. Revoking a revoked key changes nothing."""
    rows = store.read("api_keys", [Condition("key_id", "=", key_id)])
    if rows.empty:
        return False
    if pd.isna(rows["revoked_at"].iat[0]):
        at = pd.Timestamp(now or pd.Timestamp.now())
        rows["revoked_at"] = at
        store.upsert_many({"api_keys": rows, "audit": audit_rows(
            by or "?", "apikey.revoke", "api_keys", [(key_id, {"revoked_at": None}, {"revoked_at": str(at)})],
            now=at)})
    return True
