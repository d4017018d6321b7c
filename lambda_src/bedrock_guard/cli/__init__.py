"""The operator CLI ``bedrock-guard``: usage and limits, locks, unlocks, Cost Explorer reports.

Local-only (never packaged into the Lambda zip). Entry point: :func:`main`.
"""

from __future__ import annotations

from bedrock_guard.cli.app import main

__all__ = ["main"]
