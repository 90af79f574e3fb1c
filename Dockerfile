# One image for the API, the migration job and the workers.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY api ./api
COPY models ./models
COPY workers ./workers
COPY migrations ./migrations
COPY alembic.ini ./
# GPU images build with EXTRAS=torch,tensorflow-gpu (compose's worker-gpu does).
ARG EXTRAS=torch,tensorflow
RUN pip install --no-cache-dir ".[${EXTRAS}]"
RUN useradd --create-home reglab && mkdir -p /data && chown reglab /data
USER reglab
ENV REGLAB_HOME=/data
EXPOSE 8000
CMD ["python", "-m", "api"]
