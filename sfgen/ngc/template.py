"""The user's NGC job template: Jinja2 text that renders to one ``ngc batch run`` command, run as argv.

Sample Factory pasted the name and the command into the template and ran the result with a shell, so a
quote, ``$(...)`` or backtick in a parameter value was interpreted on the submitting machine. Here the
template TEXT is parsed like a shell command line (quotes, backslashes, backslash-newlines; no variable
expansion, no operators) but every ``{{ ... }}`` value is inserted literally into the word it appears
in, after that parsing: each value is rendered as an opaque placeholder, the text is split into words
with ``shlex``, and the placeholders are then replaced by the values. The command is run without a
shell. So ``--commandline "{{ experiment_cmd }}"`` hands NGC exactly the experiment's command (shell
words whose values sfgen already quoted), which the container's shell parses; ``| quote`` quotes any
other value for that shell.
"""

from __future__ import annotations

import re
import secrets
import shlex
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

from sfgen.exceptions import TemplateError
from sfgen.options import read_template
from sfgen.spec import ExperimentSpec

_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters: cannot clash with a template's own text
_OPERATOR_CHARS = set("();<>|&")
_VARIABLES = ("name", "experiment_cmd", "rule", "root_dir", "env_vars", "gpus")


def _words(line: str) -> list[str]:
    """Shell words of one line, refusing operators outside quotes (nothing here would run them)."""
    try:
        plain = shlex.split(line)
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = ""
        split = list(lexer)
    except ValueError as error:
        raise TemplateError(f"cannot split it into words ({error}): balance its quotes") from None
    if split != plain:
        first = next((i for i, (a, b) in enumerate(zip(split, plain)) if a != b), len(plain))
        operator = next((word for word in split[first:] if set(word) <= _OPERATOR_CHARS), split[first])
        raise TemplateError(
            f"it has the shell operator {operator!r} outside quotes, but it is run as one ngc command "
            "without a shell: quote it, or put it inside --commandline"
        )
    return plain


def _one_line(text: str) -> str:
    """The single command line: backslash-newlines joined (as Sample Factory did), # comment lines dropped."""
    joined = re.sub(r"\\\r?\n", " ", text)
    lines = [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if len(lines) != 1:
        raise TemplateError(
            f"it renders to {len(lines)} command lines, not one: end continued lines with a backslash"
        )
    return lines[0]


class JobTemplate:
    """A compiled template; ``argv(spec, options)`` gives the ``ngc batch run`` argv of one experiment."""

    def __init__(self, text: str, origin: str = "the NGC job template"):
        self.origin = origin
        if _OPEN in text or _CLOSE in text:
            raise TemplateError(f"{origin} holds the characters U+E000/U+E001, which sfgen reserves: remove them")
        environment = jinja2.Environment(
            autoescape=False, undefined=jinja2.StrictUndefined, finalize=self._hold, keep_trailing_newline=True
        )
        environment.filters["quote"] = lambda value: shlex.quote(self._literal(str(value)))
        try:
            parsed = environment.parse(text)
        except jinja2.TemplateSyntaxError as error:
            raise TemplateError(f"{origin} line {error.lineno}: {str(error.message).rstrip('.')}: fix the Jinja2 syntax") from None
        used = jinja2.meta.find_undeclared_variables(parsed)
        if "experiment_cmd" not in used:
            raise TemplateError(
                f'{origin} does not use {{{{ experiment_cmd }}}}: pass it to NGC, e.g. --commandline "{{{{ experiment_cmd }}}}"'
            )
        unknown = sorted(used - set(_VARIABLES))
        if unknown:
            raise TemplateError(
                f"{origin} uses unknown variable(s) {', '.join(unknown)}: available are {', '.join(_VARIABLES)}"
            )
        self.passes_env_vars = "env_vars" in used
        self._template = environment.from_string(text)
        self._values: list[str] = []
        self._nonce = ""
        self._placeholder = re.compile("")

    @jinja2.pass_context  # a context-taking finalize is never applied at compile time to constant {{ }}s
    def _hold(self, _context: Any, value: Any) -> str:
        """Stand in for a rendered value; the nonce keeps a value's own text from ever looking like one."""
        self._values.append(str(value))
        return f"{_OPEN}{self._nonce}:{len(self._values) - 1}{_CLOSE}"

    def _literal(self, word: str) -> str:
        """``word`` with its placeholders replaced by their values (values captured by {% set %} too)."""
        return self._placeholder.sub(lambda match: self._literal(self._values[int(match.group(1))]), word)

    def argv(self, spec: ExperimentSpec, options: dict[str, Any]) -> list[str]:
        """The command for ``spec``; the experiment's env vars become ``--env-var`` unless the template places them."""
        env_vars = {key: str(value) for key, value in (spec.env_vars or {}).items()}
        self._values, self._nonce = [], secrets.token_hex(8)
        self._placeholder = re.compile(f"{_OPEN}{self._nonce}:(\\d+){_CLOSE}")
        context = {
            "name": spec.name,
            "experiment_cmd": spec.cmd,
            "rule": spec.rule,
            "root_dir": spec.root_dir,
            "env_vars": env_vars,
            "gpus": options["num_gpus"],
        }
        try:
            rendered = self._template.render(context)
            words = _words(_one_line(rendered))
        except TemplateError as error:
            raise TemplateError(f"{self.origin} for experiment {spec.name}: {error}") from None
        except jinja2.TemplateError as error:
            raise TemplateError(f"{self.origin} for experiment {spec.name}: {error}: fix the template") from None
        if any(set(self._placeholder.sub("", word)) & {_OPEN, _CLOSE} for word in words):
            raise TemplateError(
                f"{self.origin}: a {{% filter %}} or macro altered a {{{{ }}}} value: use the values directly"
            )
        argv = [self._literal(word) for word in words]
        if Path(argv[0]).name != "ngc" or not any(argv[i : i + 2] == ["batch", "run"] for i in range(1, len(argv))):
            raise TemplateError(
                f"{self.origin} renders to {shlex.join(argv[:3])} ..., not an `ngc batch run` command: start it with ngc batch run"
            )
        if not self.passes_env_vars:
            argv += [word for key, value in env_vars.items() for word in ("--env-var", f"{key}:{value}")]
        return argv


def load(path: str) -> str:
    """The template file's text, or a one-line error naming the file."""
    return read_template(path, "NGC job template", "ngc_job_template")


def embed(path: str, specs: list[ExperimentSpec], options: dict[str, Any]) -> str:
    """The text of the template file, checked by rendering it for every experiment, for the Snakefile to keep:
    a compiled workflow then runs as compiled, whatever later happens to the file."""
    text = load(path)
    template = JobTemplate(text, f"NGC job template {path}")
    for spec in specs:
        template.argv(spec, options)
    return text
