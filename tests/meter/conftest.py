"""The meter's moto world as a fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.meter.moto_world import World, meter_world


@pytest.fixture
def world(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from meter_world(monkeypatch)
