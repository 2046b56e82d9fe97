"""The production setup (nginx + gunicorn with deploy/'s configuration) on a copy of the mini demo,
started once for the module that asks for it."""

from __future__ import annotations

import importlib.util
import re

import pytest
import requests

from tests.conftest import need, sqlite_copy
from tests.serving.stack import nginx_binary, production_stack


def sign_in(base_url: str, username: str = "leader", password: str = "demo") -> requests.Session:
    """A requests session signed in through the login form (with its CSRF token)."""
    session = requests.Session()
    page = session.get(f"{base_url}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = session.post(f"{base_url}/login", data={"username": username, "password": password, "csrf_token": token},
                        allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text[:300]
    return session


@pytest.fixture(scope="module")
def stack(mini_pristine, tmp_path_factory):
    """nginx in front of gunicorn (2 workers × 4 threads) on a private copy of the mini demo."""
    if nginx_binary() is None:
        need("nginx is not installed (scripts/test.sh installs Debian's nginx)")
    if importlib.util.find_spec("gunicorn") is None:
        need("gunicorn is not installed (pip install -e '.[test,prod]')")
    workdir = tmp_path_factory.mktemp("stack")
    url = sqlite_copy(mini_pristine, workdir / "mini.db")
    with production_stack(url, workdir / "run", workers=2, threads=4) as running:
        yield running
