"""How the project is installed: the README's set-up commands and CI install a
CPU torch from PyTorch's CPU index, in a pip call of its own before the project
(from PyPI, pip would fetch the CUDA build, several GB), and the project asks
for the Pythons that torch supports."""
import configparser
import json
import re
import shlex
from importlib.metadata import metadata, version

import pytest
from packaging.specifiers import SpecifierSet

from helpers import ROOT

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CPU_TORCH = ["torch==2.13.0", "--index-url", CPU_INDEX]


def pip_installs(command):
    """The arguments of each `pip install` in a shell command, in order,
    without pip's -q."""
    installs = []
    for part in re.split(r"&&|\|\||;|[{}]", command):
        words = shlex.split(part)
        for i, word in enumerate(words[:-1]):
            if (word == "pip" or word.endswith("/pip")) and words[i + 1] == "install":
                installs.append([w for w in words[i + 2 :] if w != "-q"])
    return installs


def readme_setup_commands():
    """The shell commands in the README's Set-up section (indented blocks,
    continuation lines joined)."""
    text = (ROOT / "README.md").read_text(encoding="utf8")
    section = text.split("## Set-up\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"(?:^    \S.*\n)+", section.replace("\\\n", ""), flags=re.M)
    return [" ".join(block.split()) for block in blocks]


def ci_commands():
    """The lines of .ci/run that run pip, continuation lines joined."""
    text = (ROOT / ".ci" / "run").read_text(encoding="utf8").replace("\\\n", " ")
    return [line for line in text.splitlines() if "pip install" in line and not line.lstrip().startswith("#")]


def test_readme_installs_cpu_torch_alone_then_the_project():
    commands = [c for c in readme_setup_commands() if "pip install" in c]
    assert len(commands) == 2, commands  # the toy training and the tests
    for command in commands:
        torch_call, project_call = pip_installs(command)
        assert torch_call == CPU_TORCH, command
        assert project_call[0] == "-e", command
        # torch is not named again, nor another index, that could replace it.
        assert not any("torch" in w or "index-url" in w for w in project_call), command


def test_ci_installs_cpu_torch_alone_then_the_project():
    installs = [call for command in ci_commands() for call in pip_installs(command)]
    # The CPU index first; torch alone from pip's own sources only if that fails.
    assert installs[0] == CPU_TORCH
    assert installs[1] == ["torch==2.13.0"]
    assert installs[2] == ["-e", ".[test,ray,report,onnx,package]"]
    assert len(installs) == 3


def test_python_requires_is_torchs():
    if not version("torch").startswith("2.13."):
        pytest.skip(f"torch {version('torch')} is installed, not the 2.13 the set-up pins")
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    assert SpecifierSet(setup["options"]["python_requires"]) == SpecifierSet(
        metadata("torch")["Requires-Python"]
    )


@pytest.mark.slow
def test_ci_torch_command_resolves_a_cpu_build(run_python, tmp_path):
    """What the CPU-index call of .ci/run installs, resolved by pip (not
    installed): a +cpu build. From PyPI, torch 2.13.0 on Linux is the CUDA
    build, whose version has no local label."""
    report = tmp_path / "report.json"
    run_python(
        "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "--quiet",
        "--report", report, *pip_installs(ci_commands()[0])[0], timeout=600,
    )
    [install] = json.loads(report.read_text())["install"]
    assert install["metadata"]["name"] == "torch"
    assert install["metadata"]["version"] == "2.13.0+cpu"
