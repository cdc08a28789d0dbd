"""Coverage-guided fuzzing of the channel readers with atheris (libFuzzer), run by hand.

``.venv/bin/pip install '.[fuzz]'`` then
``.venv/bin/python bench/fuzz_readers.py -max_total_time=300`` (any libFuzzer flag works; a crash
or a lost row stops it and leaves the input in ``crash-*``). Each input picks a channel's profile
and becomes that channel's file: for CSV the profile's own header and then the fuzzed bytes, so
the fuzzer spends its time on rows rather than on the header check; for JSON and XLSX the bytes
as they are. The property is the ingest's: the file is refused whole with one error naming it,
or every row is read and then either kept or quarantined with its row named. The hypothesis
tests in ``tests/etl`` check the same property on every run of the suite; this searches further.

``--small`` (for ``bench/run_small.py``; atheris not needed): the same property over a fixed set
of inputs, seeded: every profile with rows of random bytes, random printable text, well-formed
rows with one field broken, and truncated files. Not coverage-guided; it keeps the harness and the
property from rotting. Exit status 1 on the first input that breaks the property.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

SMALL = "--small" in sys.argv
if SMALL:
    atheris = None
else:
    import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchenv import check, record  # noqa: E402

with atheris.instrument_imports() if atheris else contextlib.nullcontext():
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


def check_file(profile, body: bytes) -> str:
    """The property for one file of ``profile`` made of ``body``; ``"refused"`` or ``"read"``."""
    path = FOLDER / f"fuzz.{profile.format}"
    path.write_bytes(header(profile) + body if profile.format == "csv" else body)
    try:
        raw, _ = read_export(path, profile)
    except ReadError as exc:
        assert str(path) in str(exc), exc
        return "refused"
    records, quarantine = normalise(raw, profile, path.name)
    assert len(records) + len(quarantine) == len(raw), "a row was lost"
    assert quarantine["message"].str.contains(r"第\d+行").all(), "a quarantined row without its row number"
    return "read"


def one_input(data: bytes):
    fuzzed = atheris.FuzzedDataProvider(data)
    profile = PROFILES[fuzzed.ConsumeIntInRange(0, len(PROFILES) - 1)]
    check_file(profile, fuzzed.ConsumeBytes(fuzzed.remaining_bytes()))


def small_inputs(seed: int = 2020, per_profile: int = 12):
    """Seeded inputs for every profile: random bytes, random text, sane rows with a broken field, cut files."""
    rng = random.Random(seed)
    text = "0123456789-:. ,\"\n\r\t;abcXYZ宁波江北区孔浦街道事件" + "\x00\xff"
    for profile in PROFILES:
        width = len(header(profile).split(b","))
        for i in range(per_profile):
            kind = i % 4
            if kind == 0:
                body = rng.randbytes(rng.randrange(1, 400))
            elif kind == 1:
                body = "".join(rng.choice(text) for _ in range(rng.randrange(1, 400))).encode("utf-8", "replace")
            else:
                rows = []
                for r in range(rng.randrange(1, 6)):
                    fields = [f"{rng.randrange(10 ** 6)}" for _ in range(width)]
                    fields[rng.randrange(width)] = rng.choice(["", "2021-02-30 08:00:00", "abc", "\"", "1e999",
                                                               "\u202e", "NaN", "-0", "9" * 40])
                    rows.append(",".join(fields))
                body = "\n".join(rows).encode()
                if kind == 3:
                    body = body[: rng.randrange(1, len(body) + 1)]
            yield profile, body


def main_small():
    record(["pandas", "numpy", "openpyxl"])
    started = time.perf_counter()
    outcomes = {"refused": 0, "read": 0}
    for n, (profile, body) in enumerate(small_inputs()):
        try:
            outcomes[check_file(profile, body)] += 1
        except Exception as exc:  # noqa: BLE001 - any other exception breaks the property
            crash = FOLDER / f"crash-{n}.{profile.format}"
            crash.write_bytes(header(profile) + body if profile.format == "csv" else body)
            check(False, f"input {n} ({profile.name if hasattr(profile, 'name') else profile.format}): "
                         f"{type(exc).__name__}: {exc}; left in {crash}")
    print(f"{sum(outcomes.values())} inputs over {len(PROFILES)} profiles in {time.perf_counter() - started:.1f} s: "
          f"{outcomes['read']} read (every row kept or quarantined with its row number), {outcomes['refused']} "
          f"refused naming the file")
    shutil.rmtree(FOLDER, ignore_errors=True)


if __name__ == "__main__":
    if SMALL:
        main_small()
    else:
        atheris.Setup(sys.argv, one_input)
        atheris.Fuzz()
