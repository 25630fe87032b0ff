# The image every Airflow service in docker-compose.yaml runs: the official Airflow image, this
# project's pinned requirements, and the trialwatch package.
#
# constraints.txt is resolved for Python 3.11, so the image uses the Python 3.11 variant of the
# official image. Change AIRFLOW_VERSION only together with apache-airflow in requirements.txt.
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}
ARG AIRFLOW_VERSION

# The official image ships the FAB auth manager, which does not install with this project's
# constraints (flask-appbuilder needs python-dateutil < 3; see docs/deployment.md, "Login"). Logins
# go through Airflow's SimpleAuthManager instead, so FAB is removed rather than left broken.
RUN pip uninstall --yes apache-airflow-providers-fab

# Naming apache-airflow again keeps every requirement from moving Airflow off the image's version.
COPY --chown=airflow:0 requirements.txt constraints.txt /opt/trialwatch/
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" \
        -r /opt/trialwatch/requirements.txt -c /opt/trialwatch/constraints.txt

# /opt/airflow mirrors the repository: dags/, plugins/, include/ and pyproject.toml side by side.
# The package is installed editable from /opt/airflow/include, the same path docker-compose.yaml
# mounts the working copy on, so `import trialwatch` and the `trialwatch` command work in every
# container, from the baked-in copy or from the mounted one.
COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow/
COPY --chown=airflow:0 include /opt/airflow/include
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins
RUN pip install --no-cache-dir --no-deps --editable /opt/airflow \
 && python -c "import trialwatch.watchlists, trialwatch.store.db, airflow.providers.celery"

ENV TRIALWATCH_WATCHLISTS=/opt/airflow/include/watchlists
