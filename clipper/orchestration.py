"""Names shared by the API, the workflows and the workers: task queues and search attributes.

Pure constants; safe to import inside the workflow sandbox.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

# Workflow tasks: cheap, any worker process can take them.
WORKFLOW_QUEUE = "clips-workflows"
# Encoding: CPU-heavy activities (probe, cut, burn-in).
ENCODE_QUEUE = "clips-encode"
# Speech recognition: can live on GPU hosts.
ASR_QUEUE = "clips-asr"

ALL_QUEUES = (WORKFLOW_QUEUE, ENCODE_QUEUE, ASR_QUEUE)


def worker_specific_queue(base: str, worker_id: str) -> str:
    """The private queue of one worker process, for activities that share its scratch dir."""
    return f"{base}@{worker_id}"


def clip_workflow_id(job_id: str) -> str:
    return f"clip-{job_id}"


# Typed search attributes, so operators find a job in the Web UI by id and status:
#   ClipJobId="..."  /  ClipStatus="failed"
SA_JOB_ID = SearchAttributeKey.for_keyword("ClipJobId")
SA_STATUS = SearchAttributeKey.for_keyword("ClipStatus")
SA_MODE = SearchAttributeKey.for_keyword("ClipMode")
SEARCH_ATTRIBUTES = (SA_JOB_ID, SA_STATUS, SA_MODE)

# Failure type of an activity that needed a scratch file its worker no longer has.
SCRATCH_LOST = "SCRATCH_LOST"
