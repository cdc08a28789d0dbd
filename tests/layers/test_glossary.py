"""Every code the schema admits has its words in the glossary, and the table shows each with its step."""

from layers.glossary import CHANNELS, LEVEL_LABELS, STATUS_LABELS, step_label
from layers.schema import CASE_STATUSES, LEVELS


def test_every_status_and_level_has_its_two_names():
    assert set(STATUS_LABELS) == set(CASE_STATUSES) and set(LEVEL_LABELS) == set(LEVELS)
    assert all(len(pair) == 2 and all(pair) for pair in (*STATUS_LABELS.values(), *LEVEL_LABELS.values(),
                                                        *CHANNELS.values()))


def test_a_status_with_its_lifecycle_step():
    assert step_label("dispatched") == ("分 已派单", "dispatched")
    assert step_label("unknown") == ("unknown", "unknown")
