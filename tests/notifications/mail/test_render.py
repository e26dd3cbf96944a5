"""Rendering the notice kinds: German content, escaping, strictness and overrides."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import pytest
from notify_contexts import (
    FULL,
    MINIMAL,
    consultation_opened,
    escalation,
    reminder,
    status_change_full,
    status_change_minimal,
)

from notifications import KINDS, Renderer
from workflow.process.german import FILTERS

FOOTER = "Diese Nachricht wurde automatisch für die Koordinierung der Ruhr-Konferenz versandt."


def unwrapped(text: str) -> str:
    """The plain text with the line wrapping (notifications.mail.wrap) undone: words, one space."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(formatting=FILTERS)


def test_every_kind_has_a_full_and_a_minimal_example() -> None:
    assert set(FULL) == set(KINDS) == set(MINIMAL)


@pytest.mark.parametrize("examples", [FULL, MINIMAL], ids=["full", "minimal"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_subject_text_and_html_in_german(
    renderer: Renderer, kind: str, examples: dict[str, Callable[[], dict[str, Any]]]
) -> None:
    # given an engine-shaped context
    context = examples[kind]()
    # when
    notice = renderer.render(kind, context)
    # then: German salutation, closing and the automatic-sending footer, in both bodies
    for body in (unwrapped(notice.text), notice.html):
        assert "Sehr geehrte Damen und Herren," in body
        assert "Mit freundlichen Grüßen" in body
        assert FOOTER in body
        assert "ruhrflow" not in body
    # and no line of the plain text is longer than 78 characters
    assert max(len(line) for line in notice.text.splitlines()) <= 78
    assert notice.subject and "\n" not in notice.subject and "\r" not in notice.subject
    assert notice.html.lstrip().startswith("<!DOCTYPE html>")
    assert '<html lang="de">' in notice.html


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "digest"])
def test_the_footer_names_the_proposal_key(renderer: Renderer, kind: str) -> None:
    notice = renderer.render(kind, FULL[kind]())
    assert notice.text.rstrip().endswith("Vorschlag: RK-03-01")
    assert "Vorschlag: RK-03-01</p>" in notice.html
    assert "RK-03-01" in notice.subject


def test_status_change_shows_transition_comment_fields_next_steps_and_deadlines(
    renderer: Renderer,
) -> None:
    # when
    notice = renderer.render("status_change", status_change_full())
    # then
    assert notice.subject == (
        "Ruhr-Konferenz RK-03-01: Vom Kabinett beschlossen – "
        "Zentrale Sicherheitskooperation Ruhr gegen Clankriminalität"
    )
    for body in (notice.text, notice.html):
        assert "Kabinettbeschluss" in body
        assert "Kabinettvorlage" in body
        assert "Koordinierung Staatskanzlei (stk-koordination)" in body
        assert "05.11.2019, 09:00 Uhr" in body  # 08:00 UTC shown in Berlin time
        assert "Kabinettbeschluss vom 5.11.2019" in body  # the comment
        assert "decision_date: 05.11.2019, 10:30 Uhr" in body  # a free field, formatted
        assert "Finanzierung über die Ergänzungsvorlage sichern" in body
        assert "Nicht weiterverfolgen" in body
        assert "Meldung zur Ergänzungsvorlage: bis 27.11.2019, 00:00 Uhr" in body
        assert "3. Gelebte Vielfalt – starker Zusammenhalt" in body
        assert "Ministerium des Innern (IM)" in body


def test_status_change_without_comment_fields_steps_or_deadlines_says_so(
    renderer: Renderer,
) -> None:
    notice = renderer.render("status_change", status_change_minimal())
    for body in (notice.text, notice.html):
        assert "Kommentar" not in body
        assert "Angaben zum Vorgang" not in body
        assert "Laufende Fristen" not in body
        assert "In diesem Stand sind keine weiteren Schritte vorgesehen." in body


@pytest.mark.parametrize(
    ("days_left", "phrase"),
    [(5, "endet in 5 Tagen"), (1, "endet morgen"), (0, "endet heute"), (-1, "bereits abgelaufen")],
)
def test_reminder_phrases_the_remaining_time(
    renderer: Renderer, days_left: int, phrase: str
) -> None:
    notice = renderer.render("reminder", reminder(days_left=days_left))
    assert phrase in notice.subject
    assert phrase in notice.text
    assert phrase in notice.html
    assert "Fristende:              27.11.2019, 00:00 Uhr" in notice.text
    assert "Erinnerungsstufe:       T-3" in notice.text


@pytest.mark.parametrize(
    ("overdue_days", "phrase"), [(4, "seit 4 Tagen"), (1, "seit einem Tag"), (0, "seit heute")]
)
def test_escalation_phrases_how_long_the_deadline_is_overdue(
    renderer: Renderer, overdue_days: int, phrase: str
) -> None:
    notice = renderer.render("escalation", escalation(overdue_days=overdue_days))
    assert notice.subject.startswith("Frist überschritten:")
    assert phrase in notice.subject
    assert f"{phrase} abgelaufen" in unwrapped(notice.text)
    assert "Eskalationsstufe:       Eskalation" in notice.text


def test_consultation_opened_lists_the_groups_and_the_end(renderer: Renderer) -> None:
    notice = renderer.render("consultation_opened", consultation_opened())
    assert notice.subject.startswith("Beteiligung eröffnet bis 27.11.2019:")
    assert "- Kommunen\n- IHK\n- HWK\n- Verbände\n" in notice.text
    assert "<li>Verbände</li>" in notice.html
    assert "Bis zum 27.11.2019, 00:00 Uhr können folgende Gruppen Stellung nehmen" in notice.text


def test_consultation_opened_without_groups_still_names_the_end(renderer: Renderer) -> None:
    notice = renderer.render("consultation_opened", consultation_opened(groups=[]))
    assert "werden gesondert bekanntgegeben" in notice.text
    assert "<ul" not in notice.html.split("Sehr geehrte")[1]


def test_digest_groups_by_state_and_lists_changes_and_upcoming_deadlines(
    renderer: Renderer,
) -> None:
    notice = renderer.render("digest", FULL["digest"]())
    assert notice.subject == "Wochenübersicht Ruhr-Konferenz für MULNV: 04.11.2019 bis 10.11.2019"
    text = notice.text
    assert "In Umsetzung (2):\n- RK-14-01 – Offensive Grüne Infrastruktur 2030\n" in text
    assert "In Prüfung (0):\n- keine\n" in text
    assert "05.11.2019       1  1 Vorschlag: Umsetzung begonnen am 05.11.2019\n" in text
    assert "                    neuer Stand: In Umsetzung\n" in text
    assert "                    durch: Referat 42, MULNV\n" in text
    assert "                    RK-14-01 – Offensive Grüne Infrastruktur 2030\n" in text
    assert "Fortschrittsbericht: bis 27.11.2019, 00:00 Uhr" in text
    assert text.rstrip().endswith("Wochenübersicht für das Ressort MULNV")


def test_empty_digest_says_there_is_nothing_to_report(renderer: Renderer) -> None:
    notice = renderer.render("digest", MINIMAL["digest"]())
    for body in (notice.text, notice.html):
        assert "Ihrem Ressort sind derzeit keine Vorschläge zugeordnet." in body
        assert "Im Berichtszeitraum gab es keine Änderungen." in body
        assert "Derzeit stehen keine Fristen an." in body


def test_html_escapes_markup_in_user_text_but_the_text_part_keeps_it(renderer: Renderer) -> None:
    # given a title and a comment with markup
    context = status_change_full(title='<script>alert("x")</script> & Co')
    context["transition"]["comment"] = "<b>fett</b>"
    # when
    notice = renderer.render("status_change", context)
    # then the HTML shows it as text, escaped exactly once
    assert "<script>" not in notice.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in notice.html
    assert "&lt;b&gt;fett&lt;/b&gt;" in notice.html
    assert "&amp;lt;" not in notice.html
    # and the plain text is not HTML, so it is not escaped
    assert '<script>alert("x")</script> & Co' in notice.text
    assert '<script>alert("x")</script> & Co' in notice.subject


@pytest.mark.parametrize("title", ["{{ 7*7 }}", "{% raw %}", "{% for x in range(3) %}x"])
def test_user_text_is_data_and_never_evaluated_as_a_template(
    renderer: Renderer, title: str
) -> None:
    # given template syntax in user-supplied text
    context = status_change_full(title=title)
    context["transition"]["comment"] = title
    # when
    notice = renderer.render("status_change", context)
    # then it comes out verbatim
    assert title in notice.subject
    assert notice.text.count(title) >= 3  # intro, comment, proposal block
    assert "49" not in notice.text


def test_a_missing_context_value_raises_instead_of_rendering_blank(renderer: Renderer) -> None:
    # given a context without the lead ministry's name
    context = status_change_full()
    del context["proposal"]["lead_name"]
    # then
    with pytest.raises(jinja2.UndefinedError, match="lead_name"):
        renderer.render("status_change", context)


def test_a_missing_top_level_key_raises(renderer: Renderer) -> None:
    context = status_change_full()
    del context["next_steps"]
    with pytest.raises(jinja2.UndefinedError, match="next_steps"):
        renderer.render("status_change", context)


def test_an_unknown_kind_is_refused(renderer: Renderer) -> None:
    with pytest.raises(ValueError, match="unknown notice kind 'kabinett'"):
        renderer.render("kabinett", {})


def test_templates_in_the_override_directory_win_file_by_file(tmp_path: Path) -> None:
    # given an override for one subject and for the shared text layout
    (tmp_path / "reminder.subject.txt").write_text(
        "Fristerinnerung {{ proposal.key }}\r\nmit Umbruch", encoding="utf-8"
    )
    (tmp_path / "_base.txt").write_text(
        "Hallo,\n{% block body %}{% endblock %}\nGruß aus dem Override\n", encoding="utf-8"
    )
    renderer = Renderer(override_dir=tmp_path, formatting=FILTERS)
    # when
    notice = renderer.render("reminder", reminder())
    status = renderer.render("status_change", status_change_full())
    # then the overrides are used, reduced to one line for the subject ...
    assert notice.subject == "Fristerinnerung RK-03-01 mit Umbruch"
    assert notice.text.startswith("Hallo,\n")
    assert "Gruß aus dem Override" in status.text
    # ... and everything else still comes from the package
    assert "Sehr geehrte Damen und Herren," in notice.html
    assert status.subject.startswith("Ruhr-Konferenz RK-03-01:")


def test_an_override_html_template_is_autoescaped_too(tmp_path: Path) -> None:
    # given an override HTML template and markup in the title
    (tmp_path / "reminder.html").write_text("<p>{{ proposal.title }}</p>", encoding="utf-8")
    context = reminder()
    context["proposal"]["title"] = "<i>x</i>"
    # when
    notice = Renderer(override_dir=tmp_path, formatting=FILTERS).render("reminder", context)
    # then
    assert notice.html == "<p>&lt;i&gt;x&lt;/i&gt;</p>"


def test_a_renderer_that_stops_reloading_keeps_the_template_it_read(tmp_path: Path) -> None:
    # given two renderers that have read an override template, one told to stop reloading
    template = tmp_path / "reminder.subject.txt"
    template.write_text("Erste Fassung", encoding="utf-8")
    fixed, reloading = (
        Renderer(tmp_path, formatting=FILTERS),
        Renderer(tmp_path, formatting=FILTERS),
    )
    assert fixed.subject("reminder", {}) == reloading.subject("reminder", {}) == "Erste Fassung"
    fixed.stop_reloading()
    # when the file changes on disk
    template.write_text("Zweite Fassung", encoding="utf-8")
    os.utime(template, (1, 1))  # another modification time, whatever the clock's resolution
    # then only the reloading one reads it again
    assert fixed.subject("reminder", {}) == "Erste Fassung"
    assert reloading.subject("reminder", {}) == "Zweite Fassung"
