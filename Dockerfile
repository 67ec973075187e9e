# ringex: the engine (with bridges and publishers) and the gateway run from this one image.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    NUMBA_CACHE_DIR=/var/cache/ringex/numba

WORKDIR /opt/ringex
COPY pyproject.toml README.md ./
COPY ringex ./ringex
COPY gateway ./gateway
RUN pip install '.[kafka,redis,gateway]' \
    && useradd --system --create-home --uid 10001 ringex \
    && mkdir -p /var/lib/ringex /var/cache/ringex/numba \
    && chown -R ringex /var/lib/ringex /var/cache/ringex
# Compile the matcher and the JSON wire kernels once at build time, so containers start in
# seconds instead of compiling for a minute in their first batches (ringex/warmup.py).
USER ringex
RUN python -m ringex.warmup --pipeline

ENV RINGEX_RUNTIME_VAR_DIR=/var/lib/ringex
VOLUME ["/var/lib/ringex"]
ENTRYPOINT ["ringex"]
CMD ["serve"]
