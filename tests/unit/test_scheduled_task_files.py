"""The OS scheduled-task files in packaging/ are well formed and run `send-due` as intended."""

from __future__ import annotations

import plistlib
import re
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TASK_XML = ROOT / "packaging" / "windows" / "frontdesk-send-due.xml"
AGENT_PLIST = ROOT / "packaging" / "macos" / "org.frontdesk.send-due.plist"
NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}


def _spec_program_name() -> str:
    """The program PyInstaller builds (the first EXE's name in the spec)."""
    spec = (ROOT / "packaging" / "frontdesk.spec").read_text("utf-8")
    found = re.search(r'exclude_binaries=True,.*?\n\s+name="([a-z-]+)"', spec, re.S)
    assert found is not None
    return found.group(1)


def test_windows_task_runs_the_installed_program_every_15_minutes_as_the_signed_in_user() -> None:
    task = ET.parse(TASK_XML).getroot()
    assert task.tag == f"{{{NS['t']}}}Task" and task.get("version") == "1.2"
    command = task.findtext("t:Actions/t:Exec/t:Command", namespaces=NS)
    installer = (ROOT / "packaging" / "windows" / "frontdesk.iss").read_text("utf-8")
    # The installer's per-user folder ({autopf} = %LOCALAPPDATA%\Programs) and program.
    assert (
        "PrivilegesRequired=lowest" in installer and '#define AppExe "frontdesk.exe"' in installer
    )
    program = _spec_program_name()
    assert command == rf"%LOCALAPPDATA%\Programs\Frontdesk\{program}.exe"
    assert task.findtext("t:Actions/t:Exec/t:Arguments", namespaces=NS) == "send-due"
    interval = task.findtext("t:Triggers/t:TimeTrigger/t:Repetition/t:Interval", namespaces=NS)
    assert interval == "PT15M"
    principal = task.find("t:Principals/t:Principal", NS)
    assert principal is not None
    assert principal.findtext("t:LogonType", namespaces=NS) == "InteractiveToken"
    assert principal.findtext("t:RunLevel", namespaces=NS) == "LeastPrivilege"
    settings = task.find("t:Settings", NS)
    assert settings is not None
    assert settings.findtext("t:MultipleInstancesPolicy", namespaces=NS) == "IgnoreNew"
    assert settings.findtext("t:StartWhenAvailable", namespaces=NS) == "true"


def test_windows_task_file_declares_the_encoding_schtasks_reads() -> None:
    head = TASK_XML.read_bytes()[:40]
    assert head.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    # A byte-order mark or non-ASCII character would change how schtasks decodes it.
    assert TASK_XML.read_bytes().isascii()


def test_macos_agent_runs_the_app_bundle_every_15_minutes() -> None:
    agent = plistlib.loads(AGENT_PLIST.read_bytes())
    assert agent["Label"] == AGENT_PLIST.stem == "org.frontdesk.send-due"
    program = _spec_program_name()
    assert agent["ProgramArguments"] == [
        f"/Applications/Frontdesk.app/Contents/MacOS/{program}",
        "send-due",
    ]
    assert agent["StartInterval"] == 900
    assert agent["RunAtLoad"] is True
    bundle = plistlib.loads((ROOT / "packaging" / "macos" / "Info.plist").read_bytes())
    # The agent's label lives under the app's own reverse-DNS name.
    assert bundle["CFBundleIdentifier"].rsplit(".", 1)[0] == agent["Label"].rsplit(".", 1)[0]
