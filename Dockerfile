# One image for the api, worker and migrate services of docker-compose.yml.
FROM python:3.11.11-slim-bookworm

RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 app

WORKDIR /app
COPY pyproject.toml README.md ./
COPY workflows ./workflows
COPY activities ./activities
COPY service ./service
COPY templates ./templates
RUN pip install --no-cache-dir .
# Owned by app before the named volume is mounted over it, so the volume starts with this owner and mode.
RUN install -d -o app -g app -m 0700 /home/app/audit-anchors

USER app
ENV RAPID_REVIEW_MODE=production \
    RAPID_REVIEW_VAR_DIR=/home/app/var \
    API_HOST=0.0.0.0
EXPOSE 8000
CMD ["rapid-review", "api"]
