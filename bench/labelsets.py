"""The publishers' label lists, in their published order (one source for the labeler, adapters and metrics)."""

from __future__ import annotations

# The 14 observations of the CheXpert labeler / CheXpert / MIMIC-CXR-JPG, in the labeler's column order.
CHEXPERT_14: tuple[str, ...] = (
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Lesion",
    "Lung Opacity",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)

# The 14 findings of NIH ChestX-ray14 (Wang et al. 2017), spelled as in Data_Entry_2017.csv.
CHESTXRAY14: tuple[str, ...] = (
    "Atelectasis",
    "Cardiomegaly",
    "Effusion",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pneumonia",
    "Pneumothorax",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Fibrosis",
    "Pleural_Thickening",
    "Hernia",
)
