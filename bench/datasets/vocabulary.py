"""The shared label vocabulary and each dataset's map onto it.

Records carry vocabulary names only, so the same finding has one name across the ten benchmarks (NIH's
`Effusion` and CheXpert's `Pleural Effusion` are both `Pleural Effusion`). A map sends a publisher's name to a
vocabulary name; names with no honest equivalent get a vocabulary entry of their own rather than being merged
into a neighbour (NIH `Infiltration` is not CheXpert `Lung Opacity`). Nothing is ever mapped to a negative:
a label a dataset does not annotate is absent from its records, and an unknown value is null.
"""

from __future__ import annotations

from bench.labelsets import CHEXPERT_14

VOCABULARY: dict[str, str] = {
    "No Finding": "no abnormality annotated (dataset-specific definition)",
    "Atelectasis": "partial or complete lung collapse",
    "Cardiomegaly": "enlarged cardiac silhouette",
    "Consolidation": "airspace filled with fluid or cells",
    "Edema": "pulmonary oedema",
    "Pleural Effusion": "fluid in the pleural space",
    "Emphysema": "hyperinflation / emphysematous change",
    "Fibrosis": "pulmonary fibrosis",
    "Hernia": "hiatal or diaphragmatic hernia",
    "Infiltration": "NIH 'infiltration' (an ill-defined opacity; not equivalent to Lung Opacity)",
    "Mass": "focal opacity larger than 3 cm",
    "Nodule": "focal opacity up to 3 cm",
    "Pleural Thickening": "pleural thickening",
    "Pneumonia": "pneumonia (a clinical-radiological diagnosis)",
    "Pneumothorax": "air in the pleural space",
    "Enlarged Cardiomediastinum": "widened mediastinum / cardiomediastinal silhouette",
    "Lung Lesion": "CheXpert 'lung lesion' (nodule, mass or other focal lesion)",
    "Lung Opacity": "any lung opacity (CheXpert / VinDr sense)",
    "Pleural Other": "other pleural abnormality",
    "Fracture": "bone fracture",
    "Support Devices": "tubes, lines, pacemakers and other devices",
    "Calcification": "calcified focus",
    "Diffuse Nodule": "multiple diffuse nodules",
    "Aortic Enlargement": "enlarged aorta",
    "Clavicle Fracture": "fracture of a clavicle",
    "Enlarged PA": "enlarged pulmonary artery",
    "ILD": "interstitial lung disease",
    "Lung Cavity": "cavity in the lung",
    "Lung Cyst": "cyst in the lung",
    "Mediastinal Shift": "shift of the mediastinum",
    "Nodule/Mass": "VinDr 'nodule/mass' (the two are not separated)",
    "Rib Fracture": "fracture of a rib",
    "Other Lesion": "any other lesion (VinDr)",
    "COPD": "chronic obstructive pulmonary disease (global label)",
    "Lung Tumor": "lung tumour (global label)",
    "Other Disease": "other disease (global label)",
    "Tuberculosis": "tuberculosis (any form)",
    "Active Tuberculosis": "active tuberculosis (TBX11K box class)",
    "Obsolete Tuberculosis": "obsolete / latent pulmonary tuberculosis (TBX11K box class)",
    "Healthy": "TBX11K 'healthy' image class",
    "Sick Non-TB": "TBX11K 'sick but non-TB' image class",
    "Foreign Object": "foreign object (object-CXR)",
}

NIH_CHESTXRAY14: dict[str, str] = {
    "Atelectasis": "Atelectasis",
    "Cardiomegaly": "Cardiomegaly",
    "Effusion": "Pleural Effusion",
    "Infiltration": "Infiltration",
    "Infiltrate": "Infiltration",  # the spelling of BBox_List_2017.csv
    "Mass": "Mass",
    "Nodule": "Nodule",
    "Pneumonia": "Pneumonia",
    "Pneumothorax": "Pneumothorax",
    "Consolidation": "Consolidation",
    "Edema": "Edema",
    "Emphysema": "Emphysema",
    "Fibrosis": "Fibrosis",
    "Pleural_Thickening": "Pleural Thickening",
    "Hernia": "Hernia",
    "No Finding": "No Finding",
}

CHEXPERT: dict[str, str] = {name: name for name in CHEXPERT_14}  # CheXpert names are vocabulary names
MIMIC_CXR: dict[str, str] = dict(CHEXPERT)

CHESTX_DET: dict[str, str] = {
    "Atelectasis": "Atelectasis",
    "Calcification": "Calcification",
    "Cardiomegaly": "Cardiomegaly",
    "Consolidation": "Consolidation",
    "Diffuse Nodule": "Diffuse Nodule",
    "Effusion": "Pleural Effusion",
    "Emphysema": "Emphysema",
    "Fibrosis": "Fibrosis",
    "Fracture": "Fracture",
    "Mass": "Mass",
    "Nodule": "Nodule",
    "Pleural Thickening": "Pleural Thickening",
    "Pneumothorax": "Pneumothorax",
}

VINDR_CXR: dict[str, str] = {
    "Aortic enlargement": "Aortic Enlargement",
    "Atelectasis": "Atelectasis",
    "Calcification": "Calcification",
    "Cardiomegaly": "Cardiomegaly",
    "Clavicle fracture": "Clavicle Fracture",
    "Consolidation": "Consolidation",
    "Edema": "Edema",
    "Emphysema": "Emphysema",
    "Enlarged PA": "Enlarged PA",
    "ILD": "ILD",
    "Infiltration": "Infiltration",
    "Lung Opacity": "Lung Opacity",
    "Lung cavity": "Lung Cavity",
    "Lung cyst": "Lung Cyst",
    "Mediastinal shift": "Mediastinal Shift",
    "Nodule/Mass": "Nodule/Mass",
    "Pleural effusion": "Pleural Effusion",
    "Pleural thickening": "Pleural Thickening",
    "Pneumothorax": "Pneumothorax",
    "Pulmonary fibrosis": "Fibrosis",
    "Rib fracture": "Rib Fracture",
    "Other lesion": "Other Lesion",
    "COPD": "COPD",
    "Lung tumor": "Lung Tumor",
    "Pneumonia": "Pneumonia",
    "Tuberculosis": "Tuberculosis",
    "Other disease": "Other Disease",
    "Other diseases": "Other Disease",
    "No finding": "No Finding",
}
VINDR_LOCAL_LABELS: tuple[str, ...] = tuple(list(VINDR_CXR)[:22])

TBX11K_CLASSES: dict[str, str] = {"health": "Healthy", "sick": "Sick Non-TB", "tb": "Tuberculosis"}
TBX11K_BOXES: dict[str, str] = {
    "ActiveTuberculosis": "Active Tuberculosis",
    "ObsoletePulmonaryTuberculosis": "Obsolete Tuberculosis",
    "PulmonaryTuberculosis": "Tuberculosis",
}

OBJECT_CXR: dict[str, str] = {"foreign object": "Foreign Object"}
JSRT: dict[str, str] = {"nodule": "Nodule"}
NLM_TB: dict[str, str] = {"tuberculosis": "Tuberculosis"}

MAPS: dict[str, dict[str, str]] = {
    "chestxray14": NIH_CHESTXRAY14,
    "chexpert": CHEXPERT,
    "mimic-cxr": MIMIC_CXR,
    "chestx-det": CHESTX_DET,
    "vindr-cxr": VINDR_CXR,
    "tbx11k": {**TBX11K_CLASSES, **TBX11K_BOXES},
    "object-cxr": OBJECT_CXR,
    "jsrt": JSRT,
    "shenzhen": NLM_TB,
    "montgomery": NLM_TB,
}

# Anatomical structures (segmentation keys): the patient's sides, as SCR names them ('left lung' lies on the image's
# right in a PA view). Montgomery's leftMask / rightMask name the image's sides and are swapped on reading.
STRUCTURES: tuple[str, ...] = ("right lung", "left lung", "heart", "right clavicle", "left clavicle")


def to_vocabulary(dataset: str, name: str) -> str:
    try:
        return MAPS[dataset][name]
    except KeyError:
        raise KeyError(f"{dataset}: label {name!r} is not in the cxrbench map for this dataset") from None
