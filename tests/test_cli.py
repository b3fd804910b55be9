"""The ``ecomviz-nb`` command line, called as ``main([...])``: report, export, batch refusals.

``report`` runs against the session's real sandbox and the test's own ledger; ``export`` on
notebooks built with nbformat (``test_export`` builds them the way a kernel saves them).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from test_export import STATE_MODELS, _notebook, _panel_output

import ecomviz_nb as ev
from ecomviz_nb.cli import build_parser, main


def _one_job(sandbox: ev.Sandbox) -> ev.GenerationJob:
    with sandbox.client() as client:
        product = client.create_product([f"{sandbox.url}/samples/products/tshirt-red.jpg"])
        job = client.generate(product.id, ev.GenerateRequest([ev.ImageSpec("main", count=1)]))
        job.wait(timeout=30)
        return job


def test_help_names_every_command() -> None:
    text = build_parser().format_help()
    for command in ("sandbox", "batch", "report", "export", "demo"):
        assert command in text


def test_report_writes_the_page_and_prints_its_path(
    sandbox: ev.Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = _one_job(sandbox)
    out = tmp_path / "cli" / "report.html"
    # No token set: a --base-url is taken to be a sandbox, which takes the sandbox token.
    argv = ["report", "--out", str(out), "--base-url", sandbox.url, "--title", "Nightly <jobs>"]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == str(out)
    text = out.read_text(encoding="utf-8")
    assert job.id in text and "Nightly &lt;jobs&gt;" in text
    assert "data:image/jpeg;base64," in text and "sandbox-local" not in text


def test_report_needs_a_token_unless_it_is_given_a_base_url(
    sandbox: ev.Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "report.html"
    assert main(["report", "--out", str(out)]) == 2
    assert "ecomviz-nb report: no API token" in capsys.readouterr().err
    strict = ["report", "--out", str(out), "--base-url", sandbox.url, "--token-from-env", "MINE"]
    assert main(strict) == 2
    assert "$MINE is not set" in capsys.readouterr().err
    assert not out.exists()
    monkeypatch.setenv("MINE", "token-of-my-own")
    assert main(strict) == 0
    assert out.exists()


def test_report_refuses_a_negative_limit(
    sandbox: ev.Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["report", "--out", str(tmp_path / "r.html"), "--base-url", sandbox.url]
    assert main([*argv, "--limit", "-1"]) == 2
    assert "--limit -1: a number of jobs, 0 for all" in capsys.readouterr().err


def test_export_writes_one_page_and_prints_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "panels.ipynb"
    nbformat.write(_notebook(_panel_output("panel"), models=STATE_MODELS), source)
    assert main(["export", str(source)]) == 0
    page = source.with_suffix(".html")
    assert capsys.readouterr().out.strip() == str(page)
    assert "ev-snapshot" in page.read_text(encoding="utf-8")
    out = tmp_path / "site" / "index.html"
    assert main(["export", str(source), "--out", str(out)]) == 0
    assert out.is_file()


def test_export_warns_about_what_the_notebook_itself_points_at(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "remote.ipynb"
    cell = nbformat.v4.new_markdown_cell("![logo](https://example.com/logo.png)")
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), source)
    assert main(["export", str(source)]) == 0
    captured = capsys.readouterr()
    assert "points at https://example.com/logo.png" in captured.err
    assert captured.out.strip() == str(source.with_suffix(".html"))


def test_export_names_a_missing_or_broken_notebook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", str(tmp_path / "nope.ipynb")]) == 2
    assert "ecomviz-nb export: no notebook" in capsys.readouterr().err
    broken = tmp_path / "broken.ipynb"
    broken.write_text("[]", encoding="utf-8")
    assert main(["export", str(broken)]) == 2
    assert "is not a readable notebook" in capsys.readouterr().err
    assert not broken.with_suffix(".html").exists()


def test_batch_without_a_token_or_server_says_what_to_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalogue = tmp_path / "c.csv"
    catalogue.write_text("label,product_id\na,0123456789abcdef01234567\n", encoding="utf-8")
    request = tmp_path / "r.json"
    request.write_text('{"imageType": [{"main": 1, "aspectRatio": "1:1"}]}', encoding="utf-8")
    argv = ["batch", str(catalogue), "--request", str(request), "--name", "n"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "ecomviz-nb batch: no API token" in err and "--base-url" in err
