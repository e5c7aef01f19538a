"""The real tools the integration tests run. .ci/run installs them and sets NACOS_AUTH_GUARD_REQUIRE_TOOLS=1, so in
CI a missing tool fails the test instead of skipping it."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent   # console scripts of this install: kubectl-nacos_auth, pre-commit


def tool(name: str) -> str:
    path = shutil.which(name) or (str(VENV_BIN / name) if (VENV_BIN / name).exists() else None)
    if path is None:
        if os.environ.get("NACOS_AUTH_GUARD_REQUIRE_TOOLS") == "1":
            pytest.fail(f"{name} is not installed (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return path


def kustomize() -> list[str]:
    """`kubectl kustomize`, when its kustomize knows components (v4 and later; Debian's kubectl 1.20 carries
    kustomize v2, which reads neither `components` nor `patches`)."""
    kubectl = tool("kubectl")
    version = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True, timeout=60).stdout
    found = re.search(r"Kustomize Version: v(\d+)", version)
    if found is None or int(found.group(1)) < 4:
        pytest.skip("this kubectl's kustomize is older than v4")
    return [kubectl, "kustomize"]
