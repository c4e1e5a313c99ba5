"""Hybrid retrieval over the knowledge base: multilingual embeddings plus exact terms.

Each entry is represented by its example questions and titles in every language, embedded with
the model's query prompt (question-to-question matching). A query scores each entry by the mean
of its three best rows in the query's language and, separately, in other languages, taking the
better of the two: one stray example question cannot carry an entry alone. Two lexical scores
are added: BM25 over spaCy tokens, for exact matches of names and numbers ("MitID", "1888"),
and TF-IDF over character n-grams inside words, which matches what tokens miss: misspellings,
Arabic clitics ("بالدنمارك"), Somali, Tigrinya and Ukrainian word endings, Danish compounds.
A town she names adds a small bonus to the answers for its region. The weights were chosen by
a grid search on tests/eval (knowledge/calibration.md).

The decision reads a calibrated probability that the best entry is right
(knowledge/confidence.py), not raw scores: answer it; give the two best answers when it is
less sure; ask back or say honestly "I don't know" only when nothing is likely. Thresholds
and how they were chosen: knowledge/calibration.md.
"""

from __future__ import annotations

import json
import math
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from knowledge import confidence, gaps
from knowledge.regions import region_in
from knowledge.schema import LANGUAGES
from knowledge.store import KnowledgeBase

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO / "var" / "index"

# On the probability that the best entry is right (knowledge/confidence.py), chosen on the
# blind dev half (knowledge/calibration.md, "First reply"):
ANSWER_P = 0.80  # answer the best entry
SURE_P = 0.90  # below this, the runners-up are offered as "or did you mean" under the answer
BOTH_P = 0.40  # between this and ANSWER_P: the two best answers, both given
# Below BOTH_P she is asked which she means when some entry scores at least this, and is
# told honestly that the bot does not know otherwise.
CLARIFY_THRESHOLD = 0.78
OTHER_LANGUAGE_PENALTY = 0.0
TOP_ROWS = 3  # an entry's dense score: the mean of its best rows
LEXICAL_WEIGHT = 0.04  # BM25 over tokens
CHAR_WEIGHT = 0.06  # TF-IDF over character n-grams
# A question whose nearest gap (knowledge/gaps.py) beats the best entry's dense score by this
# much is not answered: chosen on the blind dev half (knowledge/calibration.md, "Gaps").
GAP_MARGIN = 0.02
# Answers that speak of 112, shelters and violence: never given second beside another topic's.
ALARMING_TOPICS = ("violence", "emergency")
# A violence answer is never taken for a gap: a shelter or hotline answer given to a question
# it does not fit costs less than "I do not know" to one it does ("is there a place I can go
# with my kids", "my family wants to marry me off"). An emergency answer can be: a town she
# names brings her region's out-of-hours number first, also for "halal meat in Aarhus"
# (knowledge/calibration.md, "Gaps beside 112").
NEVER_A_GAP = ("violence",)
# With her region unknown, an answer for one region must clearly beat the general one.
UNKNOWN_REGION_PENALTY = 0.01
# With her region known, its own answer beats the general "which number" one.
KNOWN_REGION_BONUS = 0.04

# Letter variants that people type interchangeably: Arabic alef/ya/ta marbuta/hamza seats,
# Persian and Urdu ya/kaf/heh, tatweel. Used for the character n-grams only (the model has
# its own tokenizer).
_LETTERS = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ى": "ی",
        "ي": "ی",
        "ئ": "ی",
        "ة": "ه",
        "ۀ": "ه",
        "ۃ": "ه",
        "ہ": "ه",
        "ھ": "ه",
        "ؤ": "و",
        "ك": "ک",
        "ـ": "",
    }
)


def normalise(text: str) -> str:
    """Lower case, no diacritics (Arabic harakat, Latin accents), unified letter variants."""
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch)).translate(_LETTERS)


# spaCy has tokenizers for these; Somali uses the multi-language one.
_SPACY_CODES = {
    "en": "en",
    "da": "da",
    "ar": "ar",
    "uk": "uk",
    "fa": "fa",
    "prs": "fa",  # Dari: spaCy has no tokenizer of its own for it; Farsi's fits the script
    "ur": "ur",
    "tr": "tr",
    "ti": "ti",
    "so": "xx",
}


@cache
def _tokenizer(lang: str):
    import spacy

    try:
        return spacy.blank(_SPACY_CODES.get(lang, "xx")).tokenizer
    except Exception:  # a language whose blank pipeline needs extras: fall back
        return spacy.blank("xx").tokenizer


@lru_cache(maxsize=65536)
def _tokens(text: str, lang: str) -> tuple[str, ...]:
    return tuple(
        t.lower_
        for t in _tokenizer(lang)(text)
        if not (t.is_punct or t.is_space) and (len(t.text) > 1 or t.is_digit)
    )


def tokens(text: str, lang: str) -> list[str]:
    """Her words (or an entry's), lower case, without punctuation: what BM25 matches."""
    return list(_tokens(text, lang))


@dataclass(frozen=True)
class Hit:
    entry_id: str
    score: float
    dense: float
    lexical: float


@dataclass(frozen=True)
class Gap:
    gap_id: str  # "gap:housing"
    dense: float  # like Hit.dense: the mean of its best rows' similarity


@dataclass(frozen=True)
class Decision:
    kind: str  # answer | both | clarify (ask back) | none
    hits: tuple[Hit, ...]  # answer: the best, then the runners-up to offer; both: the two
    probability: float = 0.0  # that hits[0] answers her
    gap: str | None = None  # none: the gap her question is about, if that is why


class _BM25:
    def __init__(self, docs: dict[str, list[str]], k1: float = 1.2, b: float = 0.75):
        self.ids = list(docs)
        self.tf = [Counter(docs[i]) for i in self.ids]
        self.len = np.array([len(docs[i]) for i in self.ids], dtype=np.float32)
        self.avg = float(self.len.mean()) if len(self.ids) else 1.0
        df = Counter(t for tf in self.tf for t in tf)
        n = len(self.ids)
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self.k1, self.b = k1, b

    def scores(self, query: list[str]) -> np.ndarray:
        out = np.zeros(len(self.ids), dtype=np.float32)
        for term in set(query):
            idf = self.idf.get(term)
            if idf is None:
                continue
            for i, tf in enumerate(self.tf):
                f = tf.get(term)
                if f:
                    norm = self.k1 * (1 - self.b + self.b * self.len[i] / self.avg)
                    out[i] += idf * f * (self.k1 + 1) / (f + norm)
        return out


class _CharNgrams:
    """Cosine of TF-IDF vectors over character 2-4-grams inside words, query to entry."""

    def __init__(self, docs: dict[str, str]):
        """The same weights as scikit-learn's TfidfVectorizer(analyzer="char_wb",
        ngram_range=(2, 4), sublinear_tf=True) fitted on the docs (tests/unit/test_index.py
        checks it), computed from each doc's n-gram counts, which are kept by text: after an
        editor publishes, only the changed entries' docs are analysed again."""
        from scipy.sparse import csr_matrix

        self.ids = list(docs)
        self._analyse = _char_analyser()
        counts = [_char_counts(docs[i]) for i in self.ids]
        vocabulary = sorted(set().union(*counts))
        self._vocabulary = {g: i for i, g in enumerate(vocabulary)}
        df = Counter()
        for c in counts:
            df.update(c.keys())
        n = len(self.ids)
        self._idf = (
            np.log((1 + n) / (1 + np.array([df[g] for g in vocabulary], dtype=np.float64))) + 1
        ).astype(np.float32)
        indptr, indices, values = [0], [], []
        for c in counts:
            cols = np.fromiter((self._vocabulary[g] for g in c), dtype=np.int64, count=len(c))
            w = (1 + np.log(np.fromiter(c.values(), dtype=np.float64, count=len(c)))) * self._idf[
                cols
            ]
            w /= np.linalg.norm(w) or 1.0
            order = np.argsort(cols)
            indices.append(cols[order])
            values.append(w[order].astype(np.float32))
            indptr.append(indptr[-1] + len(c))
        matrix = csr_matrix(
            (
                np.concatenate(values) if values else np.zeros(0, np.float32),
                np.concatenate(indices) if indices else np.zeros(0, np.int64),
                np.array(indptr),
            ),
            shape=(n, len(vocabulary)),
        )
        # A query is weighted in scores() rather than by a vectorizer's transform, whose
        # input checks cost more than the arithmetic; its length normalisation is left out,
        # as the scores are scaled by their best entry anyway.
        self.matrix = matrix.T.tocsr()

    def scores(self, text: str) -> np.ndarray:
        grams = Counter(g for g in self._analyse(text) if g in self._vocabulary)
        if not grams:
            return np.zeros(len(self.ids), dtype=np.float32)
        cols = np.fromiter((self._vocabulary[g] for g in grams), dtype=np.int64, count=len(grams))
        tf = 1 + np.log(np.fromiter(grams.values(), dtype=np.float32, count=len(grams)))
        return np.asarray(self.matrix[cols].T @ (tf * self._idf[cols])).ravel()


@cache
def _char_analyser():
    from sklearn.feature_extraction.text import TfidfVectorizer  # with sentence-transformers

    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), preprocessor=normalise
    ).build_analyzer()


@lru_cache(maxsize=2048)
def _char_counts(doc: str) -> Counter:
    """An entry's n-gram counts (read only: shared between indexes)."""
    return Counter(_char_analyser()(doc))


def _rows(kb: KnowledgeBase) -> list[tuple[str, str, str]]:
    """(entry id, language, text) for every example question and title."""
    rows = []
    for entry in kb.entries.values():
        for lang in LANGUAGES:
            title = entry.title.get(lang) or (
                entry.translations[lang].title  # type: ignore[index]
                if lang in entry.translations
                else None
            )
            if title:
                rows.append((entry.id, lang, title))
            for q in entry.questions.get(lang, []):
                rows.append((entry.id, lang, q))
    return rows


def _texts(kb: KnowledgeBase) -> dict[str, list[tuple[str, str]]]:
    """Per entry, (language, text) of its example questions, titles and answers."""
    docs: dict[str, list[tuple[str, str]]] = {}
    for entry in kb.entries.values():
        parts: list[tuple[str, str]] = []
        for lang in LANGUAGES:
            parts += [(lang, q) for q in entry.questions.get(lang, [])]
            if lang in entry.title:
                parts += [(lang, entry.title[lang]), (lang, kb.fill(entry.answer[lang]))]
            elif lang in entry.translations:
                t = entry.translations[lang]  # type: ignore[index]
                parts += [(lang, t.title), (lang, kb.fill(t.text))]
        docs[entry.id] = parts
    return docs


def _lexical_docs(kb: KnowledgeBase) -> dict[str, list[str]]:
    return {
        eid: [w for lang, part in parts for w in tokens(part, lang)]
        for eid, parts in _texts(kb).items()
    }


def _encode(model, texts: list[str]) -> np.ndarray:
    return np.asarray(
        model.encode(
            texts,
            prompt_name="query",
            batch_size=64,
            normalize_embeddings=True,
            convert_to_numpy=True,
        ),
        dtype=np.float32,
    )


def fingerprint(kb: KnowledgeBase) -> str:
    """What a saved index was built from: the entries, services and gaps."""
    return f"{kb.fingerprint()}+{gaps.fingerprint()}"


class Index:
    def __init__(
        self,
        kb: KnowledgeBase,
        model,
        embeddings: np.ndarray,
        rows: list[tuple[str, str, str]],
        gap_embeddings: np.ndarray | None = None,
        gap_rows: list[tuple[str, str]] | list[tuple[str, str, str]] | None = None,
    ):
        self.kb, self.model = kb, model
        self.embeddings = embeddings
        self.gap_embeddings = (
            gap_embeddings if gap_embeddings is not None else np.zeros((0, embeddings.shape[1]))
        ).astype(np.float32)
        gap_rows = gap_rows or []
        self.gap_row_id = np.array([r[0] for r in gap_rows], dtype=object)
        self.gap_row_lang = np.array([r[1] for r in gap_rows], dtype=object)
        self.gap_row_text = [r[2] if len(r) > 2 else "" for r in gap_rows]
        self.gap_ids = sorted(set(self.gap_row_id.tolist()))
        self._last_query: tuple[str, np.ndarray] | None = None
        self.encoded = 0  # texts embedded when this index was built (the rest were known)
        self.row_entry = np.array([r[0] for r in rows])
        self.row_lang = np.array([r[1] for r in rows])
        self.row_text = [r[2] for r in rows]  # what each row's vector encodes
        self.entry_ids = sorted(kb.entries)
        self._entry_pos = {eid: i for i, eid in enumerate(self.entry_ids)}
        self._row_entry_pos = np.array([self._entry_pos[e] for e in self.row_entry])
        self.bm25 = _BM25({eid: d for eid, d in _lexical_docs(kb).items()})
        self._bm25_pos = np.array([self._entry_pos[i] for i in self.bm25.ids])
        self.chars = _CharNgrams(
            {eid: " ".join(t for _, t in parts) for eid, parts in _texts(kb).items()}
        )
        self._chars_pos = np.array([self._entry_pos[i] for i in self.chars.ids])
        self._groups = {
            lang: (self._grouped(self.row_lang == lang), self._grouped(self.row_lang != lang))
            for lang in LANGUAGES
        }
        self._entry_region = np.array([kb.entries[e].region for e in self.entry_ids])
        for lang in LANGUAGES:  # load tokenizers now, not on a woman's first question
            _tokenizer(lang)

    # -- building and storing ------------------------------------------------------------
    @classmethod
    def build(cls, kb: KnowledgeBase, model, known: dict[str, np.ndarray] | None = None) -> Index:
        """Embeds every example question, title and gap question; a text in `known` (a
        vector already computed for it) is not embedded again."""
        rows, gap_rows = _rows(kb), gaps.load()
        texts = [r[2] for r in rows + gap_rows]
        known = dict(known or {})
        missing = sorted({t for t in texts if t not in known})
        if missing:
            known.update(zip(missing, _encode(model, missing), strict=True))
        dim = next(iter(known.values())).shape[0] if known else 384
        embeddings = (
            np.vstack([known[t] for t in texts]) if texts else np.zeros((0, dim), np.float32)
        ).astype(np.float32)
        index = cls(
            kb,
            model,
            embeddings[: len(rows)],
            rows,
            embeddings[len(rows) :],
            gap_rows,
        )
        index.encoded = len(missing)
        return index

    def vectors(self) -> dict[str, np.ndarray]:
        """Text -> vector for every row, for building the next index without re-embedding."""
        return dict(zip(self.row_text, self.embeddings, strict=True))

    def updated(self, kb: KnowledgeBase) -> Index:
        """A new index for a changed knowledge base (an editor published): only questions
        and titles this index has no vector for are embedded. This index is left as it is,
        so answers go on from it until the caller swaps."""
        known = self.vectors()
        known.update(
            (t, v) for t, v in zip(self.gap_row_text, self.gap_embeddings, strict=True) if t
        )
        return Index.build(kb, self.model, known)

    def save(self, directory: Path = DEFAULT_DIR) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "embeddings.npy", self.embeddings)
        np.save(directory / "gap_embeddings.npy", self.gap_embeddings)
        (directory / "gap_rows.json").write_text(
            json.dumps(
                [
                    [g, lang, text]
                    for g, lang, text in zip(
                        self.gap_row_id, self.gap_row_lang, self.gap_row_text, strict=True
                    )
                ]
            )
        )
        (directory / "rows.json").write_text(
            json.dumps(
                [
                    [e, lang, text]
                    for e, lang, text in zip(
                        self.row_entry.tolist(), self.row_lang.tolist(), self.row_text, strict=True
                    )
                ]
            )
        )
        (directory / "manifest.json").write_text(
            json.dumps(
                {
                    "fingerprint": fingerprint(self.kb),
                    "rows": len(self.row_entry),
                    "entries": len(self.entry_ids),
                    "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
            )
        )

    @classmethod
    def load_or_build(cls, kb: KnowledgeBase, model, directory: Path = DEFAULT_DIR) -> Index:
        """The saved index when it matches the knowledge base; else a new one, saved, that
        embeds only the texts the saved one has no vector for (an editor's few changes cost
        seconds at start, not the whole index)."""
        saved = _read_saved(directory)
        if saved is not None and saved[0] == fingerprint(kb):
            _, embeddings, rows, gap_embeddings, gap_rows = saved
            return cls(kb, model, embeddings, rows, gap_embeddings, gap_rows)
        known: dict[str, np.ndarray] = {}
        if saved is not None:
            _, embeddings, rows, gap_embeddings, gap_rows = saved
            known.update(zip((r[2] for r in rows), embeddings, strict=True))
            if all(len(r) == 3 for r in gap_rows):
                known.update(zip((r[2] for r in gap_rows), gap_embeddings, strict=True))
        index = cls.build(kb, model, known)
        index.save(directory)
        return index

    # -- querying ------------------------------------------------------------------------
    def search(
        self,
        text: str,
        lang: str,
        region: str | None = None,
        k: int = 3,
        query: np.ndarray | None = None,
    ) -> list[Hit]:
        """`query`: the text's vector, where it came with her message (encoded once)."""
        return self.search_encoded(self._query(text, query), text, lang, region, k)

    def nearest_gap(
        self, text: str, lang: str, hits: list[Hit], query: np.ndarray | None = None
    ) -> Gap | None:
        """The gap her question is closest to (knowledge/gaps.py); None without gaps, or when
        the best entry is about violence (NEVER_A_GAP)."""
        return self.nearest_gap_encoded(self._query(text, query), lang, hits)

    def nearest_gap_encoded(self, query: np.ndarray, lang: str, hits: list[Hit]) -> Gap | None:
        topic = self.kb.entries[hits[0].entry_id].topic if hits else None
        if not self.gap_ids or topic in NEVER_A_GAP:
            return None
        sims = self.gap_embeddings @ query
        best: Gap | None = None
        for gap_id in self.gap_ids:
            mine = self.gap_row_id == gap_id
            same = self.gap_row_lang == lang
            dense = max(_mean_of_top(sims[mine & same]), _mean_of_top(sims[mine & ~same]))
            if best is None or dense > best.dense:
                best = Gap(gap_id, dense)
        return best

    def _query(self, text: str, given: np.ndarray | None = None) -> np.ndarray:
        """Her message's vector (`given`, or encoded now); the last one is kept, as search
        and nearest_gap both ask."""
        if given is not None:
            return given
        last = self._last_query
        if last is not None and last[0] == text:
            return last[1]
        vector = _encode(self.model, [text])[0]
        self._last_query = (text, vector)
        return vector

    def encode(self, texts: list[str]) -> np.ndarray:
        """Query vectors for many texts at once (evaluation: batches are much faster)."""
        return _encode(self.model, texts)

    def search_encoded(
        self, query: np.ndarray, text: str, lang: str, region: str | None = None, k: int = 3
    ) -> list[Hit]:
        """search() with the text's query vector already computed."""
        sims = np.append(self.embeddings @ query, np.float32(-np.inf))  # last: padding
        same, other = self._groups.get(lang, self._groups["en"])
        dense = np.maximum(
            self._top_mean(sims, same), self._top_mean(sims, other) - OTHER_LANGUAGE_PENALTY
        )
        n = len(self.entry_ids)

        lexical = np.zeros(n, dtype=np.float32)
        raw = self.bm25.scores(tokens(text, lang))
        if raw.max() > 0:
            lexical[self._bm25_pos] = raw / raw.max()
        chars = np.zeros(n, dtype=np.float32)
        raw = self.chars.scores(text)
        if raw.max() > 0:
            chars[self._chars_pos] = raw / raw.max()
        score = dense + LEXICAL_WEIGHT * lexical + CHAR_WEIGHT * chars

        region = region_in(text) or region  # a town she names wins over what we knew
        if region:  # answers for another region never win; her region's own answer leads
            score[~np.isin(self._entry_region, ["all", region])] -= 1.0
            score[self._entry_region == region] += KNOWN_REGION_BONUS
        else:
            score[self._entry_region != "all"] -= UNKNOWN_REGION_PENALTY
        top = np.argsort(-score)[:k]
        return [
            Hit(self.entry_ids[i], float(score[i]), float(dense[i]), float(lexical[i])) for i in top
        ]

    def _grouped(self, mask: np.ndarray) -> np.ndarray:
        """Row numbers per entry (entries x most rows), padded with the padding row's number."""
        rows = [
            np.flatnonzero(mask & (self._row_entry_pos == i)) for i in range(len(self.entry_ids))
        ]
        out = np.full((len(rows), max(len(r) for r in rows)), len(self.row_entry))
        for i, r in enumerate(rows):
            out[i, : len(r)] = r
        return out

    @staticmethod
    def _top_mean(sims: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """Per entry, the mean of its TOP_ROWS highest similarities (of all, if fewer)."""
        vals = sims[groups]
        k = min(TOP_ROWS, vals.shape[1])
        top = -np.partition(-vals, k - 1, axis=1)[:, :k]
        finite = np.isfinite(top)
        count = finite.sum(axis=1)
        return np.where(
            count > 0, np.where(finite, top, 0).sum(axis=1) / np.maximum(count, 1), -1.0
        ).astype(np.float32)

    @staticmethod
    def decide(
        hits: list[Hit],
        text: str,
        gap: Gap | None = None,
        topic: Callable[[str], str] | None = None,
    ) -> Decision:
        """What to reply to `text`, given its search results, its nearest gap and, where
        known, each entry's topic (`topic(entry_id)`)."""
        p = confidence.probability(hits)
        if not hits:
            return Decision("none", (), p)
        if gap is not None and gap.dense - hits[0].dense >= GAP_MARGIN:
            return Decision("none", tuple(hits), p, gap=gap.gap_id)
        if p >= ANSWER_P:
            offered = [h for h in hits[1:3] if h.score >= CLARIFY_THRESHOLD] if p < SURE_P else []
            return Decision("answer", (hits[0], *offered), p)
        # one word ("price", "card") names no need: two answers would be two guesses
        if p >= BOTH_P and len(hits) > 1 and len(text.split()) > 1:
            if topic is not None and _alarming_beside(
                topic(hits[0].entry_id), topic(hits[1].entry_id)
            ):
                # 112 or the violence hotline given beside an answer about an interpreter or
                # an exam ("this exam will kill me haha") frightens more than it helps: the
                # first alone, the other one tap away
                return Decision("answer", tuple(hits[:2]), p)
            return Decision("both", tuple(hits[:2]), p)
        if hits[0].score >= CLARIFY_THRESHOLD:
            return Decision(
                "clarify", tuple(h for h in hits[:3] if h.score >= CLARIFY_THRESHOLD), p
            )
        return Decision("none", tuple(hits), p)


def _alarming_beside(first: str, second: str) -> bool:
    """Whether an emergency or violence answer would stand second beside an answer from
    another topic. On the blind dev half 7 first replies paired them so, and in none was the
    emergency or violence answer what she asked (knowledge/calibration.md, "Two answers")."""
    return second in ALARMING_TOPICS and first not in ALARMING_TOPICS


def _read_saved(directory: Path):
    """(fingerprint, embeddings, rows, gap embeddings, gap rows) of a saved index; None when
    there is none or it is incomplete (rows and vectors must match in number)."""
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
        embeddings = np.load(directory / "embeddings.npy")
        rows = [tuple(r) for r in json.loads((directory / "rows.json").read_text())]
        gap_embeddings = np.load(directory / "gap_embeddings.npy")
        gap_rows = [tuple(r) for r in json.loads((directory / "gap_rows.json").read_text())]
    except (OSError, ValueError):
        return None
    if (
        len(rows) != len(embeddings)
        or len(gap_rows) != len(gap_embeddings)
        or any(len(r) != 3 for r in rows)
    ):
        return None
    return manifest.get("fingerprint"), embeddings, rows, gap_embeddings, gap_rows


def _mean_of_top(sims: np.ndarray) -> float:
    """The mean of the TOP_ROWS highest similarities (all, if fewer; -1 for none), as an
    entry's dense score is computed."""
    if len(sims) == 0:
        return -1.0
    k = min(TOP_ROWS, len(sims))
    return float(np.partition(sims, len(sims) - k)[-k:].mean())
