# syntax=docker/dockerfile:1
#
# The streamproc worker image. One file, two images:
#   docker build -t streamproc:0.1.0 .                                 # CPU (default)
#   docker build -t streamproc:0.1.0-cuda --build-arg VARIANT=cuda .   # CUDA, for GPU detectors
#
# The variants differ only in the torch wheel. VARIANT=cpu installs the CPU-only build from
# PyTorch's CPU wheel index; VARIANT=cuda installs torch from the default package index, whose
# Linux x86_64 wheels are CUDA builds that bring the CUDA runtime as nvidia-* wheels, so no CUDA
# base image is needed: GPU nodes supply only the driver. TORCH_INDEX_URL points either variant
# at another index (a mirror, or a specific PyTorch CUDA index such as .../whl/cu128).
# docs/deploy.md describes building, pushing and the Helm values that pick each tag.

ARG PYTHON_VERSION=3.11
ARG BASE_IMAGE=python:${PYTHON_VERSION}-slim-bookworm

FROM ${BASE_IMAGE} AS build
ARG VARIANT=cpu
# Must equal the torch pin in pyproject.toml (tests/deploy/test_dockerfile.py checks it).
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=""
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# Compilers for any dependency without a wheel for this platform; they stay in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/streamproc
ENV PATH=/opt/streamproc/bin:$PATH
# torch first, from the variant's index, so that `pip install .` finds its pin satisfied.
RUN case "$VARIANT" in \
        cpu) index="${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}" ;; \
        cuda) index="${TORCH_INDEX_URL}" ;; \
        *) echo "VARIANT must be cpu or cuda, not '$VARIANT'" >&2; exit 1 ;; \
    esac \
    && pip install ${index:+--index-url "$index"} "torch==${TORCH_VERSION}"
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY streamproc ./streamproc
COPY plugins ./plugins
COPY schemas ./schemas
RUN pip install . \
    && python -c "import torch; assert torch.__version__.split('+')[0] == '${TORCH_VERSION}', torch.__version__"

FROM ${BASE_IMAGE} AS runtime
ARG VARIANT=cpu
LABEL org.opencontainers.image.title="streamproc" \
      org.opencontainers.image.description="Streaming, structure-aware anomaly detection on Kafka (${VARIANT})" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed numeric user, so that Kubernetes can verify runAsNonRoot; the chart runs as 10001 too.
RUN groupadd --system --gid 10001 streamproc \
    && useradd --system --uid 10001 --gid streamproc --home-dir /home/streamproc \
       --create-home --shell /usr/sbin/nologin streamproc \
    && install -d -o streamproc -g streamproc /var/lib/streamproc
COPY --from=build /opt/streamproc /opt/streamproc
ENV PATH=/opt/streamproc/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    F_DATADIR=/var/lib/streamproc
USER 10001:10001
WORKDIR /var/lib/streamproc
EXPOSE 6066
# Docker and Compose use this; Kubernetes ignores it and probes /healthz and /readyz itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('STREAMPROC_WORKER__WEB_PORT', '6066'), timeout=4)"]
ENTRYPOINT ["streamproc"]
CMD ["run", "--role", "all"]
