# The samplersearch image: the REST controller, job drivers and Ray GPU workers all run it, so
# every Ray process in a cluster has the same Python, Ray and project code.
#
# CPU image (default):   docker build -t samplersearch .
# CUDA image:            docker build -t samplersearch:cuda --build-arg BASE_IMAGE=<a PyTorch CUDA runtime image
#                        with Python 3.11, e.g. pytorch/pytorch:2.x-cudaXX-cudnn9-runtime> .
# A base image that already has torch keeps it (its CUDA build); otherwise torch==TORCH_VERSION is
# installed, from TORCH_INDEX_URL when given (point it at PyTorch's CPU wheel index for a small
# CPU-only image).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=

ENV PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    SAMPLERSEARCH_DATA_DIR=/data/files \
    SAMPLERSEARCH_CACHE_DIR=/data/cache \
    SAMPLERSEARCH_RESULTS_DIR=/data/results

WORKDIR /app
COPY pyproject.toml README.md ./
COPY sampler_space sampler_space
COPY workers workers
COPY service service

RUN if python -c "import torch" 2>/dev/null; then echo "keeping the base image's torch"; \
    elif [ -n "$TORCH_INDEX_URL" ]; then pip install --index-url "$TORCH_INDEX_URL" "torch==${TORCH_VERSION}"; \
    else pip install "torch==${TORCH_VERSION}"; fi \
 && pip install ".[postgres]" \
 && mkdir -p /data/files /data/cache /data/results

EXPOSE 8000
CMD ["samplersearch", "serve", "--host", "0.0.0.0", "--port", "8000"]
