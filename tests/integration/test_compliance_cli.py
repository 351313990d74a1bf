"""`lyra tax report`, `lyra bas` and `lyra abn validate` as docs/domain.md "Contracts"
states them, run as a user runs them; each report lands in the audit log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "support" / "tax" / "sample.csv"
LYRA = [sys.executable, "-m", "lyra.cli"]


def _lyra(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LYRA_")}
    return subprocess.run(
        [*LYRA, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_tax_report_json_contract_and_audit(tmp_path: Path) -> None:
    """`lyra tax report --ledger FILE --entity individual --year 2024-25 --method fifo
    --prior-losses AMOUNT --format json` prints the contract's JSON; the report is
    audited and `lyra audit verify` passes."""
    done = _lyra(
        tmp_path, "tax", "report", "--ledger", str(SAMPLE), "--entity", "individual",
        "--year", "2024-25", "--method", "fifo", "--prior-losses", "100", "--format", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert [d["id"] for d in body["disposals"]] == ["S1", "X1", "S2", "L1", "S3"]
    first = body["disposals"][0]
    assert set(first) >= {"id", "date", "asset", "quantity", "proceeds", "cost_base", "gain",
                          "discount_eligible", "lots"}  # fmt: skip
    assert first["discount_eligible"] is False  # 1 Aug 2023 -> 1 Aug 2024: one day short
    assert body["totals"]["prior_losses_applied"] == "100.00"
    assert all(isinstance(v, str) for v in body["totals"].values())
    verify = _lyra(tmp_path, "audit", "verify")
    assert verify.returncode == 0
    assert "1 records" in verify.stdout


def test_specific_method_and_other_formats(tmp_path: Path) -> None:
    """`--method specific` uses the named lot; csv, markdown and myTax item 18 outputs."""
    specific = _lyra(tmp_path, "tax", "report", "--ledger", str(SAMPLE), "--entity", "company",
                     "--year", "2024-25", "--method", "specific", "--format", "json")  # fmt: skip
    s2 = next(d for d in json.loads(specific.stdout)["disposals"] if d["id"] == "S2")
    assert [lot["id"] for lot in s2["lots"]] == ["B3"]
    mytax = _lyra(tmp_path, "tax", "report", "--ledger", str(SAMPLE), "--entity", "individual",
                  "--year", "2024-25", "--format", "mytax")  # fmt: skip
    assert json.loads(mytax.stdout)["A_net_capital_gain"] == 28925
    csv_out = _lyra(tmp_path, "tax", "report", "--ledger", str(SAMPLE), "--entity", "smsf",
                    "--year", "2024-25", "--format", "csv")  # fmt: skip
    # The sample names lot B3 for S2 while the method is FIFO: a review item, shown first.
    first, header = csv_out.stdout.splitlines()[:2]
    assert first.lstrip('"').startswith("NEEDS REVIEW: 1 review item(s)")
    assert header.startswith("disposal_id,date,type,asset,lot")


def test_bas_prints_every_label_in_whole_dollars(tmp_path: Path) -> None:
    """`lyra bas --ledger FILE --period 2025-Q3 --format json`: G1..G20, 1A, 1B, net GST."""
    done = _lyra(tmp_path, "bas", "--ledger", str(SAMPLE), "--period", "2024-Q3", "--format",
                 "json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    for label in [f"G{i}" for i in range(1, 21)] + ["1A", "1B", "net_gst"]:
        assert isinstance(body[label], int)
    assert body["G4"] == 30000
    assert body["G3"] == 6000
    assert body["1A"] == 0  # no GST on crypto trades


@pytest.mark.parametrize(
    ("number", "code", "word"), [("51 824 753 556", 0, "valid"), ("51824753557", 1, "invalid")]
)
def test_abn_validate_exit_codes(tmp_path: Path, number: str, code: int, word: str) -> None:
    """`lyra abn validate NUMBER` prints valid/invalid, exit 0/1."""
    done = _lyra(tmp_path, "abn", "validate", number)
    assert done.returncode == code
    assert done.stdout.strip() == word


def test_a_bad_ledger_row_ends_in_one_line_naming_it(tmp_path: Path) -> None:
    """Bad input: one line with file, line number and reason, exit 2, nothing stored."""
    bad = tmp_path / "bad.csv"
    lines = SAMPLE.read_text().splitlines()
    lines[4] = lines[4].replace("0.1,400.00", "0.1,four hundred")
    bad.write_text("\n".join(lines) + "\n")
    done = _lyra(tmp_path, "tax", "report", "--ledger", str(bad), "--entity", "individual",
                 "--year", "2024-25")  # fmt: skip
    assert done.returncode == 2
    assert "bad.csv line 5: aud_value 'four hundred' is not a number" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / ".lyra").exists()


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """In-process runs (``lyra.cli.main``) from ``tmp_path``: the embedded default there."""
    from lyra import bootstrap

    monkeypatch.chdir(tmp_path)
    yield tmp_path
    bootstrap.dispose_all()


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from lyra.cli import main

    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("1e999999999", "aud_value '1e999999999' is out of range"),
        ("9" * 200_000, "cannot be read as CSV: field larger than field limit"),
    ],
)
def test_an_out_of_bounds_ledger_value_is_one_line_exit_2(
    here: Path, capsys: pytest.CaptureFixture[str], value: str, words: str
) -> None:
    """docs/tax.md "Ledger input bounds": a value no exchange produces names the file, the
    line and the field; exit 2; nothing is stored (no report, no audit record)."""
    bad = here / "bad.csv"
    lines = SAMPLE.read_text().splitlines()
    lines[4] = lines[4].replace("0.1,400.00", f"0.1,{value}")
    bad.write_text("\n".join(lines) + "\n")
    code, out, err = _main(capsys, "tax", "report", "--ledger", str(bad), "--entity",
                           "individual", "--year", "2024-25")  # fmt: skip
    assert code == 2
    assert out == ""
    assert f"bad.csv line 5: {words}" in err
    assert len(err.strip().splitlines()) == 1
    assert len(err) < 300
    assert not (here / ".lyra").exists()


def test_bas_without_an_entity_says_it_is_the_sample_company(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --entity-file and no LYRA_TAX_ENTITY_FILE: the worksheet is produced (the
    contract's command works on a fresh clone) but never silently for the sample company:
    stderr, the JSON and the Markdown say so. With an entity file, none of that."""
    code, out, err = _main(capsys, "bas", "--ledger", str(SAMPLE), "--period", "2024-Q3")
    assert code == 0, err
    assert "SAMPLE ENTITY" in err
    assert "Example Trading Pty Ltd" in err
    body = json.loads(out)
    assert body["sample_entity"] is True
    assert body["notes"][0].startswith("SAMPLE ENTITY: no entity file given")
    _, markdown, _ = _main(capsys, "bas", "--ledger", str(SAMPLE), "--period", "2024-Q3",
                           "--format", "markdown")  # fmt: skip
    assert markdown.startswith("> **SAMPLE ENTITY")
    own = here / "entity.yaml"
    own.write_text(
        "name: Real Co Pty Ltd\ntype: company\nbasis: investor\n"
        "gst:\n  registered: true\n  registered_from: 2017-07-01\n  cycle: quarterly\n",
        encoding="utf-8",
    )
    code, out, err = _main(capsys, "bas", "--ledger", str(SAMPLE), "--period", "2024-Q3",
                           "--entity-file", str(own))  # fmt: skip
    assert code == 0, err
    assert "SAMPLE" not in err
    body = json.loads(out)
    assert body["sample_entity"] is False
    assert body["entity"] == "Real Co Pty Ltd"
    assert not any("SAMPLE" in note for note in body["notes"])


def test_seal_tfn_prints_a_sealed_block_that_loads_and_never_the_tfn(tmp_path: Path) -> None:
    """docs/tax.md, Identifiers: a TFN is never logged or stored in plain text; the sealed
    block goes in the entity file, which then loads (and the TFN opens with the passphrase)."""
    from pydantic import SecretStr

    from lyra.compliance import load_entity, open_tfn

    env = {k: v for k, v in os.environ.items() if not k.startswith("LYRA_")}
    done = subprocess.run(
        [*LYRA, "tax", "seal-tfn"], cwd=tmp_path, env=env, capture_output=True, text=True,
        input="123456782\ncorrect horse\ncorrect horse\n", timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "123456782" not in done.stdout + done.stderr
    assert "******782" in done.stdout
    entity_file = tmp_path / "entity.yaml"
    entity_file.write_text("name: Me\ntype: individual\n" + done.stdout)
    entity = load_entity(entity_file)
    assert entity.tfn_sealed is not None
    assert open_tfn(entity.tfn_sealed, SecretStr("correct horse")).get_secret_value() == (
        "123456782"
    )
