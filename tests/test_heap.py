import ctypes
import sys

import pytest

from acnekit import heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning applies on Linux only")
def test_applies_on_glibc():
    try:
        ctypes.CDLL("libc.so.6").gnu_get_libc_version
    except (OSError, AttributeError):
        pytest.skip("not glibc")
    assert heap.keep_freed_memory() is True


def test_without_glibc_it_is_a_no_op(monkeypatch):
    def no_libc(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(heap.ctypes, "CDLL", no_libc)
    assert heap.keep_freed_memory() is False


def test_refused_setting_is_reported(monkeypatch):
    class Libc:
        @staticmethod
        def mallopt(param, value):
            return 0  # glibc returns 0 for a value it rejects

    monkeypatch.setattr(heap.ctypes, "CDLL", lambda name: Libc())
    assert heap.keep_freed_memory() is False
