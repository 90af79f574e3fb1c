# One image per job, built from one file: `docker build --target <stage> .`
#   api         the API and the migration job: no framework (tests/test_images.py checks it)
#   flower      Flower, the task-level view of the workers: the api stage plus flower
#   worker-cpu  CPU workers: torch's CPU wheels and tensorflow-cpu
#   worker-gpu  GPU workers: torch's CUDA wheels and TensorFlow with its CUDA libraries
# docker-compose.yml builds each service from its stage.
FROM python:3.11-slim AS source
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 REGLAB_HOME=/data
RUN useradd --create-home reglab && mkdir -p /data && chown reglab /data
COPY pyproject.toml README.md alembic.ini ./
COPY api ./api
COPY models ./models
COPY workers ./workers
COPY migrations ./migrations

FROM source AS api
# The base dependencies alone: no extra, so neither torch nor TensorFlow.
RUN pip install .
USER reglab
EXPOSE 8000
CMD ["python", "-m", "api"]

FROM api AS flower
USER root
RUN pip install ".[flower]"
USER reglab
EXPOSE 5555
CMD ["celery", "-A", "workers.celery_app", "flower", "--port=5555"]

FROM source AS worker-cpu
# torch from its CPU index first (2.13.0+cpu): the pin below then keeps it, where PyPI's
# Linux wheel would pull several GB of CUDA libraries this image never uses.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
    && pip install ".[torch,tensorflow]"
USER reglab
CMD ["celery", "-A", "workers.celery_app", "worker", "--loglevel", "INFO", "-E"]

FROM source AS worker-gpu
RUN pip install ".[torch,tensorflow-gpu]"
USER reglab
CMD ["celery", "-A", "workers.celery_app", "worker", "--loglevel", "INFO", "-E"]
