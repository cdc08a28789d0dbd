"""Coverage-guided fuzzing of the channel readers with atheris (libFuzzer), run by hand.

``.venv/bin/pip install '.[fuzz]'`` then
``.venv/bin/python bench/fuzz_readers.py -max_total_time=300`` (any libFuzzer flag works; a crash
or a lost row stops it and leaves the input in ``crash-*``). Each input picks a channel's profile
and becomes that channel's file: for CSV the profile's own header and then the fuzzed bytes, so
the fuzzer spends its time on rows rather than on the header check; for JSON and XLSX the bytes
as they are. The property is the ingest's: the file is refused whole with one error naming it,
or every row is read and then either kept or quarantined with its row named. The hypothesis
tests in ``tests/etl`` check the same property on every run of the suite; this searches further.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from etl.normalise import normalise
    from etl.profiles import read_profile
    from etl.read import ReadError, read_export

PROFILES = [read_profile(name) for name in ("e_ningbo", "hotline_12345", "grid_platform", "smart_city",
                                             "provincial_mediation", "video_mediation", "minsheng_edian")]
FOLDER = Path(tempfile.mkdtemp(prefix="onemap-fuzz-"))


def header(profile) -> bytes:
    location = profile.location
    names = list(profile.columns.values()) + [c for c in (location.x, location.y, location.address,
                                                          location.community) if c]
    return (",".join(dict.fromkeys(names)) + "\n").encode(profile.encoding or "utf-8", errors="replace")


def one_input(data: bytes):
    fuzzed = atheris.FuzzedDataProvider(data)
    profile = PROFILES[fuzzed.ConsumeIntInRange(0, len(PROFILES) - 1)]
    body = fuzzed.ConsumeBytes(fuzzed.remaining_bytes())
    path = FOLDER / f"fuzz.{profile.format}"
    path.write_bytes(header(profile) + body if profile.format == "csv" else body)
    try:
        raw, _ = read_export(path, profile)
    except ReadError as exc:
        assert str(path) in str(exc), exc
        return
    records, quarantine = normalise(raw, profile, path.name)
    assert len(records) + len(quarantine) == len(raw), "a row was lost"
    assert quarantine["message"].str.contains(r"第\d+行").all(), "a quarantined row without its row number"


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
