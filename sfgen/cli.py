"""The ``sfgen`` command: list, compile, run, status, reset. Errors become one line and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from sfgen import __version__
from sfgen.exceptions import SfgenError
from sfgen.options import RUNTIME_OPTIONS, parse_bool

RUNNERS = {"processes": "local", "slurm": "slurm", "ngc": "ngc"}


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="run module: a dotted name importable from here, or a .py file")
    parser.add_argument("--train_dir", default="./train_dir", help="directory for sub-experiments")
    parser.add_argument("--experiment_suffix", default="", help="append this to the name of the experiment dir")


def _add_option_arguments(parser: argparse.ArgumentParser) -> None:
    for name, option in RUNTIME_OPTIONS.items():
        kind = str if option.kind not in (int, float) else option.kind
        parser.add_argument(f"--{name}", type=kind, default=None, help=f"{option.help} (default: {option.default})")
    parser.add_argument("--out", type=Path, default=Path("."), help="workflow directory (default: here)")
    parser.add_argument("--force", action="store_true", help="replace a workflow compiled from another run")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in RUNTIME_OPTIONS if getattr(args, name) is not None}


def _compile(args: argparse.Namespace, argv: list[str]):
    from sfgen.compile import compile_workflow

    compiled = compile_workflow(
        args.run,
        args.out,
        args.train_dir,
        args.experiment_suffix,
        _options(args),
        compile_cmd=shlex.join(["sfgen", *argv]),
        force=args.force,
    )
    print(f"sfgen: compiled {len(compiled.specs)} experiments of run '{compiled.run_name}' into {compiled.out / 'Snakefile'}")
    if compiled.changed:
        names = ", ".join(spec.name for spec in compiled.changed[:5]) + (" ..." if len(compiled.changed) > 5 else "")
        print(
            f"sfgen: {len(compiled.changed)} finished experiments now have a different command ({names}); "
            "they stay done. To redo them: sfgen reset NAME (or snakemake --forcerun RULE)"
        )
    return compiled


def _described(args: argparse.Namespace):
    """The experiments and the checked options, for the print-only modes that write and submit nothing."""
    from sfgen.experiments import describe
    from sfgen.loader import load_run
    from sfgen.options import with_defaults

    options = with_defaults(_options(args))
    return describe(load_run(args.run), args.train_dir, args.experiment_suffix), options


def cmd_list(args: argparse.Namespace, argv: list[str]) -> int:
    from sfgen.experiments import describe
    from sfgen.loader import load_run

    specs = describe(load_run(args.run), args.train_dir, args.experiment_suffix)
    if args.json:
        rows = [{**spec.to_dict(), "argv": spec.argv, "marker": spec.marker, "log": spec.log} for spec in specs]
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    width = max(len(spec.name) for spec in specs)
    for index, spec in enumerate(specs):
        print(f"{index:>4}  {spec.name:<{width}}  rule {spec.rule}")
        print(f"      {spec.cmd}")
        if spec.env_vars:
            print(f"      env: {' '.join(f'{k}={shlex.quote(str(v))}' for k, v in spec.env_vars.items())}")
    print(f"{len(specs)} experiments")
    return 0


def cmd_compile(args: argparse.Namespace, argv: list[str]) -> int:
    compiled = _compile(args, argv)
    where = "" if compiled.out == Path.cwd().resolve() else f"cd {shlex.quote(str(args.out))} && "
    print(f"sfgen: run it with: {where}snakemake --profile profiles/local   (or profiles/slurm, profiles/ngc)")
    if args.slurm_workdir is not None:
        from sfgen.slurm import snakemake_args

        logs = shlex.join(snakemake_args(os.path.relpath(os.path.abspath(args.slurm_workdir), compiled.out)))
        print(f"sfgen: for Slurm's job logs in {args.slurm_workdir}: snakemake --profile profiles/slurm {logs}")
    return 0


def cmd_run(args: argparse.Namespace, argv: list[str]) -> int:
    from sfgen.execute import run_snakemake

    if args.runner == "slurm" and args.slurm_print_only:
        from sfgen.slurm import print_submissions

        return print_submissions(*_described(args))
    if args.runner == "ngc" and args.ngc_job_template is None:
        raise SfgenError("--runner=ngc needs the NGC job template: pass --ngc_job_template=FILE (an ngc batch run line)")
    if args.runner == "ngc" and args.ngc_print_only:
        from sfgen.ngc import print_commands

        return print_commands(*_described(args))
    compiled = _compile(args, argv)
    extra = []
    if args.runner == "slurm" and args.slurm_workdir is not None:
        from sfgen.slurm import snakemake_args

        extra = snakemake_args(os.path.abspath(args.slurm_workdir))
    return run_snakemake(compiled, RUNNERS[args.runner], extra)


def cmd_status(args: argparse.Namespace, argv: list[str]) -> int:
    from sfgen.report import Style, to_json, to_text
    from sfgen.status import STATES, experiment_states, load_workflow, select

    only = ["failed"] if args.failed else None
    if args.state:
        only = [name.strip() for name in args.state.split(",")]
        if unknown := [name for name in only if name not in STATES]:
            raise SfgenError(f"unknown state {unknown[0]!r} in --state: use {', '.join(STATES)} (comma-separated)")
    workflow = load_workflow(args.dir)
    counted = experiment_states(args.dir, select(workflow.specs, args.patterns) if args.patterns else workflow.specs)
    listed = [state for state in counted if only is None or state.state in only]
    if args.json:
        print(to_json(workflow, listed, counted))
    else:
        sys.stdout.write(to_text(workflow, listed, counted, args.patterns, only, Style.for_stdout()))
    return 0


def cmd_reset(args: argparse.Namespace, argv: list[str]) -> int:
    from sfgen.reset import reset

    return reset(args.dir, args.patterns, args.yes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sfgen", description=__doc__)
    parser.add_argument("--version", action="version", version=f"sfgen {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="list the experiments of a run, in order")
    _add_run_arguments(listing)
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(func=cmd_list)

    compiling = commands.add_parser("compile", help="write the Snakefile and profiles for a run")
    _add_run_arguments(compiling)
    _add_option_arguments(compiling)
    compiling.set_defaults(func=cmd_compile)

    running = commands.add_parser("run", help="compile and run, with Sample Factory's runner options")
    add_runner_arguments(running)
    running.set_defaults(func=cmd_run)

    status = commands.add_parser("status", help="which experiments are done, failed, running or pending, and why")
    status.add_argument("--dir", type=Path, default=Path("."), help="workflow directory (default: here)")
    status.add_argument("--json", action="store_true", help="print a JSON object (fields: see the README)")
    only = status.add_mutually_exclusive_group()
    only.add_argument("--failed", action="store_true", help="list the failed experiments with their log tails")
    only.add_argument("--state", help="list the experiments in these states: done,failed,running,pending")
    status.add_argument("patterns", nargs="*", metavar="NAME_PATTERN", help="part of a name, or a glob (*?[])")
    status.set_defaults(func=cmd_status)

    resetting = commands.add_parser("reset", help="forget that experiments finished or failed: the next run redoes it")
    resetting.add_argument("--dir", type=Path, default=Path("."), help="workflow directory (default: here)")
    resetting.add_argument("--yes", action="store_true", help="do not ask before resetting many")
    resetting.add_argument("patterns", nargs="+", metavar="NAME_PATTERN", help="part of a name, or a glob (*?[])")
    resetting.set_defaults(func=cmd_reset)
    return parser


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    """Sample Factory's runner CLI, option for option, plus where to write the workflow."""
    _add_run_arguments(parser)
    parser.add_argument("--runner", choices=sorted(RUNNERS), default="processes")
    _add_option_arguments(parser)
    parser.add_argument("--slurm_print_only", type=parse_bool, default=False, help="print, submit nothing")
    parser.add_argument("--ngc_print_only", type=parse_bool, default=False, help="print, submit nothing")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args, argv)
    except SfgenError as error:
        if args.debug:
            raise
        print(f"sfgen: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `sfgen list | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # a bug in sfgen: still one line, the traceback on request
        if args.debug:
            raise
        print(f"sfgen: internal error: {type(error).__name__}: {error} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
