"""Simulated participants: bots that take a study through its real participant pages over HTTP.

One bot serves both `manage.py simulate_participants` (answers that follow a response policy, checks of
every page) and bench/load.py (many bots at once against gunicorn, every request timed). The package splits
the bot along its concerns; import the public names from here:

- spec.py: the part of a study definition a bot needs (StudySpec), read once before a run;
- policy.py: how a simulated participant answers (ResponsePolicy over weights per condition and item,
  the seed study's reported shares by default, JSON overrides);
- pages.py: reading the rendered HTML (forms, fields, buttons, notices, completion codes);
- transports.py: in-process through Django's test client, or over HTTP with requests (timed, retrying);
- registry.py: flagging the bot's record simulated and simulating viewing time through the ORM;
- bot.py: one participant walking the flow; a study design's bot (StudyDesign.simulation_bot) subclasses it
  and supplies what it submits on the design's own pages (`page_post`);
- runner.py: plans, threads and the summary of a run.

Importing this package needs no configured Django; running a bot does.
"""
from .bot import SIMULATED_ID_PREFIX, Bot, BotOutcome, BotPlan, PagePost
from .errors import BotStuck
from .pages import FormField, PageForm, ParsedPage, page_parse, page_parse_text
from .policy import (
    Policy,
    PolicyError,
    ResponsePolicy,
    policy_default,
    policy_load,
    policy_merge,
    policy_parse,
    shares_to_weights,
)
from .registry import ParticipantRegistry, SingleConnectionRegistry
from .runner import (
    SimulationReport,
    bot_plans,
    bots_run,
    simulation_policy_load,
    simulation_run,
    simulation_validate,
)
from .spec import ItemSpec, StudySpec, study_spec_from
from .transports import ClientTransport, HttpResult, RequestsTransport, Timing, Transport

__all__ = [
    "SIMULATED_ID_PREFIX", "Bot", "BotOutcome", "BotPlan", "PagePost", "BotStuck", "FormField", "PageForm",
    "ParsedPage", "page_parse", "page_parse_text", "Policy", "PolicyError", "ResponsePolicy", "policy_default",
    "policy_load", "policy_merge", "policy_parse", "shares_to_weights", "ParticipantRegistry",
    "SingleConnectionRegistry", "SimulationReport", "bot_plans", "bots_run", "simulation_policy_load",
    "simulation_run", "simulation_validate", "ItemSpec", "StudySpec", "study_spec_from", "ClientTransport",
    "HttpResult", "RequestsTransport", "Timing", "Transport",
]
