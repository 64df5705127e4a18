"""Message templates: Jinja2 in a sandbox that sees only the documented variables of a purpose.

The clinic edits templates as plain text in Settings. `check_template` refuses a broken one
when it is saved (with the line and the reason); `render` fills one in at send time with the
values the planner builds from the current record.

Minimum necessary: the context a template sees is built from `VARIABLES` and nothing else.
There is no diagnosis, condition, medication or insurance variable, so no template, however it
is written, can put one into an SMS, an email or a letter. Values are plain strings, already
formatted for the patient's language by whoever builds them (dates, times, money).

The sandbox keeps a template away from Python objects: no globals, a short list of filters, no
method calls, no private attributes, no other templates, and a cap on what it may produce.
"""

from __future__ import annotations

import functools
import html
import re
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jinja2
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, filters, lexer, nodes
from jinja2.exceptions import SecurityError
from jinja2.meta import find_undeclared_variables
from jinja2.runtime import LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment

from app.errors import InvalidInputError
from app.reminders.sms_text import count_segments
from app.store.paths import resource_root

KINDS: Final = ("sms", "email", "email_html", "letter")
"""sms, letter and email are plain text; email_html is an optional HTML body, autoescaped.

An email template's first line is its subject: `Subject: …`, then the body. The HTML part is
made from the text (render_email) unless the clinic writes an email_html template of its own.
"""

SMS_MAX_SEGMENTS: Final = 6
"""Longer than this with the sample values is refused: that much text belongs in an email."""

MAX_OUTPUT_CHARS: Final = 50_000
"""No message is this long; a template that produces more is a mistake (a runaway loop)."""

SUBJECT_PREFIX: Final = "Subject:"


@dataclass(frozen=True)
class Variable:
    """One value Frontdesk fills in, as the template editor lists it."""

    name: str
    description: str


_COMMON: Final = (
    Variable("patient_first_name", "The patient's first name."),
    Variable(
        "patient_preferred_name",
        "The name the patient likes to be called (their first name if they gave none).",
    ),
    Variable("patient_full_name", "The patient's first and last name, for letters."),
    Variable("clinic_name", "The clinic's name, as in Settings."),
    Variable("clinic_phone", "The clinic's phone number, as in Settings."),
)

VARIABLES: Final[Mapping[str, tuple[Variable, ...]]] = {
    "appointment": (
        *_COMMON,
        Variable(
            "appointment_date",
            "The day of the visit in the clinic's time zone, in the patient's language "
            "(Tuesday, March 10).",
        ),
        Variable("appointment_time", "The time of the visit in the clinic's time zone (9:30 AM)."),
        Variable("weekday", "The day of the week of the visit (Tuesday)."),
        Variable("provider_name", "Who the patient will see (Dr. Rivera)."),
        Variable("location_name", "Where the visit is (Main Street office)."),
        Variable("location_address", "The street address of that place."),
        Variable(
            "confirm_instructions",
            "How to confirm for this channel (Reply C to confirm, or call us).",
        ),
    ),
    "recall": (
        *_COMMON,
        Variable("due_date", "When the patient is due for the visit (April 14)."),
        Variable(
            "recall_reason",
            "A plain label for the visit (check-up, cleaning); never a diagnosis.",
        ),
    ),
    "billing": (
        *_COMMON,
        Variable("balance", "The amount due, as money ($120.50)."),
        Variable("pay_url", "The clinic's payment link, when it has one."),
        Variable(
            "pay_instructions", "How to pay, in one sentence (online, by phone, at the desk)."
        ),
    ),
    "no_show": (
        *_COMMON,
        Variable("missed_date", "The day of the missed visit (Tuesday, March 10)."),
    ),
    "birthday": _COMMON,
    "survey": (
        *_COMMON,
        Variable("appointment_date", "The day of the visit asked about (Tuesday, March 10)."),
        Variable("provider_name", "Who the patient saw (Dr. Rivera)."),
        Variable(
            "survey_question",
            "The survey's question, in the patient's language (How likely are you to "
            "recommend us…?).",
        ),
        Variable(
            "reply_instructions", "How to answer: reply with a number from 0 to 10, and a comment."
        ),
    ),
    "review": (
        *_COMMON,
        Variable(
            "review_links",
            "The clinic's review links from Settings, one per line (Google: https://…).",
        ),
        Variable("review_link_first", "The first review link's address alone, for a text."),
    ),
    "education": (
        *_COMMON,
        Variable("education_title", "The education item's title (the email's subject)."),
        Variable("education_body", "The education item's text, for an email or a letter."),
        Variable("education_sms", "The education item's short text-message version."),
        Variable("education_links", "The item's links, one per line (label: address)."),
    ),
    "allergy": (
        *_COMMON,
        Variable("pollen_level", "Today's pollen level in plain words (high, very high)."),
    ),
    "reactivation": (
        *_COMMON,
        Variable("last_visit_date", "The day of the patient's last visit (March 10, 2026)."),
    ),
}
"""The variables of each purpose: the only values a template of that purpose can show."""

PURPOSES: Final = tuple(VARIABLES)


@dataclass(frozen=True)
class TemplateProblem:
    """Why a template was refused: the line (when Jinja knows it) and the reason in plain words."""

    line: int | None
    reason: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.reason}" if self.line is not None else self.reason


class TemplateError(InvalidInputError):
    """A message template cannot be saved or filled in; `.problem` says where and why."""

    def __init__(self, problem: TemplateProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(frozen=True)
class RenderedEmail:
    """An email ready for the SMTP channel: subject, plain-text part and HTML part."""

    subject: str
    text: str
    html: str


# --- the sandbox ---------------------------------------------------------------------

# Only filters that work on a string and cannot blow one up; `safe` in particular is left
# out, since it would let a patient's own data through the HTML escaping.
_FILTERS: Final = ("capitalize", "default", "d", "lower", "title", "trim", "truncate", "upper")


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, further narrowed to what a message template needs."""

    intercepted_binops = frozenset({"*", "**"})

    def is_safe_callable(self, obj: Any) -> bool:
        # Values are strings: their methods (center, zfill, format…) are how a template would
        # build a huge string or reach further. Macros and loop helpers are the template's own.
        if isinstance(obj, Macro | LoopContext):
            return True
        return isinstance(getattr(obj, "__self__", None), LoopContext)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # A value is a plain string: nothing of it but its text is any template's business.
        return isinstance(obj, LoopContext) and super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("powers are not allowed in a template")
        sizes = [len(side) for side in (left, right) if isinstance(side, str | list | tuple)]
        counts = [side for side in (left, right) if isinstance(side, int)]
        if sizes and counts and sizes[0] * counts[0] > MAX_OUTPUT_CHARS:
            raise SecurityError("this repetition would make the message far too long")
        return super().call_binop(context, operator, left, right)


def _sandbox(*, autoescape: bool) -> _Sandbox:
    env = _Sandbox(
        undefined=StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        loader=None,
    )
    env.globals.clear()
    env.filters = {name: filters.FILTERS[name] for name in _FILTERS}
    if autoescape:
        env.filters["escape"] = filters.FILTERS["escape"]
        env.filters["e"] = filters.FILTERS["e"]
    return env


_TEXT_ENV: Final = _sandbox(autoescape=False)
_HTML_ENV: Final = _sandbox(autoescape=True)


def _env(kind: str) -> _Sandbox:
    if kind not in KINDS:
        raise TemplateError(TemplateProblem(None, "Frontdesk does not send this kind of message."))
    return _HTML_ENV if kind == "email_html" else _TEXT_ENV


def _variables(purpose: str) -> tuple[Variable, ...]:
    try:
        return VARIABLES[purpose]
    except KeyError:
        raise TemplateError(
            TemplateProblem(None, "Frontdesk has no messages for this purpose.")
        ) from None


def variable_names(purpose: str) -> tuple[str, ...]:
    return tuple(variable.name for variable in _variables(purpose))


@dataclass(frozen=True)
class _Compiled:
    template: jinja2.Template
    undeclared: tuple[tuple[str, int], ...]  # names the template reads, first line of each


@functools.lru_cache(maxsize=256)
def _compiled(source: str, kind: str) -> _Compiled:
    """Read, vet and compile a template once; the sender fills in the same few again and again."""
    env = _env(kind)
    try:
        tree = env.parse(source)
        problem = _structure_problem(tree)
        if problem is not None:
            raise TemplateError(problem)
        first_lines: dict[str, int] = {}
        wanted = find_undeclared_variables(tree)
        for name in tree.find_all(nodes.Name):
            if name.name in wanted:
                first_lines[name.name] = min(name.lineno, first_lines.get(name.name, name.lineno))
        undeclared = tuple(sorted(first_lines.items(), key=lambda item: (item[1], item[0])))
        return _Compiled(env.from_string(tree), undeclared)
    except TemplateSyntaxError as exc:
        raise TemplateError(_syntax_problem(source, exc)) from None


# --- checking on save ----------------------------------------------------------------


def check_template(source: str, *, purpose: str, kind: str, language: str = "en") -> None:
    """Refuse a template that cannot work, with the line and the reason, before it is saved.

    Beyond reading it, the template is filled in with the sample values of `language`, so a
    mistake that only shows when it runs is found now and not at 7 in the morning.
    """
    names = variable_names(purpose)
    undeclared = _compiled(source, kind).undeclared
    unknown = [(name, line) for name, line in undeclared if name not in names]
    if unknown:
        name, line = unknown[0]
        raise TemplateError(
            TemplateProblem(
                line,
                f"{{{{ {name} }}}} is not a variable Frontdesk fills in; "
                f"use one of: {', '.join(names)}.",
            )
        )
    samples = sample_values(purpose, language, kind)
    if kind == "email":
        render_email(source, purpose=purpose, values=samples)
    rendered = render(source, purpose=purpose, kind=kind, values=samples)
    if not rendered.strip():
        raise TemplateError(TemplateProblem(None, "the message is empty."))
    if kind == "sms":
        segments = count_segments(rendered).segments
        if segments > SMS_MAX_SEGMENTS:
            raise TemplateError(
                TemplateProblem(
                    None,
                    f"this text message would be sent as {segments} parts; "
                    f"keep it to {SMS_MAX_SEGMENTS} or fewer.",
                )
            )


_CLOSERS: Final = {
    "if": "endif",
    "for": "endfor",
    "macro": "endmacro",
    "call": "endcall",
    "filter": "endfilter",
    "block": "endblock",
    "raw": "endraw",
    "with": "endwith",
    "autoescape": "endautoescape",
}


def _syntax_problem(source: str, exc: TemplateSyntaxError) -> TemplateProblem:
    message = exc.message or ""
    if "Unexpected end of template" in message or "unknown tag 'end" in message:
        unclosed = _unclosed_block(source)
        if unclosed is not None:
            tag, line = unclosed
            return TemplateProblem(
                line, f"a {{% {tag} %}} is not closed (it needs a {{% {_CLOSERS[tag]} %}})."
            )
    if message.startswith("Encountered unknown tag"):
        tag = message.split("'")[1] if "'" in message else "?"
        if tag.startswith("end"):
            return TemplateProblem(exc.lineno, f"there is a {{% {tag} %}} with nothing to close.")
        return TemplateProblem(exc.lineno, f"{{% {tag} %}} is not something a template can do.")
    if message.startswith("No filter named"):
        name = message.split("'")[1] if "'" in message else "?"
        return TemplateProblem(
            exc.lineno,
            f"|{name} is not a filter templates can use; use one of: "
            f"{', '.join(sorted(set(_FILTERS) - {'d'}))}.",
        )
    if "end of print statement" in message:
        return TemplateProblem(
            exc.lineno, "a {{ … }} is not closed, or holds more than one variable name."
        )
    if "end of statement block" in message:
        return TemplateProblem(exc.lineno, "a {% … %} is not closed, or has extra words in it.")
    return TemplateProblem(exc.lineno, f"this line cannot be read ({message}).")


def _unclosed_block(source: str) -> tuple[str, int] | None:
    """The innermost block left open, with the line it opens on (Jinja names the last line)."""
    stack: list[tuple[str, int]] = []
    expect_tag = False
    try:
        for line, kind, value in _TEXT_ENV.lex(source):
            if kind == lexer.TOKEN_BLOCK_BEGIN:
                expect_tag = True
                continue
            if kind == lexer.TOKEN_WHITESPACE:
                continue
            if expect_tag and kind == lexer.TOKEN_NAME:
                if value in _CLOSERS:
                    stack.append((value, line))
                elif value.startswith("end") and stack and _CLOSERS[stack[-1][0]] == value:
                    stack.pop()
            expect_tag = False
    except TemplateSyntaxError:
        pass  # The lexer stops at the broken spot; what it read so far is what we report on.
    return stack[-1] if stack else None


def _structure_problem(tree: nodes.Template) -> TemplateProblem | None:
    for node in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        return TemplateProblem(node.lineno, "a template cannot bring in other templates.")
    for switch in tree.find_all(nodes.EvalContextModifier):
        # {% autoescape false %} would let a patient's own data through as HTML.
        return TemplateProblem(switch.lineno, "a template cannot turn off the safety of HTML.")
    for block in tree.find_all(nodes.Block):
        return TemplateProblem(block.lineno, "{% block %} has no use in a message template.")
    for name in tree.find_all(nodes.Name):
        if name.name in ("self", "super") and name.ctx == "load":
            return TemplateProblem(name.lineno, f"{{{{ {name.name} }}}} is not available here.")
    for attr in tree.find_all(nodes.Getattr):
        if attr.attr.startswith("_"):
            return _reach_problem(attr.lineno)
    for item in tree.find_all(nodes.Getitem):
        if isinstance(item.arg, nodes.Const) and str(item.arg.value).startswith("_"):
            return _reach_problem(item.lineno)
    for call in tree.find_all(nodes.Call):
        if isinstance(call.node, nodes.Getattr):
            return TemplateProblem(
                call.lineno,
                f"a template cannot run .{call.node.attr}(); use a filter such as |upper.",
            )
    for attr in tree.find_all(nodes.Getattr):
        if not (isinstance(attr.node, nodes.Name) and attr.node.name == "loop"):
            return TemplateProblem(
                attr.lineno, f"a variable has no parts: “.{attr.attr}” cannot be used here."
            )
    return None


def _reach_problem(line: int | None) -> TemplateProblem:
    return TemplateProblem(line, "This template tries to reach something it may not.")


# --- filling in ----------------------------------------------------------------------


def render(source: str, *, purpose: str, kind: str, values: Mapping[str, str]) -> str:
    """The message with the values filled in; never a message with a hole in it.

    Only the variables of the purpose reach the template; anything else in `values` is
    dropped. An empty value counts as missing, so a template that needs it fails with the
    variable's name (never the patient's data) instead of sending "Dear ,". A template can
    make a value optional with `{% if pay_url is defined %}…{% endif %}`.
    """
    template = _compiled(source, kind).template
    context = {
        name: values[name] for name in variable_names(purpose) if values.get(name, "").strip()
    }
    try:
        return _capped(template.generate(context))
    except SecurityError as exc:
        raise TemplateError(_reach_problem(_template_line(exc))) from None
    except UndefinedError as exc:
        raise TemplateError(_missing_problem(exc)) from None
    except TemplateError:
        raise
    except Exception as exc:  # noqa: BLE001 - any error inside a template is the template's
        # Only the type: the text of an error raised on a value could quote that value.
        raise TemplateError(
            TemplateProblem(
                _template_line(exc), f"this part cannot be filled in ({type(exc).__name__})."
            )
        ) from None


def _capped(chunks: Iterator[str]) -> str:
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            raise TemplateError(
                TemplateProblem(None, "this template makes a message far too long to send.")
            )
        parts.append(chunk)
    return "".join(parts)


def _missing_problem(exc: UndefinedError) -> TemplateProblem:
    match = re.fullmatch(r"'(\w+)' is undefined", exc.message or "")
    line = _template_line(exc)
    if match is None:
        return TemplateProblem(line, "this part refers to something Frontdesk does not fill in.")
    return TemplateProblem(
        line,
        f"the message needs {{{{ {match.group(1)} }}}}, which is not known for this "
        f"message (use {{% if {match.group(1)} is defined %}} … {{% endif %}} to make it "
        "optional).",
    )


def _template_line(exc: BaseException) -> int | None:
    """Jinja rewrites the traceback so the template's own frames carry its line numbers."""
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == "<template>":
            line = lineno
    return line


def render_email(
    source: str, *, purpose: str, values: Mapping[str, str], html_source: str | None = None
) -> RenderedEmail:
    """Subject, text and HTML of an email; the HTML is made from the text unless one is given.

    The subject line and the body are filled in apart, so a line break inside a value can
    neither end the subject early nor start a new header.
    """
    first, newline, rest = source.partition("\n")
    if not first.startswith(SUBJECT_PREFIX):
        raise TemplateError(_NO_SUBJECT)
    rendered = render(first, purpose=purpose, kind="email", values=values)
    subject = " ".join(rendered.removeprefix(SUBJECT_PREFIX).split())
    if not subject:
        raise TemplateError(TemplateProblem(1, "the subject is empty."))
    # The body keeps its line numbers: an error in it points at the line the clinic sees.
    body = render(newline + rest, purpose=purpose, kind="email", values=values)
    text = body.strip("\n") + "\n"
    if html_source is not None:
        html_body = render(html_source, purpose=purpose, kind="email_html", values=values)
    else:
        html_body = text_to_html(text)
    return RenderedEmail(subject=subject, text=text, html=html_body)


_NO_SUBJECT: Final = TemplateProblem(
    1, "the first line must be the subject, starting with “Subject:”."
)


_URL: Final = re.compile(r"https://[^\s<>\"]+")


def text_to_html(text: str) -> str:
    """A plain HTML body for a text message: escaped, paragraphs kept, links clickable."""
    paragraphs = [part for part in re.split(r"\n\s*\n", text.strip()) if part.strip()]
    rendered = []
    for paragraph in paragraphs:
        escaped = html.escape(paragraph.strip("\n"))
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        rendered.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return "<!DOCTYPE html>\n<html><body>\n" + "\n".join(rendered) + "\n</body></html>\n"


# --- samples and defaults ------------------------------------------------------------

_SAMPLES: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {
        "patient_first_name": "Alex",
        "patient_preferred_name": "Alex",
        "patient_full_name": "Alex Sample",
        "clinic_name": "Sunrise Family Clinic",
        "clinic_phone": "(555) 010-0123",
        "appointment_date": "Tuesday, March 10",
        "appointment_time": "9:30 AM",
        "weekday": "Tuesday",
        "provider_name": "Dr. Rivera",
        "location_name": "Main Street office",
        "location_address": "120 Main Street, Springfield",
        "confirm_instructions": "Please reply to this email or call us to confirm.",
        "due_date": "April 14",
        "recall_reason": "check-up",
        "balance": "$120.50",
        "pay_url": "https://pay.example.com/sunrise",
        "pay_instructions": "You can pay online, by phone or at the front desk.",
        "missed_date": "Tuesday, March 10",
        "survey_question": "How likely are you to recommend us to a friend or family member?",
        "reply_instructions": "Reply with a number from 0 to 10. A comment is welcome too.",
        "review_links": "Google: https://g.page/r/sunrise-clinic/review\n"
        "Yelp: https://www.yelp.com/writeareview/biz/sunrise-clinic",
        "review_link_first": "https://g.page/r/sunrise-clinic/review",
        "education_title": "Flu season: protect yourself",
        "education_body": "A yearly flu shot is the best protection. Ask us for yours.",
        "education_sms": "Flu season is here: a yearly flu shot is the best protection.",
        "education_links": "CDC: Flu: https://www.cdc.gov/flu/",
        "pollen_level": "high",
        "last_visit_date": "March 10, 2026",
    },
    "es": {
        "patient_first_name": "Lucía",
        "patient_preferred_name": "Lucía",
        "patient_full_name": "Lucía Ejemplo",
        "clinic_name": "Sunrise Family Clinic",
        "clinic_phone": "(555) 010-0123",
        "appointment_date": "martes 10 de marzo",
        "appointment_time": "9:30",
        "weekday": "martes",
        "provider_name": "Dra. Rivera",
        "location_name": "Sede Main Street",
        "location_address": "120 Main Street, Springfield",
        "confirm_instructions": "Por favor, responda a este correo o llámenos para confirmar.",
        "due_date": "14 de abril",
        "recall_reason": "revisión",
        "balance": "$120.50",
        "pay_url": "https://pay.example.com/sunrise",
        "pay_instructions": "Puede pagar en línea, por teléfono o en la recepción.",
        "missed_date": "martes 10 de marzo",
        "survey_question": "¿Qué tan probable es que nos recomiende?",
        "reply_instructions": "Responda con un número del 0 al 10.",
        "review_links": "Google: https://g.page/r/sunrise-clinic/review\n"
        "Yelp: https://www.yelp.com/writeareview/biz/sunrise-clinic",
        "review_link_first": "https://g.page/r/sunrise-clinic/review",
        "education_title": "Temporada de gripe: protéjase",
        "education_body": "La vacuna anual contra la gripe es la mejor protección.",
        "education_sms": "Llega la gripe: la vacuna anual es la mejor protección.",
        "education_links": "CDC: Gripe: https://www.cdc.gov/flu/",
        "pollen_level": "alto",
        "last_visit_date": "10 de marzo de 2026",
    },
}


_SMS_CONFIRM: Final = {"en": "Reply C to confirm.", "es": "Responda C para confirmar."}
_LETTER_CONFIRM: Final = {
    "en": "Please call us at (555) 010-0123 to confirm.",
    "es": "Por favor, llámenos al (555) 010-0123 para confirmar.",
}


def sample_values(purpose: str, language: str, kind: str = "") -> dict[str, str]:
    """Made-up values for the editor's preview: no real patient, the purpose's variables only.

    A text message is confirmed by replying C, an email by replying: the sample says what
    the real message of that kind would.
    """
    code = _base_language(language)
    samples = dict(_SAMPLES.get(code, _SAMPLES["en"]))
    if kind == "sms":
        samples["confirm_instructions"] = _SMS_CONFIRM.get(code, _SMS_CONFIRM["en"])
    elif kind == "letter":
        samples["confirm_instructions"] = _LETTER_CONFIRM.get(code, _LETTER_CONFIRM["en"])
    return {name: samples[name] for name in variable_names(purpose)}


def _base_language(language: str) -> str:
    return language.replace("_", "-").split("-")[0].lower()


def templates_dir() -> Path:
    return resource_root() / "resources" / "templates"


def default_template(purpose: str, kind: str, language: str = "en") -> str:
    """The ready-made template shipped in resources/templates/<purpose>.<kind>.<language>.j2.

    "es-MX" falls back to "es"; a language with none raises TemplateError, so the caller
    chooses what to do (the clinic's own language, usually) instead of a silent English.
    """
    _variables(purpose)
    _env(kind)
    folder = templates_dir()
    for code in dict.fromkeys((language, _base_language(language))):
        path = folder / f"{purpose}.{kind}.{code}.j2"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise TemplateError(
        TemplateProblem(None, "Frontdesk has no ready-made message of this kind in this language.")
    )


def available_defaults() -> list[tuple[str, str, str]]:
    """(purpose, kind, language) of every shipped default, for the editor's "Start from" list."""
    found = []
    for path in sorted(templates_dir().glob("*.j2")):
        parts = path.name.removesuffix(".j2").split(".")
        if len(parts) == 3 and parts[0] in VARIABLES and parts[1] in KINDS:
            found.append((parts[0], parts[1], parts[2]))
    return found
