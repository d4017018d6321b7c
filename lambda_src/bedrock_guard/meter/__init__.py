"""The usage meter: Bedrock's model invocation log records, counted against the same per-caller
budgets as the gate's requests, and the gate's holds settled to what Bedrock logged."""
