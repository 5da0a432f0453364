"""The methods paragraph stored in analysis.json and printed in the report."""

from __future__ import annotations

TIE_NOTE = (
    "Equal-or-better is inflated by ties: if AI and original reports were truly equivalent "
    "(P(better) = P(worse)) it would equal 50 % + half the tie rate, not 50 %. Net preference "
    "P(better) - P(worse) is the primary endpoint for that reason."
)


def methods_text(margin: float) -> str:
    return "\n".join(
        [
            "Endpoints. Each reader x case read of the primary criterion is scored +1 (AI report better), "
            "0 (equal) or -1 (AI worse). Net preference = mean over readers of the mean over cases of that "
            "score = P(better) - P(worse) (primary endpoint). Equal-or-better = the same mean of the "
            "indicator score >= 0. " + TIE_NOTE,
            "Confidence intervals. Obuchowski-Rockette model for one modality (Obuchowski & Rockette 1995, "
            "Commun Stat Simul Comput 24:285-308), equivalent to the Dorfman-Berbaum-Metz ANOVA of jackknife "
            "pseudovalues (Dorfman, Berbaum & Metz 1992; Hillis et al. 2005, Stat Med 24:1579-1607): for a "
            "mean-over-cases figure of merit the pseudovalues are the case scores, and the error covariance "
            "Cov2 is the mean between-reader covariance of case scores divided by the number of cases. "
            "Readers fixed, cases random (FRRC): SE^2 = sum of the reader covariance matrix / (J^2 n), "
            "t with n - 1 df. Readers and cases random (RRRC): SE^2 = (MS(R) + J max(Cov2, 0)) / J with "
            "Hillis's denominator df = (MS(R) + J max(Cov2, 0))^2 / (MS(R)^2 / (J - 1)) (Hillis 2007, "
            "Stat Med 26:596-619; Hillis, Berbaum & Metz 2008, Acad Radiol 15:647-661). With few readers the "
            "RRRC interval rests on J - 1 reader degrees of freedom; in our simulations (ordinal probit, "
            "reader SD 0.3, case SD 0.8) its coverage was about 92 % with 3 readers and 95 % with 10. "
            "Sensitivity analysis: two-way bootstrap resampling readers and cases independently (percentile "
            "interval), which over-states variance (Gallas et al. 2009, Commun Stat Theory Methods "
            "38:2586-2603).",
            f"Non-inferiority. Pre-registered margin delta = {margin:g}: AI is non-inferior when the lower "
            "bound of the two-sided 95 % RRRC CI of net preference exceeds -delta (one-sided alpha = 0.025); "
            "the one-sided p-value tests H0: net preference <= -delta with the same t reference.",
            "Agreement (on the AI-relative scale, never on the A/B side). Fleiss' kappa (Fleiss 1971) and "
            "Gwet's AC1 (Gwet 2008) in the form for unequal raters per case (Gwet 2014, Handbook of "
            "Inter-Rater Reliability); Krippendorff's alpha with the ordinal metric (Krippendorff 2011; "
            "krippendorff package); pairwise linearly weighted Cohen's kappa (Cohen 1968; scikit-learn); raw "
            "pairwise agreement with each reader's marginal distribution; Kendall's W with tie correction "
            "(W = Friedman chi2 / (m (n - 1))); ICC for Likert scores only (Shrout & Fleiss 1979; pingouin "
            "intraclass_corr: ICC2 two-way random absolute agreement, ICC3 consistency).",
            "Bias checks. Position bias: share of non-tied choices that picked the left report (A), exact "
            "binomial test against 0.5 with a Clopper-Pearson CI (scipy.stats.binomtest); reads are pooled, "
            "so this is a screening test. Blinding check: accuracy of the end-of-study guess of which report "
            "was the AI, one guess per reader x case, exact binomial test against 0.5.",
            "Exports. iMRMC and MRMCaov files code each read as two modalities with win scores "
            "AI = (1 + p)/2 and original = (1 - p)/2, so the AUC difference reproduces net preference "
            "(see readerstudy.analysis.exports).",
        ]
    )
