"""A conversation as the CLI drives it: where the next turn attaches, remembered per target.

:meth:`Session.start` resolves ``-c`` (the last conversation on this target, from the state
file) and ``--cid ID`` (that conversation from its current message, looked up through the
API so an unknown id fails before anything is sent). Each answered turn moves the session to
the new answer and records it in the state file for the next ``-c``.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatgpt_api.cli.client import ChatClient, CliError, Reply, TextSink, TurnRequest
from chatgpt_api.cli.state import Position, StateFile


@dataclass(slots=True)
class Session:
    client: ChatClient
    state: StateFile
    model: str | None = None
    system: str | None = None
    position: Position | None = None

    @classmethod
    def start(
        cls,
        client: ChatClient,
        state: StateFile,
        *,
        model: str | None,
        system: str | None,
        continue_last: bool,
        conversation_id: str | None,
    ) -> Session:
        if continue_last and conversation_id:
            raise CliError("give either -c/--continue or --cid, not both")
        position: Position | None = None
        if conversation_id:
            conversation = client.get_conversation(conversation_id)
            current = conversation.get("current_node")
            node = current if isinstance(current, str) else None
            position = Position(str(conversation["id"]), node)
        elif continue_last:
            position = state.last(client.target)
            if position is None:
                raise CliError(
                    f"no conversation to continue on {client.target}: ask without -c first"
                )
        return cls(client, state, model, system, position)

    def turn(self, prompt: str, on_text: TextSink | None) -> Reply:
        """Ask ``prompt`` in this conversation (a new one if there is none yet)."""
        here = self.position
        reply = self.client.ask(
            TurnRequest(
                prompt,
                model=self.model,
                system=self.system,
                conversation_id=here.conversation_id if here else None,
                parent_message_id=here.message_id if here else None,
            ),
            on_text,
        )
        if reply.conversation_id:
            self.position = Position(reply.conversation_id, reply.message_id)
            self.state.remember(self.client.target, self.position)
        return reply

    def restart(self) -> None:
        """The next turn starts a new conversation."""
        self.position = None
