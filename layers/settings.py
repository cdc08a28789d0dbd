"""The product's tunables, in one place: each a typed value with the environment variable that sets it.

Read once, when first imported; ``Settings.from_environ()`` reads them again
(a test that sets a variable). A value that does not parse stops the program
with the variable's name, never silently falls back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

from layers.errors import InvalidValue


def _env(name: str, default, *, doc: str):
    return field(default=default, metadata={"env": name, "doc": doc})


@dataclass(frozen=True)
class Settings:
    """The tunables, each with its environment variable (``described()`` lists them)."""

    store: str = _env("ONEMAP_STORE", "data/onemap.gpkg",
                      doc="the store: a GeoPackage path or a postgresql:// URL (?schema=NAME)")
    pg_pool_min: int = _env("ONEMAP_PG_POOL_MIN", 1, doc="PostGIS connections a server process keeps open")
    pg_pool_max: int = _env("ONEMAP_PG_POOL_MAX", 10,
                            doc="PostGIS connections a process may open (at least the server's threads, 8)")
    pg_pool_timeout_s: float = _env("ONEMAP_PG_POOL_TIMEOUT", 3.0,
                                    doc="seconds a request waits for a PostGIS connection before the store "
                                        "counts as unreachable (the page then shows its last good data)")
    pg_connect_timeout_s: int = _env("ONEMAP_PG_CONNECT_TIMEOUT", 10, doc="seconds to connect to PostgreSQL")
    gpkg_lock_timeout_s: float = _env("ONEMAP_GPKG_LOCK_TIMEOUT", 30.0,
                                      doc="seconds a GeoPackage write waits for another program to let go of the file")
    basemap: str = _env("ONEMAP_BASEMAP", "", doc="tianditu, amap, or a tile URL with {z} {x} {y} (empty: none)")
    basemap_datum: str = _env("ONEMAP_BASEMAP_DATUM", "", doc="the tiles' datum for a URL: cgcs2000, wgs84, gcj02")
    tianditu_key: str = _env("ONEMAP_TIANDITU_KEY", "", doc="the Tianditu service key (tk)")

    @classmethod
    def from_environ(cls, environ=None) -> Settings:
        """The settings as the environment sets them; a value that does not parse is refused, naming its variable."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            text = environ.get(f.metadata["env"])
            if text in (None, ""):
                continue
            kind: type = type(f.default)
            try:
                values[f.name] = kind(text)
            except ValueError:
                raise InvalidValue(f"{f.metadata['env']}={text!r} is not a {kind.__name__}",
                                   zh=f"环境变量 {f.metadata['env']}={text!r} 不是有效的 {kind.__name__}") from None
        return cls(**values)

    @classmethod
    def described(cls) -> list[tuple[str, str, object]]:
        """(variable, what it sets, default) for each setting: what the README lists."""
        return [(f.metadata["env"], f.metadata["doc"], f.default) for f in fields(cls)]


SETTINGS = Settings.from_environ()
