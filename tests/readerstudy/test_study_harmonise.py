from __future__ import annotations

import re

import pytest

from readerstudy.study.harmonise import harmonise_report, split_sections


def test_headers_unified_and_order_fixed() -> None:
    assert harmonise_report("Impressions: normal chest\nFinding: lungs clear") == (
        "FINDINGS: Lungs clear.\n\nIMPRESSION: Normal chest."
    )
    assert harmonise_report("Conclusion: normal. Findings: clear lungs.") == (
        "FINDINGS: Clear lungs.\n\nIMPRESSION: Normal."
    )


def test_header_on_its_own_line_without_colon() -> None:
    assert harmonise_report("FINDINGS\nLungs clear.\nIMPRESSION\nNo acute disease.") == (
        "FINDINGS: Lungs clear.\n\nIMPRESSION: No acute disease."
    )


def test_text_without_headers_is_findings() -> None:
    assert harmonise_report("lungs are clear") == "FINDINGS: Lungs are clear."


def test_other_sections_dropped_by_default_and_kept_on_request() -> None:
    text = "INDICATION: cough. COMPARISON: none. FINDINGS: clear. IMPRESSION: normal."
    assert harmonise_report(text) == "FINDINGS: Clear.\n\nIMPRESSION: Normal."
    assert harmonise_report(text, ["INDICATION", "FINDINGS"]) == "INDICATION: Cough.\n\nFINDINGS: Clear."


def test_case_normalised_with_acronyms_kept() -> None:
    assert harmonise_report("FINDINGS: RIGHT PICC LINE TIP IN THE SVC. NO PNEUMOTHORAX. T7 FRACTURE") == (
        "FINDINGS: Right PICC line tip in the SVC. No pneumothorax. T7 fracture."
    )


def test_whitespace_and_punctuation_spacing() -> None:
    assert harmonise_report("FINDINGS:   lungs\n\n  clear  .   heart   normal ,  stable") == (
        "FINDINGS: Lungs clear. Heart normal, stable."
    )


@pytest.mark.parametrize(
    "signature",
    [
        "Electronically signed by: John Doe, MD on 01/01/2020",
        "Dictated by Jane Roe",
        "Transcribed by JR",
        "Radiologist: Someone",
        "E-signed by XYZ",
    ],
)
def test_signatures_removed(signature: str) -> None:
    assert harmonise_report(f"FINDINGS: lungs clear.\n{signature}\nIMPRESSION: normal.") == (
        "FINDINGS: Lungs clear.\n\nIMPRESSION: Normal."
    )


@pytest.mark.parametrize(
    "placeholder", ["___", "[redacted]", "[ REDACTED ]", "<redacted>", "[**Name**]", "XXXX"]
)
def test_placeholders_removed(placeholder: str) -> None:
    assert (
        harmonise_report(f"FINDINGS: seen by {placeholder}. lungs clear.")
        == "FINDINGS: Seen by. Lungs clear."
    )


def test_two_formats_of_same_content_become_identical() -> None:
    clinical = (
        "FINDINGS:\n  THE LUNGS ARE CLEAR.  NO EFFUSION\n\nIMPRESSION:  NORMAL CHEST.\nDictated by: Dr X ___"
    )
    generated = "Findings: The lungs are clear. No effusion.\nImpression: Normal chest."
    assert harmonise_report(clinical) == harmonise_report(generated)


def test_split_sections_merges_repeated_headers() -> None:
    sections = split_sections("Findings: a. Impression: b. Findings: c.")
    assert sections["FINDINGS"].split() == ["a.", "c."]
    assert sections["IMPRESSION"].strip() == "b."


# --- model-style outputs -------------------------------------------------------------------------------------------
# Written here in the styles the models are documented to answer in; each expected output was written by hand.
# Sources of the styles: the LLaVA-Med `[INST] ... [/INST]` transcripts with numbered findings and "consult a
# healthcare professional" closings in github.com/ibtihajahmadkhan/PDCP reports/task2/generated_reports.md;
# CheXagent's prompt " USER: <s>{prompt} ASSISTANT: <s>" (github.com/Stanford-AIMI/CheXagent); MAIRA-2, LLaVA-Rad and
# CheXagent generate the findings section only (arXiv 2406.04449 for MAIRA-2); MedGemma is a Gemma 3 chat model
# (`<start_of_turn>model`, docs/models.md) whose chat answers use Markdown headers, bold labels and bullets.
MODEL_STYLE = {
    "chat VLM: preamble, bold headers, bold-label bullets, numbered impression, disclaimer": (
        "Sure! Here's a structured radiology report based on the chest X-ray:\n\n"
        "**Findings:**\n"
        "- **Lungs:** Clear bilaterally, no focal consolidation.\n"
        "- **Pleura:** No pleural effusion or pneumothorax.\n"
        "- **Heart:** Normal cardiac silhouette.\n\n"
        "**Impression:**\n"
        "1. No acute cardiopulmonary abnormality.\n\n"
        "*Please note: this AI-generated report should be reviewed by a qualified radiologist.*",
        "FINDINGS: Lungs: clear bilaterally, no focal consolidation. Pleura: no pleural effusion or pneumothorax. "
        "Heart: normal cardiac silhouette.\n\nIMPRESSION: No acute cardiopulmonary abnormality.",
    ),
    "LLaVA-Rad: findings only, after an echoed USER/ASSISTANT prompt": (
        "USER: <image>\nDescribe the findings of the chest x-ray.\nASSISTANT: The lungs are clear. There is no "
        "pleural effusion or pneumothorax. The cardiomediastinal silhouette is normal.",
        "FINDINGS: The lungs are clear. There is no pleural effusion or pneumothorax. The cardiomediastinal "
        "silhouette is normal.",
    ),
    "MAIRA-2 grounded: findings sentences with object and box tokens": (
        "<obj>Small right pleural effusion.</obj><box><x10><y48><x22><y60></box> No pneumothorax. "
        "Heart size is normal.",
        "FINDINGS: Small right pleural effusion. No pneumothorax. Heart size is normal.",
    ),
    "CheXagent: inline USER/ASSISTANT turns with <s>": (
        " USER: <s>Write the findings section of the chest X-ray report. ASSISTANT: <s>The heart size is "
        "normal. The lungs are clear.</s>",
        "FINDINGS: The heart size is normal. The lungs are clear.",
    ),
    "MedGemma: Gemma turns, ## headers, * bullets, numbered impression": (
        "<start_of_turn>user\n<start_of_image>Describe this X-ray<end_of_turn>\n<start_of_turn>model\n"
        "## Findings\n\n"
        "* **Lungs:** There is a patchy opacity in the right lower lobe.\n"
        "* **Pleura:** Small right pleural effusion.\n"
        "* **Heart:** Normal size\n\n"
        "## Impression\n\n"
        "1.  Right lower lobe pneumonia.\n"
        "2.  Small right pleural effusion.<end_of_turn>",
        "FINDINGS: Lungs: there is a patchy opacity in the right lower lobe. Pleura: small right pleural "
        "effusion. Heart: normal size.\n\nIMPRESSION: Right lower lobe pneumonia. Small right pleural effusion.",
    ),
    "LLaVA-Med: [INST] prompt echoed, numbered findings, consult-a-professional closing": (
        "[INST] \nWrite a short chest X-ray report with sections FINDINGS and IMPRESSION.\n [/INST] FINDINGS:\n"
        "1. Consolidation in the right lower lobe.\n2. Cardiac size is normal.\n\nIMPRESSION:\n"
        "The chest X-ray shows consolidation in the right lower lobe. It is important to consult a healthcare "
        "professional for a thorough evaluation.",
        "FINDINGS: Consolidation in the right lower lobe. Cardiac size is normal.\n\nIMPRESSION: The chest x-ray "
        "shows consolidation in the right lower lobe.",
    ),
    "ChatML: system/user turns, title heading, table, bullet impression": (
        "<|im_start|>system\nYou are a radiologist.<|im_end|>\n<|im_start|>user\nWrite the report<|im_end|>\n"
        "<|im_start|>assistant\n# Chest X-Ray Report\n\n## Findings\n| Structure | Finding |\n|---|---|\n"
        "| Lungs | Clear |\n| Pleura | No effusion |\n\n## Impression\n- Normal chest radiograph<|im_end|>",
        "FINDINGS: Lungs: clear. Pleura: no effusion.\n\nIMPRESSION: Normal chest radiograph.",
    ),
    "Phi-style <|assistant|> token, 'Generated report:' label, code fence": (
        "<|user|>Report this image<|end|><|assistant|>Generated report:\n```\nFINDINGS: No acute findings.\n"
        "IMPRESSION: Normal.\n```",
        "FINDINGS: No acute findings.\n\nIMPRESSION: Normal.",
    ),
    "Assistant: and Report: labels, lower-case impression": (
        "Assistant: Report: The cardiomediastinal silhouette is within normal limits. Lungs are clear.\n"
        "Impression: no acute process",
        "FINDINGS: The cardiomediastinal silhouette is within normal limits. Lungs are clear.\n\n"
        "IMPRESSION: No acute process.",
    ),
    "header variants: Key findings / Final impression, bold header alone, underscore bold": (
        "**Key Findings**\nMild cardiomegaly.\n__Final Impression__: Cardiomegaly without failure",
        "FINDINGS: Mild cardiomegaly.\n\nIMPRESSION: Cardiomegaly without failure.",
    ),
    "Finding(s) / Conclusion / Summary variants and a horizontal rule": (
        "Finding(s): left basilar atelectasis.\n\n---\nConclusion: Atelectasis. Summary: no pneumonia.",
        "FINDINGS: Left basilar atelectasis.\n\nIMPRESSION: Atelectasis. No pneumonia.",
    ),
    "Sure, here is the report: then text, with a blockquote": (
        "Sure, here is the report:\n> Findings: The lungs are hyperinflated.\n> Impression: COPD.",
        "FINDINGS: The lungs are hyperinflated.\n\nIMPRESSION: COPD.",
    ),
}


@pytest.mark.parametrize("name", list(MODEL_STYLE))
def test_model_style_outputs(name: str) -> None:
    raw, expected = MODEL_STYLE[name]
    assert harmonise_report(raw) == expected


# Original-style reports: harmonisation may change layout, case and numbering, never what the report says.
ORIGINAL_STYLE = {
    "MIMIC-CXR: banner, examination, de-identified indication, wrapped lines, numbered impression": (
        "                                 FINAL REPORT\n EXAMINATION:  CHEST (PA AND LAT)\n \n"
        " INDICATION:  ___F with cough\n \n COMPARISON:  ___\n \n FINDINGS: \n \n"
        " The lungs are clear without focal consolidation.  No pleural effusion or\n"
        " pneumothorax is seen. A 1.5 cm nodule projects over the T7 vertebral body.\n \n"
        " IMPRESSION: \n \n 1.  No acute cardiopulmonary process.\n 2.  1.5 cm nodule, CT recommended.\n",
        "FINDINGS: The lungs are clear without focal consolidation. No pleural effusion or pneumothorax is seen. "
        "A 1.5 cm nodule projects over the T7 vertebral body.\n\n"
        "IMPRESSION: No acute cardiopulmonary process. 1.5 cm nodule, CT recommended.",
    ),
    "MIMIC-CXR: study-describing header, CONCLUSION, inline numbered list": (
        " CHEST, TWO VIEWS:  Heart size is top normal. There is a small left pleural\n effusion.\n \n"
        " CONCLUSION:  1. Small left effusion. 2. No pneumothorax.\n",
        "FINDINGS: Heart size is top normal. There is a small left pleural effusion.\n\n"
        "IMPRESSION: Small left effusion. No pneumothorax.",
    ),
    "MIMIC-CXR: recommendations and notification sections dropped, [** **] placeholders": (
        "FINDINGS: Right IJ catheter tip in the SVC. No pneumothorax.\nIMPRESSION: Line in good position.\n"
        "RECOMMENDATION(S): Follow-up radiograph.\nNOTIFICATION: Discussed with Dr. [**Name**] at 10:30.",
        "FINDINGS: Right IJ catheter tip in the SVC. No pneumothorax.\n\nIMPRESSION: Line in good position.",
    ),
    "IU X-ray: sentence reports with measurements and laterality": (
        "FINDINGS: The heart is mildly enlarged. There is a 2.5 x 3 cm opacity in the RLL. Degenerative "
        "changes of the thoracic spine.\nIMPRESSION: 1. Cardiomegaly. 2. RLL opacity, pneumonia not excluded.",
        "FINDINGS: The heart is mildly enlarged. There is a 2.5 x 3 cm opacity in the RLL. Degenerative "
        "changes of the thoracic spine.\n\nIMPRESSION: Cardiomegaly. RLL opacity, pneumonia not excluded.",
    ),
}


@pytest.mark.parametrize("name", list(ORIGINAL_STYLE))
def test_original_style_reports_keep_their_meaning(name: str) -> None:
    raw, expected = ORIGINAL_STYLE[name]
    assert harmonise_report(raw) == expected


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:\.[0-9]+)?", text.lower())


@pytest.mark.parametrize("name", list(ORIGINAL_STYLE))
def test_original_style_words_are_kept_in_order(name: str) -> None:
    """Property: every word of the kept sections survives, in order (only headers and list numbers go)."""
    raw, _ = ORIGINAL_STYLE[name]
    out = harmonise_report(raw)
    without_banner = re.sub(r"^\s*FINAL REPORT\s*$", "", raw, flags=re.MULTILINE)
    kept = split_sections(without_banner.replace("___", " "))
    for section in ("FINDINGS", "IMPRESSION"):
        body = re.sub(r"(^|[:.]\s+)\d[.)]\s+", r"\1", re.sub(r"\s+", " ", kept.get(section, "")).strip())
        body = re.sub(r"\[\*\*.*?\*\*\]", " ", body)
        out_section = next((p for p in out.split("\n\n") if p.startswith(section + ":")), f"{section}:")
        assert _words(out_section.split(":", 1)[1]) == _words(body)


@pytest.mark.parametrize("raw", [raw for raw, _ in (*MODEL_STYLE.values(), *ORIGINAL_STYLE.values())])
def test_harmonisation_is_idempotent(raw: str) -> None:
    once = harmonise_report(raw)
    assert harmonise_report(once) == once


def test_markdown_and_plain_forms_of_one_report_become_identical() -> None:
    plain = "FINDINGS: Lungs: clear. Heart: normal size. IMPRESSION: Normal chest."
    markdown = "**Findings:**\n- **Lungs:** clear\n- **Heart:** normal size\n\n**Impression:** Normal chest"
    assert harmonise_report(markdown) == harmonise_report(plain)


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("Findings: measures 1.5 cm. No change.", "FINDINGS: Measures 1.5 cm. No change."),
        ("Findings: <5 mm nodule > stable.", "FINDINGS: <5 mm nodule > stable."),
        ("Findings: heart size normal; lungs clear", "FINDINGS: Heart size normal; lungs clear."),
    ],
)
def test_numbers_and_comparison_signs_survive(raw: str, kept: str) -> None:
    assert harmonise_report(raw) == kept
