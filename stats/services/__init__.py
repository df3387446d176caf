"""Business logic of the stats app, one module per concern: analyses (run and store), hypotheses
(preregistration while a study is a draft) and exports (every response export path)."""
from .analyses import EXCLUSION_REASONS, AnalysisError, AnalysisParameters, analysis_compute, analysis_run
from .exports import (
    EXPORT_FORMATS,
    ExportError,
    ExportFile,
    codebook,
    export_flags,
    response_rows,
    responses_export,
)
from .hypotheses import hypothesis_create, hypothesis_delete, hypothesis_update

__all__ = [
    "EXCLUSION_REASONS",
    "EXPORT_FORMATS",
    "AnalysisError",
    "AnalysisParameters",
    "ExportError",
    "ExportFile",
    "analysis_compute",
    "analysis_run",
    "codebook",
    "export_flags",
    "hypothesis_create",
    "hypothesis_delete",
    "hypothesis_update",
    "response_rows",
    "responses_export",
]
