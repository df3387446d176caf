"""The study-design registry: the seed's between-group design is registered and drives the shared flow."""
import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError

from studies.designs.between_group import BetweenGroupDesign
from studies.designs.registry import StudyDesign, design_for, design_get, register_design
from studies.models import Study


def test_between_group_is_registered_when_the_app_is_ready():
    assert isinstance(design_get(Study.Design.BETWEEN_GROUP), BetweenGroupDesign)


def test_an_unknown_design_gets_a_clear_error():
    with pytest.raises(ImproperlyConfigured, match="not available"):
        design_get("no-such-design")


def test_two_designs_cannot_claim_one_key():
    class Impostor(StudyDesign):
        key = Study.Design.BETWEEN_GROUP
        label = "impostor"

    with pytest.raises(ImproperlyConfigured, match="claim the key"):
        register_design(Impostor())


@pytest.mark.django_db
def test_a_study_uses_its_design_and_its_launch_problems(django_user_model):
    owner = django_user_model.objects.create_user("owner")
    study = Study.objects.create(owner=owner, slug="s", title="S")
    assert isinstance(design_for(study), BetweenGroupDesign)
    from studies import services

    problems = services.study_launch_problems(study=study)
    assert "conditions" in problems and "items" in problems


@pytest.mark.django_db
def test_the_design_of_a_started_study_cannot_change(django_user_model):
    from studies.models import Participant

    owner = django_user_model.objects.create_user("owner")
    study = Study.objects.create(owner=owner, slug="s", title="S", status=Study.Status.LIVE)
    study.design = Study.Design.ANNOTATION
    study.full_clean()  # nobody has started: allowed
    study.design = Study.Design.BETWEEN_GROUP
    Participant.objects.create(study=study, platform=Study.Platform.LINK)
    study.design = Study.Design.ANNOTATION
    with pytest.raises(ValidationError, match="design"):
        study.full_clean()
