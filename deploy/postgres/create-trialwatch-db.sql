-- Runs once, when the postgres container initialises an empty data volume: the trialwatch store gets
-- its own database beside Airflow's metadata database, owned by the same user. Its tables are created
-- by `trialwatch db upgrade` in the airflow-init service.
CREATE DATABASE trialwatch OWNER airflow;
