"""Run simulated participants through a study's real participant pages (see studies/simulation/)."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from studies import simulation
from studies.models import Study


class Command(BaseCommand):
    help = (
        "Drive N simulated participants through the study's participant pages over HTTP, whatever its design "
        "(in-process, or against a running server with --base-url that uses the same database). They are flagged "
        "is_simulated and never counted in real analyses. Exits non-zero when any bot gets stuck."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("study", help="slug of the study (it must be live)")
        parser.add_argument("--n", type=int, default=60, help="number of simulated participants (default 60)")
        parser.add_argument("--base-url", default=None,
                            help="URL of a running server, e.g. http://127.0.0.1:8000 (default: in-process)")
        parser.add_argument("--policy", default=None,
                            help='JSON file overriding the default answers. Question pages: {"<condition>": '
                                 '{"<item>": [weight per scale point]}} over the seed study\'s reported answer '
                                 'shares ("*" = all conditions); annotation: {"accuracy": {"<subcategory>": share '
                                 'correct}, "otherwise": share}; trials: {"means": {"<method>": mean rating}}')
        parser.add_argument("--abandon-share", type=float, default=0.0,
                            help="share of participants who stop midway and stay active (default 0)")
        parser.add_argument("--attention-fail-share", type=float, default=0.0,
                            help="share of participants who fail the attention check (default 0)")
        parser.add_argument("--seed", type=int, default=0, help="seed of the answers and the plans (default 0)")
        parser.add_argument("--concurrency", type=int, default=1, help="participants at a time (default 1)")

    def handle(self, *args, **options) -> None:
        study = Study.objects.filter(slug=options["study"]).first()
        if study is None:
            raise CommandError(f"No study with the slug {options['study']!r}.")
        if study.status != Study.Status.LIVE:
            raise CommandError(f"Study {study.slug!r} is {study.status}: only a live study takes participants. "
                               "Launch it first.")
        try:
            simulation.simulation_validate(
                n=options["n"], abandon_share=options["abandon_share"],
                attention_fail_share=options["attention_fail_share"], concurrency=options["concurrency"])
        except ValueError as error:
            raise CommandError(str(error)) from None
        try:
            policy = (simulation.simulation_policy_load(study=study, path=options["policy"])
                      if options["policy"] else None)
        except simulation.PolicyError as error:
            raise CommandError(str(error)) from None
        base_url = options["base_url"]
        if base_url and not base_url.startswith(("http://", "https://")):
            raise CommandError(f"--base-url must start with http:// or https:// (got {base_url!r}).")
        where = base_url or "in-process"
        self.stdout.write(f"Simulating {options['n']} participants in {study.slug!r} ({where}, "
                          f"concurrency {options['concurrency']}, seed {options['seed']})")
        done = [0]

        def progress(outcome: simulation.BotOutcome) -> None:
            done[0] += 1
            if outcome.status == "stuck":
                self.stderr.write(f"  STUCK {outcome.error}")
            if done[0] % 10 == 0 or done[0] == options["n"]:
                self.stdout.write(f"  {done[0]}/{options['n']} finished")

        report = simulation.simulation_run(
            study=study, n=options["n"], policy=policy, base_url=base_url,
            abandon_share=options["abandon_share"], attention_fail_share=options["attention_fail_share"],
            seed=options["seed"], concurrency=options["concurrency"], progress=progress,
        )
        for line in report.lines():
            self.stdout.write(line)
        if report.stuck:
            first = report.stuck[0].error
            raise CommandError(f"{len(report.stuck)} simulated participant(s) got stuck; first: {first}")
