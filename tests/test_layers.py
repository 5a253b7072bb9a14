"""The import rules of docs/architecture.md: each package imports only the layers under it, so the deterministic
engine and review types stay pure and the records never reach up into HTTP."""

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The layers, lowest first: each may import its own and those under it.
LAYERS = ("engine", "reviews", "records", "activities", "service")
# Every top-level package of ours: what pyproject ships, plus the tests and the benchmarks.
OURS = tuple(sorted({name.split(".")[0] for name in tomllib.loads((ROOT / "pyproject.toml").read_text())
                     ["tool"]["setuptools"]["packages"]} | {"bench", "tests"}))
# What the worker's activities may use of the service: its settings, the engine's codec, the history archive, the
# outbox and the words people read (all below the HTTP layer).
SERVICE_FOR_ACTIVITIES = ("service.settings", "service.temporal", "service.history", "service.outbox",
                          "service.wording")
ENTRY_POINTS = ("service.app", "service.cli")  # they wire everything together


def allowed(importer: str, imported: str) -> bool:
    layer = importer.split(".")[0]
    if imported.split(".")[0] in ("bench", "tests"):
        return False
    if layer in LAYERS[:3]:  # engine, reviews, records: their own layer and those under it
        return imported.split(".")[0] in LAYERS[:LAYERS.index(layer) + 1]
    if layer == "activities":
        return imported.startswith((*LAYERS[:4], "templates", *SERVICE_FOR_ACTIVITIES))
    if importer.startswith(ENTRY_POINTS):
        return True
    if importer.startswith("service.web"):
        return not imported.startswith("service.api")  # pages call services, never routes
    if importer.startswith("service.api"):
        return not imported.startswith("service.web")
    return not imported.startswith(("service.api", "service.web"))  # jobs, scheduler, worker, helpers


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def absolute(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The module a ``from`` import names, a relative one (``from .models import X``) resolved from its importer."""
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    base = base[:len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(path: Path) -> set[str]:
    importer, is_package = module_name(path), path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = absolute(importer, is_package, node)
            found.add(module)
            # `from service import cases` imports the module service.cases (and `from . import x` likewise)
            found.update(f"{module}.{alias.name}" for alias in node.names if "." not in module or node.level)
    return {name for name in found if name.split(".")[0] in OURS}


def test_no_module_imports_upward_across_the_layers():
    wrong = []
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "versions" in path.parts:
                continue  # migrations are frozen in time
            importer = module_name(path)
            wrong += [f"{importer} imports {name}" for name in sorted(imports_of(path)) if not allowed(importer, name)]
    assert not wrong, "\n".join(wrong)


def test_the_rules_would_catch_an_upward_import():
    assert not allowed("reviews.rapid_review.workflow", "records.models")
    assert not allowed("engine.registry", "reviews.rapid_review.workflow")  # the engine knows no review type
    assert allowed("reviews.review_types", "engine.registry")
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


def test_relative_imports_are_resolved_and_checked():
    """``from ..records import models`` inside reviews/ is caught as surely as the absolute form."""
    tree = ast.parse("from ...records import models\nfrom .models import CaseInput\n")
    importer = "reviews.rapid_review.workflow"
    found = {absolute(importer, False, node) for node in tree.body}
    assert found == {"records", "reviews.rapid_review.models"}
    assert not allowed(importer, "records.models")


def test_every_package_of_ours_is_in_a_layer_or_known():
    """A new top-level package is placed in the layers (or named here) before anything may import it."""
    assert set(OURS) == {*LAYERS, "templates", "bench", "tests"}
