"""bedrock-cost-guard: keep Amazon Bedrock spending inside budgets."""

__version__ = "0.1.0"
