"""At most one open visit per participant and page (a partial unique constraint), so that opening a page is a
single INSERT that does nothing where the page is already open.

Concurrent reloads could have left two open visits of one page before; the older ones are closed at the
moment the next one started, so the constraint can be added and no time is counted twice."""
from django.db import migrations, models


def close_duplicate_open_visits(apps, schema_editor):
    PageVisit = apps.get_model("studies", "PageVisit")
    open_visits = (PageVisit.objects.filter(left_at__isnull=True)
                   .order_by("participant_id", "page", "entered_at", "pk"))
    previous = None
    for visit in open_visits.iterator():
        if previous is not None and (previous.participant_id, previous.page) == (visit.participant_id, visit.page):
            previous.left_at = visit.entered_at
            previous.seconds = max((visit.entered_at - previous.entered_at).total_seconds(), 0.0)
            previous.save(update_fields=["left_at", "seconds"])
        previous = visit


class Migration(migrations.Migration):

    dependencies = [
        ("studies", "0004_study_editor_and_exclusions"),
    ]

    operations = [
        migrations.RunPython(close_duplicate_open_visits, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="pagevisit",
            constraint=models.UniqueConstraint(condition=models.Q(("left_at__isnull", True)),
                                               fields=("participant", "page"), name="one_open_visit_per_page"),
        ),
    ]
