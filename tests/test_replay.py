"""Recorded ClipWorkflow histories must replay on today's workflow code.

A change that would break running workflows (a reordered activity, a new step without
`workflow.patched`) fails here. Record a new history after an intended change with
`CLIPPER_RECORD_HISTORY=1 pytest tests/integration/test_e2e.py -k fast`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from workflows.clip import ClipWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_histories_to_replay() -> None:
    assert HISTORIES, "tests/histories holds no recorded ClipWorkflow history"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path) -> None:
    document = json.loads(path.read_text())
    history = WorkflowHistory.from_json(document["workflowId"], document["history"])
    result = await Replayer(workflows=[ClipWorkflow]).replay_workflow(
        history, raise_on_replay_failure=True
    )
    assert result.replay_failure is None
