"""Read Prolific submission statuses now (for cron, where no Celery beat runs)."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from studies.models import Study
from studies.prolific.sync import ProlificError, prolific_sync_study


class Command(BaseCommand):
    help = ("Read the Prolific submissions of live and paused Prolific studies (or --study SLUG) and update "
            "their participants.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--study", help="Only this study (slug).")

    def handle(self, *args, study: str | None = None, **options) -> None:
        studies = Study.objects.filter(platform=Study.Platform.PROLIFIC)
        studies = studies.filter(slug=study) if study else studies.filter(status__in=[Study.Status.LIVE,
                                                                                      Study.Status.PAUSED])
        if study and not studies.exists():
            raise CommandError(f"No Prolific study {study!r}.")
        failed = 0
        for one in studies:
            try:
                report = prolific_sync_study(study=one)
            except ProlificError as error:
                failed += 1
                self.stderr.write(f"{one.slug}: {error}")
                continue
            self.stdout.write(f"{one.slug}: {report.submissions} submissions, {report.matched} matched, "
                              f"{report.reopened} places reopened, {report.rejected} rejected")
        if failed:
            raise CommandError(f"{failed} studies could not be synchronised.")
