from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "studies.designs.annotation"
    label = "annotation"
    verbose_name = "Annotation tasks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from studies.designs.registry import register_design

        from .design import AnnotationDesign

        register_design(AnnotationDesign())
