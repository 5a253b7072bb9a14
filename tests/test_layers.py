"""The import rules of docs/architecture.md: each package imports only the layers under it, so the deterministic
workflows stay pure and the records never reach up into HTTP."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = ("engine", "workflows", "records", "activities", "service", "templates", "bench", "tests")
# What the worker's activities may use of the service: its settings, the engine's codec, the history archive, the
# outbox and the words people read (all below the HTTP layer).
SERVICE_FOR_ACTIVITIES = ("service.settings", "service.temporal", "service.history", "service.outbox",
                          "service.wording")
ENTRY_POINTS = ("service.app", "service.cli")  # they wire everything together


def allowed(importer: str, imported: str) -> bool:
    layer = importer.split(".")[0]
    if imported.split(".")[0] in ("bench", "tests"):
        return False
    if layer == "engine":
        return imported.startswith("engine")
    if layer == "workflows":
        return imported.startswith(("workflows", "engine"))
    if layer == "records":
        return imported.startswith(("records", "workflows", "engine"))
    if layer == "activities":
        return imported.startswith(("activities", "records", "workflows", "engine", "templates",
                                    *SERVICE_FOR_ACTIVITIES))
    if importer.startswith(ENTRY_POINTS):
        return True
    if importer.startswith("service.web"):
        return not imported.startswith("service.api")  # pages call services, never routes
    if importer.startswith("service.api"):
        return not imported.startswith("service.web")
    return not imported.startswith(("service.api", "service.web"))  # jobs, scheduler, worker, helpers


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names if node.module in ("service",))
    return {name for name in found if name.split(".")[0] in OURS}


def test_no_module_imports_upward_across_the_layers():
    wrong = []
    for package in ("engine", "workflows", "records", "activities", "service"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "versions" in path.parts:
                continue  # migrations are frozen in time
            importer = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            wrong += [f"{importer} imports {name}" for name in sorted(imports_of(path)) if not allowed(importer, name)]
    assert not wrong, "\n".join(wrong)


def test_the_rules_would_catch_an_upward_import():
    assert not allowed("workflows.rapid_review", "records.models")
    assert not allowed("engine.registry", "workflows.rapid_review")  # the engine knows no review type
    assert allowed("workflows.review_types", "engine.registry")
    assert not allowed("records.tasks", "service.api.access")
    assert not allowed("activities.case_step", "service.api.cases")
    assert not allowed("service.jobs", "service.api.access")
    assert allowed("service.jobs", "records.tasks")
    assert not allowed("service.web_business", "service.api.action_plan")
    assert not allowed("service.cases", "service.api.cases")


# The service's own domain modules (docs/architecture.md, the "services" ring): they raise records/errors.py's
# refusals and know nothing of requests; only service/deps.py, service/api/ and the pages speak HTTP.
SERVICES = ("cases", "action_plan", "escalation_log", "themes", "timeliness", "calendar_days", "roles",
            "audit_rows", "outbox", "history", "jobs", "lateness", "wording")


def test_the_records_and_the_services_know_nothing_of_http():
    """Only the service's HTTP layer speaks HTTP: the records and the services would work under any front end."""
    web = ("fastapi", "starlette", "service.deps", "service.http_errors")
    paths = [path for path in sorted((ROOT / "records").rglob("*.py")) if "versions" not in path.parts]
    paths += [ROOT / "service" / f"{name}.py" for name in SERVICES]
    found = [f"{path.relative_to(ROOT)} imports {name}" for path in paths
             for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, (ast.Import, ast.ImportFrom))
             for name in ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""])
             if name.split(".")[0] in web or name.startswith(web)]
    assert not found, "\n".join(found)
