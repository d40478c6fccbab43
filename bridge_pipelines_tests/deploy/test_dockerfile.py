"""deploy/Dockerfile's RUN steps, executed as a script in a temporary build context.

No container engine runs here, so the image is not built; what the image would hold is: the
steps run with the Dockerfile's ENV in a folder holding what its COPY lines copy, with uv's
cache reused (the Makefile's uv, the same version the Dockerfile pins). Steps that need root
(`useradd`, `chown`) and the base image's `pip install uv` are not executed: the test says so
by checking that those are the only ones left out.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"
UV = REPO / ".cache" / "uv-tool" / "bin" / "uv"

pytestmark = [pytest.mark.deploy, pytest.mark.slow]


def _instructions() -> list[tuple[str, str]]:
    """(instruction, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _env(instructions: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in instructions:
        if word == "ENV":
            for item in shlex.split(rest):
                name, _, value = item.partition("=")
                env[name] = re.sub(
                    r"\$\{?(\w+)\}?", lambda m: env.get(m[1], os.environ.get(m[1], "")), value
                )
    return env


def test_the_dockerfile_pins_the_makefiles_uv() -> None:
    args = dict(
        rest.split("=", 1) for word, rest in _instructions() if word == "ARG" and "=" in rest
    )
    makefile = (REPO / "Makefile").read_text()
    assert f"uv=={args['UV_VERSION']}" in makefile


@pytest.mark.timeout(900)
def test_the_run_steps_install_a_frozen_compiled_non_editable_code_location(
    tmp_path: Path,
) -> None:
    if not UV.exists():
        pytest.skip("the Makefile's uv is not installed (make .venv/.synced)")
    instructions = _instructions()
    context = tmp_path / "context"
    workdir = tmp_path / "opt" / "bridge"
    workdir.mkdir(parents=True)
    context.mkdir()
    for item in ("pyproject.toml", "uv.lock", "README.md", "bridge_pipelines"):
        source = REPO / item
        if source.is_dir():
            shutil.copytree(source, context / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, context / item)
    env = {**os.environ, **_env(instructions)}
    env["UV_PYTHON"] = sys._base_executable  # the base image's interpreter, here this one's
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["UV_PROJECT_ENVIRONMENT"] = str(workdir / ".venv")
    env["UV_LINK_MODE"] = "hardlink"  # the cache is on this filesystem; copy in the image
    env["PATH"] = f"{UV.parent}{os.pathsep}{env['PATH']}"
    skipped = []
    for word, rest in instructions:
        if word == "COPY":
            sources = [s for s in shlex.split(rest)[:-1] if not s.startswith("--")]
            for source in sources:
                if (context / source).exists():
                    target = workdir / source
                    if (context / source).is_dir():
                        shutil.copytree(context / source, target, dirs_exist_ok=True)
                    else:
                        shutil.copy2(context / source, target)
                else:
                    assert (REPO / source).exists(), f"COPY {source}: not in the repository"
        if word != "RUN":
            continue
        if rest.startswith("pip install") or "useradd" in rest:
            skipped.append(rest)
            continue
        subprocess.run(["bash", "-euo", "pipefail", "-c", rest], cwd=workdir, env=env, check=True)
    assert [s.split()[0:2] for s in skipped] == [["pip", "install"], ["useradd", "--system"]]

    venv = workdir / ".venv"
    python = venv / "bin" / "python"
    site = next((venv / "lib").glob("python3.*/site-packages"))
    # Installed as a package, not a link back to the source tree.
    assert (site / "bridge_pipelines" / "definitions.py").is_file()
    assert not list(site.glob("*bridge_pipelines*.pth"))
    # Bytecode compiled at install: run workers import without compiling.
    assert list((site / "bridge_pipelines" / "__pycache__").glob("definitions.*.pyc"))
    assert list((site / "dagster" / "__pycache__").glob("__init__.*.pyc"))
    # The ledger's migrations ship inside the package (Ledger.migrate needs them).
    ledger = site / "bridge_pipelines" / "ledger"
    assert (ledger / "alembic.ini").is_file()
    assert list((ledger / "migrations" / "versions").glob("0001_*.py"))
    # The commands the compose services and the Helm chart run.
    for command in ("dagster", "dagster-daemon", "dagster-webserver", "dagster-celery", "bridge"):
        assert (venv / "bin" / command).is_file(), command
    # No dev tools in the image.
    assert not (venv / "bin" / "pytest").exists()
    # The code location imports from the install, with -B as run workers may be started.
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    probe = subprocess.run(
        [str(python), "-B", "-c", "import bridge_pipelines.definitions as d; print(d.__file__)"],
        cwd=tmp_path,
        env={
            "PATH": env["PATH"],
            "BRIDGE_TENANTS_DIR": str(tenants),
            "BRIDGE_HOME": str(tmp_path / "home"),
            "HOME": str(tmp_path),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip().startswith(str(site))
