"""Differential-test harness: run runner scripts through Sample Factory's *real* code.

Sample Factory (SF) is fetched from PyPI at test time (never vendored in this repo):

* v1: ``sample-factory==1.123.0`` (last 1.x; ``sample_factory/runner/run_description.py``,
  identical to 1.121.x),
* v2: ``sample-factory==2.1.1`` (latest 2.x; ``sample_factory/launcher/run_description.py``,
  identical to 2.0.3; 2.0.0 differs: ``ParamGrid.generate_params`` defaulted to ``randomize=True``).

Only the few pure-Python files the runner API needs are extracted from the wheel (or sdist)
into a cache dir (``$SFGEN_SF_CACHE`` or ``~/.cache/sfgen-tests``, subdirs ``sf1``/``sf2``).
``run_description.py`` imports nothing from SF except ``log`` from ``sample_factory.utils.utils``;
v2's local runner ``run_processes.py`` also ``ensure_dir_exists``;
the genuine ``utils.py`` pulls in psutil/colorlog (v1) and torch/gymnasium/signal_slot (v2, via
``sample_factory.utils.typing``), so that one module is replaced by a tiny shim that defines only
``log`` (used by SF solely for the "Experiment name is extra long" warning, never for output).
Everything else on the import path is SF's own, byte for byte (see ``sfgen_reference.json``).
numpy is the only third-party requirement (SF uses it for ``np.prod``/``np.random.permutation``).

If SF cannot be fetched, :class:`SFReferenceUnavailable` is raised; tests should skip on it
(:func:`reference_env_or_skip` does exactly that).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SF_VERSIONS: dict[int, str] = {1: "1.123.0", 2: "2.1.1"}

# Module that SF's run(ner) imports the RunDescription classes from, per generation.
RUN_DESCRIPTION_MODULE: dict[int, str] = {
    1: "sample_factory.runner.run_description",
    2: "sample_factory.launcher.run_description",
}

# Genuine SF files copied into the reference env (all pure stdlib/numpy).
_SF_FILES: dict[int, tuple[str, ...]] = {
    1: (
        "sample_factory/__init__.py",
        "sample_factory/utils/__init__.py",
        "sample_factory/runner/__init__.py",
        "sample_factory/runner/run_description.py",
        "sample_factory/runner/runs/__init__.py",
        "sample_factory/runner/runs/run_utils.py",  # seeds() helper used by some SF run scripts
    ),
    2: (
        "sample_factory/__init__.py",
        "sample_factory/utils/__init__.py",
        "sample_factory/utils/algo_version.py",  # ALGO_VERSION, used by some SF run scripts
        "sample_factory/launcher/__init__.py",
        "sample_factory/launcher/run_description.py",
        "sample_factory/launcher/launcher_utils.py",  # seeds() helper
        "sample_factory/launcher/run_processes.py",  # the local runner, timed by bench/bench.py
    ),
}

# SF's own example run scripts (data only; extracted to <env>/examples/, not importable).
_SF_EXAMPLE_DIRS: dict[int, tuple[str, ...]] = {
    1: ("sample_factory/runner/runs/",),
    2: ("sf_examples/",),  # only */experiments/*.py are kept
}

_UTILS_SHIM = '''"""sfgen test shim -- NOT Sample Factory code.

Stands in for sample_factory/utils/utils.py, whose real imports (psutil, colorlog, and in 2.x
torch/gymnasium/signal_slot) are irrelevant to the runner API. run_description.py only uses
``log`` (for a warning on experiment names longer than 100 chars), and the local runner
(run_processes.py) ``log`` and ``ensure_dir_exists``, so that is all this defines.
"""

import logging
import os


def ensure_dir_exists(path) -> str:  # SF's own definition
    if not os.path.exists(path):
        os.makedirs(path, exist_ok=True)
    return path


log = logging.getLogger("rl")
log.setLevel(logging.DEBUG)
log.propagate = False
if not log.handlers:
    _handler = logging.StreamHandler()  # stderr, like SF's colorlog handler
    _handler.setFormatter(logging.Formatter("[sf-log] %(levelname)s %(message)s"))
    log.addHandler(_handler)
'''

_MANIFEST = "sfgen_reference.json"
_MANIFEST_FORMAT = 3


class SFReferenceUnavailable(RuntimeError):
    """Sample Factory's reference code could not be fetched or prepared (e.g. offline)."""


class SFScriptError(RuntimeError):
    """The runner script raised inside Sample Factory's real code (``exc_type``: e.g. "TypeError")."""

    def __init__(self, exc_type: str, message: str, traceback: str) -> None:
        super().__init__(f"SF raised {exc_type}: {message}\n{traceback}")
        self.exc_type = exc_type
        self.message = message
        self.traceback = traceback


# Failures remembered per process, so that offline every later test skips at once.
_UNAVAILABLE: dict[int, SFReferenceUnavailable] = {}


def cache_root() -> Path:
    """Root of the reference-env cache: ``$SFGEN_SF_CACHE`` or ``~/.cache/sfgen-tests``."""
    env = os.environ.get("SFGEN_SF_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "sfgen-tests"


def _check_version(version: int) -> None:
    if version not in SF_VERSIONS:
        raise ValueError(f"version must be 1 or 2, got {version!r}")


def _read_manifest(env_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((env_dir / _MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _is_ready(env_dir: Path, version: int) -> bool:
    manifest = _read_manifest(env_dir)
    return (
        manifest is not None
        and manifest.get("format") == _MANIFEST_FORMAT
        and manifest.get("sample_factory_version") == SF_VERSIONS[version]
        and all(
            (env_dir / rel).is_file()
            for rel in [*manifest.get("files", {}), *manifest.get("shims", {})]
        )
    )


def _download(version: int, dest: Path) -> Path:
    """``pip download --no-deps`` SF into ``dest``; return the wheel or sdist path."""
    spec = f"sample-factory=={SF_VERSIONS[version]}"
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "--retries",
        "2",
        "--timeout",
        "30",
        "-d",
        str(dest),
        spec,
    ]
    try:
        proc = subprocess.run(
            cmd, check=False, capture_output=True, text=True, timeout=600
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SFReferenceUnavailable(
            f"could not run pip download {spec}: {exc}"
        ) from exc
    archives = sorted(dest.glob("sample_factory-*.whl")) + sorted(
        dest.glob("sample[-_]factory-*.tar.gz")
    )
    if proc.returncode != 0 or not archives:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
        raise SFReferenceUnavailable(f"pip download {spec} failed (offline?):\n{tail}")
    return archives[0]


def _archive_members(archive: Path) -> dict[str, bytes]:
    """Map of package-relative path -> content for the files we want from a wheel or sdist."""
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            raw = {
                name: zf.read(name) for name in zf.namelist() if name.endswith(".py")
            }
    else:
        raw = {}
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                if (
                    member.isfile()
                    and member.name.endswith(".py")
                    and "/" in member.name
                ):
                    rel = member.name.split("/", 1)[1]  # strip "sample-factory-X.Y.Z/"
                    fh = tf.extractfile(member)
                    if fh is not None:
                        raw[rel] = fh.read()
    return raw


def _is_example(version: int, rel: str) -> bool:
    if not any(rel.startswith(prefix) for prefix in _SF_EXAMPLE_DIRS[version]):
        return False
    if version == 2 and "/experiments/" not in rel:
        return False
    return not rel.endswith("__init__.py")


def _build_env(version: int, env_dir: Path) -> None:
    """Download SF and lay out the reference env in a temp dir, then move it to ``env_dir``."""
    env_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"sf{version}-", dir=env_dir.parent) as tmp:
        tmp_path = Path(tmp)
        members = _archive_members(_download(version, tmp_path / "dl"))
        staged = tmp_path / "env"
        files: dict[str, str] = {}
        for rel in _SF_FILES[version]:
            if rel not in members:
                raise SFReferenceUnavailable(
                    f"{rel} not found in sample-factory {SF_VERSIONS[version]}"
                )
            out = staged / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(members[rel])
            files[rel] = hashlib.sha256(members[rel]).hexdigest()
        shim = staged / "sample_factory/utils/utils.py"
        shim.write_text(_UTILS_SHIM)
        examples: list[str] = []
        # Example dirs are copied whole (helpers such as isaacgym_runs.py too); runs are listed.
        for rel, content in sorted(members.items()):
            if _is_example(version, rel):
                out = staged / "examples" / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(content)
                if b"RUN_DESCRIPTION" in content:
                    examples.append(rel)
        manifest = {
            "format": _MANIFEST_FORMAT,
            "sample_factory_version": SF_VERSIONS[version],
            "files": files,
            "shims": {
                "sample_factory/utils/utils.py": "sfgen shim defining only `log` and `ensure_dir_exists`"
            },
            "examples": examples,
        }
        (staged / _MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if env_dir.exists():
            shutil.rmtree(env_dir, ignore_errors=True)
        try:
            staged.rename(env_dir)
        except OSError:
            # Another process may have won the race; that is fine if its env is complete.
            if not _is_ready(env_dir, version):
                raise


def reference_env(version: int) -> Path:
    """Return a dir that, put on PYTHONPATH, makes SF ``version``'s real runner API importable.

    Downloads and extracts on first use; cached afterwards. Raises SFReferenceUnavailable.
    """
    _check_version(version)
    if importlib.util.find_spec("numpy") is None:
        # A setup error, not a reason to skip.
        msg = "the SF reference needs numpy in the test environment: pip install numpy"
        raise RuntimeError(msg)
    env_dir = cache_root() / f"sf{version}"
    if version in _UNAVAILABLE:
        raise _UNAVAILABLE[version]
    if not _is_ready(env_dir, version):
        try:
            _build_env(version, env_dir)
        except SFReferenceUnavailable as exc:
            _UNAVAILABLE[version] = exc
            raise
    if not _is_ready(env_dir, version):
        raise SFReferenceUnavailable(f"reference env at {env_dir} is incomplete")
    return env_dir


def reference_env_or_skip(version: int) -> Path:
    """Like :func:`reference_env`, but ``pytest.skip`` with the reason if SF is unavailable (``pytest.fail``
    under ``SFGEN_REQUIRE_ALL=1``, as .ci/run sets: the differential tests must run there)."""
    import pytest

    try:
        return reference_env(version)
    except SFReferenceUnavailable as exc:
        reason = f"Sample Factory {SF_VERSIONS.get(version)} reference unavailable: {exc}"
    if os.environ.get("SFGEN_REQUIRE_ALL") == "1":
        pytest.fail(f"{reason} (SFGEN_REQUIRE_ALL=1 allows no skip)", pytrace=False)
    pytest.skip(reason)


def sf_example_scripts(version: int) -> list[Path]:
    """SF's own example run scripts, extracted from the package to ``<env>/examples/``.

    Data only: some are nondeterministic (``seeds()``), some fail in real SF, and v2's isaacgym
    ones import a sibling helper by package name (pass ``extra_path=[<env>/examples]``).
    """
    env_dir = reference_env(version)
    manifest = _read_manifest(env_dir) or {}
    return [env_dir / "examples" / rel for rel in manifest.get("examples", [])]


# Runs inside the subprocess. argv: env_dir script module train_dir suffix out seed
_DRIVER = r"""
import importlib, importlib.util, inspect, json, os, sys, traceback
env_dir, script, mod_name, train_dir, suffix, out, seed, *extra = sys.argv[1:]
sys.path.insert(0, env_dir)
sys.path.extend(extra)
sys.path.append(os.path.dirname(os.path.abspath(script)))  # like importing it as a module
result = {}
try:
    rd_mod = importlib.import_module(mod_name)
    origin = os.path.realpath(rd_mod.__file__)
    if not origin.startswith(os.path.realpath(env_dir) + os.sep):
        raise ImportError(f"{mod_name} resolved to {origin}, not the SF reference env {env_dir}")
    if seed:  # SF never seeds; numpy's global RNG is used by generate_params(randomize=True)
        import random, numpy
        random.seed(int(seed))
        numpy.random.seed(int(seed))
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(script))[0], script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    run_description = module.RUN_DESCRIPTION
    run_description.experiment_suffix = suffix  # as SF's run.py does
    kwargs = {}
    if "makedirs" in inspect.signature(run_description.generate_experiments).parameters:
        kwargs["makedirs"] = False
    result["experiments"] = [
        {"cmd": cmd, "name": name, "root_dir": root_dir, "env_vars": env_vars}
        for cmd, name, root_dir, env_vars in run_description.generate_experiments(train_dir, **kwargs)
    ]
except BaseException as exc:
    result["error"] = {"type": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc()}
with open(out, "w") as fh:
    json.dump(result, fh, default=repr)
"""


def sf_generate(
    script_path: Path,
    version: int,
    train_dir: str,
    experiment_suffix: str = "",
    *,
    seed: int | None = None,
    extra_path: Sequence[Path] = (),
    timeout: float = 120,
) -> list[dict[str, Any]]:
    """Run ``script_path`` (defines ``RUN_DESCRIPTION``) through SF's real code.

    Mirrors SF's run.py: imports the script, sets ``experiment_suffix`` and returns
    ``generate_experiments(train_dir, makedirs=False)`` as ``{"cmd", "name", "root_dir",
    "env_vars"}`` dicts. The subprocess sees only the reference env (not sfgen) for
    ``sample_factory``; ``seed`` (optional, not something SF does) seeds ``random`` and
    ``numpy.random`` before the script runs; ``extra_path`` dirs are appended to ``sys.path``.
    Values JSON cannot carry (e.g. in ``env_vars``) come back as their ``repr``.
    Raises SFScriptError if SF raises.
    """
    _check_version(version)
    env_dir = reference_env(version)
    script = Path(script_path).resolve()
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(env_dir), PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1"
    )
    with tempfile.TemporaryDirectory(prefix="sf-generate-") as tmp:
        out = Path(tmp) / "result.json"
        argv = [
            sys.executable,
            "-c",
            _DRIVER,
            str(env_dir),
            str(script),
            RUN_DESCRIPTION_MODULE[version],
            train_dir,
            experiment_suffix,
            str(out),
            "" if seed is None else str(seed),
            *(str(Path(p).resolve()) for p in extra_path),
        ]
        proc = subprocess.run(
            argv,
            check=False,
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if not out.is_file():
            raise RuntimeError(
                f"SF driver crashed (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        result = json.loads(out.read_text())
    if "error" in result:
        err = result["error"]
        raise SFScriptError(err["type"], err["message"], err["traceback"])
    experiments: list[dict[str, Any]] = result["experiments"]
    return experiments
