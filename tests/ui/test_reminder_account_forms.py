"""Settings ▸ Email and text messages: the accounts are checked and saved, and "Send a test
message" really reaches the loopback mail server and SMS service, in the background."""

from __future__ import annotations

import json

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.clinic import Clinic, put_setting
from app.reminders.accounts import email_settings, sms_account
from tests.support.acting import administrator_acting  # noqa: F401
from tests.support.fake_smtp import HOST, running_smtp
from tests.support.fake_twilio import account_for, running_fake_twilio
from ui.bus import DataBus
from ui.reminder_settings.accounts import AccountsTab, EmailForm, SmsForm


@pytest.fixture
def tab(qtbot: QtBot, clinic: Clinic, app_looks: QApplication) -> AccountsTab:
    widget = AccountsTab(clinic, DataBus())
    qtbot.addWidget(widget)
    widget.resize(1280, 720)
    widget.show()
    return widget


def _fill_email(form: EmailForm, port: int) -> None:
    form.host.setText(HOST)
    form.security.setCurrentIndex(form.security.findData("none"))
    form.port.setValue(port)
    form.sender_address.setText("reception@lakeside.example")


def _fill_sms(form: SmsForm, account: object) -> None:
    from app.reminders.sms_channel import SmsAccount

    assert isinstance(account, SmsAccount)
    form.account_sid.setText(account.account_sid)
    form.auth_token.setText(account.auth_token)
    form.sender_edit.setText(account.sender)
    form.base_url.setText(account.base_url)


def test_mail_settings_are_saved_and_read_back(tab: AccountsTab, clinic: Clinic) -> None:
    form = tab.email
    _fill_email(form, 2525)
    form.username.setText("")
    form.sender_name.setText("Lakeside reception")

    assert form.save()

    saved = email_settings(clinic)
    assert saved is not None
    assert (saved.host, saved.port, saved.security) == (HOST, 2525, "none")
    assert saved.sender_name == "Lakeside reception"
    assert form.status.text() == "Saved."
    assert not tab.has_unsaved_changes()


def test_bad_mail_settings_are_shown_beside_the_field_and_nothing_is_saved(
    tab: AccountsTab, clinic: Clinic
) -> None:
    form = tab.email
    form.sender_address.setText("reception@lakeside.example")
    assert not form.save()
    assert "mail server name is missing" in form.errors["host"].text()
    assert form.errors["host"].isVisible()

    form.host.setText("smtp.lakeside.example")
    form.security.setCurrentIndex(form.security.findData("none"))
    form.username.setText("desk")
    form.password.setText("secret")
    assert not form.save()
    assert "unencrypted" in form.errors["security"].text()
    assert email_settings(clinic) is None


def test_the_reply_to_address_is_saved_and_filled_in_again(
    qtbot: QtBot, tab: AccountsTab, clinic: Clinic, app_looks: QApplication
) -> None:
    form = tab.email
    assert form.reply_to.accessibleName() == "Replies go to"
    _fill_email(form, 2525)
    form.reply_to.setText(" frontdesk@lakeside.example ")

    assert form.save()

    saved = email_settings(clinic)
    assert saved is not None and saved.reply_to == "frontdesk@lakeside.example"
    reopened = AccountsTab(clinic, DataBus())
    qtbot.addWidget(reopened)
    assert reopened.email.reply_to.text() == "frontdesk@lakeside.example"
    assert not reopened.has_unsaved_changes()


def test_a_reply_to_that_is_not_an_address_is_shown_beside_the_field(
    tab: AccountsTab, clinic: Clinic
) -> None:
    form = tab.email
    _fill_email(form, 2525)
    form.reply_to.setText("the front desk")

    assert not form.save()

    assert form.errors["reply_to"].isVisible()
    assert "address for replies is not an email address" in form.errors["reply_to"].text()
    assert form.reply_to.accessibleDescription() == form.errors["reply_to"].text()
    assert email_settings(clinic) is None


def test_mail_settings_saved_before_reply_to_existed_still_load(
    qtbot: QtBot, clinic: Clinic, app_looks: QApplication
) -> None:
    old = {
        "host": "smtp.lakeside.example",
        "port": 587,
        "security": "starttls",
        "username": "",
        "password": "",
        "sender_address": "reception@lakeside.example",
        "sender_name": "Lakeside",
        "timeout_s": 15.0,
    }
    with clinic.store.write() as tx:
        put_setting(tx, "reminders.email", json.dumps(old))

    saved = email_settings(clinic)
    assert saved is not None and saved.reply_to == ""
    tab = AccountsTab(clinic, DataBus())
    qtbot.addWidget(tab)
    assert tab.email.reply_to.text() == ""
    assert tab.email.host.text() == "smtp.lakeside.example"
    assert not tab.has_unsaved_changes()


def test_choosing_tls_moves_the_usual_port(tab: AccountsTab) -> None:
    form = tab.email
    assert form.port.value() == 587
    form.security.setCurrentIndex(form.security.findData("tls"))
    assert form.port.value() == 465
    form.port.setValue(2465)
    form.security.setCurrentIndex(form.security.findData("starttls"))
    assert form.port.value() == 2465  # a port someone typed is kept


def test_the_password_and_token_are_masked(tab: AccountsTab) -> None:
    assert tab.email.password.echoMode() == tab.email.password.EchoMode.Password
    assert tab.sms.auth_token.echoMode() == tab.sms.auth_token.EchoMode.Password


def test_a_test_email_arrives_at_the_mail_server(qtbot: QtBot, tab: AccountsTab) -> None:
    with running_smtp() as (mailbox, port):
        form = tab.email
        _fill_email(form, port)
        form.reply_to.setText("frontdesk@lakeside.example")
        form.test_edit.setText("manager@lakeside.example")

        op = form.send_test()
        assert op is not None
        assert not form.test_button.isEnabled()  # one test at a time; the window stays usable
        qtbot.waitUntil(lambda: op.finished, timeout=10_000)

        messages = mailbox.messages()
    assert len(messages) == 1
    assert messages[0]["To"] == "manager@lakeside.example"
    assert messages[0]["Subject"] == "Test message from Lakeside Family Practice"
    assert messages[0]["Reply-To"] == "frontdesk@lakeside.example"  # as typed, before saving
    assert "handed to the mail server" in form.test_result.text()
    assert form.test_button.isEnabled()


def test_a_test_email_to_a_server_that_is_not_there_says_so(qtbot: QtBot, tab: AccountsTab) -> None:
    from tests.support.fake_smtp import free_port

    form = tab.email
    _fill_email(form, free_port())
    form.test_edit.setText("manager@lakeside.example")

    op = form.send_test()
    assert op is not None
    qtbot.waitUntil(lambda: op.finished, timeout=20_000)

    assert form.test_result.text().startswith("The test did not go: ")
    assert "mail server" in form.test_result.text()


def test_a_test_email_to_a_bad_address_is_refused_before_sending(tab: AccountsTab) -> None:
    form = tab.email
    _fill_email(form, 25)
    form.test_edit.setText("not an address")

    assert form.send_test() is None
    assert form.test_result.text() != ""
    assert form.op is None


def test_sms_account_is_saved_and_a_test_text_reaches_the_service(
    qtbot: QtBot, tab: AccountsTab, clinic: Clinic
) -> None:
    with running_fake_twilio() as fake:
        form = tab.sms
        _fill_sms(form, account_for(fake))
        assert form.save()
        form.test_edit.setText("(312) 555-0188")

        op = form.send_test()
        assert op is not None
        qtbot.waitUntil(lambda: op.finished, timeout=10_000)

        sent = fake.outbound()
    assert [m.to for m in sent] == ["+13125550188"]
    assert "Lakeside Family Practice" in sent[0].body
    assert "took the test text" in form.test_result.text()
    saved = sms_account(clinic)
    assert saved is not None and saved.base_url == account_for(fake).base_url


def test_an_sms_account_that_fails_to_sign_in_gets_the_clear_message(
    qtbot: QtBot, tab: AccountsTab
) -> None:
    with running_fake_twilio() as fake:
        form = tab.sms
        _fill_sms(form, account_for(fake))
        form.auth_token.setText("wrong-token")
        form.test_edit.setText("+13125550188")

        op = form.send_test()
        assert op is not None
        qtbot.waitUntil(lambda: op.finished, timeout=10_000)

        assert fake.outbound() == []
    assert "refused the sign-in" in form.test_result.text()
    assert "SID and token" in form.test_result.text()


def test_an_sms_account_without_a_sender_is_refused_beside_the_sender(
    tab: AccountsTab, clinic: Clinic
) -> None:
    form = tab.sms
    form.account_sid.setText("AC123")
    form.auth_token.setText("token")
    assert not form.save()
    assert "No sender is set" in form.errors["sender"].text()
    assert sms_account(clinic) is None


def test_a_plain_http_service_address_is_refused(tab: AccountsTab, clinic: Clinic) -> None:
    form = tab.sms
    form.account_sid.setText("AC123")
    form.auth_token.setText("token")
    form.sender_edit.setText("+13125550100")
    form.base_url.setText("http://sms.example.com")
    assert not form.save()
    assert "https://" in form.errors["base_url"].text()


def test_a_test_text_to_a_bad_number_is_refused_before_sending(tab: AccountsTab) -> None:
    form = tab.sms
    form.test_edit.setText("555-01")
    assert form.send_test() is None
    assert "too few digits" in form.test_result.text()


def test_the_last_channel_problem_the_sender_recorded_is_shown(
    tab: AccountsTab, clinic: Clinic
) -> None:
    assert not tab.email.problem_label.isVisible()
    problem = {"at": "2026-03-10T15:05:00Z", "reason": "The mail server refused the sign-in."}
    with clinic.store.write() as tx:
        put_setting(tx, "reminders.channel_problem.email", json.dumps(problem))

    tab.refresh()

    # 15:05 UTC is 10:05 in Chicago (daylight time from March 8, 2026)
    assert tab.email.problem_label.text() == (
        "Last problem: The mail server refused the sign-in. (10 Mar 2026 10:05)"
    )
    assert tab.email.problem_label.isVisible()
    assert not tab.sms.problem_label.isVisible()


def test_saved_accounts_fill_the_forms_when_the_tab_opens(
    qtbot: QtBot, clinic: Clinic, app_looks: QApplication
) -> None:
    from app.reminders.accounts import save_sms_account

    with running_fake_twilio() as fake:
        save_sms_account(clinic, account_for(fake))
    tab = AccountsTab(clinic, DataBus())
    qtbot.addWidget(tab)

    assert tab.sms.sender_edit.text() == account_for(fake).sender
    assert not tab.has_unsaved_changes()
    assert not tab.sms.save_button.isEnabled()
