"""What can go wrong that a person should be told about, as one family of errors.

Modelled on pygeoapi's exceptions: each error carries a message for people in
zh-CN and English, an HTTP status and a code. Each front door translates
them in one place: Flask's error handler and Dash's ``on_error``
(``dashboards.errors``), the CLI (``onemap.cli.main``) and the OGC API feed.
Anything that is not an :class:`OnemapError` is a bug: it is logged with its
traceback and shown as an internal error, never as a blank page.
"""

from __future__ import annotations


class OnemapError(Exception):
    """The base: a message for people, in English (``str(error)``) and, where given, in Chinese."""

    status = 500
    code = "ServerError"
    # What kind of trouble, in Chinese, for a message given only in English.
    zh_kind = "出错了"

    def __init__(self, message: str, *, zh: str | None = None):
        super().__init__(message)
        self.message_en = message
        self.message_zh = zh

    def message(self, lang: str = "zh") -> str:
        """The message in the page's language; the Chinese one names the kind when only English was given."""
        if lang == "en":
            return self.message_en
        return self.message_zh or f"{self.zh_kind}：{self.message_en}"

    def to_dict(self) -> dict:
        """As a JSON answer: the OGC API's exception shape, with the Chinese message beside it."""
        return {"code": self.code, "description": self.message_en, "description_zh": self.message("zh")}


class StoreError(OnemapError):
    """The store could not do what was asked."""

    status = 503
    code = "StoreError"
    zh_kind = "数据库出错"


class StoreUnreachable(StoreError):
    """The store's server does not answer, or its file cannot be opened."""

    code = "StoreUnreachable"
    zh_kind = "数据源暂时无法连接"


class StoreLocked(StoreError):
    """Another program holds the store for writing longer than a write waits."""

    code = "StoreLocked"
    zh_kind = "数据库正被其他程序占用"


class StoreBehindSchema(StoreError):
    """The store's schema is older (or newer) than this program's: it must be migrated first."""

    code = "StoreBehindSchema"
    zh_kind = "数据库版本需要升级"


class StoreDamaged(StoreError):
    """The store is there but is not a sound store (a damaged file, not a GeoPackage)."""

    code = "StoreDamaged"
    zh_kind = "数据库文件损坏"


class DuplicateKey(StoreError):
    """One batch names the same record twice."""

    status = 400
    code = "DuplicateKey"
    zh_kind = "记录重复"


class Conflict(StoreError):
    """A record changed between its reading and a write that expected it as read: nothing was written."""

    status = 409
    code = "Conflict"
    zh_kind = "记录已被他人修改"


class InvalidValue(OnemapError, ValueError):
    """A value given by a person or a client (a filter, a date, a format) that cannot be used."""

    status = 400
    code = "InvalidParameterValue"
    zh_kind = "参数无效"


class OutsideArea(OnemapError):
    """What was asked lies outside the asker's area."""

    status = 403
    code = "Forbidden"
    zh_kind = "超出您的辖区"


class NotFound(OnemapError, LookupError):
    """What was asked for is not in the store."""

    status = 404
    code = "NotFound"
    zh_kind = "未找到"


class BadProfile(InvalidValue):
    """A source profile (etl/profiles/*.toml) that cannot be used."""

    code = "BadProfile"
    zh_kind = "数据源配置无效"


class BadInput(InvalidValue):
    """An input file (an export, a geography, a responsibility list) that cannot be read as it is."""

    code = "BadInput"
    zh_kind = "输入文件无效"


class Unavailable(OnemapError):
    """A tool the product needs on this machine is missing or failed (Chromium for printing)."""

    status = 503
    code = "Unavailable"
    zh_kind = "服务暂不可用"


class TooManyQueries(OnemapError):
    """Too many different values of one query in a short time: the way a masked value would be recovered."""

    status = 429
    code = "TooManyRequests"
    zh_kind = "请求过于频繁"

    def __init__(self, wait_s: float):
        super().__init__(f"too many different values of this query lately; try again in {int(wait_s)} s",
                         zh=f"短时间内同类查询过多，请 {int(wait_s)} 秒后再试")
        self.retry_after = int(wait_s)
