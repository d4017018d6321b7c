"""The token gate: request parsing, configuration, the usage store, the Bedrock call."""
