from django.apps import AppConfig


class StudiesConfig(AppConfig):
    name = "studies"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from studies.designs.between_group import BetweenGroupDesign
        from studies.designs.registry import register_design

        register_design(BetweenGroupDesign())

        from studies.structure import connect_signals

        connect_signals()
