"""Language identification on short, real-looking chat messages in the nine first languages."""

import pytest

from langtools.langid import choose, detect

SAMPLES = {
    "en": ["where can i get a free health check", "my husband does not let me learn danish"],
    "da": ["hvor kan jeg få et gult sundhedskort", "hvordan melder jeg mig til danskuddannelse"],
    "ar": ["أين أحصل على فحص صحي مجاني", "كيف أسجل في مدرسة اللغة"],
    "so": [
        "xagee ka heli karaa baaritaan caafimaad oo bilaash ah",
        "sidee ayaan u helaa kaarka caafimaadka",
    ],
    "uk": ["де можна безкоштовно пройти огляд", "як записатися на курси данської мови"],
    "fa": ["کجا می‌توانم چکاپ رایگان بگیرم", "چطور برای کلاس زبان دانمارکی ثبت نام کنم"],
    "ur": ["مجھے مفت طبی معائنہ کہاں مل سکتا ہے", "میں ڈینش زبان کا کورس کیسے شروع کروں"],
    "tr": ["ücretsiz sağlık kontrolünü nereden yaptırabilirim", "danca kursuna nasıl kayıt olurum"],
    "ti": ["ነጻ ናይ ጥዕና መርመራ ካበይ ክረክብ እኽእል", "ናይ ዴንማርክ ቋንቋ ትምህርቲ ከመይ ክጅምር"],
}


@pytest.mark.parametrize("lang, text", [(k, t) for k, ts in SAMPLES.items() for t in ts])
def test_detects_each_first_language(lang, text):
    assert detect(text).language == lang


def test_short_message_keeps_the_conversation_language():
    assert choose("ok", "so") == "so"
    assert choose("👍", "ar") == "ar"


def test_a_clear_switch_of_language_is_followed():
    assert choose("hvor kan jeg få et gult sundhedskort", "en") == "da"


def test_latin_script_arabic_is_arabic():
    assert detect("salam 3alaykom bidi a7ki ma3 shakhs").language == "ar"


def test_nothing_to_detect():
    assert detect("1234 !!!").language is None
    assert choose("1234", None) == "en"


def test_detection_does_not_depend_on_what_was_detected_before():
    """py3langid's set_languages cuts its model down in place; a shared identifier once
    restricted to Arabic-script languages stopped recognising Latin-script ones."""
    latin = ["hello, I need a doctor", "Waxaan rabaa inaan la hadlo qof", "Merhaba, nasılsınız"]
    before = [detect(t) for t in latin]
    detect("أريد التحدث مع شخص")
    detect("می‌خواهم با یک نفر صحبت کنم")
    assert [detect(t) for t in latin] == before


# Dari (prs): written like Farsi, so detection says "fa"; her choice of Dari is kept.
DARI = [
    "کارت صحی زرد را از کجا بگیرم",
    "برای داکتر ترجمان رایگان است؟",
    "شوهرم نمی‌مانه که به کورس زبان دنمارکی بروم",
    "در شاروالی برای ثبت نام چه اسناد ضرورت است",
]


def test_dari_is_served_and_named_apart_from_farsi():
    from langtools.languages import NAMES, SUPPORTED

    assert "prs" in SUPPORTED and "fa" in SUPPORTED
    assert NAMES["prs"] == "دری" and NAMES["fa"] == "فارسی"


@pytest.mark.parametrize("text", DARI)
def test_dari_text_is_detected_as_persian_script_farsi(text):
    assert detect(text).language == "fa"


@pytest.mark.parametrize("text", DARI + SAMPLES["fa"])
def test_a_persian_script_message_keeps_dari_when_she_chose_it(text):
    assert choose(text, "prs") == "prs"


@pytest.mark.parametrize("text", DARI + SAMPLES["fa"])
def test_a_persian_script_message_without_dari_chosen_is_farsi(text):
    assert choose(text, None) == "fa"
    assert choose(text, "fa") == "fa"


def test_a_dari_conversation_keeps_dari_on_short_messages_and_follows_a_clear_switch():
    assert choose("ok", "prs") == "prs"
    assert choose("تشکر", "prs") == "prs"
    assert choose("hvor kan jeg få et gult sundhedskort", "prs") == "da"
    assert choose("أين أحصل على فحص صحي مجاني", "prs") == "ar"


def test_a_farsi_conversation_is_not_turned_into_dari():
    for text in DARI:
        assert choose(text, "fa") == "fa"


@pytest.mark.parametrize("text", ["hello", "hi", "ok", "helo"])
def test_a_first_greeting_too_short_to_tell_is_answered_in_english_not_danish(text):
    """Both detectors read "hello" and "hi" as Danish, on almost no evidence."""
    assert choose(text, None) == "en"


@pytest.mark.parametrize("text, lang", [("hej", "da"), ("merhaba", "tr"), ("salaan", "so")])
def test_a_short_greeting_of_one_language_still_picks_it(text, lang):
    assert choose(text, None) == lang


@pytest.mark.parametrize(
    "text, lang",
    [
        ("MitID ندارم", "fa"),
        ("indfødsretsprøve ціна", "uk"),
        ("sundhedskort ጠፊኡኒ", "ti"),
        ("sundhedskort kayboldu", "tr"),
        ("medborgerskabsprøve kaç soru", "tr"),
    ],
)
def test_a_danish_term_in_her_message_does_not_make_it_danish(text, lang):
    assert choose(text, None) == lang


def test_a_danish_message_with_danish_terms_stays_danish():
    assert choose("hvor får jeg et sundhedskort", None) == "da"
    assert choose("sundhedskort", None) == "da"


@pytest.mark.parametrize(
    "text, lang",
    [
        ("mera shohar mujy marta hai kya karun", "ur"),
        ("ghar wale zabardasti shadi krwa rahe hain", "ur"),
        ("shoharam mano mizane chikar konam", "fa"),
        ("zoji ma bikhalini shouf ahli", "ar"),
    ],
)
def test_urdu_farsi_and_arabic_in_latin_letters_are_recognised(text, lang):
    assert choose(text, None) == lang


def test_english_is_not_taken_for_romanised_urdu():
    assert choose("I am from Somalia and my husband hits me", None) == "en"
    assert choose("my friend Aisha says hi, can I bring her to the doctor", None) == "en"


@pytest.mark.parametrize(
    "text, lang",
    [
        ("treba likar", "uk"),
        ("potribna dopomoha z kvartyroyu", "uk"),
        ("kemey kirekeb hagez", "ti"),
        ("mishe komak konid", "fa"),
        ("dawai muft milti", "ur"),
        ("dhakhtar bilaash", "so"),
        ("doktor ucretsiz mi", "tr"),
        ("sundhedskort nasil alinir", "tr"),
    ],
)
def test_a_short_first_message_in_latin_letters_is_read_by_her_own_words(text, lang):
    """Too short for the detectors, which read these as English, Danish or Turkish."""
    assert choose(text, None) == lang


def test_one_word_of_hers_does_not_switch_a_conversation():
    assert choose("dhakhtar please", "en") == "en"
    assert choose("likar", "da") == "da"


@pytest.mark.parametrize(
    "text, lang",
    [
        ("کارت زرد کجا", "fa"),
        ("واکسن بچه کی میاد", "fa"),
        ("ایمبولینس کا نمبر", "ur"),
        ("كيف احصل على كرت", "ar"),
    ],
)
def test_short_arabic_script_messages_go_by_words_and_keyboard(text, lang):
    assert choose(text, None) == lang


def test_latin_letter_words_are_no_english_or_danish_word_of_the_knowledge_base():
    """A word in the lists that English or Danish also use would turn their messages."""
    import re

    from knowledge.store import load
    from langtools.langid import _ROMANISED

    kb, words = load(), set()
    for entry in kb.entries.values():
        for lang in ("en", "da"):
            text = " ".join(entry.questions.get(lang, [])) + " " + entry.answer.get(lang, "")
            words |= set(re.findall(r"[^\W\d_]+", text.casefold()))
    shared = {lang: sorted(known & words) for lang, known in _ROMANISED.items() if known & words}
    assert shared == {}
