"""The sync's batch size comes from an Airflow Variable, so an operator can spread a sync over workers."""

from __future__ import annotations

import pytest
from trialwatch import airflow_glue
from trialwatch.pipeline import DEFAULT_BATCH_SIZE

VAR_ENV = "AIRFLOW_VAR_" + airflow_glue.BATCH_SIZE_VARIABLE.upper()


def test_default_batch_size_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VAR_ENV, raising=False)
    assert airflow_glue.sync_batch_size() == DEFAULT_BATCH_SIZE


def test_batch_size_from_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VAR_ENV, "3")
    assert airflow_glue.sync_batch_size() == 3


@pytest.mark.parametrize("raw", ["0", "-2", "ten", "2.5"])
def test_bad_batch_size_names_the_variable_and_the_value(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(VAR_ENV, raw)
    with pytest.raises(ValueError, match=rf"trialwatch_sync_batch_size: '{raw}' is not a whole number"):
        airflow_glue.sync_batch_size()
