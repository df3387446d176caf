"""The seed questionnaire as an oTree 6 app, for the side-by-side benchmark in bench/flow/.

Sixt et al., "Do users benefit from interpretable vision?" (section 3.3): consent, instructions, a stimulus
page with a 30 x 5 image grid and six pattern statements plus an attention check on a 7-point agreement
scale, five explanation-satisfaction statements (Hoffman et al., 2018), free text, completion. Two
between-group conditions, assigned round-robin as participants join (balanced by construction).

The texts and the grid are not copied here: bench/flow/ writes them into seed.json next to this file when
it creates the oTree project, from studyserver/seed_study.py and the grid cells of the study the platform
built, so both systems show the same questionnaire and the same 150 images.
"""
import json
from pathlib import Path

from otree.api import BaseConstants, BaseGroup, BasePlayer, BaseSubsession, Page, models, widgets

SEED = json.loads((Path(__file__).resolve().parent / "seed.json").read_text(encoding="utf-8"))
AGREEMENT = [[value, label] for value, label in enumerate(SEED["agreement_labels"], start=1)]


class C(BaseConstants):
    NAME_IN_URL = "seed"
    PLAYERS_PER_GROUP = None
    NUM_ROUNDS = 1


class Subsession(BaseSubsession):
    pass


class Group(BaseGroup):
    pass


def _likert(text):
    return models.IntegerField(label=text, choices=AGREEMENT, widget=widgets.RadioSelectHorizontal)


def _player_fields():
    fields = {
        "condition": models.StringField(),
        "consent": models.BooleanField(choices=[[True, "I agree and want to take part"],
                                                [False, "I do not agree"]]),
    }
    for key, text in SEED["stimulus_items"] + SEED["satisfaction_items"]:
        fields[key] = _likert(text)
    for key, text, required in SEED["free_text_items"]:
        fields[key] = models.LongStringField(label=text, blank=not required)
    return fields


# oTree reads a player's fields from the class body; the questionnaire's keys come from seed.json.
Player = type("Player", (BasePlayer,), {"__module__": __name__, **_player_fields()})


def creating_session(subsession):
    conditions = [condition["slug"] for condition in SEED["conditions"]]
    for index, player in enumerate(subsession.get_players()):
        player.condition = conditions[index % len(conditions)]


def _consented(player):
    return bool(player.consent)


class Consent(Page):
    form_model = "player"
    form_fields = ["consent"]

    @staticmethod
    def vars_for_template(player):
        return {"consent_text": SEED["consent_text"]}


class Declined(Page):
    @staticmethod
    def is_displayed(player):
        return not _consented(player)


class Instructions(Page):
    is_displayed = _consented

    @staticmethod
    def vars_for_template(player):
        return {"instructions_text": SEED["instructions_text"]}


class Stimulus(Page):
    form_model = "player"
    form_fields = [key for key, _ in SEED["stimulus_items"]]
    is_displayed = _consented

    @staticmethod
    def vars_for_template(player):
        grid = SEED["grids"][player.condition]
        return {"grid_rows": grid["rows"], "column_labels": grid["column_labels"], "cell_size": grid["cell_size"]}


class Satisfaction(Page):
    form_model = "player"
    form_fields = [key for key, _ in SEED["satisfaction_items"]]
    is_displayed = _consented


class FreeText(Page):
    form_model = "player"
    form_fields = [key for key, _, _ in SEED["free_text_items"]]
    is_displayed = _consented


class Completion(Page):
    is_displayed = _consented

    @staticmethod
    def vars_for_template(player):
        attention_key, expected = SEED["attention_check"]
        passed = getattr(player, attention_key) == expected
        return {"code": SEED["completion_code"] if passed else SEED["attention_fail_code"]}


page_sequence = [Consent, Declined, Instructions, Stimulus, Satisfaction, FreeText, Completion]
