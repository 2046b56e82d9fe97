"""Login, logout and the request guard: every request except the login page, static files and the API
(which authenticates by token) needs a logged-in user; the caller is bound to the request once
(``flask.g.ioc_principal``) and ``services.repo`` follows its scope.

Sessions are Flask's signed cookies (HttpOnly, SameSite=Lax, Secure when configured) holding the user id
and the account's session epoch, so a password reset, a role change or disabling the account ends
every session at once. Passwords: werkzeug scrypt hashes; lockout and rate limits: ``Accounts``.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import dash
import flask
import jinja2
from flask import g, redirect, render_template, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect, generate_csrf

from callbacks.services import Services
from config import INSTANCE, Config
from datasources.access import audit
from datasources.access.roles import VIEW, Principal
from layouts.i18n import t

log = logging.getLogger("ioc.auth")

#: Paths served without a session: the login page, static files, liveness, the token-authenticated API.
PUBLIC_PATHS = frozenset({"/login", "/_favicon.ico", "/healthz"})
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/api/v1/")
#: Page requests that get a redirect to the login page instead of a 401.
PAGE_EXCLUDES = ("/_dash-", "/geo/", "/export/")


class SessionUser(UserMixin):
    """Flask-Login's user: the principal, with an id that includes the session epoch."""

    def __init__(self, principal: Principal, epoch: int):
        self.principal = principal
        self.id = f"{principal.id}:{epoch}"


class StartupError(RuntimeError):
    """A setting the app cannot start without; the message says which and how to set it."""


def secret_key(cfg: Config, demo: bool) -> str:
    """The configured key; in demo mode without one, a key generated once and kept in instance/ (so that
    restarts and every worker agree). Outside demo mode a missing key is an error."""
    if cfg.secret_key:
        if len(cfg.secret_key) < 16:
            raise StartupError("IOC_SECRET_KEY is too short: use at least 16 random characters "
                               "(python -c 'import secrets; print(secrets.token_hex(32))')")
        return cfg.secret_key
    if not demo:
        raise StartupError("IOC_SECRET_KEY is required outside demo mode: set it to a long random string, e.g. "
                           "export IOC_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_hex(32))')")
    path = Path(INSTANCE) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "x", encoding="ascii") as fh:  # exclusive create: the first worker wins
            fh.write(secrets.token_hex(32))
        path.chmod(0o600)
    except FileExistsError:
        pass
    return path.read_text(encoding="ascii").strip()


def client_ip() -> str:
    """The caller's address (behind a proxy, ProxyFix in production sets remote_addr)."""
    return request.remote_addr or ""


def configure(server: flask.Flask, cfg: Config, demo: bool) -> CSRFProtect:
    """Session cookie settings, body limit and CSRF protection of the Flask server."""
    server.config.update(
        SECRET_KEY=secret_key(cfg, demo),
        SESSION_COOKIE_NAME="ioc_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(cfg.cookie_secure),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=cfg.session_hours),
        MAX_CONTENT_LENGTH=cfg.max_body_kb * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # valid as long as the session
        WTF_CSRF_SSL_STRICT=bool(cfg.cookie_secure),
    )
    server.jinja_loader = jinja2.FileSystemLoader(str(Path(__file__).resolve().parent.parent / "layouts" / "templates"))
    csrf = CSRFProtect(server)
    # Dash posts JSON from the app's own page; they are protected by SameSite cookies plus the
    # content-type and origin checks of callbacks.security, and cannot carry a form token.
    csrf.exempt("dash.dash.dispatch")
    return csrf


def register(app: dash.Dash, services: Services) -> None:
    """Login manager, login/logout routes and the guard in front of every other request."""
    server = app.server
    manager = LoginManager()
    manager.init_app(server)
    manager.session_protection = None  # the epoch in the id does the revocation; IPs change on intranets too

    @manager.user_loader
    def load_user(user_id: str) -> SessionUser | None:
        try:
            uid, epoch = (int(x) for x in user_id.split(":"))
        except ValueError:
            return None
        principal = services.accounts.principal_for_session(uid, epoch)
        return SessionUser(principal, epoch) if principal else None

    def guard():  # noqa: ANN202
        path = request.path
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return None
        if not current_user.is_authenticated:
            if request.method == "GET" and not path.startswith(PAGE_EXCLUDES):
                return redirect("/login?" + urlencode({"next": request.full_path.rstrip("?")}))
            return flask.jsonify(error="login required"), 401
        g.ioc_principal = current_user.principal
        if not g.ioc_principal.can(VIEW):
            return flask.jsonify(error="this account may not view the screens"), 403
        return None

    # First of all hooks: Dash's own first-request setup builds the layout, which needs the caller.
    server.before_request_funcs.setdefault(None, []).insert(0, guard)

    @server.route("/login", methods=["GET", "POST"])
    def login():  # noqa: ANN202
        lang = _lang()
        nxt = _safe_next(request.values.get("next", "/"))
        if request.method == "GET":
            if current_user.is_authenticated:
                return redirect(nxt)
            return _login_page(lang, nxt, services, "")
        username = (request.form.get("username") or "")[:64]
        password = (request.form.get("password") or "")[:256]
        result = services.accounts.authenticate(username, password, client_ip())
        if result.principal is None:
            message = {
                "bad": t("login.bad", lang),
                "inactive": t("login.inactive", lang),
                "rate_limited": t("login.rate_limited", lang),
                "locked": t("login.locked", lang, until=result.locked_until.strftime("%H:%M") if result.locked_until else ""),
            }[result.reason]
            status = {"bad": 401, "inactive": 403, "rate_limited": 429, "locked": 423}[result.reason]
            return _login_page(lang, nxt, services, message, username), status
        session.clear()  # no fixation: a fresh session for the new login
        session.permanent = True
        login_user(SessionUser(result.principal, services.accounts.session_epoch(result.principal.id)))
        # The sign-out form's CSRF token goes into the session now, with the login: were it added later
        # (when the page's layout first asks for it), responses to the page's concurrent requests would
        # re-set the cookie without it and sign-out would fail.
        generate_csrf()
        log.info("login %s from %s", result.principal.name, client_ip())
        return redirect(nxt)

    @server.post("/logout")
    def logout():  # noqa: ANN202
        if current_user.is_authenticated:
            audit.record(services.base_repo.engine, "logout", current_user.principal.name, ip=client_ip())
        logout_user()
        session.clear()
        return redirect("/login")


def _safe_next(value: str) -> str:
    """Only a path on this site: no scheme, no host, no protocol-relative '//' (open redirects)."""
    if not isinstance(value, str) or len(value) > 2048 or "\\" in value or any(ord(c) < 32 for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


def _lang() -> str:
    lang = request.args.get("lang") or request.form.get("lang") or ""
    if lang in ("zh", "en"):
        return lang
    nxt = request.values.get("next", "")
    return "en" if "lang=en" in nxt else "zh"


def _login_page(lang: str, nxt: str, services: Services, message: str, username: str = "") -> str:
    demo = services.base_repo.meta().get("demo") == "1"
    return render_template(
        "login.html", lang=lang, t=t, next=nxt, message=message, username=username, demo=demo,
        title=t("login.title", lang),
    )
