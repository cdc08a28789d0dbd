"""The services a channel system may report: categories of the held cases and the kind most of them have."""

import pandas as pd

from layers.open311 import category_kinds


def test_each_category_with_a_kind_is_listed_with_the_kind_most_of_its_cases_have():
    category = pd.Series(["物业纠纷", "邻里纠纷", "物业纠纷", "物业纠纷", None, "噪声扰民", "道路破损"], dtype="category")
    kind = pd.Series(["event", "dispute", "dispute", "dispute", "event", None, "event"], dtype="category")
    # A category no case holds any more (its last case changed) is not a service.
    category = category.cat.add_categories(["已无案件"])
    found = category_kinds(category, kind).sort_values("category", ignore_index=True)
    assert found.to_dict("records") == [{"category": "物业纠纷", "kind": "dispute"},
                                        {"category": "道路破损", "kind": "event"},
                                        {"category": "邻里纠纷", "kind": "dispute"}]


def test_plain_text_columns_give_the_same_as_categoricals():
    category = pd.Series(["物业纠纷", "邻里纠纷", "物业纠纷"])
    kind = pd.Series(["dispute", "dispute", "dispute"])
    assert category_kinds(category, kind).equals(category_kinds(category.astype("category"), kind.astype("category")))
