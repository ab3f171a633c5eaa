"""`pip install .` (not only editable) ships the profiles and the Snakefile template inside the package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_carries_profiles_templates_and_backends(tmp_path: Path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    names = set(zipfile.ZipFile(next(tmp_path.glob("sfgen-*.whl"))).namelist())
    for data in ["templates/Snakefile.j2", "profiles/local/config.yaml", "profiles/slurm/config.yaml", "profiles/ngc/config.yaml"]:
        assert f"sfgen/{data}" in names
        assert (ROOT / data).is_file()  # the top-level folders are the source of what ships
    assert {"sfgen/slurm/template.py", "sfgen/ngc/submit.py", "sfgen/launcher.py"} <= names
