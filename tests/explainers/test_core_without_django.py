"""The plain-torch core imports without Django: every module under explainers/core, Django not configured."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import importlib, json, pkgutil, sys
import explainers.core as core
names = [m.name for m in pkgutil.walk_packages(core.__path__, "explainers.core.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "django": sorted(m for m in sys.modules if m == "django" or m.startswith("django."))}))
"""


def test_every_core_module_imports_without_django():
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "explainers.core.stimuli.build" in report["modules"] and len(report["modules"]) > 20
    assert report["django"] == []
