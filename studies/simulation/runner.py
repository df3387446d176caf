"""A run of many bots: their plans, the threads they run on, and the summary report."""
from __future__ import annotations

import random
import statistics
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from .bot import SIMULATED_ID_PREFIX, Bot, BotOutcome, BotPlan
from .policy import ResponsePolicy, policy_default, policy_file_read, policy_merge, policy_parse
from .registry import ParticipantRegistry
from .spec import study_spec_from
from .transports import ClientTransport, RequestsTransport


@dataclass
class SimulationReport:
    outcomes: list[BotOutcome]
    elapsed_s: float

    def count(self, status: str) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)

    @property
    def stuck(self) -> list[BotOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "stuck"]

    @property
    def pages(self) -> int:
        return sum(outcome.pages for outcome in self.outcomes)

    @property
    def requests(self) -> int:
        return sum(outcome.requests for outcome in self.outcomes)

    def per_condition(self) -> dict[str, Counter]:
        table: dict[str, Counter] = defaultdict(Counter)
        for outcome in self.outcomes:
            table[outcome.condition or "(none)"][outcome.status] += 1
        return dict(sorted(table.items()))

    def lines(self) -> list[str]:
        rate = self.pages / self.elapsed_s if self.elapsed_s > 0 else float("inf")
        lines = [
            f"Simulated participants: {len(self.outcomes)}",
            f"  completed: {self.count('completed')}",
            f"  failed the attention check: {self.count('failed_attention')}",
            f"  abandoned midway (left active): {self.count('abandoned')}",
            f"  stuck: {len(self.stuck)}",
            "Per condition (completed / failed attention / abandoned / stuck):",
        ]
        for condition, counts in self.per_condition().items():
            lines.append(f"  {condition}: {counts['completed']} / {counts['failed_attention']} / "
                         f"{counts['abandoned']} / {counts['stuck']}")
        lines.append(f"Elapsed: {self.elapsed_s:.2f} s, {self.pages} pages ({rate:.1f} pages/s), "
                     f"{self.requests} HTTP requests")
        if self.outcomes:
            median = statistics.median(outcome.requests for outcome in self.outcomes)
            lines.append(f"Median requests per participant: {median:g}")
        return lines


def bot_plans(n: int, *, seed: int, abandon_share: float = 0.0, attention_fail_share: float = 0.0,
              run_id: str | None = None) -> list[BotPlan]:
    """Who abandons and who fails the attention check, drawn once from `seed`; ids start with SIM-."""
    run_id = run_id or uuid.uuid4().hex[:8]
    chooser = random.Random(seed)
    indices = list(range(n))
    chooser.shuffle(indices)
    n_abandon = round(n * abandon_share)
    n_fail = round(n * attention_fail_share)
    abandoning = set(indices[:n_abandon])
    failing = set(indices[n_abandon:n_abandon + n_fail])
    return [
        BotPlan(index=index, external_id=f"{SIMULATED_ID_PREFIX}{run_id}-{index:05d}",
                abandon_at=chooser.random() if index in abandoning else None,
                fail_attention=index in failing, seed=chooser.randrange(2**32))
        for index in range(n)
    ]


def simulation_validate(*, n: int, abandon_share: float, attention_fail_share: float, concurrency: int) -> None:
    if n < 1:
        raise ValueError(f"--n must be at least 1 (got {n}).")
    for name, share in (("--abandon-share", abandon_share), ("--attention-fail-share", attention_fail_share)):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{name} must lie between 0 and 1 (got {share}).")
    if abandon_share + attention_fail_share > 1.0:
        raise ValueError("--abandon-share and --attention-fail-share together must not exceed 1.")
    if concurrency < 1:
        raise ValueError(f"--concurrency must be at least 1 (got {concurrency}).")


def bots_run(plans: list[BotPlan], make_bot: Callable[[BotPlan], Bot], *, concurrency: int = 1,
             arrival_offsets: list[float] | None = None,
             progress: Callable[[BotOutcome], None] | None = None) -> tuple[list[BotOutcome], float]:
    """Run one bot per plan, `concurrency` at a time; returns the outcomes in plan order and the seconds taken.

    `arrival_offsets` (seconds after the start, one per plan) holds each bot back until its arrival time,
    as when participants arrive within a few seconds of a study's launch.
    """
    from django.db import connections

    lock = threading.Lock()
    started = time.perf_counter()

    def run_one(position: int) -> BotOutcome:
        if arrival_offsets is not None:
            delay = started + arrival_offsets[position] - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        outcome = make_bot(plans[position]).run()
        if progress is not None:
            with lock:
                progress(outcome)
        return outcome

    def run_in_thread(position: int) -> BotOutcome:
        try:
            return run_one(position)
        finally:
            connections.close_all()  # this worker thread's own connections

    if concurrency == 1:
        outcomes = [run_one(position) for position in range(len(plans))]
    else:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bot") as pool:
            outcomes = list(pool.map(run_in_thread, range(len(plans))))
    return outcomes, time.perf_counter() - started


def simulation_run(
    *,
    study,
    n: int,
    policy: ResponsePolicy | None = None,
    base_url: str | None = None,
    abandon_share: float = 0.0,
    attention_fail_share: float = 0.0,
    seed: int = 0,
    concurrency: int = 1,
    progress: Callable[[BotOutcome], None] | None = None,
) -> SimulationReport:
    """Run n simulated participants through `study` (in-process, or against `base_url`) and report.

    The study's design supplies the bot and its default policy (StudyDesign.simulation_bot); without one the
    bot walks the shared question pages and answers with the seed study's reported shares.
    """
    from django.conf import settings

    from studies.designs.registry import design_for

    simulation_validate(n=n, abandon_share=abandon_share, attention_fail_share=attention_fail_share,
                        concurrency=concurrency)
    spec = study_spec_from(study)
    bot_class, design_policy = design_for(study).simulation_bot(study=study) or (Bot, None)
    policy = policy if policy is not None else (design_policy or ResponsePolicy(policy_default(spec)))
    registry = ParticipantRegistry(spec.slug)
    plans = bot_plans(n, seed=seed, abandon_share=abandon_share, attention_fail_share=attention_fail_share)

    def make_bot(plan: BotPlan) -> Bot:
        transport = RequestsTransport(base_url) if base_url else ClientTransport()
        return bot_class(plan=plan, spec=spec, policy=policy, transport=transport, registry=registry,
                         completion_base_url=settings.PROLIFIC_COMPLETION_BASE_URL)

    outcomes, elapsed = bots_run(plans, make_bot, concurrency=concurrency, progress=progress)
    return SimulationReport(outcomes=outcomes, elapsed_s=elapsed)


def simulation_policy_load(*, study, path: str):
    """The response policy of a JSON file for `study`: in its design's format (StudyDesign.simulation_policy),
    else the shared one (policy_parse) over the default. Raises PolicyError naming the file."""
    from studies.designs.registry import design_for

    raw = policy_file_read(path)
    policy = design_for(study).simulation_policy(study=study, raw=raw, source=str(path))
    if policy is not None:
        return policy
    spec = study_spec_from(study)
    return ResponsePolicy(policy_merge(policy_default(spec), policy_parse(raw, spec, source=str(path))))
