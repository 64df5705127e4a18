"""Settings' review links box on a real clinic: good links are saved in order, a bad one is
explained next to the rows and nothing is saved."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.clinic import Clinic
from app.engagement import surveys
from app.engagement.surveys import ReviewLink
from app.store.changes import Changes
from tests.support.acting import administrator_acting  # noqa: F401
from tests.ui.test_accessibility import unnamed_controls
from ui.bus import DataBus
from ui.engagement_settings.review_links import ReviewLinksBox


def shown_box(qtbot: QtBot, clinic: Clinic, bus: DataBus | None = None) -> ReviewLinksBox:
    box = ReviewLinksBox(clinic, bus or DataBus())
    qtbot.addWidget(box)
    box.resize(round(900 / box.devicePixelRatioF()), round(500 / box.devicePixelRatioF()))
    box.show()
    return box


def test_links_typed_with_gaps_are_saved_in_order_and_published(
    qtbot: QtBot, clinic: Clinic
) -> None:
    bus = DataBus()
    published: list[Changes] = []
    bus.changed.connect(published.append)
    box = shown_box(qtbot, clinic, bus)

    box.names[0].setText("Google")
    box.links[0].setText("https://g.page/r/lakeside/review")
    box.names[2].setText(" Yelp ")
    box.links[2].setText("https://www.yelp.com/writeareview/biz/lakeside")
    assert box.save()

    assert surveys.review_links(clinic) == [
        ReviewLink("Google", "https://g.page/r/lakeside/review"),
        ReviewLink("Yelp", "https://www.yelp.com/writeareview/biz/lakeside"),
    ]
    assert published and published[-1].touches("setting")
    assert [box.names[i].text() for i in range(3)] == ["Google", "Yelp", ""]
    assert box.status.text() == "Saved."


def test_a_link_that_is_not_https_is_explained_inline_and_nothing_is_saved(
    qtbot: QtBot, clinic: Clinic
) -> None:
    surveys.save_review_links(clinic, [ReviewLink("Google", "https://g.page/r/old/review")])
    box = shown_box(qtbot, clinic)

    box.names[0].setText("Google")
    box.links[0].setText("https://g.page/r/new/review")
    box.names[1].setText("Yelp")
    box.links[1].setText("www.yelp.com/biz/lakeside")
    assert not box.save()

    assert box.error.isVisible()
    assert box.error.text().startswith("Review link 2:")
    assert "https://" in box.error.text()
    assert box.links[1].accessibleDescription() == box.error.text()
    assert surveys.review_links(clinic) == [ReviewLink("Google", "https://g.page/r/old/review")]


def test_the_box_says_when_no_review_requests_go_out(qtbot: QtBot, clinic: Clinic) -> None:
    box = shown_box(qtbot, clinic)

    assert "no review requests go out" in box.status.text()


def test_screenshot_of_the_review_links_box(
    qtbot: QtBot, clinic: Clinic, app_looks: QApplication, tmp_path: Path
) -> None:
    folder = Path(os.environ.get("FRONTDESK_SHOTS_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    surveys.save_review_links(clinic, [ReviewLink("Google", "https://g.page/r/lakeside/review")])
    box = shown_box(qtbot, clinic)
    box.names[1].setText("Yelp")
    box.links[1].setText("yelp.com/biz/lakeside")
    box.save()
    # As in Settings, where the box sits in a scroll area at its natural height.
    box.resize(box.width(), max(box.height(), box.sizeHint().height()))
    QApplication.processEvents()
    assert box.grab().save(str(folder / "review-links.png"))


def test_every_control_of_the_review_links_box_has_a_spoken_name(
    qtbot: QtBot, clinic: Clinic
) -> None:
    assert unnamed_controls(shown_box(qtbot, clinic)) == []
