# ModelDeck as one image: gunicorn serving the app, the same image runs the Celery worker.
#   docker build -t modeldeck .
#   docker run -p 127.0.0.1:8050:8050 -v /path/to/registry:/registry:ro \
#              -e MODELDECK_REGISTRY=/registry modeldeck
# See docs/deploy.md; compose.yaml adds Redis, a Celery worker and (optionally) MLflow.
FROM python:3.11-slim-bookworm

# Chromium renders chart images and PDF reports (kaleido drives it); fonts for the text.
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MODELDECK_CHROMIUM=/usr/bin/chromium \
    MODELDECK_STATE_DIR=/var/lib/modeldeck \
    MODELDECK_BIND=0.0.0.0:8050

WORKDIR /app
# Dependencies first (pinned), so a code change does not reinstall them.
COPY pyproject.toml constraints.txt README.md ./
COPY registry/ registry/
COPY analysis/ analysis/
COPY components/ components/
COPY sections/ sections/
COPY reports/ reports/
COPY serving/ serving/
COPY alerts/ alerts/
RUN pip install --no-cache-dir -c constraints.txt ".[redis,mlflow]"
# The app itself runs from /app (app.py, pages/, assets/, the sample registry).
COPY app.py ./
COPY pages/ pages/
COPY assets/ assets/
COPY data/sample-registry/ data/sample-registry/

RUN useradd --system --create-home --home-dir /home/modeldeck modeldeck \
 && mkdir -p /var/lib/modeldeck && chown modeldeck /var/lib/modeldeck
USER modeldeck
VOLUME ["/var/lib/modeldeck"]
EXPOSE 8050

# Inside the container the app listens on all of the container's interfaces; publish the
# port on 127.0.0.1 (or behind the reverse proxy) only — see docs/deploy.md.
CMD ["gunicorn", "-c", "serving/gunicorn_conf.py", "app:server"]
