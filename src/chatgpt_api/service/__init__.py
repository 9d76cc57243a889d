"""The conversation use-case: open a turn on its backend, store it when it ends.

:class:`ChatService` (:mod:`.chat`) plans a turn and returns its event stream; the pool
failover (:mod:`.failover`), the recording of the turn (:mod:`.recording`) and the read
deadlines (:mod:`.deadlines`) each have their own module.
"""

from chatgpt_api.service.chat import ChatService
from chatgpt_api.service.deadlines import collect_answer, deadline_after, next_event
from chatgpt_api.service.turn import HistoryBudget, Turn, TurnInput

__all__ = [
    "ChatService",
    "HistoryBudget",
    "Turn",
    "TurnInput",
    "collect_answer",
    "deadline_after",
    "next_event",
]
