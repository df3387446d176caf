"""A web process that serves participants loads neither torch nor the heavy analysis libraries.

Checked in a fresh interpreter: Django set up and every URL pattern resolved, as a gunicorn worker does.
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyserver.settings")
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns
import studyserver.wsgi
print(json.dumps(sorted(m for m in ("torch", "scipy", "matplotlib", "statsmodels", "pandas", "sklearn", "captum")
                        if m in sys.modules)))
"""


def test_loading_the_web_application_imports_no_torch_and_no_analysis_libraries(tmp_path):
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "STUDYSERVER_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
