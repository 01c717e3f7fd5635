# The gateway image: `gateway serve` as a non-root user, with a readiness healthcheck.

# GraphiQL's npm packages, as pinned in graphiql_packages.json, packed by npm (its registry
# settings apply). The gateway stage checks their sha512 before unpacking them.
FROM node:20-slim AS graphiql-packages
WORKDIR /packages
COPY gateway/graphql/graphiql_packages.json /tmp/
RUN npm pack --silent $(node -p "require('/tmp/graphiql_packages.json').packages.map(p => p.name + '@' + p.version).join(' ')")

# 3.11: the Python that requirements/runtime.txt is locked for (scripts/lock.sh) and CI tests on.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/gateway-metrics \
    GATEWAY_WORKERS=2 \
    GATEWAY_LOG_JSON=true

RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /app --shell /usr/sbin/nologin gateway

WORKDIR /app
# The dependencies, the `otel` extra's included, exactly as locked (versions and PyPI's hashes);
# a layer of their own, rebuilt only when the lock changes.
COPY requirements/runtime.txt ./requirements/
RUN pip install --require-hashes -r requirements/runtime.txt
# Migrations are found next to the package (gateway/migrate.py), hence the editable install;
# --no-deps: nothing is resolved here, the lock above brought every package.
COPY pyproject.toml README.md alembic.ini ./
COPY gateway ./gateway
COPY migrations ./migrations
COPY --from=graphiql-packages /packages /tmp/graphiql-packages
# GraphiQL's files land in gateway/static/graphiql, so /graphql works offline when the IDE is on.
RUN pip install --no-deps -e ".[otel]" \
    && gateway fetch-graphiql-assets --tarballs /tmp/graphiql-packages \
    && rm -rf /tmp/graphiql-packages \
    && mkdir -p /tmp/gateway-metrics && chown gateway:gateway /tmp/gateway-metrics

USER gateway
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=2).status == 200 else 1)"]

# Migrations first, then the server; `exec` so that SIGTERM reaches uvicorn (graceful shutdown).
CMD ["sh", "-c", "gateway migrate && exec gateway serve --host 0.0.0.0 --port 8000 --workers \"$GATEWAY_WORKERS\""]
