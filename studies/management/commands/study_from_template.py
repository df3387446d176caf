"""`manage.py study_from_template`: start one's own study as a draft copy of a study template."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from studies.study_templates import (
    StudyTemplateError,
    study_from_template,
    template_dump,
    template_load,
    template_names,
)


class Command(BaseCommand):
    help = (
        "Create a draft study from a study template (a shipped template's name or the path to a template file), "
        "owned by --owner, with the template's conditions, items and preregistered hypotheses. --list shows the "
        "shipped templates; --dump FILE writes a copy of the template to edit and pass back."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("template", nargs="?", help="A shipped template's name (see --list) or a .json path.")
        parser.add_argument("--slug", help="The new study's slug (its participant URL is /s/<slug>/).")
        parser.add_argument("--owner", help="Username of the researcher who owns the new study.")
        parser.add_argument("--title", help="The new study's title (default: the template's).")
        parser.add_argument("--list", action="store_true", dest="list_templates",
                            help="List the shipped templates and exit.")
        parser.add_argument("--dump", metavar="FILE", type=Path,
                            help="Write a copy of the template to FILE (to edit) instead of creating a study.")

    def handle(self, *args, template: str | None, slug: str | None, owner: str | None, title: str | None,
               list_templates: bool, dump: Path | None, **options) -> None:
        try:
            if list_templates:
                return self._list()
            if not template:
                raise CommandError("Name a template (see --list) or give the path to a template file.")
            if dump is not None:
                written = template_dump(template, dump)
                self.stdout.write(f"Wrote {written}; edit it, then run "
                                  f"`manage.py study_from_template {written} --slug ... --owner ...`.")
                return
            if not slug or not owner:
                raise CommandError("Give the new study's --slug and its --owner (a username).")
            user = get_user_model().objects.filter(username=owner).first()
            if user is None:
                raise CommandError(f"No user {owner!r}. Create the account first (admin or "
                                   "`manage.py createsuperuser`).")
            loaded = template_load(template)
            study = study_from_template(loaded, owner=user, slug=slug, title=title)
        except StudyTemplateError as exc:
            raise CommandError(str(exc)) from exc
        self._created(loaded, study)

    def _list(self) -> None:
        for name in template_names():
            try:
                loaded = template_load(name)
            except StudyTemplateError as exc:
                self.stdout.write(f"{name}  (unreadable: {exc})")
                continue
            self.stdout.write(f"{name}  {loaded.title!r}: {len(loaded.conditions)} conditions, "
                              f"{len(loaded.items)} items, {len(loaded.hypotheses)} hypotheses")
            if loaded.about:
                self.stdout.write("    " + loaded.about.replace("\n", "\n    "))

    def _created(self, template, study) -> None:
        self.stdout.write(self.style.SUCCESS(
            f"Created draft study {study.slug!r} for {study.owner} from template {template.name!r}: "
            f"{study.conditions.count()} conditions, {study.items.count()} items, "
            f"{study.hypotheses.count()} hypotheses."))
        self.stdout.write("Before launching:")
        for condition in study.conditions.filter(stimulus_grid__isnull=True, stimulus_image=""):
            spec = next(spec for spec in template.conditions if spec.slug == condition.slug)
            shows = f"a ready grid of the {spec.method!r} method" if spec.method else "a grid or an image"
            self.stdout.write(f"  - condition {condition.slug!r}: link {shows}")
        if study.completion_code or study.attention_fail_code:
            self.stdout.write("  - replace the template's completion codes by your own recruitment platform's")
        self.stdout.write("  - review the consent text, the instructions and the preregistered hypotheses")
        base = settings.PUBLIC_BASE_URL.rstrip("/")
        self.stdout.write(f"Admin: {base}/admin/studies/study/{study.pk}/change/   "
                          f"API: {base}/api/studies/{study.slug}/")
