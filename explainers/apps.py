from django.apps import AppConfig


class ExplainersConfig(AppConfig):
    name = "explainers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from explainers.models import GridCell
        from explainers.templatetags.stimulus_grids import grid_cells_changed

        # A participant page's grid HTML is cached per process; an edited cell must show.
        post_save.connect(grid_cells_changed, sender=GridCell, dispatch_uid="stimulus-grid-html-cell-saved")
        post_delete.connect(grid_cells_changed, sender=GridCell, dispatch_uid="stimulus-grid-html-cell-deleted")
