"""Custom Rasa 3.6 NLU components (loaded by the Rasa server, Python 3.10, during training too).

LanguageDetector  adds a `language` entity, which fills the `language` slot that selects the
                  bot's response variations, from the language the gateway decided (message
                  metadata: detection plus her explicit choice, which wins). Without metadata
                  (`rasa shell`, `rasa test`) it only reports its own guess (langtools.langid) as
                  the parse result's `language`, so test stories need no entity markup.
DangerOverride    sets the intent to `danger` when the gateway's screening flagged the message,
                  so the danger flow never depends on the classifier being right; and takes
                  it away when both of the screen's layers read the message and found none
                  (metadata `screening: calm`): the classifier was never taught idioms, and
                  on the blind dev half it took "I'm dying of laughter" for danger 9 times in
                  51 calm messages, for 1 disclosure in 84 that the screen missed. A message
                  too short for the screen's model keeps the classifier's word.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, METADATA, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from langtools.langid import SUPPORTED, choose
from nlu import rasa_patches

rasa_patches.apply()


def _metadata(message: Message) -> dict[str, Any]:
    return message.get(METADATA) or {}


class _Stateless(GraphComponent):
    """Shared boilerplate: nothing to train, nothing to persist."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LanguageDetector(_Stateless):
    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if text.startswith("/"):
                continue  # a button payload; it carries its own entities
            given = _metadata(message).get("language")
            if given not in SUPPORTED:
                message.set("language", choose(text, None), add_to_output=True)
                continue
            entity = {
                "entity": "language",
                "value": given,
                "start": 0,
                "end": 0,
                "confidence_entity": 1.0,
                "extractor": self.__class__.__name__,
            }
            message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class DangerOverride(_Stateless):
    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            screening = _metadata(message).get("screening")
            if screening not in ("danger", "calm"):
                continue
            ranking: list[dict[str, Any]] = message.get(INTENT_RANKING_KEY) or []
            others = [r for r in ranking if r.get("name") != "danger"]
            if screening == "danger":
                intent = {"name": "danger", "confidence": 1.0}
                ranking = [intent, *others]
            elif (message.get(INTENT) or {}).get("name") == "danger":
                # the next intent; FallbackClassifier, after this, sends a doubtful one on to
                # retrieval
                intent = others[0] if others else {"name": "ask_question", "confidence": 0.0}
                ranking = others
            else:
                continue
            message.set(INTENT, intent, add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages
