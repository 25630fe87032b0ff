"""Trial Watch: the trialwatch store in the Airflow UI (overview, trial timelines, digests, health)."""
