"""What the gate tells Bedrock about each call it makes, and how the usage meter reads it back.

The gate passes Converse's ``requestMetadata`` on every call: the hold it reserved and the
caller it charged. Bedrock writes that map into the model invocation log record, so the usage
meter can tell the gate's own calls from direct ones and settle a hold the gate could not
(its Lambda died, or the settle failed) to exactly what Bedrock logged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

HOLD_ID_KEY: Final = "bedrockGuardHoldId"
CALLER_KEY: Final = "bedrockGuardCaller"
# Converse accepts keys and values of these characters, at most 256 of them.
_ALLOWED: Final = re.compile(r"^[a-zA-Z0-9\s:_@$#=/+,\-.]{1,256}$")


@dataclass(frozen=True, slots=True)
class GateCall:
    """A gate call as its invocation log record identifies it."""

    hold_id: str
    caller: str | None


def gate_metadata(hold_id: str, caller: str) -> dict[str, str]:
    """``requestMetadata`` for a Converse call the gate makes under ``hold_id``; a caller
    Converse would not accept as a value is left out (the hold id alone identifies the call)."""
    metadata = {HOLD_ID_KEY: hold_id}
    if _ALLOWED.match(caller):
        metadata[CALLER_KEY] = caller
    return metadata


def gate_call_of(metadata: Any) -> GateCall | None:
    """The gate call a log record's ``requestMetadata`` names, or ``None`` for any other call."""
    if not isinstance(metadata, Mapping):
        return None
    hold_id = metadata.get(HOLD_ID_KEY)
    if not isinstance(hold_id, str) or not _ALLOWED.match(hold_id):
        return None
    caller = metadata.get(CALLER_KEY)
    return GateCall(hold_id, caller if isinstance(caller, str) else None)
