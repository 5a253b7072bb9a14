"""Liveness and readiness are different questions (service/api/health.py): with the workers away the pages still
serve, so /livez stays 200 (what the reverse proxy routes by) while /readyz says the service cannot act; a replica
whose database does not answer is not live."""

from __future__ import annotations

import httpx

from service.app import create_app
from service.platform.runner import free_port
from service.platform.worker import forget_heartbeat, record_heartbeat
from tests.conftest import make_settings


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_with_no_worker_the_replica_is_live_but_the_service_not_ready(settings, engine, temporal_env,
                                                                            demo_passwords):
    async with _client(create_app(settings, temporal_env.client)) as service:
        live = await service.get("/livez")
        assert live.status_code == 200, live.text
        assert live.json()["checks"]["database"]["ready"] is True
        ready = await service.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["not_ready"] == ["worker"], ready.json()
        # The pages are what a load balancer keeps serving: the sign-in page answers without a worker.
        assert (await service.get("/signin")).status_code == 200

        record_heartbeat(engine, "worker-on-another-host", settings.temporal_task_queue)
        ready = await service.get("/readyz")
        assert ready.status_code == 200, ready.json()
        assert "1 worker(s) polling" in ready.json()["checks"]["worker"]["detail"]

        forget_heartbeat(engine, "worker-on-another-host")  # a worker stopping cleanly says so
        assert (await service.get("/readyz")).status_code == 503
        assert (await service.get("/livez")).status_code == 200


async def test_a_replica_whose_database_does_not_answer_is_not_live(tmp_path, temporal_env):
    nowhere = f"postgresql://rapid_review:pw@127.0.0.1:{free_port()}/rapid_review"  # nothing listens there
    async with _client(create_app(make_settings(tmp_path, nowhere), temporal_env.client)) as service:
        live = await service.get("/livez")
        assert live.status_code == 503
        assert live.json()["checks"]["database"] == {"ready": False, "detail": "database does not answer "
                                                     "(OperationalError)"}
        assert (await service.get("/readyz")).json()["checks"]["database"]["ready"] is False
        assert (await service.get("/healthz")).status_code == 200, "the process itself still answers"
