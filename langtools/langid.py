"""Language identification for short chat messages, offline.

Shared by the gateway (Python 3.11) and the Rasa NLU component (Python 3.10), so it imports
nothing from either stack. The script decides first (Ethiopic is Tigrinya, Cyrillic is
Ukrainian); within a script pycld2 decides, with py3langid as second opinion, both limited to
the languages we serve. A woman's explicit choice always wins over this guess: callers pass it
as `preferred` and only a confident detection of another language overrides the conversation's
language for a single message.

Dari (`prs`) and Farsi (`fa`) share script, letters and most words; no detector here tells a
short chat message in one from the other. detect() therefore never says `prs`: a Persian-script
message is `fa`, and choose() keeps `prs` when that is the conversation's language (she chose
Dari, or her conversation already is in Dari).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from langtools.languages import NAMES, SUPPORTED  # noqa: F401  (re-exported)

# Codes the detectors may return that we serve in a near language.
# ("prs" is served, but detect() cannot tell it from Farsi: see SAME_WRITING below.)
ALIASES = {
    "ru": "uk",
    "prs": "fa",
    "be": "uk",
    "bg": "uk",
    "no": "da",
    "nb": "da",
    "nn": "da",
    "sv": "da",
}

# Served languages that detect() reports as another one, because they are written alike:
# a message detected as the value keeps the key when the key is the conversation's language.
SAME_WRITING = {"prs": "fa"}

# Below this, an unreliable detection of a Latin-script message is not trusted to pick the
# language of a first message ("hello" reads as Danish at 0.41, "merhaba" as Turkish at 0.56).
GUESS_FLOOR = 0.5

# Letters only Urdu uses among the Arabic-script languages we serve (ے ں ٹ ڈ ڑ ھ ہ),
# and letters Arabic has but Persian and Urdu do not normally write (ة ى أ إ ؤ).
_URDU_LETTERS = set("ےںٹڈڑھۓہ")
_ARABIC_LETTERS = set("ةىأإؤ")
_PERSIAN_LETTERS = set("پچژگکی")
_PERSIAN_KEYBOARD = set("کی")  # keheh, Farsi yeh
# Everyday words of one of them that are written without those letters.
_URDU_WORDS = set("کا کو کیا نمبر اور پر جی".split())  # not کی: Persian "when"
_PERSIAN_WORDS = set(
    "است هست نیست کجا کجاس کجاست چطور چطوری میخوام میخواهم میخواد میاد میشه چیه چی برای".split()
)
_ARABIC_KEYBOARD = set("كي")  # Arabic kaf and yeh
# Arabic written in Latin letters ("Arabizi") uses digits for sounds Latin lacks.
_ARABIZI = re.compile(
    r"\b[a-z]*[2375][a-z]+\b|\b(salam|shukran|inshallah|habibi|ana|bidi|biddi|wen|shu|kif|3andi)\b"
)


# Words of Urdu, Farsi, Arabic, Ukrainian and Tigrinya written in Latin letters, and everyday
# chat words of Somali and Turkish (often typed without ş, ı, ğ), that English and Danish do not
# use. Two of one language decide ("mera shohar mujy marta hai"); one decides only a message
# too short for the detectors ("ambulance kaise bulaun", "likar bez CPR"), and never a switch.
# tests/unit/test_langid.py checks that none is an English or Danish word of the knowledge base.
_ROMANISED = {
    "ur": set(
        "hai hain kya kia mujhe mujhay mujy mjhe mera meri nahi nahin kaise kese kaisay kahan "
        "karun karna karni chahiye chahti aap shohar wale wala wali paise lagte hoti hota hogi "
        "krwa karwa rahe raha rahi khara baat mein aur bhi sakti sakta liye kuch koi zabardasti "
        "shadi sharait dakhla bulaun banaun banau milein milegi milega milta milti goliyan ghar "
        "aati aata kitna kitne kitni kaun kyun kyon abhi bohat bahut lekin saath bachay bachon "
        "dawai ilaj muft apna apni hamara hamari sakti jaun jaon".split()
    ),
    "fa": set(
        "mikham mikhaham mikhay chetor chetori kojast koja kojas nist shoharam shoharm khoone "
        "khune konam kardam shodam mitoonam mitunam mitonam rayegan rayegane baraye komak fori "
        "chikar bayad nadaram daram khatere shekayat mosahebe bacheham bacheha tarjome tarjomeh "
        "tarjoman mikonam mikone bekonam hamle mizane mishe miad mikhad chie chiye chejoori "
        "chejuri chegone chand chanta hafte sale inja hastam hastesh nadare pool kheili kheyli "
        "lotfan begiram bedam beram shomare mojaze saghte jenin khanom vali chera kei zard "
        "mitunom mitoonim gerefte begirim".split()
    ),
    "ar": set(
        "zoji jozi zawji wladi ahli lazem lazim mish msh bas eza iza inno lesh keef shou fi "
        "lessa lissa ya3ni kaman hek hayk baddi bidi biddi asfar wselni wsel mafi mafish "
        "keefik kifik shlon shlonik wein lesa".split()
    ),
    "uk": set(
        "likar likarnya likarnia bez meni potribno potribna potriben yak yaki shcho shho "
        "chy mozhna mozhu dopomoha dopomoga dytyna dytyny cholovik zhinka kvartyra pryvit "
        "dyakuyu otrymaty zrobyty bezkoshtovno skilky koly treba khochu hochu ditey vahitna "
        "vagitna mova movy kursy".split()
    ),
    "ti": set(
        "kemey kemay entay intay abey eti nab alo alewo yelen yellen yelon hagez hagezi "
        "kendey yirkeb yirekeb kirekeb kikeid geza sebay sebeiti welidey tsaeda kab ane "
        "yikealo kemzi".split()
    ),
    "so": set(
        "bilaash sidee xagee halkee waxaan caawimaad caafimaad carruur ilmaha ninkeyga "
        "haweeney lacag imisa goorma maxaan kaarka dhakhtar isbitaal qareen baaritaan karaa "
        "degdeg gargaar hooyo waan ayaan iyo".split()
    ),
    "tr": set(
        "nasil nerede nereye gerekiyor icin benim kocam cocuk cocugum acil yardim "
        "hastane ucretsiz parali kac kadar demek nedir olur olurmu misin miyim yapabilirim "
        "alabilirim gidebilirmiyim gidebilir danimarkada nereden ne zaman bir sey".split()
    ),
}
_WORD = re.compile(r"[^\W\d_]+")
# Danish official terms that women write into messages in any language ("sundhedskort
# kayboldu", "indfødsretsprøve ціна"): the answers mark them *like this*. They say nothing of
# the language she writes in, so detection looks past them.
_ENTRIES = Path(__file__).resolve().parents[1] / "knowledge" / "entries"
_TERM = re.compile(r"\*([^*\n]{3,40})\*")


@lru_cache(maxsize=1)
def _danish_terms() -> frozenset[str]:
    terms = set()
    for path in _ENTRIES.rglob("*.yml"):
        for term in _TERM.findall(path.read_text(encoding="utf-8")):
            words = term.casefold().split()
            if len(words) == 1 and len(words[0]) >= 5:
                terms.add(words[0].strip(".,:;()"))
    return frozenset(terms)


def _is_danish_term(word: str) -> bool:
    """The word is a marked term, or one with an ending ("sundhedskortka") or without one
    ("indfødsretsprøve" for "indfødsretsprøven")."""
    if len(word) < 5:
        return False
    return any(
        word.startswith(t) or (t.startswith(word) and len(t) - len(word) <= 2)
        for t in _danish_terms()
    )


def _without_danish_terms(text: str) -> str:
    """The text less its Danish terms, when enough of her own words remain to judge."""
    kept = [w for w in text.split() if not _is_danish_term(w.casefold().strip(".,:;!?()"))]
    rest = " ".join(kept)
    return rest if sum(ch.isalpha() for ch in rest) >= 3 else text


def _romanised(lowered: str) -> tuple[str | None, int]:
    """The language whose Latin-letter words the message has most of, and how many; None
    when none, or when two languages have as many."""
    words = set(_WORD.findall(lowered))
    counts = sorted(((len(words & k), lang) for lang, k in _ROMANISED.items()), reverse=True)
    (best, lang), (second, _) = counts[0], counts[1]
    if best == 0 or best == second:
        return None, 0
    return lang, best


@dataclass(frozen=True)
class Detection:
    language: str | None  # one of SUPPORTED (never "prs": Dari reads as "fa"), or None
    confidence: float  # 0..1
    reliable: bool  # enough text and agreement to switch language on it alone


def _script_counts(text: str) -> dict[str, int]:
    counts = {"latin": 0, "arabic": 0, "cyrillic": 0, "ethiopic": 0, "other": 0}
    for ch in text:
        if not ch.isalpha():
            continue
        cp = ord(ch)
        if cp < 0x250:
            counts["latin"] += 1
        elif 0x600 <= cp <= 0x6FF or 0x750 <= cp <= 0x77F or 0xFB50 <= cp <= 0xFEFF:
            counts["arabic"] += 1
        elif 0x400 <= cp <= 0x52F:
            counts["cyrillic"] += 1
        elif 0x1200 <= cp <= 0x139F or 0x2D80 <= cp <= 0x2DDF:
            counts["ethiopic"] += 1
        else:
            counts["other"] += 1
    return counts


@lru_cache(maxsize=4)
def _langid_identifier(candidates: tuple[str, ...]):
    """py3langid with normalised probabilities, restricted to `candidates`. One identifier
    per candidate set: `set_languages` cuts the model down in place, so a shared one
    restricted to Arabic-script languages could no longer rank Latin-script ones. Its API
    differs between 0.2 and 0.4."""
    try:
        from py3langid import langid
    except ImportError:  # pragma: no cover - both runtimes install it
        return None
    loader = (
        getattr(langid.LanguageIdentifier, "from_model_file", None)
        or langid.LanguageIdentifier.from_pickled_model
    )
    identifier = loader(langid.MODEL_FILE, norm_probs=True)
    known = [c for c in candidates if c in identifier.nb_classes]
    if not known:
        return None
    identifier.set_languages(known)
    return identifier


# the candidate sets detect() ranks among, one per script with more than one language
_ARABIC_SCRIPT = ("ar", "fa", "ur")
_LATIN_SCRIPT = ("en", "da", "so", "tr")


def warm() -> None:
    """Loads py3langid's model for each candidate set now (about a second and a half
    each), so that the first Arabic-script or Latin-letter message after a start does not
    wait for it."""
    for candidates in (_ARABIC_SCRIPT, _LATIN_SCRIPT):
        _langid_identifier(candidates)


def _langid_rank(text: str, candidates: tuple[str, ...]) -> list[tuple[str, float]]:
    identifier = _langid_identifier(candidates)
    if identifier is None:
        return []
    return [(lang, float(p)) for lang, p in identifier.rank(text)]


def _cld2(text: str) -> list[tuple[str, int]]:
    """pycld2's guesses as (code, percent of text), best first; empty when it has none."""
    try:
        import pycld2

        reliable, _, details = pycld2.detect(text)
    except Exception:  # pycld2 raises on some invalid UTF-8 input; treat as no opinion
        return []
    out = []
    for _name, code, percent, _score in details:
        if code in ("un", "xxx"):
            continue
        out.append((ALIASES.get(code, code), int(percent)))
    return out


def _pick(text: str, candidates: tuple[str, ...]) -> tuple[str | None, float]:
    """Best candidate by pycld2, then py3langid, within one script's languages."""
    for code, percent in _cld2(text):
        if code in candidates and percent >= 50:
            return code, min(0.95, 0.5 + percent / 200)
    ranked = _langid_rank(text, candidates)
    if ranked:
        lang, p = ranked[0]
        return lang, p
    return None, 0.0


def detect(text: str) -> Detection:
    text = unicodedata.normalize("NFKC", text or "").strip()
    letters = sum(1 for ch in text if ch.isalpha())
    if letters == 0:
        return Detection(None, 0.0, False)
    counts = _script_counts(text)
    script = max(counts, key=lambda name: counts[name])
    # Latin words in an Arabic, Cyrillic or Ethiopic message are Danish terms or names
    # ("MitID ندارم", "indfødsretsprøve ціна"): her own script decides.
    own = max(("arabic", "cyrillic", "ethiopic"), key=lambda name: counts[name])
    if script == "latin" and counts[own] >= 3:
        script = own
        text = " ".join(w for w in text.split() if not _script_counts(w)["latin"]) or text
    long_enough = sum(ch.isalpha() for ch in text) >= 12

    if script == "ethiopic":
        return Detection("ti", 0.95, letters >= 3)
    if script == "cyrillic":
        return Detection("uk", 0.9, letters >= 3)
    if script == "arabic":
        chars = set(text)
        if chars & _URDU_LETTERS:
            return Detection("ur", 0.9, True)
        lang, conf = _pick(text, _ARABIC_SCRIPT)
        if lang is None or (
            lang != "ar" and chars & _ARABIC_LETTERS and not chars & _PERSIAN_LETTERS
        ):
            lang, conf = "ar", 0.7
        # Short messages: a word only Urdu or only Persian uses, or the keyboard, decides.
        # Keheh and Farsi yeh (ک ی) without Arabic's kaf and yeh (ك ي) are typed on a Persian
        # or Urdu keyboard, not an Arabic one ("واکسین اطفال").
        words = set(text.split())
        if words & _URDU_WORDS:
            lang = "ur"
        elif words & _PERSIAN_WORDS:
            lang = "fa"
        elif lang == "ar" and chars & _PERSIAN_KEYBOARD and not chars & _ARABIC_KEYBOARD:
            lang = "fa"
        return Detection(lang, conf, long_enough and conf >= 0.6)
    if script == "latin":
        lowered = text.casefold()
        if _ARABIZI.search(lowered):
            return Detection("ar", 0.6, long_enough)
        romanised, hits = _romanised(lowered)
        if hits >= 2:  # the detectors know no romanisation, and little chat Somali
            return Detection(romanised, 0.7, long_enough)
        text = _without_danish_terms(text)
        long_enough = sum(ch.isalpha() for ch in text) >= 12
        lang, conf = _pick(text, _LATIN_SCRIPT)
        if romanised and (len(lowered.split()) <= 4 or not (long_enough and conf >= 0.6)):
            # a few words, one of them hers ("health check bilaash", "acil polis"): it
            # tells her language, weakly (enough for a first message, never for a switch)
            return Detection(romanised, max(conf, 0.6), False)
        return Detection(lang, conf, long_enough and conf >= 0.6)
    return Detection(None, 0.0, False)


def choose(text: str, preferred: str | None, found: Detection | None = None) -> str:
    """The language to answer in: the conversation's language unless this message is clearly
    in another one we serve; English when nothing is known. A Persian-script message is Farsi
    unless the conversation is in Dari (SAME_WRITING): then it stays Dari. `found`:
    detect(text), if the caller has it already."""
    found = found or detect(text)
    if preferred in SUPPORTED:
        if found.language and SAME_WRITING.get(preferred) == found.language:
            return preferred
        if found.language and found.language != preferred and found.reliable:
            return found.language
        return preferred
    if found.language is not None and not found.reliable and found.confidence < GUESS_FLOOR:
        # "hello", "hi", "ok" with nothing known: a weak Latin-script guess is no better
        # than a coin (both say Danish), and English is what a stranger reads most often
        return "en" if _script_counts(text).get("latin") else found.language
    return found.language or "en"
