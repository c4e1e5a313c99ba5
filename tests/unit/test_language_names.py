"""Free-text language requests name the language she wants, in any of our languages."""

import pytest

from actions.language import language_named_in


@pytest.mark.parametrize(
    "text, code",
    [
        ("english please", "en"),
        ("أريد الصومالية", "so"),
        ("skift til dansk", "da"),
        ("можна українською?", "uk"),
        ("türkçe konuşabilir misin", "tr"),
        ("لطفاً به دری بنویسید", "prs"),
        ("dari please", "prs"),
        ("فارسی لطفا", "fa"),
    ],
)
def test_named_language(text, code):
    assert language_named_in(text) == code


def test_words_inside_other_words_do_not_count():
    assert language_named_in("jeg vil gerne starte på danskuddannelse") is None
