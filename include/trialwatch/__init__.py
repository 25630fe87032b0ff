"""trialwatch: watch ClinicalTrials.gov records, store every version, report what changed."""

from __future__ import annotations

__version__ = "0.1.0"
