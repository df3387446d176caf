"""A researcher's first hour, in the browser: an account from create_researcher, a three-condition study with
uploaded images and four statements configured in the admin, a preview of every condition, the launch from
the dashboard, two participants (laptop and phone), the dashboard, the analysis and an export.
Screenshots go to artifacts/first_hour_<step>.png."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from PIL import Image

from tests.browser.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
PROLIFIC_BASE = "https://app.prolific.com/submissions/complete"
CONDITIONS = [("No explanation", "control"), ("Saliency maps", "saliency"), ("Counterfactuals", "counterfactual")]
STATEMENTS = [  # key, text, page, kind, reverse-coded
    ("arms", "The network uses the arms' positions.", "stimulus", "likert", False),
    ("colour", "The network's decision was confusing.", "stimulus", "likert", True),
    ("useful", "What I saw helped me understand the network.", "satisfaction", "likert", False),
    ("why", "How did you decide?", "free_text", "free_text", False),
]


def _serve_media(page, media_root: Path) -> None:
    # The live server serves no uploads; the browser gets them straight from MEDIA_ROOT.
    page.route("**/media/**", lambda route: route.fulfill(
        path=str(media_root / route.request.url.split("/media/", 1)[1])))


def _shot(page, step: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"first_hour_{step}.png"), full_page=True)


def _images(tmp_path: Path) -> list[Path]:
    paths = []
    for index, colour in enumerate([(200, 40, 40), (40, 160, 60), (40, 60, 200)]):
        path = tmp_path / f"stimulus-{index}.png"
        Image.new("RGB", (240, 160), colour).save(path)
        paths.append(path)
    return paths


def _set_slug(page, selector: str, value: str) -> None:
    # The admin fills slugs from the name as one types (and stops once a slug was edited by hand); typing
    # into the slug races that script, so the value is set the way a researcher's edit leaves it.
    page.eval_on_selector(selector, "(e, v) => { e.value = v; e.dispatchEvent(new Event('change', {bubbles: true})); }",
                          value)


def _configure_in_the_admin(page, base: str, images: list[Path]) -> None:
    page.goto(f"{base}/admin/studies/study/add/")
    page.fill("#id_title", "Which patterns does the network use?")
    _set_slug(page, "#id_slug", "first-hour")
    page.select_option("#id_platform", "prolific")
    page.fill("#id_time_limit_minutes", "0")  # a mistake first: refused with a clear message
    page.fill("#id_completion_code", "C0DE42")
    page.fill("#id_consent_text", "You may stop at any time; your answers are stored without your name.")
    page.fill("#id_instructions_text", "Look at the image carefully, then answer the questions.")
    for index, (name, slug) in enumerate(CONDITIONS):
        page.click("#conditions-group .add-row a")
        page.fill(f"#id_conditions-{index}-name", name)
        _set_slug(page, f"#id_conditions-{index}-slug", slug)
        page.fill(f"#id_conditions-{index}-order", str(index))
        page.set_input_files(f"#id_conditions-{index}-stimulus_image", str(images[index]))
    page.uncheck("#id_conditions-0-shows_explanation")  # the control group sees no explanation
    for index, (key, text, page_name, kind, reverse) in enumerate(STATEMENTS):
        page.click("#items-group .add-row a")
        page.fill(f"#id_items-{index}-order", str(index + 1))
        page.select_option(f"#id_items-{index}-page", page_name)
        page.fill(f"#id_items-{index}-key", key)
        page.fill(f"#id_items-{index}-text", text)
        page.select_option(f"#id_items-{index}-kind", kind)
        page.fill(f"#id_items-{index}-group", "feedback" if kind == "free_text" else (
            "satisfaction" if page_name == "satisfaction" else "pattern"))
        if kind == "free_text":
            page.fill(f"#id_items-{index}-scale_points", "")  # free text needs no scale
            page.uncheck(f"#id_items-{index}-required")
        if reverse:
            page.check(f"#id_items-{index}-reverse_coded")
    page.fill("#id_items-0-labels", "\n".join(["Strongly disagree", "Disagree", "Somewhat disagree", "Neutral",
                                                "Somewhat agree", "Agree", "Strongly agree"]))
    page.click("input[name=_continue]")
    page.wait_for_selector(".errornote")
    assert "A time limit must be at least 1 minute." in page.content()
    # The three uploads were kept: the corrected page is saved without choosing the files again.
    assert page.locator("text=Already uploaded").count() == 3
    _shot(page, "admin_error_keeps_uploads")
    page.fill("#id_time_limit_minutes", "20")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    _shot(page, "admin_saved")


def _take_part(chromium, base: str, media_root: Path, pid: str, viewport: dict, answers: dict) -> None:
    context = chromium.new_context(viewport=viewport, is_mobile=viewport == PHONE, has_touch=viewport == PHONE)
    page = context.new_page()
    page.set_default_timeout(60_000)  # a busy CI machine
    _serve_media(page, media_root)
    name = "phone" if viewport == PHONE else "laptop"
    page.goto(f"{base}/s/first-hour/?PROLIFIC_PID={pid}&STUDY_ID=st&SESSION_ID=se-{pid}")
    assert "at most 20 minutes" in page.content()
    page.click("#agree")
    page.wait_for_url("**/instructions/")
    page.click("#next")
    page.wait_for_url("**/stimulus/")
    page.wait_for_function("document.querySelector('.stimulus-image').complete")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    for key in ("arms", "colour"):
        page.check(f'input[name="item-{key}"][value="{answers[key]}"]')
    _shot(page, f"participant_{name}_stimulus")
    page.click("#next")
    page.wait_for_url("**/satisfaction/")
    page.check(f'input[name="item-useful"][value="{answers["useful"]}"]')
    page.click("#next")
    page.wait_for_url("**/free_text/")
    page.fill('textarea[name="item-why"]', "By the arms.")
    with page.expect_request(lambda request: request.url.startswith(PROLIFIC_BASE), timeout=15000) as prolific:
        page.click("#next")
        page.wait_for_url("**/complete/")
        assert page.locator("#completion-code").inner_text() == "C0DE42"  # shown in case the redirect fails
        _shot(page, f"participant_{name}_complete")
    assert prolific.value.url == f"{PROLIFIC_BASE}?cc=C0DE42"
    context.close()


def _take_part_quickly(base: str, pid: str, answers: dict) -> None:
    import requests

    session = requests.Session()
    response = session.get(f"{base}/s/first-hour/", params={"PROLIFIC_PID": pid, "STUDY_ID": "st", "SESSION_ID": pid})
    page_url = response.url

    def submit(url: str, data: dict) -> str:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', session.get(url).text).group(1)
        return session.post(url, data={"csrfmiddlewaretoken": token, **data}, headers={"Referer": url},
                            allow_redirects=True).url

    page_url = submit(page_url, {"consent": "yes"})
    page_url = submit(page_url, {"action": "next"})
    page_url = submit(page_url, {"action": "next", "item-arms": answers["arms"], "item-colour": answers["colour"]})
    page_url = submit(page_url, {"action": "next", "item-useful": answers["useful"]})
    assert submit(page_url, {"action": "next", "item-why": "quick"}).endswith("/complete/")


def test_a_researchers_first_hour(live_server, chromium, settings, tmp_path):
    from studies.models import Participant, Study

    settings.PROLIFIC_COMPLETION_BASE_URL = PROLIFIC_BASE
    settings.MEDIA_ROOT = str(tmp_path / "media")
    media_root = Path(settings.MEDIA_ROOT)
    out = io.StringIO()
    call_command("create_researcher", "ada", "--password", "a-long-test-password-1", "--no-input", stdout=out)
    assert "API token:" in out.getvalue()
    base = live_server.url

    context = chromium.new_context(viewport=LAPTOP, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    _serve_media(page, media_root)
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "a-long-test-password-1")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    _configure_in_the_admin(page, base, _images(tmp_path))
    study = Study.objects.get(slug="first-hour")
    assert study.conditions.count() == 3 and all(c.stimulus_image for c in study.conditions.all())
    assert study.items.get(key="why").is_scaled is False and len(study.items.get(key="arms").labels) == 7

    # Preview every condition of the draft from the dashboard; nothing is stored.
    page.goto(f"{base}/studies/first-hour/dashboard/")
    _shot(page, "dashboard_draft")
    for _, slug in CONDITIONS:
        page.click(f'#previews a[data-condition="{slug}"]')
        page.wait_for_url(f"**/preview/{slug}/consent/")
        page.click("#agree")
        page.click("#next")
        page.wait_for_url(f"**/preview/{slug}/stimulus/")
        page.wait_for_function("document.querySelector('.stimulus-image').complete")
        page.click("#next")  # unanswered: the browser asks for the required answers, as participants see it
        assert page.url.endswith(f"/preview/{slug}/stimulus/")
        assert page.evaluate("document.querySelector('input[name=item-arms]').validity.valueMissing")
        page.check('input[name="item-arms"][value="5"]')
        page.check('input[name="item-colour"][value="3"]')
        page.click("#next")
        page.wait_for_url(f"**/preview/{slug}/satisfaction/")
        heading = page.locator("h1").inner_text()
        assert heading == ("A few more questions" if slug == "control" else "About the explanation")
        _shot(page, f"preview_{slug}_satisfaction")
        page.goto(f"{base}/studies/first-hour/dashboard/")
    assert not Participant.objects.exists()

    page.click("#launch")
    page.wait_for_selector("#messages")
    assert "The study is live" in page.locator("#messages").inner_text()
    assert "Time limit: 20 minutes" in page.locator("#prolific-time-limit").inner_text()

    _take_part(chromium, base, media_root, "laptop-1", LAPTOP, {"arms": 6, "colour": 2, "useful": 6})
    _take_part(chromium, base, media_root, "phone-1", PHONE, {"arms": 5, "colour": 3, "useful": 5})
    assert Participant.objects.filter(status=Participant.Status.COMPLETED).count() == 2
    for n in range(4):  # four more, without a browser, so that every condition has two to compare
        _take_part_quickly(base, f"quick-{n}", {"arms": 3 + n, "colour": 5 - n, "useful": 4 + n % 3})
    assert Participant.objects.filter(status=Participant.Status.COMPLETED).count() == 6

    page.goto(f"{base}/studies/first-hour/dashboard/")
    assert page.locator('#population-real tfoot [data-column="completed"]').inner_text() == "6"
    _shot(page, "dashboard_live")
    page.click('#links a:has-text("Analysis")')
    page.wait_for_load_state()
    # The study is live: the platform asks before an interim look, and records it in the plan's log.
    page.check("#interim-warning input[name=confirm]")
    page.fill("#interim-warning input[name=reason]", "Checking the set-up after the first two participants")
    page.click("#interim-warning button[type=submit]")
    page.wait_for_url("**/analysis/*/")
    _shot(page, "analysis")
    report = page.content()
    # The reverse-coded statement in the participants' wording, with the direction spelled out.
    assert "Participants read: \u201cThe network\u2019s decision was confusing.\u201d" in report or (
        "Participants read: \u201cThe network's decision was confusing.\u201d" in report)
    assert 'reverse-coded: agree = not "colour"' in report
    page.goto(f"{base}/studies/first-hour/dashboard/")
    with page.expect_download() as download:
        page.click('#links a:has-text("Export: wide CSV with Prolific/MTurk ids")')
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    expected = {"laptop-1", "phone-1", *(f"quick-{n}" for n in range(4))}
    assert {row["platform_participant_id"] for row in rows} == expected
    header = list(rows[0])
    assert header[header.index("completed_at") + 1:] == ["arms", "colour", "useful", "why"]
    assert re.fullmatch(r"P\d{4}", rows[0]["participant"])
    context.close()
