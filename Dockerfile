# The web process (with its embedded worker unless STOKER_WORKER_CONCURRENCY=0).
# Builds run on the host's engine: mount its socket, and mount the data dir at
# the same path inside and out, because build workspaces are bind-mounted by
# host path:
#   docker run -p 8000:8000 -v /var/run/docker.sock:/var/run/docker.sock \
#     -v /var/lib/stoker:/var/lib/stoker -e STOKER_DATA_DIR=/var/lib/stoker stoker
FROM node:20-slim AS browser-libraries
WORKDIR /srv/stoker
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /srv/stoker
COPY setup.cfg pyproject.toml README.md stoker.py ./
COPY app ./app
COPY pipeline ./pipeline
COPY --from=browser-libraries /srv/stoker/node_modules ./node_modules
RUN pip install --no-cache-dir .
ENV STOKER_HOST=0.0.0.0 PORT=8000 STOKER_DATA_DIR=/var/lib/stoker \
    STOKER_NODE_MODULES=/srv/stoker/node_modules
EXPOSE 8000
CMD ["stoker", "serve"]
