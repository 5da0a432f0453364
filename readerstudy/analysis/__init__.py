"""Reader study statistics: MRMC inference for preference endpoints, agreement, bias checks, report, exports."""

from readerstudy.analysis.analyze import analyze, analyze_reads
from readerstudy.analysis.simulate import simulate_study, simulate_study_with_truth

__all__ = ["analyze", "analyze_reads", "simulate_study", "simulate_study_with_truth"]
