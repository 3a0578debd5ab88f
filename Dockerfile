# syntax=docker/dockerfile:1
# One image for all four Linkage services (intake, dispatch, notify, analytics) and the
# `linkage migrate` step. The service is chosen by the command:
#   docker run IMAGE serve dispatch --host 0.0.0.0        (listens on 8002, its default port)
#   docker run IMAGE migrate
# Dependencies come from requirements.lock (`make lock`: every version pinned with its sha256
# hashes, runtime + the `otlp` exporter). The `local` extra (embedded PostgreSQL, the broker
# binary, psutil: only `linkage up`/tests on a developer machine) and `dev` are not installed.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/linkage
ENV PATH=/opt/linkage/bin:$PATH
WORKDIR /src
# Only what the distribution needs (README* is optional: the glob may match nothing).
COPY pyproject.toml requirements.lock README* ./
COPY linkage ./linkage
COPY shared ./shared
COPY services ./services
# The locked runtime dependencies (hash-checked), then the project alone; pip check proves the lock complete.
RUN pip install --upgrade pip \
 && pip install --require-hashes -r requirements.lock \
 && pip install . --no-deps \
 && pip check \
 && linkage --help >/dev/null

FROM python:3.11-slim
ENV PATH=/opt/linkage/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LINKAGE_LOG_JSON=true \
    LINKAGE_VAR_DIR=/app/var
RUN groupadd --system --gid 10001 linkage \
 && useradd --system --uid 10001 --gid linkage --home-dir /app --shell /usr/sbin/nologin linkage \
 && mkdir -p /app/var \
 && chown -R linkage:linkage /app
COPY --from=build /opt/linkage /opt/linkage
WORKDIR /app
USER 10001:10001
EXPOSE 8001 8002 8003 8004
# Probes whichever service runs: LINKAGE_PORT if set, else the port named by `--port`,
# else the service's default port (intake 8001 … analytics 8004), as `linkage serve` does.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os,sys,urllib.request\nd={'intake':8001,'dispatch':8002,'notify':8003,'analytics':8004}\na=open('/proc/1/cmdline','rb').read().decode().split('\\0')\np=os.environ.get('LINKAGE_PORT') or d.get(next((x for x in a if x in d),'intake'))\nfor i,x in enumerate(a):\n if x=='--port' and i+1<len(a): p=a[i+1]\n elif x.startswith('--port='): p=x[7:]\nr=urllib.request.urlopen(f'http://127.0.0.1:{p}/healthz',timeout=4)\nsys.exit(0 if r.status==200 else 1)"]
ENTRYPOINT ["linkage"]
CMD ["serve", "intake", "--host", "0.0.0.0"]
