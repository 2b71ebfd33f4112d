# claimwatch: one image for every job (embedded run, ingest, worker, alert sinks, weekly report task).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY claimwatch ./claimwatch
COPY schemas ./schemas
COPY stream ./stream
COPY batch ./batch
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[msk]"

FROM python:3.11-slim
# tini as PID 1: SIGTERM from ECS or `docker stop` reaches claimwatch (and zombies are reaped), so a
# worker checkpoints before it exits and a report run stops cleanly.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 claimwatch \
    && mkdir -p /var/lib/claimwatch/state && chown -R claimwatch /var/lib/claimwatch
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER claimwatch
WORKDIR /home/claimwatch
ENV PYTHONUNBUFFERED=1
# The worker's local copy of its state changelog (stream/localstate.py): a volume, so a restarted
# container reads only the changelog's tail. The task definition mounts its volume here.
ENV CLAIMWATCH_STATE_DIR=/var/lib/claimwatch/state
VOLUME ["/var/lib/claimwatch/state"]
# Faust's web server: /health and /metrics
EXPOSE 6066
ENTRYPOINT ["/usr/bin/tini", "--", "claimwatch"]
CMD ["run"]
