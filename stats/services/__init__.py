"""Business logic of the stats app, one module per concern: analyses (run and store), hypotheses
(preregistration while a study is a draft) and exports (every response export path)."""
from .analyses import (
    EXCLUSION_REASONS,
    AnalysisError,
    AnalysisParameters,
    InterimLookRequired,
    analysis_compute,
    analysis_from_long,
    analysis_run,
)
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
from .plans import (
    PLAN_EXPORT_FORMATS,
    interim_look_record,
    plan_document,
    plan_export,
    plan_freeze,
    plan_frozen,
    plan_save,
    plan_spec,
)

__all__ = [
    "EXCLUSION_REASONS",
    "EXPORT_FORMATS",
    "AnalysisError",
    "AnalysisParameters",
    "InterimLookRequired",
    "PLAN_EXPORT_FORMATS",
    "ExportError",
    "ExportFile",
    "analysis_compute",
    "analysis_from_long",
    "analysis_run",
    "codebook",
    "export_flags",
    "hypothesis_create",
    "hypothesis_delete",
    "hypothesis_update",
    "interim_look_record",
    "plan_document",
    "plan_export",
    "plan_freeze",
    "plan_frozen",
    "plan_save",
    "plan_spec",
    "response_rows",
    "responses_export",
]
