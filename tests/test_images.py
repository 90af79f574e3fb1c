"""The Dockerfile's images, sized for their job. No Docker engine runs in the tests: what each
stage installs is read from the file and checked against pyproject.toml and what pip would
pull, and each compose service is built from the stage its job needs."""

import json
import re
import shlex
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
FRAMEWORKS = {"torch", "tensorflow", "tensorflow-cpu", "keras", "tf-keras", "jax", "jaxlib"}
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# The stage each compose service is built from.
TARGETS = {
    "migrate": "api",
    "api": "api",
    "flower": "flower",
    "worker": "worker-cpu",
    "worker-gpu": "worker-gpu",
}


@dataclass
class Stage:
    """One build stage: the image or stage it starts from, its RUN commands and its CMD."""

    parent: str
    runs: list[str] = field(default_factory=list)
    cmd: list[str] | None = None


def stages() -> dict[str, Stage]:
    """The Dockerfile's stages by name, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    found: dict[str, Stage] = {}
    current: Stage | None = None
    for line in text.splitlines():
        if match := re.fullmatch(r"FROM\s+(\S+)\s+AS\s+(\S+)", line.strip()):
            current = found[match[2]] = Stage(match[1])
        elif current is not None and line.startswith("RUN "):
            current.runs.append(line[4:])
        elif current is not None and line.startswith("CMD "):
            current.cmd = json.loads(line[4:])
    return found


def lineage(name: str) -> list[Stage]:
    """A stage and every stage of this file it is built on, in build order."""
    found = stages()
    chain = [found[name]]
    while chain[-1].parent in found:
        chain.append(found[chain[-1].parent])
    return chain[::-1]


def pip_installs(name: str) -> list[list[str]]:
    """The arguments of every `pip install` in a stage and the stages beneath it."""
    commands = [c for stage in lineage(name) for run in stage.runs for c in run.split("&&")]
    words = [shlex.split(command) for command in commands]
    return [w[2:] for w in words if w[:2] == ["pip", "install"]]


def closure(requirements: Iterable[str]) -> set[str]:
    """Every distribution pip would install for `requirements` here (Linux, this Python)."""
    seen: set[str] = set()
    todo = [(Requirement(r), {""}) for r in requirements]
    while todo:
        requirement, parent_extras = todo.pop()
        marker = requirement.marker
        if marker and not any(marker.evaluate({"extra": e}) for e in parent_extras):
            continue
        name = canonicalize_name(requirement.name)
        extras = {"", *requirement.extras}
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            raise AssertionError(f"{name} is required but not installed here") from None
        todo += [(Requirement(r), extras) for r in requires]
    return {key.split("[")[0] for key in seen}


def extra(name: str) -> list[str]:
    """The requirements of one of reglab's extras."""
    return list(PYPROJECT["optional-dependencies"][name])


def test_the_base_dependencies_pull_no_framework() -> None:
    base = closure(PYPROJECT["dependencies"])
    assert {"fastapi", "sqlalchemy", "celery", "prometheus-client"} <= base  # it did walk
    assert not base & FRAMEWORKS
    assert not [name for name in base if name.startswith("nvidia-")]  # no CUDA libraries
    assert not closure(extra("flower")) & FRAMEWORKS
    assert closure(extra("torch")) & FRAMEWORKS == {"torch"}  # the walk does find one


def test_the_api_image_installs_reglab_without_extras() -> None:
    assert pip_installs("api") == [["."]]
    assert pip_installs("flower") == [["."], [".[flower]"]]
    assert stages()["api"].cmd == ["python", "-m", "api"]


def test_cpu_workers_install_torch_from_its_cpu_index() -> None:
    [torch_pin] = extra("torch")
    assert extra("tensorflow") == ["tensorflow-cpu==2.21.0"]
    first, then = pip_installs("worker-cpu")
    # Installed first, the CPU wheel (2.13.0+cpu) satisfies the extra's pin, which keeps it.
    assert first == ["--index-url", CPU_INDEX, torch_pin]
    assert then == [".[torch,tensorflow]"]


def test_gpu_workers_install_the_cuda_builds() -> None:
    assert pip_installs("worker-gpu") == [[".[torch,tensorflow-gpu]"]]
    assert extra("tensorflow-gpu") == ["tensorflow[and-cuda]==2.21.0"]


def test_each_compose_service_is_built_from_its_stage() -> None:
    services = COMPOSE["services"]
    built = {name: spec["build"] for name, spec in services.items() if "build" in spec}
    assert {name: b["target"] for name, b in built.items()} == TARGETS
    assert all(b["context"] == "." for b in built.values())
    for name, target in TARGETS.items():
        if name != "migrate":  # a one-shot job of the API's image
            assert services[name]["command"] == stages()[target].cmd, name
    assert "-E" in services["worker"]["command"]  # task events, for Flower
