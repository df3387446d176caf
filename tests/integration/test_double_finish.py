"""A double click on Finish sends two POSTs at once; on PostgreSQL both must end at the completion redirect."""
from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from studies.models import Participant, ResponseRevision
from tests.studies.factories import make_study, make_user
from tests.studies.test_no_answer_lost import to_free_text

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PARTICIPANTS = 12


def _double_click(url: str, data: dict) -> list:
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def click(index: int) -> None:
        try:
            client = Client()
            barrier.wait()
            results[index] = client.post(url, data)
        finally:
            connection.close()

    threads = [threading.Thread(target=click, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_concurrent_finish_posts_both_end_at_the_completion_redirect(transactional_db):
    study = make_study(owner=make_user(), target_per_condition=None)
    for n in range(PARTICIPANTS):
        client = Client()
        consent = client.get(f"/s/{study.slug}/", {"PROLIFIC_PID": f"pid-{n}", "STUDY_ID": "s"})["Location"]
        url = client.post(consent, {"consent": "yes"})["Location"]
        participant = Participant.objects.get(study=study, external_id=f"pid-{n}")
        free_text = to_free_text(client, url)
        first, second = _double_click(free_text, {"action": "next", "item-comments": "double"})
        for response in (first, second):
            assert response.status_code == 302, response.content[:300]
            # Both to the completion page, which shows the code and sends the participant to Prolific.
            assert response["Location"].endswith("/complete/")
            assert "submissions/complete?cc=DONE123" in client.get(response["Location"]).content.decode()
        participant.refresh_from_db()
        assert participant.status == Participant.Status.COMPLETED
    assert ResponseRevision.objects.filter(response__item__key="comments").count() == PARTICIPANTS
