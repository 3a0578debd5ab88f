"""CloudEvents 1.0 envelope (Kafka binary mode) and the versioned event payloads."""

from shared.events.envelope import (
    EVENT_SOURCE_PREFIX,
    Envelope,
    EventDecodeError,
    decode_message,
    encode_event,
    new_event_id,
)
from shared.events.registry import EventPayload, model_for, register_event

__all__ = [
    "EVENT_SOURCE_PREFIX",
    "Envelope",
    "EventDecodeError",
    "EventPayload",
    "decode_message",
    "encode_event",
    "model_for",
    "new_event_id",
    "register_event",
]
