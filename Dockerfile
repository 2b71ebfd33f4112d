# claimwatch: one image for every job (embedded run, ingest, worker, alert sinks, weekly batch).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY claimwatch ./claimwatch
COPY schemas ./schemas
COPY stream ./stream
COPY batch ./batch
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 claimwatch
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER claimwatch
WORKDIR /home/claimwatch
ENV PYTHONUNBUFFERED=1
# Faust's web server: /health and /metrics
EXPOSE 6066
ENTRYPOINT ["claimwatch"]
CMD ["run"]
