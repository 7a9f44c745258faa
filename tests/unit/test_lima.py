from __future__ import annotations

from pathlib import Path

from lab import lima


def test_linux_runs_the_lab_directly() -> None:
    argv = lima.translate(["up", "--mode", "relay"], repo=Path("/r"), system="Linux",
                          env={}, python="/venv/bin/python")
    assert argv == ["/venv/bin/python", "-m", "lab", "up", "--mode", "relay"]


def test_macos_runs_the_same_command_in_the_vm_as_root() -> None:
    argv = lima.translate(["test", "--family", "6"], repo=Path("/Users/me/dhcp-lab"),
                          system="Darwin", env={"LAB_NAME": "x1", "HOME": "/Users/me"})
    assert argv == ["limactl", "shell", "--workdir", "/Users/me/dhcp-lab", "dhcp-lab",
                    "sudo", "env", "LAB_NAME=x1", ".venv/bin/python", "-m", "lab",
                    "test", "--family", "6"]


def test_macos_passes_dut_bin_and_honours_another_instance() -> None:
    argv = lima.translate(["up"], repo=Path("/r"), system="Darwin",
                          env={"LAB_DUT_BIN": "/opt/dhcplb", "LAB_LIMA_INSTANCE": "vm2"})
    assert argv[4] == "vm2" and "LAB_DUT_BIN=/opt/dhcplb" in argv
    assert "HOME" not in " ".join(argv)


def test_needs_vm_only_on_macos() -> None:
    assert lima.needs_vm("Darwin") and not lima.needs_vm("Linux")
