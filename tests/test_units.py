"""Unit tests of the small pure parts, beside the end-to-end tests: GPU slots, records, the status rows,
options, the log tail and the workflow layout. Each runs in milliseconds and names one rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sfgen import layout, set_aside
from sfgen.exceptions import OptionError
from sfgen.explog import tail
from sfgen.markers import attempt_record, read_record, write_record
from sfgen.options import validated, with_defaults
from sfgen.slots import claim, gpu_ids, try_lock
from sfgen.slurm.bundle import pinned
from sfgen.slurm.pack import bundle_resources, chunks
from sfgen.spec import ExperimentSpec
from sfgen.state import ExperimentState
from sfgen.status_view import rows


def spec(rule: str = "exp_00_a", params: dict[str, str] | None = None, root_dir: str = "run/a_") -> ExperimentSpec:
    return ExperimentSpec(rule, rule.removeprefix("exp_"), "python3 train.py --x=1", root_dir, None, params)


# GPU slots ------------------------------------------------------------------------------------------


def test_a_bundle_pins_its_experiments_round_robin_to_the_gpus_slurm_gave_its_job() -> None:
    assert gpu_ids(2, "2,3") == ["2", "3"] and gpu_ids(2, None) == ["0", "1"]  # what the bundle maps, as locally
    assert pinned(["a", "b", "c", "d"], ["2", "3"], 2) == ["2", "3", "2", "3"]  # two per GPU at most
    assert pinned(["a", "b", "c"], ["2", "3"], -1) == [None, None, None]  # -1: every GPU visible to all
    assert chunks(["a", "b", "c", "d", "e"], 2) == [["a", "b"], ["c", "d"], ["e"]]


def test_a_part_filled_bundle_asks_only_for_the_gpus_and_share_of_memory_its_experiments_fill() -> None:
    job = {"slurm_gpus_per_job": 8, "slurm_cpus_per_gpu": 12, "slurm_mem_mb": 64000, "experiments_per_gpu": 4}
    assert bundle_resources(job, 32) == {"gpu": 8, "cpus_per_gpu": 12, "mem_mb": 64000}  # full: the whole job
    assert bundle_resources(job, 5) == {"gpu": 2, "cpus_per_gpu": 12, "mem_mb": 16000}  # 5 at 4 per GPU: 2 GPUs
    shared = {**job, "experiments_per_gpu": -1}  # all of them share every GPU: the job keeps them all
    assert bundle_resources(shared, 1) == {"gpu": 8, "cpus_per_gpu": 12, "mem_mb": 64000}
    cpu_only = {"slurm_gpus_per_job": 0, "slurm_cpus_per_gpu": 4, "experiments_per_gpu": 2}
    assert bundle_resources(cpu_only, 1) == {"cpus_per_task": 4}


def test_experiments_per_slurm_job_must_fit_the_jobs_gpu_slots() -> None:
    fits = {"slurm_gpus_per_job": 2, "experiments_per_gpu": 2, "slurm_experiments_per_job": 4}
    assert validated(fits)["slurm_experiments_per_job"] == 4
    assert validated({**fits, "experiments_per_gpu": -1, "slurm_experiments_per_job": 9})  # shares every GPU
    with pytest.raises(OptionError, match=r"slurm_experiments_per_job=5 does not fit .* at most 4"):
        validated({**fits, "slurm_experiments_per_job": 5})


def test_slot_gpus_follow_a_parent_cuda_visible_devices() -> None:
    assert gpu_ids(2, None) == ["0", "1"]
    assert gpu_ids(2, "2,5,7") == ["2", "5"]
    with pytest.raises(OptionError, match="lists 1"):
        gpu_ids(2, "3")


def take(tmp_path: Path, gpus: list[str], per_gpu: int = 2) -> str | None:
    got = claim([tmp_path / "run" / f"r{i}.lock" for i in range(8)], tmp_path / "slots", gpus, per_gpu, 0.0,
                lambda: False, lambda: pytest.fail("no free slot"))
    assert got is not None
    return got.gpu


def test_the_gpu_with_most_free_slots_is_chosen_ties_to_the_lower_id(tmp_path: Path) -> None:
    (tmp_path / "slots").mkdir()
    held = [try_lock(tmp_path / "slots" / "gpu0.slot0")]  # GPU 0 has one free slot, GPU 1 two
    assert held[0] is not None
    assert take(tmp_path, ["0", "1"]) == "1"  # most free
    assert take(tmp_path, ["0", "1"]) == "0"  # now one free each: the lower id
    assert take(tmp_path, ["0", "1"]) == "1"


def test_a_claim_waits_while_every_gpu_slot_is_held(tmp_path: Path) -> None:
    (tmp_path / "slots").mkdir()
    held = [try_lock(tmp_path / "slots" / f"gpu0.slot{i}") for i in range(2)]
    assert all(fd is not None for fd in held)
    looks = []
    got = claim([tmp_path / "run.lock"], tmp_path / "slots", ["0"], 2, 0.0, lambda: len(looks) >= 1,
                lambda: looks.append("waited"))
    assert got is None and looks == ["waited"]


# records --------------------------------------------------------------------------------------------


def test_a_record_reads_back_whole_and_a_truncated_one_counts_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "markers" / "x.done"
    write_record(path, {"exit_code": 0, "name": "x"})
    assert read_record(path) == {"exit_code": 0, "name": "x"}
    assert [p.name for p in path.parent.iterdir()] == ["x.done"]  # no temporary file left
    path.write_text(path.read_text()[:10])
    assert read_record(path) is None
    path.write_text("[1, 2]")  # JSON, but not a record
    assert read_record(path) is None
    assert read_record(tmp_path / "missing.done") is None


def test_every_record_has_the_experiment_then_the_attempt() -> None:
    record = attempt_record(spec(), exit_code=3, host="node7")
    assert list(record)[:6] == ["name", "rule", "cmd", "argv", "root_dir", "env_vars"]
    assert record["argv"] == ["python3", "train.py", "--x=1"] and record["exit_code"] == 3
    assert record["log"] == layout.log("exp_00_a") and "sfgen_version" in record
    assert attempt_record(spec(), argv=["other"])["argv"] == ["other"]  # the argv as run wins


# status rows ----------------------------------------------------------------------------------------


def state(rule: str, params: dict[str, str], done: bool) -> ExperimentState:
    return ExperimentState(spec(rule, params), "done" if done else "failed", None)


def test_experiments_differing_only_by_seed_share_a_row_labelled_by_what_varies() -> None:
    states = [
        state("exp_00", {"lr": "0.1", "seed": "0"}, True),
        state("exp_01", {"lr": "0.1", "seed": "1"}, False),
        state("exp_02", {"lr": "0.01", "seed": "0"}, True),
        state("exp_03", {"lr": "0.01", "batch": "8"}, True),  # no seed: a row of its own
    ]
    grouped = rows(states)
    assert len(grouped) == 3
    assert [(row.label, row.seeded, len(row.states)) for row in grouped] == [
        ("lr=0.1", True, 2), ("lr=0.01", True, 1), ("03", False, 1),
    ]


# options --------------------------------------------------------------------------------------------


def test_options_are_coerced_and_checked_in_one_place() -> None:
    assert validated({"max_parallel": "8", "pause_between": 2, "num_gpus": 2.0}) == {
        "max_parallel": 8, "pause_between": 2.0, "num_gpus": 2,
    }
    for bad in ({"pause_between": "inf"}, {"pause_between": float("nan")}, {"max_parallel": 0},
                {"num_gpus": 2.5}, {"experiments_per_gpu": True}):
        with pytest.raises(OptionError):
            validated(bad)
    with pytest.raises(OptionError, match="did you mean max_parallel"):
        validated({"maxparallel": 1})
    with pytest.raises(OptionError, match="no GPU slot"):
        validated({"num_gpus": 0, "experiments_per_gpu": 1})
    assert with_defaults({})["slot_dir"] == layout.SLOT_DIR


# the log tail ---------------------------------------------------------------------------------------


def test_the_tail_shows_what_a_terminal_would_without_sfgens_own_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_bytes(b"==== sfgen start\nstep 1\rstep 2\n\x1b[31mred\x1b[0m\n" + b"x" * 100 + b"\n==== sfgen exit 1\n")
    assert tail(log, lines=3, width=20) == ["step 2", "red", *["x" * 20] * 5]  # whole lines, wrapped
    assert tail(tmp_path / "missing.log") == []


def test_the_layout_names_each_experiments_files() -> None:
    assert (layout.marker("r"), layout.failure("r"), layout.log("r")) == ("markers/r.done", "markers/r.failed", "logs/r.log")
    assert spec("r").marker == layout.marker("r")
    assert layout.slurm_job_log("logs_dir", "r", "12") == Path("logs_dir/rule_r/12.log")
    assert json.loads(json.dumps(spec("r", {"seed": "1"})._asdict()))["params"] == {"seed": "1"}


# corrupt markers ------------------------------------------------------------------------------------


def test_corrupt_markers_are_found_without_a_change_and_get_a_free_name(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    write_record(markers / "exp_00_a.done", {"exit_code": 0})
    for name, text in [("exp_01_b.done", "{"), ("exp_01_b.done.corrupt", "old"), ("exp_02_c.done", "[]"),
                       ("exp_03_d.done.corrupt", "kept"), ("gone.done", "{"), (".exp_00_a.done.x.tmp", "{")]:
        (markers / name).write_text(text)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in markers.iterdir()}
    found = set_aside.find(tmp_path, [spec(f"exp_0{i}_{x}") for i, x in enumerate("abcd")])
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in markers.iterdir()} == before
    b_kept = f"markers/exp_01_b.done.corrupt-{before['exp_01_b.done'][1]}"  # .corrupt is an earlier one's
    assert sorted(found.set_aside) == [
        ("_set_aside_exp_01_b", "markers/exp_01_b.done", b_kept),
        ("_set_aside_exp_02_c", "markers/exp_02_c.done", "markers/exp_02_c.done.corrupt"),
    ]  # not gone.done: no experiment of the workflow has it
    assert {rule: sorted(names) for rule, names in found.inputs.items()} == {
        "exp_01_b": ["markers/exp_01_b.done.corrupt", b_kept],
        "exp_02_c": ["markers/exp_02_c.done.corrupt"],
        "exp_03_d": ["markers/exp_03_d.done.corrupt"],
    }
    assert set_aside.find(tmp_path / "nowhere", []) == ([], {})
