# syntax=docker/dockerfile:1
# Two images from one file:
#   docker build --target operator -t localhost/raykopf/operator:0.1.0 .   the operator (non-root, read-only rootfs friendly)
#   docker build --target runtime  -t localhost/raykopf/ray:2.60.0 .       the Ray runtime, from localcluster/raykopf_local/ray-runtime.txt
# (`localhost/` names a local build; tag and push to your own registry for a real cluster.)
# Release builds pin the base image by digest, resolved when the release is cut:
#   --build-arg PYTHON_IMAGE=python:3.11-slim@sha256:<digest of `docker buildx imagetools inspect python:3.11-slim`>
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE} AS operator
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --uid 65532 --no-create-home --shell /usr/sbin/nologin raykopf
USER 65532:65532
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
ENTRYPOINT ["raykopf"]

FROM ${PYTHON_IMAGE} AS runtime
COPY localcluster/raykopf_local/ray-runtime.txt /tmp/ray-runtime.txt
RUN apt-get update && apt-get install -y --no-install-recommends wget procps && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir -r /tmp/ray-runtime.txt \
    && useradd --uid 1000 --create-home ray
USER 1000:100
WORKDIR /home/ray
