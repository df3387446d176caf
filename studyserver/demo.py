"""Build the seed study end to end on the embedded default, from its study template
(studies/study_templates/two4two_counterfactuals.json).

Every step reuses what a previous run left when it is still valid, so a second run takes seconds:
the rendered data (cached by the trainer), the checkpoint (reused when it loads, its sha256 verifies and
its training configuration equals the requested preset), the ready grids of that checkpoint and the
study. The study itself is created in one transaction only after both grids are ready, so a failure at
any step never leaves a half-built study behind.
"""
from __future__ import annotations

import secrets
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from django.conf import settings
from django.contrib.auth import get_user_model

from studies.study_templates import StudyTemplate, StudyTemplateError, seed_template, study_from_template, template_load

Say = Callable[[str], None]

DEMO_USERNAME = "researcher"
#: The seed study's model (explainers.core.training.glow.PRESETS), shipped in explainers/checkpoints/.
DEMO_PRESET = "seed64"


class DemoError(RuntimeError):
    """A problem the person running the demo can fix; the message says how."""


@dataclass
class DemoResult:
    study_slug: str
    participant_url: str
    username: str
    password: str
    urls: dict[str, str] = field(default_factory=dict)
    checkpoint_metrics: dict = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)


def check_writable(paths: list[Path]) -> None:
    """Fail early, before any work, when a folder the demo writes to cannot be written."""
    for path in paths:
        try:
            path.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
                pass
        except OSError as exc:
            raise DemoError(
                f"Cannot write to {path} ({exc.strerror or exc}). Make it writable or point the matching "
                f"variable (MEDIA_ROOT, STUDYSERVER_ARTIFACTS or STUDYSERVER_VAR_DIR) at a writable folder."
            ) from exc


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise DemoError(
                f"Port {port} on {host} is already in use ({exc.strerror}). Stop the other server or run "
                f"`manage.py demo --port {port + 1}`."
            ) from exc


def checkpoint_ensure(*, preset: str, say: Say, retrain: bool = False, sampler: str | None = None):
    """The demo checkpoint: reuse a valid cached one, else train it. Returns (LoadedCheckpoint, reused).

    ``sampler`` trains on another Two4Two sampler than the preset's (the annotation demo's unbiased model)."""
    from explainers.core.errors import CheckpointError
    from explainers.core.training.glow import preset as training_preset
    from explainers.services.checkpoints import checkpoint_load
    from explainers.services.training import model_train

    path = Path(settings.ARTIFACTS_ROOT) / "models" / f"two4two-{preset}{'-' + sampler if sampler else ''}.pt"
    wanted = training_preset(preset, sampler=sampler).to_dict()
    if not retrain and sampler is None:
        from explainers.core.training.shipped import shipped_load

        try:  # the project ships the demo's model; a damaged or outdated one is an error, never retrained silently
            shipped = shipped_load(f"two4two-{preset}", wanted_config=wanted)
        except CheckpointError as exc:
            raise DemoError(f"{exc} (or run `manage.py demo --retrain` to train one now)") from exc
        if shipped is not None:
            return shipped, True
    if path.exists() and not retrain:
        try:
            loaded = checkpoint_load(path)
        except CheckpointError as exc:
            say(f"  cached checkpoint {path} is unusable ({exc}); training a new one")
        else:
            if loaded.config.to_dict() == wanted:
                return loaded, True
            say(f"  cached checkpoint {path} was trained with another configuration; training a new one")
    from tqdm import tqdm

    path.parent.mkdir(parents=True, exist_ok=True)
    say("  rendering the Two4Two images and training (the first run only)")
    with tqdm(total=wanted["steps"], desc="  training", unit="step", leave=False) as bar:
        def progress(step: int, total: int, metrics: dict[str, float]) -> None:
            bar.total = total
            bar.update(step - bar.n)
            bar.set_postfix({key: f"{value:.3f}" for key, value in metrics.items()}, refresh=False)

        # The trainer writes the file (and its sha256 sidecar) only once training has finished, atomically,
        # so an interrupted run leaves no checkpoint that a later run could mistake for a finished one.
        return model_train(out=path, preset=preset, sampler=sampler, progress=progress), False


def grid_ensure(*, checkpoint, method: str):
    """A ready grid of ``method`` for ``checkpoint``, generated now unless one exists. Returns (grid, reused)."""
    from tqdm import tqdm

    from explainers.models import StimulusGrid
    from explainers.services.grid_generation import grid_pregenerate
    from explainers.services.grids import grid_create

    ready = StimulusGrid.objects.filter(checkpoint=checkpoint, method=method,
                                        status=StimulusGrid.Status.READY).order_by("-pk").first()
    if ready is not None and Path(settings.MEDIA_ROOT, ready.directory).is_dir():
        return ready, True
    grid = grid_create(owner=checkpoint.owner, checkpoint=checkpoint, method=method,
                       name=f"Demo {method.replace('_', ' ')}", enqueue=False)
    with tqdm(total=100, desc=f"  {method}", unit="%", leave=False) as bar:
        def progress(percent: int, message: str) -> None:
            bar.n = int(percent)
            bar.set_postfix_str(message[:40])
            bar.refresh()

        grid = grid_pregenerate(grid.pk, progress=progress)
    if grid.status != StimulusGrid.Status.READY:
        raise DemoError(f"The {method} grid could not be generated: {grid.error}")
    return grid, False


def researcher_ensure() -> tuple[object, str]:
    """The demo researcher (staff, not superuser) and its password, kept in var/ so it stays stable."""
    credentials = Path(settings.VAR_DIR) / "demo-login.txt"
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=DEMO_USERNAME, defaults={"is_staff": True})
    password = credentials.read_text().strip() if credentials.exists() else ""
    if not password or not user.check_password(password):
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        credentials.parent.mkdir(parents=True, exist_ok=True)
        credentials.write_text(password + "\n")
        credentials.chmod(0o600)
    if not user.is_staff:
        user.is_staff = True
    user.save()
    _grant_researcher_permissions(user)
    return user, password


def _grant_researcher_permissions(user) -> None:
    """Model permissions so the researcher can use the admin; querysets there stay scoped to the owner."""
    from django.contrib.auth.models import Permission

    permissions = Permission.objects.filter(content_type__app_label__in=["studies", "explainers", "stats", "trials"])
    user.user_permissions.add(*permissions)


#: The study designs `manage.py demo --design` builds, and the template of each.
DEMO_TEMPLATES = {"between_group": "two4two_counterfactuals", "trials": "cem_maf_two4two",
                  "annotation": "two4two_annotation", "exaggeration": "two4two_exaggeration_annotation"}


def demo_build(*, quick: bool, say: Say, retrain: bool = False, design: str = "between_group") -> DemoResult:
    """Everything up to a live study; see the module docstring."""
    from django.core.management import call_command

    from explainers.services.checkpoints import checkpoint_register
    from studies.designs.common.demo import demo_study_discard
    from studies.models import Study

    try:
        template = seed_template() if design == "between_group" else template_load(DEMO_TEMPLATES[design])
    except StudyTemplateError as exc:
        raise DemoError(f"The demo study's template cannot be read: {exc}") from exc
    check_writable([Path(settings.VAR_DIR), Path(settings.MEDIA_ROOT), Path(settings.ARTIFACTS_ROOT)])
    reused: list[str] = []
    say("[1/5] database: applying migrations")
    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    owner, password = researcher_ensure()
    if design == "exaggeration":
        return _exaggeration_demo(template, owner=owner, password=password, say=say, reused=reused)

    # The annotation demo compares a biased and an unbiased model, trained on the spot at the 32 px preset.
    preset = "quick" if quick else ("demo" if design == "annotation" else DEMO_PRESET)
    say(f"[2/5] model: Two4Two data and the invertible classifier ({preset} preset)")
    loaded, model_reused = checkpoint_ensure(preset=preset, say=say, retrain=retrain)
    if model_reused:
        reused.append("checkpoint")
    metrics = loaded.metrics
    say(f"  checkpoint {loaded.path} sha256 {loaded.sha256[:12]}…, validation accuracy "
        f"{metrics.get('val_accuracy', float('nan')):.3f}" + (" (cached)" if model_reused else ""))
    checkpoint = checkpoint_register(path=loaded.path, name=f"Two4Two {preset} model", owner=owner)
    if checkpoint.owner_id is None:
        checkpoint.owner = owner
        checkpoint.save(update_fields=["owner"])

    if design == "trials":
        from studies.designs.trials.demo import trials_demo_study

        say("[3/5] stimuli and study: the trials' explanation images and the counterbalanced trials study")
        return _design_demo_ready(lambda: trials_demo_study(template, owner=owner, loaded=loaded, say=say),
                                  label="trials", owner=owner, password=password, metrics=metrics, reused=reused,
                                  say=say)

    if design == "annotation":
        return _annotation_demo(template, owner=owner, password=password, checkpoint=checkpoint, preset=preset,
                                say=say, retrain=retrain, metrics=metrics, reused=reused)

    say("[3/5] stimuli: pregenerating the baseline and counterfactual-interpolation grids (30 × 5)")
    grids = {}
    for spec in template.conditions:
        grid, grid_reused = grid_ensure(checkpoint=checkpoint, method=spec.method)
        grids[spec.method] = grid
        if grid_reused:
            reused.append(f"{spec.method} grid")
        say(f"  {spec.name}: grid #{grid.pk} ready" + (" (cached)" if grid_reused else ""))

    say("[4/5] study: questionnaire, conditions and preregistered hypotheses")
    study = Study.objects.filter(slug=template.slug).first()
    if study is not None and _study_uses(study, template, grids):
        reused.append("study")
        say(f"  study {study.slug!r} exists ({study.status})")
    else:
        if study is not None:
            try:
                demo_study_discard(study, differs="shows the grids of another checkpoint", say=say)
            except StudyTemplateError as exc:
                raise DemoError(str(exc)) from exc
        try:
            study = study_from_template(template, owner=owner, grids=grids, launch=True)
        except StudyTemplateError as exc:
            raise DemoError(f"The seed study could not be built: {exc}") from exc
        say(f"  study {study.slug!r} created and launched")

    say("[5/5] ready")
    return _demo_result(study, owner, password, metrics, reused)


def _annotation_demo(template: StudyTemplate, *, owner, password: str, checkpoint, preset: str, say: Say,
                     retrain: bool, metrics: dict, reused: list[str]) -> DemoResult:
    """Singla et al.'s three annotation tasks (appendix A.4) on counterfactual grids of a biased classifier and
    of one trained on the unbiased Two4Two sampler (bias detection needs both)."""
    from explainers.services.checkpoints import checkpoint_register
    from studies.designs.annotation.demo import annotation_demo_study

    say("[3/5] stimuli: counterfactual grids of the biased model and of a model trained without the colour bias")
    unbiased, unbiased_reused = checkpoint_ensure(preset=preset, say=say, retrain=retrain, sampler="unbiased")
    reused += ["unbiased checkpoint"] if unbiased_reused else []
    unbiased_checkpoint = checkpoint_register(path=unbiased.path, name=f"Two4Two {preset} model (unbiased)",
                                              owner=owner)
    grids = []
    for label, model in (("biased", checkpoint), ("unbiased", unbiased_checkpoint)):
        grid, grid_reused = grid_ensure(checkpoint=model, method="counterfactual_interpolation")
        reused += [f"{label} grid"] if grid_reused else []
        say(f"  {label} model: grid #{grid.pk} ready" + (" (cached)" if grid_reused else ""))
        grids.append(grid)
    say("[4/5] study: relative order, what is changing, bias detection")
    return _design_demo_ready(lambda: annotation_demo_study(template, owner=owner, biased_grid=grids[0],
                                                            unbiased_grid=grids[1]),
                              label="annotation", owner=owner, password=password, metrics=metrics, reused=reused,
                              say=say)


#: Rows of [original | exaggerations] each classifier's stimulus set explains (the tasks cut their items from them).
EXAGGERATION_ROWS = 40


def _exaggeration_demo(template: StudyTemplate, *, owner, password: str, say: Say, reused: list[str]) -> DemoResult:
    """Singla et al.'s annotation tasks on their own explainer: progressive-exaggeration stimulus sets of the
    shipped biased and unbiased 32 px CNNs, each explained by the shipped explainer trained for it."""
    from explainers.core.errors import CheckpointError
    from explainers.core.training.shipped import shipped_load
    from explainers.models import StimulusGrid
    from explainers.services.checkpoints import checkpoint_register
    from explainers.services.classifiers import model_register_checkpoint
    from explainers.services.exaggeration import explainer_register
    from explainers.services.grid_generation import grid_pregenerate
    from explainers.services.stimulus_sets import stimulus_set_create
    from studies.designs.annotation.demo import annotation_demo_study

    say("[2/5] models: the shipped black-box CNNs and the progressive-exaggeration explainer of each")
    sets = []
    for label in ("biased", "unbiased"):
        try:
            cnn, explainer_file = (shipped_load(f"two4two-cnn-{label}-32"),
                                   shipped_load(f"two4two-exaggeration-{label}-32"))
        except CheckpointError as exc:
            raise DemoError(str(exc)) from exc
        if cnn is None or explainer_file is None:
            raise DemoError(f"The {label} CNN or its explainer is not shipped in explainers/checkpoints/; train them "
                            f"with `train_model --preset cnn-two4two-{label}` and `train_explainer`.")
        name = f"Two4Two CNN ({label}, 32 px)"
        classifier = model_register_checkpoint(
            owner=owner, checkpoint=checkpoint_register(path=cnn.path, name=name, owner=owner), name=name)
        explainer = explainer_register(classifier=classifier, path=explainer_file.path, owner=owner,
                                       name=f"Exaggeration explainer of the {label} CNN")
        ready = StimulusGrid.objects.filter(owner=owner, model=classifier, method="progressive_exaggeration",
                                            parameters__explainer_model=explainer.pk,
                                            status=StimulusGrid.Status.READY).order_by("-pk").first()
        if ready is not None and Path(settings.MEDIA_ROOT, ready.directory).is_dir():
            reused.append(f"{label} stimulus set")
            sets.append(ready)
            continue
        say(f"  {label}: exaggerating {EXAGGERATION_ROWS} held-out images")
        created = stimulus_set_create(owner=owner, model=classifier, method="progressive_exaggeration",
                                      parameters={"explainer_model": explainer.pk}, split="val",
                                      count=EXAGGERATION_ROWS, enqueue=False)
        created = grid_pregenerate(created.pk)
        if created.status != StimulusGrid.Status.READY:
            raise DemoError(f"The {label} exaggeration set could not be generated: {created.error}")
        sets.append(created)
    say("[3/5] stimuli ready; [4/5] study: relative order, what is changing, bias detection")
    return _design_demo_ready(lambda: annotation_demo_study(template, owner=owner, biased_grid=sets[0],
                                                            unbiased_grid=sets[1]),
                              label="exaggeration annotation", owner=owner, password=password,
                              metrics={"val_accuracy": sets[0].model.accuracy or float("nan")}, reused=reused,
                              say=say)


def _design_demo_ready(build: Callable[[], tuple], *, label: str, owner, password: str, metrics: dict,
                       reused: list[str], say: Say) -> DemoResult:
    """Build (or reuse) a design's demo study with ``build``, which returns (study, reused), and report it."""
    try:
        study, study_reused = build()
    except StudyTemplateError as exc:
        raise DemoError(f"The {label} study could not be built: {exc}") from exc
    reused += ["study"] if study_reused else []
    say(f"  study {study.slug!r} " + ("exists" if study_reused else "created and launched"))
    say("[5/5] ready")
    return _demo_result(study, owner, password, metrics, reused)


def _demo_result(study, owner, password: str, metrics: dict, reused: list[str]) -> DemoResult:
    from studies.recruitment import study_entry_url

    base = settings.PUBLIC_BASE_URL.rstrip("/")
    example = (f"{base}/s/{study.slug}/?PROLIFIC_PID=DEMO{secrets.token_hex(4).upper()}"
               f"&STUDY_ID=demo-study&SESSION_ID=demo-session")
    return DemoResult(
        study_slug=study.slug, participant_url=example, username=owner.username, password=password,
        urls={
            "Prolific study URL": study_entry_url(study),
            "Admin": f"{base}/admin/",
            "Dashboard": f"{base}/studies/{study.slug}/dashboard/",
            "Analysis": f"{base}/studies/{study.slug}/analysis/",
            "API docs": f"{base}/api/docs/",
        },
        checkpoint_metrics=dict(metrics), reused=reused,
    )


def _study_uses(study, template: StudyTemplate, grids: dict[str, object]) -> bool:
    linked = {c.slug: c.stimulus_grid_id for c in study.conditions.all()}
    wanted = {spec.slug: grids[spec.method].pk for spec in template.conditions}
    return linked == wanted
