"""The ``sfgen`` command: list, compile, run, status, report, reset, cancel.

One error convention for every mistake, usage errors included: one line ``sfgen: error: WHAT: FIX``, no
usage text, and the exit status of its kind (:data:`EXIT_STATUS`).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shlex
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn

from sfgen import __version__
from sfgen.exceptions import OptionError, SfgenError
from sfgen.options import RUNTIME_OPTIONS, SF2_DEFAULTS, parse_bool

DESCRIPTION = """\
Compile Sample Factory sweeps (run modules of its runner, generation 1, or launcher, generation 2) into
Snakemake workflows, and run them on this machine, on Slurm or on NGC."""
EXIT_STATUS = """\
exit status: 0 done; 1 an error sfgen names in one line, or experiments that failed or did not run;
2 a usage error (unknown option, missing or invalid value); 128+N stopped by signal N (130: Ctrl-C)"""
DEFAULTS_RULE = """\
Defaults follow the Sample Factory generation you are on: Sample Factory 2's (--pause_between=1) with
--backend or a run module that imports sample_factory.launcher, Sample Factory 1's (--pause_between=10)
otherwise."""
RUN_DESCRIPTION = f"""\
Compile the run into a workflow (here, or --out) and run it with Snakemake, showing each experiment's
start and end and the progress. Sample Factory's command line, option for option: generation 1's
(python -m sample_factory.runner.run: --runner) and generation 2's (python -m sample_factory.launcher.run:
--backend).

{DEFAULTS_RULE}"""


class UsageError(SfgenError):
    """The command line is malformed: an unknown option or command, a missing or invalid argument."""


class _Parser(argparse.ArgumentParser):
    """argparse without its two surprises: no prefix matching of option names (``--slurm_timeout`` was
    taken for ``--slurm_timeout_retries``), and a mistake is a UsageError (one line with a hint), not the
    whole usage text. Its subcommands' parsers are of this class too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self.commands: argparse._SubParsersAction | None = None

    def add_subparsers(self, **kwargs: Any) -> argparse._SubParsersAction:
        self.commands = super().add_subparsers(**kwargs)
        return self.commands

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{_reworded(message)} ({self.prog} --help lists {_what_help_lists(self)})")


def _what_help_lists(parser: _Parser) -> str:
    return "the commands" if parser.commands is not None else "the options"


def _closest(word: str, candidates: list[str]) -> str:
    """``: did you mean X?`` for the candidate closest to a mistyped ``word``, or nothing."""
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f": did you mean {close[0]}?" if close else ""


def _reworded(message: str) -> str:
    """argparse's message, said as the fix: a missing --run, or an invalid choice with the closest one."""
    if message.endswith("required: --run"):
        return "--run=MODULE is missing: give the run module (a dotted module name or a .py file)"
    if message.endswith("required: COMMAND"):
        return "no command given: give one of list, compile, run, status, reset, cancel"
    together = re.match(r"argument (\S+): not allowed with argument (\S+)$", message)
    if together:
        return f"{together.group(1)} cannot be given with {together.group(2)}: give one of them"
    choice = re.match(r"argument (\S+): invalid choice: '(.*)' \(choose from (.*)\)$", message)
    if choice:
        argument, value, listed = choice.groups()
        choices = re.findall(r"'([^']*)'", listed)
        what = "command" if argument == "COMMAND" else f"value for {argument}"
        return f"unknown {what} {value!r} (one of {', '.join(choices)}){_closest(value, choices)}"
    return message


def _unknown(parser: _Parser, args: argparse.Namespace, unknown: list[str]) -> UsageError:
    """The error for arguments no option took: the first one, with the closest option of its command."""
    command = parser.commands.choices.get(args.command) if parser.commands is not None else None
    where = command or parser
    first = unknown[0]
    more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
    if not first.startswith("-"):
        return UsageError(f"unexpected argument {first!r}{more}: options are written --NAME=VALUE "
                          f"({where.prog} --help lists the options)")
    name = first.split("=", 1)[0]
    options = [option for option in where._option_string_actions if option.startswith("--")]  # argparse's own table
    hint = _closest(name, options) or f": {where.prog} --help lists the options"
    return UsageError(f"unknown option {name}{more}{hint}")


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="run module: a dotted name importable from here, or a .py file")
    parser.add_argument("--train_dir", default="./train_dir", help="directory for sub-experiments")
    parser.add_argument("--experiment_suffix", default="", help="append this to the name of the experiment dir")


def _default_text(name: str) -> str:
    """An option's default for --help, both generations' where they differ."""
    default = RUNTIME_OPTIONS[name].default
    if name in SF2_DEFAULTS:
        return f"{default:g} on Sample Factory 1, {SF2_DEFAULTS[name]:g} on Sample Factory 2: see above"
    return "not set" if default is None else str(default)


def _add_option_arguments(parser: argparse.ArgumentParser) -> None:
    for name, option in RUNTIME_OPTIONS.items():  # kept as text: sfgen.options checks every value, as for --config
        parser.add_argument(f"--{name}", default=None, help=f"{option.help} (default: {_default_text(name)})")
    parser.add_argument("--out", type=Path, default=Path("."), help="workflow directory (default: here)")
    parser.add_argument("--force", action="store_true", help="replace a workflow compiled from another run")


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line, checked before anything loads: a bad value is a usage error."""
    from sfgen.options import time_limit_minutes, validated

    given = {name: getattr(args, name) for name in RUNTIME_OPTIONS if getattr(args, name) is not None}
    checked = validated(given)
    if "slurm_runtime" in given and checked.get("slurm_timeout") and time_limit_minutes(checked["slurm_timeout"]):
        raise UsageError(
            "--slurm_timeout and --slurm_runtime both set the time limit: give one (--slurm_timeout is Sample "
            "Factory 2's, a timeout(1) duration; --slurm_runtime sfgen's, in minutes)"
        )
    return given


def _on_generation(args: argparse.Namespace, given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The given options over the defaults of the Sample Factory generation in use (DEFAULTS_RULE), and the
    generation 2 defaults that applied. The run module is imported here, once: compile reuses it."""
    from sfgen.loader import load_run
    from sfgen.run_description import RunDescriptionV2

    on_sf2 = getattr(args, "backend", None) is not None or isinstance(load_run(args.run), RunDescriptionV2)
    applied = {name: value for name, value in SF2_DEFAULTS.items() if name not in given} if on_sf2 else {}
    return {**applied, **given}, applied


def _compile(args: argparse.Namespace, argv: list[str], options: dict[str, Any], applied: dict[str, Any]):
    from sfgen.compile import compile_workflow

    compiled = compile_workflow(
        args.run,
        args.out,
        args.train_dir,
        args.experiment_suffix,
        options,
        compile_cmd=shlex.join(["sfgen", *argv]),
        force=args.force,
    )
    defaults = ", ".join(f"{name}={value:g}" for name, value in applied.items())
    on = f" (Sample Factory 2's defaults: {defaults})" if defaults else ""
    print(f"sfgen: compiled {len(compiled.specs)} experiments of run '{compiled.run_name}' into {compiled.out / 'Snakefile'}{on}")
    if compiled.changed:
        names = ", ".join(spec.name for spec in compiled.changed[:5]) + (" ..." if len(compiled.changed) > 5 else "")
        print(
            f"sfgen: {len(compiled.changed)} finished experiments now have a different command ({names}); "
            "they stay done. To redo them: sfgen reset NAME (or snakemake --forcerun RULE)"
        )
    return compiled


def _described(args: argparse.Namespace, options: dict[str, Any]):
    """The experiments and the checked options, for the print-only modes that write and submit nothing."""
    from sfgen.experiments import describe
    from sfgen.loader import load_run
    from sfgen.options import with_defaults

    return describe(load_run(args.run), args.train_dir, args.experiment_suffix), with_defaults(options)


def cmd_list(args: argparse.Namespace, argv: list[str]) -> int:
    from sfgen.experiments import describe
    from sfgen.loader import load_run

    specs = describe(load_run(args.run), args.train_dir, args.experiment_suffix)
    if args.json:
        fields = ("rule", "name", "cmd", "root_dir", "env_vars")
        rows = [
            {**{key: getattr(spec, key) for key in fields}, "argv": spec.argv, "marker": spec.marker, "log": spec.log}
            for spec in specs
        ]
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
    options, applied = _on_generation(args, _given(args))
    compiled = _compile(args, argv, options, applied)
    where = "" if compiled.out == Path.cwd().resolve() else f"cd {shlex.quote(str(args.out))} && "
    print(f"sfgen: run it with: {where}snakemake --profile profiles/local   (or profiles/slurm, profiles/ngc)")
    return 0


def cmd_run(args: argparse.Namespace, argv: list[str]) -> int:
    from sfgen.backend import for_runner
    from sfgen.drive import run_snakemake
    from sfgen.options import with_defaults

    runner = for_runner(args.backend or args.runner or "processes")
    given = _given(args)
    if runner.print_only_option and getattr(args, runner.print_only_option):
        return runner.print_only(*_described(args, _on_generation(args, given)[0]))
    runner.check_run(with_defaults(given))  # a missing cluster tool, before anything loads or is written
    options, applied = _on_generation(args, given)
    return run_snakemake(_compile(args, argv, options, applied), runner.name, args.train_dir)


def cmd_status(args: argparse.Namespace, argv: list[str]) -> int:
    from sfgen.progress import add_progress
    from sfgen.status_view import Style, to_json, to_text
    from sfgen.state import STATES, experiment_states, load_workflow, select

    if args.watch is not None:
        from sfgen.watch import watch

        if args.json or args.failed or args.state:
            raise SfgenError("--watch shows its own view: leave out --json, --failed and --state")
        if not args.watch > 0:
            raise SfgenError(f"--watch takes seconds between refreshes, more than 0 (got {args.watch:g})")
        return watch(args.dir, args.patterns, args.watch)
    only = ["failed"] if args.failed else None
    if args.state:
        only = [name.strip() for name in args.state.split(",")]
        if unknown := [name for name in only if name not in STATES]:
            raise SfgenError(f"unknown state {unknown[0]!r} in --state: use {', '.join(STATES)} (comma-separated)")
    workflow = load_workflow(args.dir)
    counted = experiment_states(args.dir, select(workflow.specs, args.patterns) if args.patterns else workflow.specs)
    listed = [state for state in counted if only is None or state.state in only]
    add_progress(args.dir, listed)
    if args.json:
        print(to_json(workflow, listed, counted))
    else:
        sys.stdout.write(to_text(workflow, listed, counted, args.patterns, only, Style.for_stdout()))
    return 0


def cmd_report(args: argparse.Namespace, argv: list[str]) -> int:
    from sfgen.html_report import write_report
    from sfgen.state import plural

    out = args.out or args.dir / "report.html"
    experiments, attempts = write_report(args.dir, out)
    print(f"sfgen: wrote {out}: {plural(experiments, 'experiment')}, {plural(attempts, 'attempt')}")
    return 0


def cmd_reset(args: argparse.Namespace, argv: list[str]) -> int:
    from sfgen.reset import reset

    return reset(args.dir, args.patterns, args.yes)


def cmd_cancel(args: argparse.Namespace, argv: list[str]) -> int:
    from sfgen.cancel import cancel

    return cancel(args.dir, args.patterns, args.yes)


def build_parser() -> _Parser:
    parser = _Parser(prog="sfgen", description=DESCRIPTION, epilog=EXIT_STATUS)
    parser.add_argument("--version", action="version", version=f"sfgen {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="list the experiments of a run, in order")
    _add_run_arguments(listing)
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(func=cmd_list)

    compiling = commands.add_parser(
        "compile", help="write the Snakefile and profiles for a run", epilog=EXIT_STATUS,
        description="Write the run's Snakefile and profiles (here, or --out).\n\n" + DEFAULTS_RULE.replace(
            "--backend or a run module", "a run module"),
    )
    _add_run_arguments(compiling)
    _add_option_arguments(compiling)
    compiling.set_defaults(func=cmd_compile)

    running = commands.add_parser(
        "run", help="compile and run, with Sample Factory's runner options", description=RUN_DESCRIPTION,
        epilog=EXIT_STATUS,
    )
    add_runner_arguments(running)
    running.set_defaults(func=cmd_run)

    status = commands.add_parser("status", help="which experiments are done, failed, running or pending, and why")
    status.add_argument("--dir", type=Path, default=Path("."), help="workflow directory (default: here)")
    status.add_argument("--json", action="store_true", help="print a JSON object (fields: see the README)")
    only = status.add_mutually_exclusive_group()
    only.add_argument("--failed", action="store_true", help="list the failed experiments with their log tails")
    only.add_argument("--state", help="list the experiments in these states: done,failed,running,pending")
    status.add_argument("--watch", nargs="?", type=float, const=5.0, metavar="SECONDS",
                        help="redraw every SECONDS (default 5) until every experiment has ended; q quits")
    status.add_argument("patterns", nargs="*", metavar="NAME_PATTERN", help="part of a name, or a glob (*?[])")
    status.set_defaults(func=cmd_status)

    reporting = commands.add_parser("report", help="write a self-contained HTML report: progress, timeline, failures")
    reporting.add_argument("--dir", type=Path, default=Path("."), help="workflow directory (default: here)")
    reporting.add_argument("--out", type=Path, metavar="FILE", help="the HTML file to write (default: DIR/report.html)")
    reporting.set_defaults(func=cmd_report)

    resetting = commands.add_parser("reset", help="forget that experiments finished or failed: the next run redoes it")
    resetting.add_argument("--dir", type=Path, default=Path("."), help="workflow directory (default: here)")
    resetting.add_argument("--yes", action="store_true", help="do not ask before resetting many")
    resetting.add_argument("patterns", nargs="+", metavar="NAME_PATTERN", help="part of a name, or a glob (*?[])")
    resetting.set_defaults(func=cmd_reset)

    cancelling = commands.add_parser("cancel", help="stop the running sweep, or the matching experiments")
    cancelling.add_argument("--dir", type=Path, default=Path("."), help="workflow directory (default: here)")
    cancelling.add_argument("--yes", action="store_true", help="do not ask before cancelling many")
    cancelling.add_argument("patterns", nargs="*", metavar="NAME_PATTERN", help="part of a name, or a glob (*?[])")
    cancelling.set_defaults(func=cmd_cancel)
    return parser


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    """Sample Factory's runner CLI, option for option, plus where to write the workflow."""
    _add_run_arguments(parser)
    from sfgen.backend import runners

    where = parser.add_mutually_exclusive_group()
    where.add_argument("--runner", choices=runners(), help="where experiments run: processes (this machine), slurm "
                       "or ngc; Sample Factory 1's option (default: processes)")
    where.add_argument("--backend", choices=runners(), help="the same, by Sample Factory 2's name: its defaults apply")
    _add_option_arguments(parser)
    parser.add_argument("--slurm_print_only", type=parse_bool, default=False, help="print, submit nothing")
    parser.add_argument("--ngc_print_only", type=parse_bool, default=False, help="print, submit nothing")


def _interruptible() -> None:
    """SIGINT and SIGTERM stop sfgen however it was started: a script's ``sfgen run ... &`` starts with
    SIGINT ignored (as a non-interactive shell starts background jobs), which Python would keep."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        raise _unknown(parser, args, unknown)
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _interruptible()
    try:
        args = _parse(argv)
    except UsageError as error:
        print(f"sfgen: error: {error}", file=sys.stderr)
        return 2
    try:
        return args.func(args, argv)
    except (UsageError, OptionError) as error:  # how sfgen was called: exit status 2, as argparse's
        if args.debug:
            raise
        print(f"sfgen: error: {error}", file=sys.stderr)
        return 2
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
