"""Trial Watch: the trialwatch store in the Airflow UI (overview, trial timelines, digests, health)."""

# Where the api-server mounts the app; the plugin's navigation entry and icons point under it.
URL_PREFIX = "/trialwatch"
