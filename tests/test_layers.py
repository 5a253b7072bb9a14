"""The import rules of docs/architecture.md: each package imports only the layers under it, so the deterministic
engine and review types stay pure and the records never reach up into HTTP."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Our packages: every top-level directory that is a package (engine, reviews, records, ..., tests).
OURS = frozenset(path.parent.name for path in ROOT.glob("*/__init__.py"))
# The layers under the service, lowest first, and what each may import (docs/architecture.md's table). The
# service, at the top, may import them all; within it, the rules of `allowed` keep the pages and the routes apart.
MAY_IMPORT = {
    "engine": ("engine",),
    "reviews": ("reviews", "engine"),
    "records": ("records", "reviews", "engine"),
    "activities": ("activities", "records", "reviews", "engine", "templates"),
}
CHECKED = (*MAY_IMPORT, "service")
ENTRY_POINTS = ("service.app", "service.cli")  # they wire everything together


def within(name: str, packages) -> bool:
    """``name`` is one of ``packages`` or a module inside one (``service.web`` is not inside ``service.we``)."""
    return any(name == package or name.startswith(package + ".") for package in packages)


def allowed(importer: str, imported: str) -> bool:
    layer = importer.split(".")[0]
    if imported.split(".")[0] in ("bench", "tests"):
        return False
    if layer in MAY_IMPORT:
        return within(imported, MAY_IMPORT[layer])
    if within(importer, ENTRY_POINTS):
        return True
    if importer.startswith("service.web"):
        return not within(imported, ("service.api",))  # pages call services, never routes
    if within(importer, ("service.api",)):
        return not imported.startswith("service.web")
    return not (within(imported, ("service.api",)) or imported.startswith("service.web"))  # services, jobs, worker


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str, root: Path = ROOT) -> bool:
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path, root: Path = ROOT) -> set[str]:
    """The modules of ours that ``path`` imports, relative imports (``from ..records import db``) resolved, and a
    module imported from its package (``from service.web import wording``) named in full."""
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names if is_module(f"{module}.{alias.name}", root))
    return {name for name in found if name.split(".")[0] in OURS}


def test_no_module_imports_upward_across_the_layers():
    wrong = []
    for package in CHECKED:
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
    assert not allowed("activities.case_step", "service.platform.settings")  # the worker passes what they need
    assert allowed("activities.case_step", "records.outbox")
    assert not allowed("service.platform.jobs", "service.api.access")
    assert allowed("service.platform.jobs", "records.tasks")
    assert not allowed("service.web.business", "service.api.action_plan")
    assert not allowed("service.cases.case_service", "service.api.cases")


def test_relative_imports_are_checked_as_what_they_name(tmp_path):
    """``from ..service.platform import settings`` in an activity names that module, and is refused as it would be."""
    (tmp_path / "activities").mkdir()
    (tmp_path / "service" / "platform").mkdir(parents=True)
    (tmp_path / "service" / "platform" / "settings.py").write_text("")
    step = tmp_path / "activities" / "step.py"
    step.write_text("from ..service.platform import settings\nfrom .documents import TITLES\n")
    assert imports_of(step, tmp_path) == {"service.platform", "service.platform.settings", "activities.documents"}
    assert not allowed("activities.step", "service.platform.settings")


# Below the routes and pages nothing speaks HTTP: the records and the service's domain packages (the "services"
# ring of docs/architecture.md) raise records/errors.py's refusals and would work under any front end. What does
# speak HTTP there is named so: the platform's http_* modules, and signing in (a known debt, docs/architecture.md).
HTTP_FREE = ("records", "service/cases", "service/partnership", "service/platform", "service/accounts")
SPEAK_HTTP = ("service/accounts/auth.py", "service/accounts/sign_in.py")


def test_the_records_and_the_services_know_nothing_of_http():
    """Only the service's HTTP layer speaks HTTP: the records and the services would work under any front end."""
    web = ("fastapi", "starlette", "service.deps", "service.platform.http_errors")
    paths = [path for package in HTTP_FREE for path in sorted((ROOT / package).rglob("*.py"))
             if "versions" not in path.parts and not path.name.startswith("http_")
             and str(path.relative_to(ROOT)) not in SPEAK_HTTP]
    assert len(paths) > 40  # the packages are where this test looks for them
    found = [f"{path.relative_to(ROOT)} imports {name}" for path in paths
             for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, (ast.Import, ast.ImportFrom))
             for name in ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""])
             if name.split(".")[0] in web or name.startswith(web)]
    assert not found, "\n".join(found)


def test_every_package_of_ours_is_in_a_layer_or_known():
    """A new top-level package is placed in the layers (or named here) before anything may import it."""
    assert OURS == {*CHECKED, "templates", "bench", "tests"}
