"""Message templates: defaults that work, broken ones refused with line and reason, no escapes."""

from __future__ import annotations

import pytest

from app.errors import InvalidInputError
from app.reminders.sms_text import count_segments
from app.reminders.templates import (
    KINDS,
    VARIABLES,
    TemplateError,
    available_defaults,
    check_template,
    default_template,
    render,
    render_email,
    sample_values,
    variable_names,
)

SHIPPED = [
    ("appointment", "email"),
    ("appointment", "sms"),
    ("appointment", "letter"),
    ("recall", "email"),
    ("recall", "sms"),
    ("recall", "letter"),
    ("billing", "email"),
    ("billing", "letter"),
    ("no_show", "sms"),
    ("no_show", "email"),
    ("birthday", "sms"),
    ("birthday", "email"),
    ("survey", "sms"),
    ("survey", "email"),
    ("review", "sms"),
    ("review", "email"),
    ("education", "sms"),
    ("education", "email"),
    ("education", "letter"),
    ("allergy", "sms"),
    ("allergy", "email"),
    ("reactivation", "sms"),
    ("reactivation", "email"),
    ("reactivation", "letter"),
]
DEFAULTS = [(purpose, kind, language) for purpose, kind in SHIPPED for language in ("en", "es")]


def _values(purpose: str, **changes: str) -> dict[str, str]:
    return {**sample_values(purpose, "en"), **changes}


# --- the defaults ------------------------------------------------------------------


def test_every_listed_default_is_shipped_in_english_and_spanish() -> None:
    assert sorted(available_defaults()) == sorted(DEFAULTS)


@pytest.mark.parametrize(("purpose", "kind", "language"), DEFAULTS)
def test_default_template_passes_its_check_and_fills_in_every_value(
    purpose: str, kind: str, language: str
) -> None:
    source = default_template(purpose, kind, language)
    check_template(source, purpose=purpose, kind=kind, language=language)

    values = sample_values(purpose, language)
    text = render(source, purpose=purpose, kind=kind, values=values)

    assert "{" not in text and "}" not in text
    # A health tip by text is the library item's own two-part text after the clinic's
    # name: a greeting would push the longer tips into a third part.
    if (purpose, kind) != ("education", "sms"):
        assert values["patient_preferred_name"] in text or values["patient_full_name"] in text
    assert values["clinic_name"] in text


@pytest.mark.parametrize(
    ("purpose", "language"),
    [(p, lang) for p, k in SHIPPED if k == "sms" for lang in ("en", "es")],
)
def test_default_text_messages_fit_in_two_parts(purpose: str, language: str) -> None:
    text = render(
        default_template(purpose, "sms", language),
        purpose=purpose,
        kind="sms",
        values=sample_values(purpose, language, "sms"),
    )
    assert count_segments(text).segments <= 2


@pytest.mark.parametrize(
    ("language", "words"), [("en", "Reply C to confirm."), ("es", "Responda C para confirmar.")]
)
def test_appointment_text_asks_to_reply_c_only_when_the_touch_asks(
    language: str, words: str
) -> None:
    source = default_template("appointment", "sms", language)
    asking = sample_values("appointment", language, "sms")
    assert words in render(source, purpose="appointment", kind="sms", values=asking)
    quiet = {**asking, "confirm_instructions": ""}
    text = render(source, purpose="appointment", kind="sms", values=quiet)
    assert "C" not in text.replace(quiet["clinic_name"], "").split(":", 1)[1].split()


@pytest.mark.parametrize("kind", ["sms", "email", "letter"])
def test_defaults_work_for_a_clinic_without_a_phone_or_a_visit_without_a_provider(
    kind: str,
) -> None:
    for purpose, shipped_kind, language in DEFAULTS:
        if shipped_kind != kind:
            continue
        values = sample_values(purpose, language, kind)
        for optional in ("clinic_phone", "provider_name", "location_name", "location_address"):
            values.pop(optional, None)
        text = render(
            default_template(purpose, kind, language), purpose=purpose, kind=kind, values=values
        )
        assert "{" not in text and "  ," not in text and " ." not in text


def test_default_email_splits_into_subject_text_and_html() -> None:
    email = render_email(
        default_template("appointment", "email", "en"),
        purpose="appointment",
        values=_values("appointment"),
    )
    assert email.subject == "Your appointment at Sunrise Family Clinic on Tuesday, March 10"
    assert email.text.startswith("Dear Alex,\n")
    assert "<p>Dear Alex,</p>" in email.html


def test_billing_default_leaves_out_the_payment_link_when_the_clinic_has_none() -> None:
    source = default_template("billing", "email", "en")
    with_link = render(source, purpose="billing", kind="email", values=_values("billing"))
    without = render(source, purpose="billing", kind="email", values=_values("billing", pay_url=""))

    assert "Pay online: https://pay.example.com/sunrise" in with_link
    assert "Pay online" not in without
    assert "You can pay online, by phone or at the front desk." in without


def test_regional_language_falls_back_to_its_base_and_unknown_language_is_refused() -> None:
    assert default_template("recall", "sms", "es-MX") == default_template("recall", "sms", "es")
    with pytest.raises(TemplateError):
        default_template("recall", "sms", "fr")


# --- minimum necessary ---------------------------------------------------------------


def test_no_purpose_offers_a_diagnosis_condition_medication_or_insurance_variable() -> None:
    forbidden = ("diagnos", "condition", "medication", "medicine", "insurance", "icd", "drug")
    for purpose, variables in VARIABLES.items():
        for variable in variables:
            assert not any(word in variable.name for word in forbidden), (purpose, variable)
            assert variable.description.strip()


def test_values_outside_the_purpose_never_reach_the_template() -> None:
    values = _values("appointment", diagnosis="secret", recall_reason="check-up")
    with pytest.raises(TemplateError) as caught:
        render("Hi {{ diagnosis }}", purpose="appointment", kind="sms", values=values)
    assert "secret" not in str(caught.value)
    with pytest.raises(TemplateError):
        render("{{ recall_reason }}", purpose="appointment", kind="sms", values=values)


# --- broken templates refused on save --------------------------------------------------


def test_unclosed_if_is_reported_on_the_line_it_opens() -> None:
    source = "Subject: Hello\n\n{% if weekday %}\nSee you {{ weekday }}.\n\nBye"
    with pytest.raises(TemplateError) as caught:
        check_template(source, purpose="appointment", kind="email")
    assert caught.value.problem.line == 3
    assert str(caught.value) == "Line 3: a {% if %} is not closed (it needs a {% endif %})."


def test_unclosed_variable_is_reported_on_its_line() -> None:
    source = "Hi {{ patient_first_name }},\nsee you {{ appointment_date\nBye"
    with pytest.raises(TemplateError) as caught:
        check_template(source, purpose="appointment", kind="sms")
    assert caught.value.problem.line in (2, 3)
    assert "not closed" in caught.value.problem.reason


def test_stray_end_tag_is_reported_on_its_line() -> None:
    source = "Hi\nthere\n{% endfor %}"
    with pytest.raises(TemplateError) as caught:
        check_template(source, purpose="birthday", kind="sms")
    assert caught.value.problem.line == 3
    assert "{% endfor %}" in caught.value.problem.reason


def test_unknown_variable_is_refused_with_its_name_line_and_the_choices() -> None:
    source = "Hi {{ patient_first_name }},\nabout your {{ diagnosis }}."
    with pytest.raises(TemplateError) as caught:
        check_template(source, purpose="appointment", kind="sms")
    problem = caught.value.problem
    assert problem.line == 2
    assert problem.reason.startswith("{{ diagnosis }} is not a variable Frontdesk fills in")
    assert "appointment_time" in problem.reason
    assert isinstance(caught.value, InvalidInputError)


def test_unknown_filter_is_refused_with_the_filters_that_exist() -> None:
    with pytest.raises(TemplateError) as caught:
        check_template("{{ clinic_name|reverse }}", purpose="birthday", kind="sms")
    assert "|reverse is not a filter" in str(caught.value)
    assert "upper" in str(caught.value)


def test_email_without_a_subject_line_is_refused() -> None:
    with pytest.raises(TemplateError) as caught:
        check_template("Dear {{ patient_first_name }}", purpose="birthday", kind="email")
    assert "Subject:" in str(caught.value)


def test_text_message_longer_than_six_parts_is_refused() -> None:
    source = "{{ clinic_name }}: " + "please come in " * 70
    with pytest.raises(TemplateError) as caught:
        check_template(source, purpose="birthday", kind="sms")
    assert "parts" in str(caught.value)
    check_template(source, purpose="birthday", kind="email_html")  # the limit is for SMS only


def test_unknown_purpose_or_kind_is_refused_in_plain_words() -> None:
    with pytest.raises(TemplateError):
        check_template("Hi", purpose="marketing_blast", kind="sms")
    with pytest.raises(TemplateError):
        check_template("Hi", purpose="birthday", kind="fax")
    assert set(KINDS) == {"sms", "email", "email_html", "letter"}


# --- the sandbox -----------------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ self }}",
    "{{ self._TemplateReference__context }}",
    "{{ patient_first_name['__class__'] }}",
    "{{ patient_first_name|attr('__class__') }}",
    "{{ patient_first_name.format }}",
    "{{ patient_first_name.center(100000000) }}",
    "{{ 'x' * 100000000 }}",
    "{{ 9 ** 9 ** 9 }}",
    "{{ range(10) }}",
    "{% include 'secrets.txt' %}",
    "{% extends 'base.html' %}",
    "{% import 'macros' as m %}",
    "{% autoescape false %}{{ patient_first_name }}{% endautoescape %}",
    "{{ patient_first_name|safe }}",
]


@pytest.mark.parametrize("source", ESCAPES)
@pytest.mark.parametrize("kind", ["sms", "email_html"])
def test_sandbox_escape_is_refused_on_save_and_at_send(source: str, kind: str) -> None:
    with pytest.raises(TemplateError):
        check_template(source, purpose="birthday", kind=kind)
    with pytest.raises(TemplateError) as caught:
        render(source, purpose="birthday", kind=kind, values=_values("birthday"))
    assert "class" not in str(caught.value) and "object" not in str(caught.value)


def test_attribute_name_built_at_run_time_is_stopped_by_the_sandbox() -> None:
    # Nothing to see when checking the tree: the name exists only when the template runs.
    source = "{% set name = '_' ~ '_class_' ~ '_' %}{{ patient_first_name[name] }}"
    with pytest.raises(TemplateError) as caught:
        render(source, purpose="birthday", kind="sms", values=_values("birthday"))
    assert str(caught.value) == "Line 1: This template tries to reach something it may not."


def test_method_name_built_at_run_time_is_stopped_by_the_sandbox() -> None:
    source = "{% set name = 'up' ~ 'per' %}{{ patient_first_name[name] }}"
    with pytest.raises(TemplateError) as caught:
        render(source, purpose="birthday", kind="sms", values=_values("birthday"))
    assert "reach something it may not" in str(caught.value)


def test_ordinary_conditions_loops_and_filters_still_work() -> None:
    source = (
        "{% if weekday == 'Tuesday' %}{{ weekday|upper }}{% endif %}\n"
        "{% for letter in 'ab' %}{{ loop.index }}{{ letter }}{% endfor %}\n"
        "{{ provider_name|lower }}"
    )
    check_template(source, purpose="appointment", kind="sms")
    text = render(source, purpose="appointment", kind="sms", values=_values("appointment"))
    # The line break right after a block tag goes with it, so an {% if %} line leaves no gap.
    assert text == "TUESDAY1a2bdr. rivera"


def test_runaway_loop_is_stopped_before_it_fills_memory() -> None:
    loop = "{% for a in '0123456789' %}"
    source = loop * 5 + "x" + "{% endfor %}" * 5
    with pytest.raises(TemplateError) as caught:
        render(source, purpose="birthday", kind="sms", values=_values("birthday"))
    assert "too long" in str(caught.value)


# --- escaping and missing values ----------------------------------------------------------


def test_html_body_escapes_a_value_holding_a_script() -> None:
    values = _values("birthday", patient_preferred_name="<script>alert(1)</script>")
    html = render(
        "<p>Dear {{ patient_preferred_name }}</p>",
        purpose="birthday",
        kind="email_html",
        values=values,
    )
    assert html == "<p>Dear &lt;script&gt;alert(1)&lt;/script&gt;</p>"


def test_html_made_from_an_email_text_escapes_values_too() -> None:
    values = _values("birthday", patient_preferred_name="<b>Al</b> & co")
    email = render_email(default_template("birthday", "email"), purpose="birthday", values=values)
    assert "Dear <b>Al</b> & co," in email.text
    assert "Dear &lt;b&gt;Al&lt;/b&gt; &amp; co," in email.html
    assert "<b>" not in email.html


def test_text_message_is_not_html_escaped() -> None:
    values = _values("birthday", clinic_name="Smith & Jones <Family>")
    text = render("From {{ clinic_name }}", purpose="birthday", kind="sms", values=values)
    assert text == "From Smith & Jones <Family>"


def test_line_break_in_a_value_cannot_add_an_email_header() -> None:
    values = _values("birthday", clinic_name="Clinic\nBcc: someone@example.com")
    email = render_email(default_template("birthday", "email"), purpose="birthday", values=values)
    assert "\n" not in email.subject
    assert email.subject == "Happy birthday from Clinic Bcc: someone@example.com"


@pytest.mark.parametrize("missing", [None, "", "   "])
def test_missing_value_is_an_error_naming_the_variable_never_a_hole(missing: str | None) -> None:
    values = _values("appointment", patient_preferred_name="Zelda Quartermaine")
    if missing is None:
        del values["appointment_time"]
    else:
        values["appointment_time"] = missing
    source = "Hi {{ patient_preferred_name }},\nsee you at {{ appointment_time }}."
    with pytest.raises(TemplateError) as caught:
        render(source, purpose="appointment", kind="sms", values=values)
    assert caught.value.problem.line == 2
    assert "{{ appointment_time }}" in str(caught.value)
    assert "Zelda" not in str(caught.value)


def test_optional_value_can_be_guarded_with_is_defined() -> None:
    source = "Hi{% if location_name is defined %} at {{ location_name }}{% endif %}."
    values = _values("appointment", location_name="")
    assert render(source, purpose="appointment", kind="sms", values=values) == "Hi."


def test_error_while_filling_in_names_only_its_kind_not_the_value() -> None:
    values = _values("birthday", patient_first_name="Zelda")
    with pytest.raises(TemplateError) as caught:
        render("{{ patient_first_name + 1 }}", purpose="birthday", kind="sms", values=values)
    assert "Zelda" not in str(caught.value)
    assert str(caught.value).startswith("Line 1: ")


# --- samples ---------------------------------------------------------------------------------


def test_sample_values_cover_exactly_the_variables_of_each_purpose() -> None:
    for purpose in VARIABLES:
        for language in ("en", "es", "fr"):
            values = sample_values(purpose, language)
            assert tuple(values) == variable_names(purpose)
            assert all(value.strip() for value in values.values())


@pytest.mark.parametrize("kind", ["letter", "email"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_the_visit_block_keeps_one_line_each_for_time_place_and_address(
    kind: str, language: str
) -> None:
    values = sample_values("appointment", language, kind)
    text = render(
        default_template("appointment", kind, language),
        purpose="appointment",
        kind=kind,
        values=values,
    )
    lines = text.splitlines()
    place = lines.index("    " + values["location_name"])
    assert lines[place + 1] == "    " + values["location_address"]
    assert values["appointment_time"] in lines[place - 1]
    assert lines[place + 2] == ""  # a blank line before the confirm sentence
