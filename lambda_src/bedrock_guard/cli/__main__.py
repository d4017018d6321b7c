"""``python -m bedrock_guard.cli``: the same as the ``bedrock-guard`` console script."""

from __future__ import annotations

from bedrock_guard.cli import main

raise SystemExit(main())
