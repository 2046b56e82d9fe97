"""The administration pages (``/admin``): users, API tokens and the audit log. Server-rendered Flask
views and a Jinja template (``layouts/templates/admin.html``), not Dash.

Every view first requires the ``administer`` permission. Changes go through ``Accounts`` (which audits
them) and follow POST-redirect-GET with a flashed message, except creating a token: its answer is the
only time the secret is shown, so it is rendered directly (the secret is never stored, and a redirect
would have to carry it in the session cookie). Bad input gets the page back with HTTP 400 and a message
naming the field; nothing reaches the database unchecked (lengths, control characters, choices, dates,
page numbers), so hostile input never ends in a 500.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import dash
from flask import flash, get_flashed_messages, redirect, render_template, request
from sqlalchemy.exc import IntegrityError, NoResultFound

from callbacks.auth import client_ip
from callbacks.services import Services
from datasources.access import audit
from datasources.access.accounts import USERNAME_RE, AccountError
from datasources.access.roles import ADMINISTER, ROLES, USER_ROLES, Principal
from layouts.i18n import LANGUAGES, pick, t

PAGE_SIZE = 50
MAX_PAGE = 1_000_000
OUTCOMES = ("ok", "failed", "denied")
#: Longest accepted value of every form or query field (the columns are at least this wide).
LIMITS = {
    "username": 64, "display_name": 64, "password": 256, "role": 16, "scope": 16, "active": 1, "name": 64,
    "q": 100, "action": 32, "outcome": 16, "since": 10, "until": 10, "page": 7,
}
SECTIONS = {"users": "/admin", "tokens": "/admin/tokens", "audit": "/admin/audit"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PAGE = re.compile(r"[0-9]{1,7}")
_SCOPE = re.compile(r"[0-9A-Za-z_.-]{1,16}")


def register(app: dash.Dash, services: Services) -> None:
    """The /admin routes on the app's Flask server."""
    server = app.server

    @server.get("/admin")
    def admin_users():  # noqa: ANN202
        services.require(ADMINISTER)
        return _users_page(services, _lang())

    @server.post("/admin/users")
    def admin_user_create():  # noqa: ANN202
        actor = services.require(ADMINISTER)
        lang = _lang()
        form = request.form
        try:
            username = _text(form, "username").strip()
            display_name = _text(form, "display_name").strip()
            password = _text(form, "password", control_ok=True)
            role = _choice(form, "role", USER_ROLES)
            scope = _scope(form)
            try:
                services.accounts.create_user(username, password, role, scope, display_name=display_name,
                                              actor=actor.name, ip=client_ip())
            except IntegrityError:  # another admin created the same name a moment ago
                raise AccountError(f"username: {username!r} already exists") from None
        except AccountError as exc:
            keep = {k: form.get(k, "")[:200] for k in ("username", "display_name", "role", "scope")}
            return _users_page(services, lang, error=exc, create=keep), 400
        flash(t("admin.user_created", lang, name=username), "ok")
        return redirect(_url("/admin", lang))

    @server.post("/admin/users/<string(maxlength=64):username>/<any(role, active, password, unlock):op>")
    def admin_user_change(username: str, op: str):  # noqa: ANN202
        actor = services.require(ADMINISTER)
        lang = _lang()
        try:
            if not USERNAME_RE.fullmatch(username):
                raise AccountError("username: 1 to 64 letters, digits or . _ @ -")
            current = services.accounts.user(username)
            if current is None:
                raise AccountError(f"username: no account {username!r}")
            message = _change_user(services, actor, current, op, request.form, lang)
        except AccountError as exc:
            return _users_page(services, lang, error=exc), 400
        flash(message, "ok")
        return redirect(_url("/admin", lang))

    @server.get("/admin/tokens")
    def admin_tokens():  # noqa: ANN202
        services.require(ADMINISTER)
        return _tokens_page(services, _lang())

    @server.post("/admin/tokens")
    def admin_token_create():  # noqa: ANN202
        actor = services.require(ADMINISTER)
        lang = _lang()
        form = request.form
        try:
            name = _text(form, "name").strip()
            role = _choice(form, "role", ROLES)
            scope = _scope(form)
            secret, _token_id = services.accounts.create_token(name, role, scope, actor.name, client_ip())
        except AccountError as exc:
            keep = {k: form.get(k, "")[:200] for k in ("name", "role", "scope")}
            return _tokens_page(services, lang, error=exc, create=keep), 400
        # Rendered here, never redirected: the secret exists only in this answer (no-store, see security).
        return _tokens_page(services, lang, secret=secret, created=name)

    @server.post("/admin/tokens/<int(max=2147483647):token_id>/revoke")
    def admin_token_revoke(token_id: int):  # noqa: ANN202
        actor = services.require(ADMINISTER)
        lang = _lang()
        token = next((k for k in services.accounts.tokens() if k["id"] == token_id), None)
        try:
            if token is None:
                raise AccountError(f"token: no token {token_id}")
            services.accounts.revoke_token(token_id, actor.name, client_ip())
        except AccountError as exc:
            return _tokens_page(services, lang, error=exc), 400
        key = "admin.token_already_revoked" if token["revoked_at"] else "admin.token_revoked"
        flash(t(key, lang, name=f"{token['name']} ({token['prefix']}…)"), "ok")
        return redirect(_url("/admin/tokens", lang))

    @server.get("/admin/audit")
    def admin_audit():  # noqa: ANN202
        services.require(ADMINISTER)
        lang = _lang()
        shown = {k: request.args.get(k, "")[:200] for k in ("q", "action", "outcome", "since", "until")}
        try:
            query = audit_query(request.args)
        except AccountError as exc:
            return _render(services, "audit", lang, error=exc, filters=shown, rows=[], total=0, page=1, pages=1), 400
        page = query.pop("page")
        rows, total = audit.search(services.base_repo.engine, **query, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        params = {k: v for k, v in shown.items() if v}
        return _render(
            services, "audit", lang, filters=shown, rows=rows, total=total, page=page, pages=pages,
            prev_url=_url("/admin/audit", lang, **params, page=page - 1) if page > 1 else "",
            next_url=_url("/admin/audit", lang, **params, page=page + 1) if page < pages else "",
        )


# ---------------------------------------------------------------------------------------- input checks
def _text(source: Mapping[str, str], name: str, *, control_ok: bool = False) -> str:
    """A bounded text field; AccountError names the field when it is too long or holds control characters."""
    value = source.get(name, "")
    limit = LIMITS[name]
    if len(value) > limit:
        raise AccountError(f"{name}: at most {limit} characters")
    if not control_ok and _CONTROL.search(value):
        raise AccountError(f"{name}: control characters are not allowed")
    return value


def _choice(source: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = source.get(name, "")
    if value not in choices:
        raise AccountError(f"{name}: choose one of {', '.join(choices)}")
    return value


def _scope(source: Mapping[str, str]) -> str | None:
    """A region code or None (the whole city); Accounts checks that the region exists."""
    value = _text(source, "scope").strip()
    if value and not _SCOPE.fullmatch(value):
        raise AccountError("scope: a region code (letters and digits)")
    return value or None


def _date(source: Mapping[str, str], name: str) -> date | None:
    value = _text(source, name).strip()
    if not value:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise AccountError(f"{name}: a date as YYYY-MM-DD") from None
    if not 1970 <= day.year <= 9998:
        raise AccountError(f"{name}: a year from 1970 to 9998")
    return day


def audit_query(args: Mapping[str, str]) -> dict[str, Any]:
    """The audit search's parameters from a query string (``audit.search`` keywords plus ``page``);
    AccountError names the first bad one. ``until`` is inclusive: the whole day is searched."""
    q = _text(args, "q").strip()
    action = _text(args, "action")
    if action and action not in audit.ACTIONS:
        raise AccountError(f"action: choose one of {', '.join(audit.ACTIONS)}")
    outcome = _text(args, "outcome")
    if outcome and outcome not in OUTCOMES:
        raise AccountError(f"outcome: choose one of {', '.join(OUTCOMES)}")
    since, until = _date(args, "since"), _date(args, "until")
    if since and until and until < since:
        raise AccountError("until: before the start date")
    raw = _text(args, "page").strip() or "1"
    if not _PAGE.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE:
        raise AccountError(f"page: a whole number from 1 to {MAX_PAGE}")
    return {
        "text": q, "action": action or None, "outcome": outcome or None,
        "since": datetime.combine(since, datetime.min.time()) if since else None,
        "until": datetime.combine(until + timedelta(days=1), datetime.min.time()) if until else None,
        "page": int(raw),
    }


# ---------------------------------------------------------------------------------------- user changes
def _change_user(services: Services, actor: Principal, user: dict, op: str, form: Mapping[str, str], lang: str) -> str:
    """Apply one change to ``user``; returns the success message. Only real changes are written, so
    saving an unchanged role does not end the user's sessions."""
    name, accounts, ip = user["username"], services.accounts, client_ip()
    own = name == actor.name
    if op == "role":
        role, scope = _choice(form, "role", USER_ROLES), _scope(form)
        if role == user["role"] and scope == user["scope_code"]:
            return t("admin.unchanged", lang, name=name)
        if own and role != "admin":
            raise AccountError(f"role: {t('admin.self_change', lang)}")
        accounts.update_user(name, role=role, scope=scope, actor=actor.name, ip=ip)
        return t("admin.user_updated", lang, name=name)
    if op == "active":
        value = _text(form, "active")
        if value not in ("0", "1"):
            raise AccountError("active: 0 or 1")
        if own and value == "0":
            raise AccountError(f"active: {t('admin.self_change', lang)}")
        accounts.update_user(name, active=value == "1", actor=actor.name, ip=ip)
        return t("admin.user_enabled" if value == "1" else "admin.user_disabled", lang, name=name)
    if op == "password":
        accounts.update_user(name, password=_text(form, "password", control_ok=True), actor=actor.name, ip=ip)
        return t("admin.password_reset", lang, name=name)
    accounts.update_user(name, unlock=True, actor=actor.name, ip=ip)
    return t("admin.user_unlocked", lang, name=name)


# ---------------------------------------------------------------------------------------- pages
def _lang() -> str:
    lang = request.values.get("lang", "")
    return lang if lang in LANGUAGES else "zh"


def _url(path: str, lang: str, **params: Any) -> str:
    return f"{path}?{urlencode({'lang': lang, **params})}"


def _error(exc: AccountError, lang: str) -> dict[str, str]:
    """An AccountError ('field: problem') as the page shows it: the field's label and the problem."""
    field, _, detail = str(exc).partition(": ")
    if not detail:
        field, detail = "", field
    label = t(f"admin.field.{field}", lang) if field else ""
    label = label if label != f"admin.field.{field}" else field
    return {"field": field, "text": t("admin.error", lang, field=label, detail=detail) if label else detail}


def _render(services: Services, section: str, lang: str, error: AccountError | None = None, **context: Any) -> str:
    switch = {k: v for k, v in request.args.items() if k != "lang"} if request.method == "GET" else {}
    other = "en" if lang == "zh" else "zh"
    return render_template(
        "admin.html", t=t, lang=lang, section=section, sections=SECTIONS,
        title=f"{t('admin.title', lang)} · {t('admin.nav.' + section, lang)}",
        switch_url=_url(SECTIONS[section], other, **switch),
        flashes=get_flashed_messages(with_categories=True),
        error=_error(error, lang) if error else None, fmt=_fmt, actions=audit.ACTIONS, outcomes=OUTCOMES, **context,
    )


def _users_page(services: Services, lang: str, error: AccountError | None = None, create: dict | None = None) -> str:
    now = services.accounts.clock()
    groups = scope_groups(services, lang)
    labels = {code: label for g in groups for code, label in g["options"]}
    users = []
    for u in services.accounts.users():
        locked = u["locked_until"] is not None and u["locked_until"] > now
        users.append({**u, "locked": locked, "scope_label": _scope_label(services, labels, u["scope_code"], lang)})
    return _render(services, "users", lang, error=error, users=users, user_roles=USER_ROLES, scope_groups=groups,
                   create=create or {"role": "analyst"})


def _tokens_page(services: Services, lang: str, error: AccountError | None = None, create: dict | None = None,
                 secret: str = "", created: str = "") -> str:
    groups = scope_groups(services, lang)
    labels = {code: label for g in groups for code, label in g["options"]}
    tokens = [{**k, "scope_label": _scope_label(services, labels, k["scope_code"], lang)} for k in services.accounts.tokens()]
    return _render(services, "tokens", lang, error=error, tokens=tokens, token_roles=ROLES, scope_groups=groups,
                   create=create or {"role": "feed"}, secret=secret, created=created)


def scope_groups(services: Services, lang: str) -> list[dict[str, Any]]:
    """The scopes offered: the root, the regions of the level below it, and the regions of the next
    level grouped by their parent (city + townships + communities in the demo)."""
    repo = services.base_repo
    levels = {lv["level"]: pick(lang, lv["name_zh"], lv["name_en"]) for lv in repo.level_names()}
    root = repo.region(repo.root_code())
    groups = [{"label": levels.get(root["level"], ""), "options": [_option(root, lang)]}]
    first = repo.children(root["code"])
    if first:
        groups.append({"label": levels.get(first[0]["level"], ""), "options": [_option(r, lang) for r in first]})
    for parent in first:
        kids = repo.children(parent["code"])
        if kids:
            groups.append({"label": _option(parent, lang)[1], "options": [_option(r, lang) for r in kids]})
    return groups


def _option(region: dict, lang: str) -> tuple[str, str]:
    return region["code"], f"{pick(lang, region['name'], region.get('name_en') or '')} ({region['code']})"


def _scope_label(services: Services, labels: dict[str, str], code: str | None, lang: str) -> str:
    """'name (code)' of a scope, the whole city when None; a region gone from the tree says so."""
    if not code:
        return t("admin.scope_all", lang)
    if code in labels:
        return labels[code]
    try:
        return _option(services.base_repo.region(code), lang)[1]
    except NoResultFound:
        return f"{t('admin.unknown_region', lang)} ({code})"


def _fmt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "–"
