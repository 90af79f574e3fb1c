"""Reading Server-Sent Events in tests: the stream's lines, parsed as EventSource parses them."""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Message:
    """One block of the stream: an event (name, JSON data, id) or a comment alone."""

    event: str | None = None
    data: Any = None
    id: str | None = None
    comment: str | None = None


def messages(lines: Iterable[str]) -> Iterator[Message]:
    """The messages of an event stream, given its lines, as each block ends."""
    fields: dict[str, str] = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            fields[name or "comment"] = value.removeprefix(" ")
            continue
        if fields:
            data = json.loads(fields["data"]) if "data" in fields else None
            yield Message(fields.get("event"), data, fields.get("id"), fields.get("comment"))
            fields = {}


def events(lines: Iterable[str]) -> list[Message]:
    """The events of a whole stream (its comments left out), once the stream has closed."""
    return [m for m in messages(lines) if m.event is not None]
