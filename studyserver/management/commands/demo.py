"""`manage.py demo`: the seed study, built from its study template on the embedded default, and served."""
from __future__ import annotations

import os
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from studyserver.demo import DEMO_TEMPLATES, DemoError, check_port_free, demo_build


class Command(BaseCommand):
    help = (
        "Build the seed study from its study template two4two_counterfactuals (Two4Two data, invertible "
        "classifier, baseline and counterfactual grids, questionnaire, preregistered hypotheses), print its URLs "
        "and a login, and serve it. To start your own study from the template: manage.py study_from_template."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--quick", action="store_true", help="Small model (about 2 minutes on 2 cores).")
        parser.add_argument("--no-serve", action="store_true", help="Build everything, print the summary, exit.")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--retrain", action="store_true", help="Ignore a cached checkpoint and train again.")
        parser.add_argument("--design", choices=sorted(DEMO_TEMPLATES), default="between_group",
                            help="between_group: the seed study (default); trials: within-subject trials with "
                                 "three counterbalanced explanation methods (template cem_maf_two4two).")

    def handle(self, *args, quick: bool, no_serve: bool, host: str, port: int, retrain: bool, design: str,
               **options) -> None:
        started = time.monotonic()
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, got {port}")
        if "PUBLIC_BASE_URL" not in os.environ:
            settings.PUBLIC_BASE_URL = f"http://{host}:{port}"
        try:
            if not no_serve:
                check_port_free(host, port)  # before minutes of work, not after
            result = demo_build(quick=quick, say=self._say, retrain=retrain, design=design)
        except DemoError as exc:
            raise CommandError(str(exc)) from exc

        elapsed = time.monotonic() - started
        style = self.style
        self.stdout.write("")
        self.stdout.write(style.SUCCESS(f"The demo study is ready ({elapsed:.0f} s"
                                        + (f"; reused: {', '.join(result.reused)}" if result.reused else "")
                                        + ")."))
        self.stdout.write(f"  Participant URL: {result.participant_url}")
        for label, url in result.urls.items():
            self.stdout.write(f"  {label + ':':<20} {url}")
        self.stdout.write(f"  Researcher login:   {result.username} / {result.password}")
        metrics = result.checkpoint_metrics
        if "val_accuracy" in metrics:
            self.stdout.write(f"  Model: validation accuracy {metrics['val_accuracy']:.1%}"
                              + (f", {metrics['val_bits_per_dim']:.2f} bits/dim" if "val_bits_per_dim" in metrics else ""))
        self.stdout.write("  Simulate participants: "
                          f"python manage.py simulate_participants {result.study_slug} --n 60")
        if no_serve:
            return
        self.stdout.write(style.SUCCESS(f"Serving on http://{host}:{port}/ (Ctrl-C stops)."))
        call_command("runserver", f"{host}:{port}", use_reloader=False, skip_checks=True)

    def _say(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()
