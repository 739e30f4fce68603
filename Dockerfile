# The booking service (`opdsim serve`) in a slim image, running as a non-root user.
#   docker build -t opdsim-service .
#   docker run -p 127.0.0.1:8000:8000 -v opd-data:/data -v ./keys.toml:/run/secrets/keys.toml:ro opdsim-service
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY opdsim ./opdsim
# the service extra (FastAPI, uvicorn, SQLAlchemy, Alembic, psycopg); a lock file, when the project has one,
# pins it: pip install -r requirements.lock first
RUN pip install ".[service]" \
    && useradd --system --uid 10001 --create-home --home-dir /data opdsim \
    && rm -rf /src

USER opdsim
WORKDIR /data
EXPOSE 8000
VOLUME ["/data"]

HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=2).status != 200)"]

# inside the container the service must listen on all its interfaces; publish the port on 127.0.0.1 on the host
ENTRYPOINT ["opdsim", "serve", "--host", "0.0.0.0", "--port", "8000"]
CMD ["--db", "/data/opd.sqlite", "--keys", "/run/secrets/keys.toml"]
