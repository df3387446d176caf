"""Configuring annotation studies: bad configuration is refused at once, launch checks, admin, API, dashboard."""
import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from studies import services as study_services
from studies.designs.annotation import services
from studies.designs.annotation.design import AnnotationDesign
from studies.designs.annotation.models import AnnotationItem, AnnotationTask
from studies.designs.registry import design_get
from studies.models import Study
from tests.studies.factories import make_user

from .factories import image, make_annotation_study

pytestmark = pytest.mark.django_db


def test_the_design_is_registered():
    assert isinstance(design_get(Study.Design.ANNOTATION), AnnotationDesign)


def test_k_larger_than_the_planned_participants_is_refused():
    study = make_annotation_study(status=Study.Status.DRAFT)
    with pytest.raises(ValidationError, match="only 5 participants are planned"):
        services.annotation_settings_save(study=study, votes_per_item=8, planned_participants=5)
    assert services.annotation_settings_for(study).votes_per_item == 2


def test_an_item_without_ground_truth_is_refused_where_accuracy_is_asked():
    study = make_annotation_study(status=Study.Status.DRAFT)
    task = AnnotationTask.objects.get(study=study, key="order")
    with pytest.raises(ValidationError, match="scores accuracy"):
        services.annotation_item_create(task=task, key="no-truth", images=[image(), image()])
    assert not AnnotationItem.objects.filter(key="no-truth").exists()
    unscored = services.annotation_task_create(study=study, key="free", title="Free", question="Which?",
                                               answer_kind="two_alternative", measures_accuracy=False)
    services.annotation_item_create(task=unscored, key="no-truth", images=[image(), image()])


@pytest.mark.parametrize("fields, images, message", [
    ({"ground_truth": "3"}, 2, "image position 1 or 2"),
    ({"ground_truth": "1"}, 3, "exactly two images"),
])
def test_bad_pairs_are_refused_and_nothing_is_stored(fields, images, message):
    study = make_annotation_study(status=Study.Status.DRAFT)
    task = AnnotationTask.objects.get(study=study, key="order")
    with pytest.raises(ValidationError, match=message):
        services.annotation_item_create(task=task, key="bad", images=[image() for _ in range(images)], **fields)
    assert not AnnotationItem.objects.filter(key="bad").exists()


@pytest.mark.parametrize("choices", [["only one"], ["a", "a"], [""], "arms"])
def test_multiple_choice_needs_two_distinct_answers(choices):
    study = make_annotation_study(status=Study.Status.DRAFT)
    with pytest.raises(ValidationError, match="choices"):
        services.annotation_task_create(study=study, key="mc", title="MC", question="?", choices=choices)


def test_a_between_group_study_gets_no_annotation_tasks():
    study = Study.objects.create(owner=make_user(), slug="bg", title="BG")
    with pytest.raises(ValidationError, match="not an annotation task"):
        services.annotation_task_create(study=study, key="t", title="T", question="?", choices=["a", "b"])


def test_launch_checks_capacity_and_tasks():
    empty = Study.objects.create(owner=make_user(), slug="empty", title="E", design=Study.Design.ANNOTATION,
                                 completion_code="C")
    assert "annotation_tasks" in study_services.study_launch_problems(study=empty)
    study = make_annotation_study(items=4, k=2, per_participant=2, status=Study.Status.DRAFT)
    services.annotation_settings_save(study=study, votes_per_item=2, items_per_participant=2, planned_participants=3)
    problems = study_services.study_launch_problems(study=study)
    assert "need 8 annotations" in problems["planned_participants"][0]
    services.annotation_settings_save(study=study, votes_per_item=2, items_per_participant=2, planned_participants=4)
    assert study_services.study_launch_problems(study=study) == {}
    assert study_services.study_launch(study=study).status == Study.Status.LIVE


def test_the_task_cannot_change_its_question_after_votes():
    from .test_allocation import arrive, vote_all

    study = make_annotation_study(items=1, k=1, per_participant=1)
    vote_all(arrive(study, "P"))
    task = AnnotationTask.objects.get(study=study, key="order")
    with pytest.raises(ValidationError, match="already voted"):
        services.annotation_task_update(task=task, data={"question": "Something else?"})


def test_api_creates_tasks_and_items_for_the_owner_only():
    study = make_annotation_study(status=Study.Status.DRAFT, items=0)
    owner_api, other_api = APIClient(), APIClient()
    owner_api.force_authenticate(study.owner)
    other_api.force_authenticate(make_user(is_staff=True))
    response = owner_api.post("/api/annotation-tasks/", {
        "study": study.slug, "key": "changing", "title": "Task-2", "question": "What is changing?",
        "answer_kind": "multiple_choice", "choices": ["arms", "colour"]}, format="json")
    assert response.status_code == 201, response.content
    bad = owner_api.post("/api/annotation-tasks/", {
        "study": study.slug, "key": "bad", "title": "Bad", "question": "?", "choices": ["one"]}, format="json")
    assert bad.status_code == 400 and "choices" in bad.json()
    assert other_api.get("/api/annotation-tasks/").json() == [] or other_api.get(
        "/api/annotation-tasks/").json().get("results") == []
    task_id = response.json()["id"]
    assert other_api.get(f"/api/annotation-tasks/{task_id}/").status_code == 404
    taken = other_api.post("/api/annotation-tasks/", {
        "study": study.slug, "key": "x", "title": "X", "question": "?", "choices": ["a", "b"]}, format="json")
    assert taken.status_code == 400  # the study is not theirs
    settings_response = owner_api.post("/api/annotation-settings/", {
        "study": study.slug, "votes_per_item": 9, "planned_participants": 4}, format="json")
    assert settings_response.status_code == 400 and "votes_per_item" in settings_response.json()


def test_dashboard_shows_votes_per_item(client):
    from .test_allocation import arrive, vote_all

    study = make_annotation_study(items=2, k=1, per_participant=1)
    vote_all(arrive(study, "P"))
    client.force_login(study.owner)
    page = client.get(f"/studies/{study.slug}/dashboard/").content.decode()
    assert "Votes per item" in page
    assert "<strong>1</strong> of 2 items have all 1 votes" in page


def test_admin_lists_only_the_researchers_own_items(client):
    from django.contrib.auth.models import Permission

    study = make_annotation_study(items=1)
    other = make_annotation_study(items=1)
    study.owner.user_permissions.add(*Permission.objects.filter(content_type__app_label="annotation"))
    client.force_login(study.owner)
    page = client.get("/admin/annotation/annotationitem/").content.decode()
    assert study.slug in page and other.slug not in page
