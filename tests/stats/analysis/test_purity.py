"""The pure statistics import with Django neither configured nor loaded."""
from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import stats.analysis

ROOT = Path(__file__).resolve().parents[3]


def test_every_module_of_the_analysis_package_imports_without_django():
    modules = [f"stats.analysis.{info.name}" for info in pkgutil.iter_modules(stats.analysis.__path__)]
    assert "stats.analysis.kruskal" in modules and "stats.analysis.power" in modules
    script = (
        "import importlib, os, sys\n"
        "os.environ.pop('DJANGO_SETTINGS_MODULE', None)\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith(('django.', 'rest_framework')))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
