"""Everything the pages load is served by us: no CDN, no web fonts, htmx from django-htmx."""

from __future__ import annotations

import re
from pathlib import Path

from django.contrib.staticfiles import finders

ROOT = Path(__file__).resolve().parents[2]
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.IGNORECASE)


def test_templates_load_nothing_from_other_hosts() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "templates").rglob("*.html"))
        if EXTERNAL.search(path.read_text())
    ]
    assert offenders == []


def test_stylesheets_use_no_web_fonts_or_remote_imports() -> None:
    for path in sorted((ROOT / "static").rglob("*.css")):
        css = path.read_text()
        assert "@font-face" not in css, path
        assert "@import" not in css, path
        assert "url(http" not in css and "url(//" not in css, path


def test_the_layout_loads_htmx_and_css_from_static_files() -> None:
    base = (ROOT / "templates" / "base.html").read_text()
    assert "{% static 'django_htmx/htmx-2.min.js' %}" in base
    assert "{% static 'css/app.css' %}" in base
    assert finders.find("django_htmx/htmx-2.min.js") is not None
    assert finders.find("css/app.css") is not None
