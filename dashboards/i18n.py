"""The dashboard's two languages: zh-CN first with English second (the default), or English alone.

``?lang=en`` on any page's link switches it; numbers and dates keep the
Chinese conventions in both (2,377; 2020-01-01; 96.55%).
"""

from __future__ import annotations

LANGUAGES = {"zh": "中文", "en": "English"}


def language(value) -> str:
    return value if isinstance(value, str) and value in LANGUAGES else "zh"


def say(zh: str, en: str, lang: str = "zh", *, sep: str = " ") -> str:
    """A label in the page's language: "时段 Period", or "Period"."""
    return en if lang == "en" else f"{zh}{sep}{en}"


def pick(pair: tuple[str, str], lang: str = "zh", *, sep: str = " ") -> str:
    """A ``(中文, English)`` pair, as :func:`say` puts it."""
    return say(pair[0], pair[1], lang, sep=sep)


def only(pair: tuple[str, str], lang: str = "zh") -> str:
    """One language of a pair, for cells of a table and other tight places: 已办结, or closed."""
    return pair[1] if lang == "en" else pair[0]


def other(lang: str) -> str:
    """The language a page's switch offers."""
    return "zh" if lang == "en" else "en"
