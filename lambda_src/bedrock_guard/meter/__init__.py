"""The usage meter: Bedrock's model invocation log records, parsed, priced and charged to the
caller's budget, whichever path the call took (through the gate or directly)."""
