"""The usage meter: Bedrock's model invocation log records, parsed, priced and charged to the
caller's budget whichever path the call took (directly, or through the gate, whose holds are
then settled to what Bedrock logged)."""
