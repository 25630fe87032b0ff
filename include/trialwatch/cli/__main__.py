"""``python -m trialwatch.cli``: the same as the ``trialwatch`` command."""

from __future__ import annotations

from trialwatch.cli import main

raise SystemExit(main())
