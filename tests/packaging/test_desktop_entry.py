"""The Linux desktop files agree with each other and with the program, and the script that
installs them writes what it says, where it says."""

from __future__ import annotations

import configparser
import os
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "packaging" / "linux"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"


def desktop_entry(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def mime_type() -> ET.Element:
    return ET.parse(LINUX / "melodex-project.xml").getroot().find(f"{MIME_NS}mime-type")


def test_the_launcher_runs_the_studio_script_and_opens_mlx_files() -> None:
    entry = desktop_entry(LINUX / "melodex-studio.desktop")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["gui-scripts"]
    program, argument = entry["Exec"].split()
    assert program in scripts and scripts[program] == "melodex_studio.__main__:main"
    assert argument == "%f"  # one project file, as `melodex-studio PROJECT.mlx` takes
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    assert mime_type().get("type") + ";" == entry["MimeType"]
    assert entry["Icon"] == mime_type().find(f"{MIME_NS}icon").get("name")


def test_the_file_type_is_the_project_files_extension_and_format() -> None:
    kind = mime_type()
    assert [g.get("pattern") for g in kind.findall(f"{MIME_NS}glob")] == ["*.mlx"]
    # .mlx is an SQLite database (docs/mlx-format.md), not a ZIP.
    assert kind.find(f"{MIME_NS}sub-class-of").get("type") == "application/vnd.sqlite3"
    assert "SQLite" in (ROOT / "docs" / "mlx-format.md").read_text()


@pytest.mark.skipif(os.name != "posix", reason="a bash script for Linux desktops")
def test_install_then_uninstall_into_a_data_folder(tmp_path: Path) -> None:
    program = tmp_path / "bin" / "melodex-studio"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"),
           "MELODEX_STUDIO_EXEC": str(program)}
    script = str(LINUX / "install-desktop-entry")
    subprocess.run([script], env=env, check=True, capture_output=True)
    data = tmp_path / "data"
    installed = desktop_entry(data / "applications" / "melodex-studio.desktop")
    assert installed["Exec"] == f'"{program}" %f'  # absolute: a session PATH has no venv
    assert (data / "mime" / "packages" / "melodex-project.xml").read_bytes() == (
        LINUX / "melodex-project.xml").read_bytes()
    icon = data / "icons" / "hicolor" / "scalable" / "apps" / "melodex-studio.svg"
    assert icon.read_bytes() == (ROOT / "resources" / "icons" / "app.svg").read_bytes()

    subprocess.run([script, "--uninstall"], env=env, check=True, capture_output=True)
    assert not (data / "applications" / "melodex-studio.desktop").exists()
    assert not icon.exists()


def test_install_refuses_clearly_without_the_program(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"),
           "MELODEX_STUDIO_EXEC": str(tmp_path / "missing")}
    result = subprocess.run([str(LINUX / "install-desktop-entry")], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "melodex-studio not found" in result.stderr
    assert not (tmp_path / "data").exists()  # nothing half-installed
