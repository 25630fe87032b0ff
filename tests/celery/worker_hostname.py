"""``[core] hostname_callable`` for the Celery test: each worker reports the name it was given.

Both workers run on one machine, so the host's name would not tell them apart in a task
instance's ``hostname``; in a real deployment each worker is its own host and this is not needed.
"""

from __future__ import annotations

import os


def hostname() -> str:
    return os.environ["TRIALWATCH_TEST_WORKER_NAME"]
