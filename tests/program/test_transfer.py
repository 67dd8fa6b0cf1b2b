"""Model import and export: JSON and CSV round trips, replace vs merge, no silent drops."""

from __future__ import annotations

import json

import pytest

from models_hub.models import Definition, DefinitionKind, DefinitionVersion
from models_hub.program_selectors import version_store_load
from models_hub.transfer import ModelFileError, model_export, model_import
from tests.program.conftest import LC, Program

pytestmark = pytest.mark.django_db

SM = DefinitionKind.SECURITY_MODEL


def _versions() -> int:
    return DefinitionVersion.objects.count()


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_export_then_import_as_a_new_model_round_trips(program: Program, fmt: str) -> None:
    text = model_export(actor=program.ipc, definition=program.etf, fmt=fmt)
    if fmt == "json":
        document = json.loads(text)
        assert document["entries"] == [
            {"ticker": "IVV", "weight": "1", "substitutes": ["VOO", "SPLG"]}
        ]
    else:
        assert text == "ticker,weight,substitutes\nIVV,1,VOO SPLG\n"
    result = model_import(
        actor=program.ipc,
        firm_id=program.cast.firm_a.pk,
        kind=SM,
        text=text,
        fmt=fmt,
        mode="replace",
        reason="copy",
        name=f"ETF copy {fmt}",
    )
    assert result.saved.version.content["securities"] == {"IVV": "1"}
    assert result.equivalence_sets_created == []  # the substitutes match the existing set


def test_replace_refuses_to_drop_securities_unless_confirmed(program: Program) -> None:
    csv_text = "ticker,weight\nAAPL,0.5\nMSFT,0.5\n"
    before = _versions()
    with pytest.raises(ModelFileError, match="would drop JNJ, XOM: confirm"):
        model_import(
            actor=program.ipc,
            firm_id=program.cast.firm_a.pk,
            kind=SM,
            text=csv_text,
            fmt="csv",
            mode="replace",
            reason="rebalance",
            definition=program.stocks,
        )
    assert _versions() == before
    result = model_import(
        actor=program.ipc,
        firm_id=program.cast.firm_a.pk,
        kind=SM,
        text=csv_text,
        fmt="csv",
        mode="replace",
        reason="rebalance",
        definition=program.stocks,
        confirm_drops=["XOM", "JNJ"],
    )
    assert result.dropped == ["JNJ", "XOM"]
    assert result.saved.version.number == 2
    assert result.saved.version.content["asset_class"] == LC  # kept from the current version


def test_merge_sets_the_files_entries_and_keeps_the_rest(program: Program) -> None:
    firm_id = program.cast.firm_a.pk
    with pytest.raises(ModelFileError, match=r"sum to 110 %.*merge with rescale"):
        model_import(
            actor=program.ipc,
            firm_id=firm_id,
            kind=SM,
            text="ticker,weight\nMSFT,0.4\n",
            fmt="csv",
            mode="merge",
            reason="more MSFT",
            definition=program.stocks,
        )
    result = model_import(
        actor=program.ipc,
        firm_id=firm_id,
        kind=SM,
        text="ticker,weight\nMSFT,0.4\n",
        fmt="csv",
        mode="merge",
        reason="more MSFT",
        definition=program.stocks,
        rescale=True,
    )
    securities = result.saved.version.content["securities"]
    assert securities["MSFT"] == "0.4"
    assert set(securities) == {"AAPL", "MSFT", "XOM", "JNJ"}
    assert result.reweighted == ["AAPL", "JNJ", "MSFT", "XOM"]


def test_substitutes_create_a_set_or_must_agree(program: Program) -> None:
    firm_id = program.cast.firm_a.pk
    result = model_import(
        actor=program.ipc,
        firm_id=firm_id,
        kind=SM,
        fmt="csv",
        mode="replace",
        reason="bonds",
        name="Bonds copy",
        text="ticker,weight,substitutes\nAGG,1,BND\n",
    )
    assert result.equivalence_sets_created == ["AGG and substitutes"]
    store = version_store_load(firm_id)
    assert any(v.name == "AGG and substitutes" for v in store.versions.values())
    with pytest.raises(ModelFileError, match="IVV: substitutes SPLG VOO differ"):
        model_import(
            actor=program.ipc,
            firm_id=firm_id,
            kind=SM,
            fmt="csv",
            mode="replace",
            reason="x",
            name="Other",
            text="ticker,weight,substitutes\nIVV,1,SPLG VOO\n",
        )


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("ticker,weight\nAAPL,60\n", "csv", "line 2: weight must be between 0 and 1"),
        ("ticker,weight\nAAPL,0.5\naapl,0.5\n", "csv", "line 3: AAPL appears twice"),
        ("name,weight\nAAPL,1\n", "csv", "line 1: missing column(s) ticker"),
        ("ticker,weight\nNOPE,1\n", "csv", "unknown securities: NOPE"),
        ('{"format": "other"}', "json", "not a model file"),
        ("{not json", "json", "line 1: not valid JSON"),
        ("ticker,weight\n", "csv", "the file has no entries"),
    ],
)
def test_bad_files_change_nothing(program: Program, text: str, fmt: str, message: str) -> None:
    before = (Definition.objects.count(), _versions())
    with pytest.raises(ModelFileError) as caught:
        model_import(
            actor=program.ipc,
            firm_id=program.cast.firm_a.pk,
            kind=SM,
            text=text,
            fmt=fmt,
            mode="replace",
            reason="x",
            name="New",
        )
    assert message in str(caught.value), caught.value.errors
    assert (Definition.objects.count(), _versions()) == before


def test_allocation_csv_round_trip_keeps_bands(program: Program) -> None:
    text = model_export(actor=program.ipc, definition=program.allocation, fmt="csv")
    assert "Equity > US > Large Cap,0.6,0.05,absolute" in text
    result = model_import(
        actor=program.ipc,
        firm_id=program.cast.firm_a.pk,
        kind=DefinitionKind.ALLOCATION,
        text=text,
        fmt="csv",
        mode="replace",
        reason="copy",
        name="Balanced copy",
    )
    assert result.saved.version.content["classes"][LC] == {
        "weight": "0.6",
        "band": "0.05",
        "band_kind": "absolute",
    }
