# The newspipe image: Airflow 3.3 with the pipeline, installed from uv.lock and nothing else.
# Every Airflow component in docker-compose.yml runs this one image with a different command.
FROM python:3.11-slim-bookworm

# Pinned like the Makefile's, so the image resolves exactly what `make venv` does.
ARG UV_VERSION=0.13.9
ARG AIRFLOW_UID=50000

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    AIRFLOW_HOME=/opt/airflow \
    NEWSPIPE_HOME=/opt/newspipe \
    PATH=/opt/newspipe/.venv/bin:$PATH

RUN pip install --no-cache-dir "uv==${UV_VERSION}" \
    && useradd --create-home --uid "${AIRFLOW_UID}" --gid 0 airflow \
    && mkdir -p /opt/airflow /data /reports /opt/newspipe/config \
    && chown -R airflow:0 /opt/airflow /data /reports /opt/newspipe

WORKDIR /opt/newspipe
USER airflow

# Dependencies first, from the lock alone: this layer is reused until uv.lock changes.
COPY --chown=airflow:0 pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

# Then the project. It stays an editable install, because pipeline/ finds sql/ and
# expectations/ beside itself.
COPY --chown=airflow:0 pipeline ./pipeline
COPY --chown=airflow:0 dags ./dags
COPY --chown=airflow:0 sql ./sql
COPY --chown=airflow:0 expectations ./expectations
COPY --chown=airflow:0 seeds ./seeds
RUN uv sync --frozen --no-dev

ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/newspipe/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    NEWSPIPE_CONFIG=/opt/newspipe/config/feeds.yaml \
    NEWSPIPE_DB=/data/news.duckdb \
    NEWSPIPE_STAGING=/data/staging \
    NEWSPIPE_REPORTS=/reports \
    GX_ANALYTICS_ENABLED=false

ENTRYPOINT ["airflow"]
CMD ["version"]
