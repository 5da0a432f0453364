from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select
from typer.testing import CliRunner

from readerstudy.cli import study_app
from readerstudy.store.engine import open_db
from readerstudy.store.long_table import load_protocol
from readerstudy.store.models import Assignment, AuditEntry, Case, Reader, UnblindingKey
from readerstudy.store.passwords import hash_password, verify_password
from readerstudy.study.blinding_audit import BlindingAuditError
from readerstudy.study.build import DeidGateError, build_study, read_case_file
from readerstudy.study.demo import build_demo, retrieve
from readerstudy.study.protocol import protocol_from_dict
from readerstudy.study.randomise import ai_slot_for_case, draw_placements

CASE_IDS = [f"c{i}" for i in range(40)]


def test_placements_are_deterministic_and_reader_specific() -> None:
    first = draw_placements("seed", "r1", CASE_IDS)
    assert first == draw_placements("seed", "r1", list(reversed(CASE_IDS)))  # input order does not matter
    other_reader = draw_placements("seed", "r2", CASE_IDS)
    other_seed = draw_placements("other", "r1", CASE_IDS)
    assert [p.case_id for p in first] != [p.case_id for p in other_reader]
    assert [p.case_id for p in first] != [p.case_id for p in other_seed]
    assert sorted(p.case_id for p in first) == sorted(CASE_IDS)
    assert [p.order_index for p in first] == list(range(len(CASE_IDS)))


@pytest.mark.parametrize("n_cases", [1, 7, 40, 161])
def test_sides_balanced_per_reader(n_cases: int) -> None:
    for reader in ("r1", "r2", "r3"):
        n_left = sum(p.ai_left for p in draw_placements("seed", reader, [f"c{i}" for i in range(n_cases)]))
        assert n_left in {n_cases // 2, (n_cases + 1) // 2}


def test_sides_differ_between_readers() -> None:
    sides = {
        r: [p.ai_left for p in sorted(draw_placements("s", r, CASE_IDS), key=lambda p: p.case_id)]
        for r in "ab"
    }
    assert sides["a"] != sides["b"]


def test_ai_slot_roughly_balanced_over_cases() -> None:
    n_x = sum(ai_slot_for_case("seed", f"c{i}") == "x" for i in range(1000))
    assert 440 < n_x < 560  # binomial(1000, 0.5): ~4 SD


def _write_inputs(tmp_path: Path, extra_protocol: str = "") -> tuple[Path, Path]:
    cases = tmp_path / "cases.jsonl"
    rows = [
        {
            "case_id": "a",
            "site": "s1",
            "original_report": "FINDINGS: clear.",
            "ai_report": "Findings: clear lungs.",
        },
        {"case_id": "b", "site": "s1", "original_report": "Seen 01/02/2020.", "ai_report": "Clear."},
        {"case_id": "c", "site": "s2", "original_report": "Normal.", "ai_report": "From General Hospital."},
        {
            "case_id": "d",
            "site": "s2",
            "original_report": "Normal.",
            "ai_report": "Normal chest.",
            "image_path": "",
        },
    ]
    cases.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    protocol = tmp_path / "protocol.yaml"
    protocol.write_text(
        "seed: 42\ninstitutions: [General Hospital]\n"
        f"readers:\n  - {{id: r1, password: secret}}\n  - {{id: r2, password_hash: '{hash_password('other')}'}}\n"
        + extra_protocol
    )
    return cases, protocol


def test_build_blocks_cases_and_stores_assignments(tmp_path: Path) -> None:
    cases, protocol = _write_inputs(tmp_path)
    result = build_study(cases, protocol, tmp_path / "s.db")
    assert result.n_cases == 2
    assert {(b.case_id, b.row, b.column, b.rule) for b in result.blocked} == {
        ("b", 2, "original_report", "date"),
        ("c", 3, "ai_report", "institution"),
    }
    db = open_db(tmp_path / "s.db")
    with db.reading() as session:
        assert sorted(session.scalars(select(Case.case_id))) == ["a", "d"]
        readers = {r.reader_id: r.password_hash for r in session.scalars(select(Reader))}
        assert verify_password("secret", readers["r1"]) and verify_password("other", readers["r2"])
        assert "secret" not in readers["r1"]
        key = {k.case_idx: k.ai_slot for k in session.scalars(select(UnblindingKey))}
        cases_by_idx = {c.case_idx: c for c in session.scalars(select(Case))}
        stored = list(session.scalars(select(Assignment).where(Assignment.reader_id == "r1")))
    expected = draw_placements("42", "r1", ["a", "d"])
    by_case = {cases_by_idx[a.case_idx].case_id: a for a in stored}
    for placement in expected:
        assignment = by_case[placement.case_id]
        assert assignment.order_index == placement.order_index
        assert (assignment.left_slot == key[assignment.case_idx]) == placement.ai_left
    case_a = next(c for c in cases_by_idx.values() if c.case_id == "a")
    ai_text = case_a.text_x if key[case_a.case_idx] == "x" else case_a.text_y
    assert ai_text == "FINDINGS: Clear lungs."
    assert case_a.image_path is None


def test_strict_protocol_fails_on_any_hit(tmp_path: Path) -> None:
    cases, protocol = _write_inputs(tmp_path, "strict_deid: true\n")
    with pytest.raises(DeidGateError) as error:
        build_study(cases, protocol, tmp_path / "s.db")
    assert {b.case_id for b in error.value.blocked} == {"b", "c"}
    assert "cases.jsonl:2" in str(error.value)
    assert not (tmp_path / "s.db").exists()


def test_study_is_built_once(tmp_path: Path) -> None:
    cases, protocol = _write_inputs(tmp_path)
    build_study(cases, protocol, tmp_path / "s.db")
    with pytest.raises(FileExistsError):
        build_study(cases, protocol, tmp_path / "s.db")


def test_csv_rows_are_file_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text('case_id,site,original_report,ai_report\nx,s,"two\nlines",b\ny,s,a,b\n')
    assert [(r.values["case_id"], r.row) for r in read_case_file(path)] == [("x", 3), ("y", 4)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"readers": [{"id": "r", "password": "p"}]}, "seed"),
        ({"seed": 1}, "at least one reader"),
        ({"seed": 1, "readers": [{"id": "r"}]}, "password"),
        ({"seed": 1, "readers": [{"id": "r", "password": "p"}, {"id": "r", "password": "q"}]}, "unique"),
    ],
)
def test_protocol_validation(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        protocol_from_dict(data)


def test_protocol_defaults_and_public_dict_hides_passwords() -> None:
    protocol = protocol_from_dict(
        {"seed": 3, "readers": [{"id": "r", "password": "topsecret"}], "margin": 0.1}
    )
    public = protocol.public_dict()
    assert public["criteria"] == ["diagnostic clarity"] and public["margin"] == 0.1
    assert "topsecret" not in json.dumps(public)


# --- blinding audit in the build ----------------------------------------------------------------------------------
def _cases_file(tmp_path: Path, ai_suffix: str, n: int = 12) -> Path:
    findings = ["Clear lungs.", "Small left effusion.", "Mild cardiomegaly.", "Right basal opacity."]
    rows = [
        {
            "case_id": f"k{i}",
            "site": "s1",
            "original_report": f"FINDINGS: {findings[i % 4]} IMPRESSION: Case {i}.",
            "ai_report": f"FINDINGS: {findings[i % 4]} IMPRESSION: Case {i}.{ai_suffix}",
        }
        for i in range(n)
    ]
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def _protocol_file(tmp_path: Path) -> Path:
    path = tmp_path / "protocol.yaml"
    path.write_text("seed: 9\nreaders:\n  - {id: r1, password: secret}\n")
    return path


def test_identical_sources_give_auc_one_half_and_are_recorded(tmp_path: Path) -> None:
    """Same text from both sources: every fold's AI and original scores are one multiset, so AUC = 0.5 exactly."""
    result = build_study(_cases_file(tmp_path, ""), _protocol_file(tmp_path), tmp_path / "s.db")
    audit = result.blinding_audit
    assert audit["status"] == "passed" and audit["auc"] == 0.5 and audit["ci95"] == [0.5, 0.5]
    assert load_protocol(tmp_path / "s.db")["blinding_audit"] == audit
    with open_db(tmp_path / "s.db").reading() as session:
        build_entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "build")).one()
    assert json.loads(build_entry.detail_json)["blinding_audit"]["auc"] == 0.5


def test_distinguishable_sources_stop_the_build_unless_overridden(tmp_path: Path) -> None:
    cases = _cases_file(tmp_path, " Clinical correlation is recommended.")
    with pytest.raises(BlindingAuditError) as error:
        build_study(cases, _protocol_file(tmp_path), tmp_path / "s.db")
    assert error.value.audit["ci95"][0] > 0.6 and not (tmp_path / "s.db").exists()
    result = build_study(cases, _protocol_file(tmp_path), tmp_path / "s.db", allow_distinguishable=True)
    assert result.blinding_audit["status"] == "distinguishable" and result.blinding_audit["override"] is True
    assert load_protocol(tmp_path / "s.db")["blinding_audit"]["override"] is True


def test_cli_build_exits_1_with_one_sentence_and_records_the_override(tmp_path: Path) -> None:
    cases = _cases_file(tmp_path, " Clinical correlation is recommended.")
    args = [
        "build",
        "--cases",
        str(cases),
        "--protocol",
        str(_protocol_file(tmp_path)),
        "--db",
        str(tmp_path / "s.db"),
    ]
    refused = CliRunner().invoke(study_app, args)
    assert refused.exit_code == 1 and not (tmp_path / "s.db").exists()
    lines = refused.output.strip().splitlines()
    assert (
        len(lines) == 1
        and "AUC 1.000 (95 % CI 1.000-1.000" in lines[0]
        and "--allow-distinguishable" in lines[0]
    )
    forced = CliRunner().invoke(study_app, [*args, "--allow-distinguishable"])
    assert forced.exit_code == 0, forced.output
    assert "DISTINGUISHABLE" in forced.output and "built anyway with --allow-distinguishable" in forced.output


def test_small_builds_record_a_skipped_audit(tmp_path: Path) -> None:
    result = build_study(_cases_file(tmp_path, " x", n=4), _protocol_file(tmp_path), tmp_path / "s.db")
    assert result.blinding_audit["status"] == "skipped" and "at least 10" in result.blinding_audit["reason"]


# --- the demo study ------------------------------------------------------------------------------------------------
def test_retrieval_takes_the_nearest_unused_pool_report() -> None:
    a, b, c = (frozenset(s) for s in ({"effusion"}, {"effusion", "cardiomegaly"}, set()))
    # case 0 {effusion}: exact match pool 1; case 1 {effusion}: pool 1 used, nearest left is pool 2 (Jaccard 0.5);
    # case 2 {}: pool 0 (exact).
    assert retrieve([a, a, c], [c, a, b, c]) == [1, 2, 0]
    with pytest.raises(ValueError, match="at least as many"):
        retrieve([a, a], [a])


def test_demo_passes_its_audit_and_shows_real_images(tmp_path: Path) -> None:
    result, source = build_demo(tmp_path / "demo.db", use_iu=False)
    audit = result.blinding_audit
    assert source.startswith("templates") and result.n_cases == 160
    assert audit["status"] == "passed" and audit["ci95"][0] < 0.5 < audit["ci95"][1]
    with open_db(tmp_path / "demo.db").reading() as session:
        cases = list(session.scalars(select(Case)))
    assert len(cases) == 160
    for case in cases:
        with Image.open(case.image_path) as image:
            assert image.format == "PNG" and image.size == (256, 256)
    assert Path(cases[0].image_path).parent == tmp_path / "demo_images"


def test_demo_refuses_an_existing_database_without_writing_images(tmp_path: Path) -> None:
    (tmp_path / "demo.db").write_text("")
    with pytest.raises(FileExistsError):
        build_demo(tmp_path / "demo.db", use_iu=False)
    assert not (tmp_path / "demo_images").exists()
