"""What the bot could not answer well, passed to the gateway for editors (contracts.Unanswered;
the gateway stores it with the text of her message, bot/storage/unanswered.py).

Three moments: the honest "I don't know" and the ask-back (actions/answer.py), and "Was this
helpful? No" (actions/feedback.py). A "No" is named by Rasa's id of that message (`ref`); when
the very next message she writes goes to retrieval, it is sent with the same `ref`, and the
gateway adds her words to the "No" instead of keeping a second row.

Nothing is sent for a message screened as danger: editors do not read disclosures. Sending
never fails the action: a directive that would break the contract is left out.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from common.contracts import Unanswered, UnansweredReason, to_custom
from common.vocab import LANGUAGES

log = logging.getLogger(__name__)


def _user_events(tracker: Tracker) -> list[dict[str, Any]]:
    """Her messages in this session, newest first."""
    found = []
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            break
        if event.get("event") == "user":
            found.append(event)
    return found


def message_id(tracker: Tracker) -> str | None:
    """Rasa's id of the message being answered."""
    mine = _user_events(tracker)
    return (mine[0].get("message_id") if mine else None) or tracker.latest_message.get("message_id")


def rated_just_before(tracker: Tracker) -> str | None:
    """Rasa's id of her "No" when the message being answered is the next one she wrote
    after it, in the same session; otherwise None."""
    mine = _user_events(tracker)
    if len(mine) < 2:
        return None
    before = mine[1]
    intent = ((before.get("parse_data") or {}).get("intent") or {}).get("name")
    return before.get("message_id") if intent == "feedback_negative" else None


def keep(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: UnansweredReason,
    entry_id: str | None = None,
    ref: str | None = None,
    quote: bool = True,
) -> bool:
    """Tells the gateway to keep this message for editors; whether it was sent."""
    metadata = (_user_events(tracker) or [{}])[0].get("metadata") or {}
    if metadata.get("screening") == "danger":
        return False
    language = tracker.get_slot("language")
    try:
        directive = Unanswered(
            reason=reason,
            language=language if language in LANGUAGES else "en",
            entry_id=entry_id,
            ref=ref,
            quote=quote,
        )
    except ValidationError:
        log.warning("an unanswered question was left out: it does not fit the contract")
        return False
    dispatcher.utter_message(json_message=to_custom(directive))
    return True
