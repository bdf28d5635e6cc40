"""`psybench data fetch` against a loopback HTTP server (files copied into tmp_path at test time)
and against a closed loopback port (no network)."""
from __future__ import annotations

import functools
import http.server
import shutil
import socket
import threading

import pytest

from psybench.cli import main
from psybench.constants import DATA_FILES
from psybench.data import fetch as fetch_mod
from psybench.data import load_sessions, resolve_data_dir
from psybench.errors import DataError, MissingResourceError


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "upstream"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/data"
    httpd.shutdown()
    httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once closed


def test_fetch_from_loopback(server, data_dir, tmp_path, monkeypatch, capsys):
    root, base = server
    (root / "data").mkdir()
    for fname, _ in DATA_FILES.values():
        shutil.copy(data_dir / fname, root / "data" / fname)
    cache = tmp_path / "cache"
    monkeypatch.setenv("PSYBENCH_CACHE_DIR", str(cache))
    monkeypatch.delenv("PSYBENCH_DATA_DIR", raising=False)
    assert main(["data", "fetch", "--base-url", base]) == 0
    out = capsys.readouterr().out
    assert out.count("ok ") == 2 and "ship with psybench" in out
    assert resolve_data_dir(None) == cache / "data"
    assert len(load_sessions("zh")) == 431
    assert not list((cache / "data").glob("*.part"))


def test_fetch_checksum_mismatch_not_saved(server, tmp_path):
    root, base = server
    (root / "data").mkdir()
    (root / "data" / DATA_FILES["en"][0]).write_text("[]")
    dest = tmp_path / "dest"
    with pytest.raises(DataError, match=r"en_data_version7.json: downloaded from .* with sha256 "):
        fetch_mod.fetch_data(dest, base_url=base, timeout=5)
    assert not (dest / DATA_FILES["en"][0]).exists()


def test_fetch_http_404(server, tmp_path):
    _, base = server
    with pytest.raises(MissingResourceError, match="could not reach .*en_data_version7.json"):
        fetch_mod.fetch_data(tmp_path / "dest", base_url=base, timeout=5)


def test_fetch_no_network(tmp_path, capsys):
    base = f"http://127.0.0.1:{_closed_port()}/data"
    assert main(["data", "fetch", "--base-url", base, "--dest", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"could not reach {base}/en_data_version7.json" in err
    assert "--data-dir DIR or set PSYBENCH_DATA_DIR" in err
