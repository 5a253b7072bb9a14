"""Schemathesis against the OpenAPI schema, signed in as each role: generated requests to every route never
get a 5xx, and every answer the schema documents conforms to it. FUZZ_EXAMPLES sets examples per route and
role (default 15 in the suite; the long variant runs hundreds)."""

import asyncio
import os

import pytest
import schemathesis
import schemathesis.generation.jsonschema.builder  # noqa: F401 - imported here, at a shallow stack: CPython 3.11.7
import schemathesis.specs.openapi.adapter  # noqa: F401 - fails to compile modules imported deep in recursion
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from service.accounts.users import DEMO_ACCOUNTS
from service.app import create_app
from service.platform.runner import free_port
from service.platform.worker import record_heartbeat

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
ROLE_USERS = {}
for account in DEMO_ACCOUNTS:
    ROLE_USERS.setdefault(str(account.role), account.username)


def fuzz_operation(operation, base_url: str, headers: dict, problems: list[str]) -> None:
    # The 29 per-action routes share one code path (the case service's act) past their body schemas: fewer each.
    examples = max(3, EXAMPLES // 3) if "/actions/" in operation.path else EXAMPLES

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(headers=headers))
    def check(case):
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        if response.status_code >= 500:
            problems.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}")
            return
        try:
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance],
                                   headers=headers)
        except (AssertionError, BaseExceptionGroup) as failure:  # schemathesis raises a group of check failures
            problems.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {str(failure)[:300]}")

    check()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_no_route_answers_5xx_or_breaks_its_schema(case_env, case_worker, settings, engine, demo_passwords):
    async def heartbeat():  # the in-test worker polls, so it reports it like the service's worker: /readyz is ready
        while True:
            await asyncio.to_thread(record_heartbeat, engine, "fuzzing-worker", case_worker)
            await asyncio.sleep(5)

    beating = asyncio.create_task(heartbeat())
    app = create_app(settings.model_copy(update={"temporal_task_queue": case_worker}), case_env.client)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    base_url = f"http://127.0.0.1:{port}"
    schema = schemathesis.openapi.from_dict(app.openapi())
    operations = [result.ok() for result in schema.get_all_operations()]
    problems: list[str] = []
    try:
        import httpx

        async with httpx.AsyncClient(base_url=base_url) as client:
            tokens = {}
            for role, username in ROLE_USERS.items():
                answer = await client.post("/api/auth/token",
                                           data={"username": username, "password": demo_passwords[username]})
                tokens[role] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        for headers in tokens.values():
            for operation in operations:
                if operation.path.startswith("/api/auth/"):
                    continue  # sign-in is fuzzed once below, not per role (it would throttle the demo users)
                await asyncio.to_thread(fuzz_operation, operation, base_url, headers, problems)
        for operation in operations:
            if operation.path.startswith("/api/auth/token"):
                await asyncio.to_thread(fuzz_operation, operation, base_url, {}, problems)
    finally:
        beating.cancel()
        server.should_exit = True
        await serving
    assert not problems, "\n".join(problems[:20])
    print(f"\nfuzzed {len(operations)} operations x {len(tokens)} roles x up to {EXAMPLES} examples")
