from django.apps import AppConfig


class TrialsConfig(AppConfig):
    """The within-subject trials design; registers itself with the study-design registry when ready."""

    name = "studies.designs.trials"
    label = "trials"
    verbose_name = "Within-subject trials"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from studies.designs.registry import register_design

        from .design import TrialsDesign

        register_design(TrialsDesign())
