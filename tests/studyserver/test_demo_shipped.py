"""The demo's shipped model: used without training, a changed file is a clear error, --retrain trains."""
from __future__ import annotations

import pytest

from studyserver import demo
from tests.studyserver.test_demo import demo_dirs, tiny_quick_preset  # noqa: F401  (shared fixtures)


@pytest.fixture
def shipped_quick(tiny_quick_preset, demo_dirs, monkeypatch, tmp_path):  # noqa: F811
    """A shipped 'two4two-quick' checkpoint (the tiny preset, trained once) in a folder of the test's own."""
    from explainers.core.training import shipped
    from explainers.services.training import model_train

    trained = model_train(out=tmp_path / "run.pt", preset="quick")
    folder = tmp_path / "shipped"
    shipped.shipped_write(trained, "two4two-quick", command="manage.py train_model --preset quick", directory=folder)
    monkeypatch.setattr(shipped, "SHIPPED_DIR", folder)
    return folder / "two4two-quick.pt"


def test_the_demo_uses_the_shipped_checkpoint_without_training(shipped_quick, monkeypatch, db):
    import explainers.services.training as training

    monkeypatch.setattr(training, "model_train", lambda **kwargs: pytest.fail("the demo trained a model"))
    loaded, reused = demo.checkpoint_ensure(preset="quick", say=lambda line: None)
    assert reused and loaded.path == shipped_quick


def test_a_changed_shipped_checkpoint_stops_the_demo_with_a_clear_error(shipped_quick, db):
    shipped_quick.write_bytes(shipped_quick.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(demo.DemoError, match=r"sha256 .*corrupt or was replaced.*--retrain"):
        demo.checkpoint_ensure(preset="quick", say=lambda line: None)


def test_retrain_trains_instead_of_loading_the_shipped_file(shipped_quick, db):
    shipped_quick.write_bytes(b"junk")  # --retrain never reads it
    loaded, reused = demo.checkpoint_ensure(preset="quick", say=lambda line: None, retrain=True)
    assert not reused and loaded.path != shipped_quick and loaded.metrics["steps"] == 20
