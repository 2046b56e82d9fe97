"""The administration pages (/admin): users, API tokens and the audit log, through the Flask test client
on the shared 'mini' demo (so every test makes its own uniquely named users and tokens)."""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app import create_app
from datasources.access import audit
from datasources.access.accounts import AccountError
from datasources.models import ApiToken, AuditLog, User
from tests.conftest import login

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
ERROR_RE = re.compile(r'<p class="form-error admin-error" role="alert" data-field="(\w*)">([^<]*)</p>')
ADMIN_POSTS = ("/admin/users", "/admin/users/{u}/role", "/admin/users/{u}/active", "/admin/users/{u}/password",
               "/admin/users/{u}/unlock", "/admin/tokens", "/admin/tokens/{k}/revoke")


@pytest.fixture(scope="module")
def app(mini_sqlite):
    return create_app({"database_url": mini_sqlite})


@pytest.fixture(scope="module")
def services(app):
    return app.server.config["IOC_SERVICES"]


@pytest.fixture
def admin(app):
    return login(app.server.test_client(), "admin")


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _csrf(client, path: str = "/admin") -> str:
    return TOKEN_RE.search(client.get(path).get_data(as_text=True)).group(1)


def _layout_csrf(client) -> str:
    """The sign-out form's token from the cockpit layout (users without /admin have no other form)."""
    def walk(node):  # noqa: ANN001, ANN202
        if isinstance(node, dict):
            if node.get("props", {}).get("name") == "csrf_token":
                return node["props"]["value"]
            return next((v for v in map(walk, node.values()) if v), None)
        if isinstance(node, list):
            return next((v for v in map(walk, node) if v), None)
        return None

    return walk(client.get("/_dash-layout").get_json())


def _post(client, path: str, data: dict, **kwargs):  # noqa: ANN202
    return client.post(path, data={"csrf_token": _csrf(client), **data}, **kwargs)


def _error(resp) -> tuple[str, str]:  # noqa: ANN001
    m = ERROR_RE.search(resp.get_data(as_text=True))
    assert m, resp.get_data(as_text=True)[:2000]
    return m.group(1), html.unescape(m.group(2))


def _row(page: str, attr: str, value: str) -> str:
    """The HTML of the table row carrying ``attr="value"``."""
    m = re.search(rf'<tr {attr}="{re.escape(value)}".*?</tr>', page, re.S)
    assert m, f"no row {attr}={value}"
    return m.group(0)


def _user(services, name: str) -> dict | None:
    return services.accounts.user(name)


def _audit(services, action: str, text: str) -> list[dict]:
    return audit.search(services.base_repo.engine, text=text, action=action)[0]


def _wrong_login(client, username: str, ip: str):  # noqa: ANN001, ANN202
    token = _csrf(client, "/login")
    return client.post("/login", data={"username": username, "password": "wrong-password", "csrf_token": token},
                       environ_base={"REMOTE_ADDR": ip})


def _new_user(services, role: str = "analyst", scope: str | None = None, password: str = "secret-pass-1") -> str:
    name = _unique(role)
    services.accounts.create_user(name, password, role, scope, display_name=f"{role} for tests", actor="test")
    return name


# ------------------------------------------------------------------------------------------ pages
def test_admin_sees_users_with_role_scope_and_state_in_both_languages(admin, services):
    page = admin.get("/admin").get_data(as_text=True)
    assert "<title>系统管理 · 用户</title>" in page and 'href="/?lang=zh"' in page
    leader = _row(page, "data-username", "leader")
    assert "领导" in leader and "demo leader" in leader and "全域（不限）" in leader and 'data-active="1"' in leader
    township = _row(page, "data-username", "township")
    scope = _user(services, "township")["scope_code"]
    name = services.base_repo.region(scope)["name"]
    assert f"{name} ({scope})" in township and "镇街用户" in township
    # The scope choices: the city, its townships and their communities grouped by township.
    assert '<optgroup label="市">' in page and f'<optgroup label="{name} ({scope})">' in page
    assert f'<option value="{scope}001">' in page
    en = admin.get("/admin?lang=en").get_data(as_text=True)
    assert "<title>Administration · Users</title>" in en and "Township officer" in _row(en, "data-username", "township")
    assert 'name="lang" value="en"' in en and 'href="/admin/tokens?lang=en"' in en and 'href="/?lang=en"' in en
    assert 'href="/admin?lang=zh"' in en  # the language switch
    for path, title in (("/admin/tokens?lang=en", "API tokens"), ("/admin/audit?lang=en", "Audit log")):
        assert f"<title>Administration · {title}</title>" in admin.get(path).get_data(as_text=True)


@pytest.mark.parametrize("username", ["leader", "township"])
def test_non_admins_get_403_for_every_page_and_every_post(app, services, username):
    victim = _new_user(services)
    secret, token_id = services.accounts.create_token(_unique("feed"), "feed", None, actor="test")
    before = services.accounts.user(victim)
    client = login(app.server.test_client(), username)
    for path in ("/admin", "/admin/tokens", "/admin/audit", "/admin/audit?q=x&page=2"):
        resp = client.get(path)
        assert resp.status_code == 403 and "administer" in resp.get_json()["error"], path
    token = _layout_csrf(client)
    data = {"csrf_token": token, "username": _unique("intruder"), "password": "intruder-pass-1", "role": "admin",
            "scope": "", "active": "0", "name": _unique("tok")}
    for path in ADMIN_POSTS:
        resp = client.post(path.format(u=victim, k=token_id), data=data)
        assert resp.status_code == 403 and "administer" in resp.get_json()["error"], path
    assert services.accounts.user(data["username"]) is None
    assert services.accounts.user(victim) == before  # same role, still active, same epoch
    assert not any(k["name"] == data["name"] for k in services.accounts.tokens())
    assert services.accounts.principal_for_token(secret) is not None  # not revoked
    denied = audit.search(services.base_repo.engine, text="/admin", action="access_denied", outcome="denied")[0]
    assert any(r["username"] == username and r["target"] == "/admin/tokens" for r in denied)


# ------------------------------------------------------------------------------------------ users
def test_created_user_logs_in_with_its_role_and_scope(app, admin, services):
    name = _unique("new")
    township = services.base_repo.children(services.base_repo.root_code())[1]["code"]
    resp = _post(admin, "/admin/users", {"username": name, "display_name": "新同事", "password": "a-good-pass",
                                         "role": "township", "scope": township, "lang": "en"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin?lang=en"
    page = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert f"User {name} created" in page and "新同事" in _row(page, "data-username", name)
    user = _user(services, name)
    assert (user["role"], user["scope_code"], user["display_name"], user["active"]) == ("township", township, "新同事", True)
    entry = _audit(services, "user_create", name)[0]
    assert (entry["username"], entry["target"], entry["detail"]) == ("admin", name, f"role=township scope={township}")
    newcomer = login(app.server.test_client(), name, "a-good-pass")
    assert newcomer.get("/").status_code == 200
    assert _user(services, name)["last_login_at"] is not None
    assert newcomer.get("/admin").status_code == 403


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"password": "short"}, "password", "at least 8 characters"),
        ({"password": "x" * 257}, "password", "at most 256"),
        ({"role": "feed"}, "role", "choose one of"),
        ({"role": "root"}, "role", "choose one of"),
        ({"scope": "999999999"}, "scope", "no region '999999999'"),
        ({"scope": "51'--"}, "scope", "region code"),
        ({"role": "township", "scope": ""}, "role", "needs a scope"),
        ({"username": "two words"}, "username", "letters, digits"),
        ({"username": "x" * 65}, "username", "at most 64"),
        ({"username": "leader"}, "username", "already exists"),
        ({"display_name": "d" * 65}, "display_name", "at most 64"),
        ({"display_name": "nul\x00byte"}, "display_name", "control characters"),
    ],
)
def test_a_bad_user_field_gives_400_naming_it_and_writes_nothing(admin, services, changes, field, says):
    form = {"username": _unique("bad"), "display_name": "bad", "password": "good-password", "role": "analyst",
            "scope": "", **changes}
    users_before = len(services.accounts.users())
    created_before = audit.search(services.base_repo.engine, action="user_create")[1]
    resp = _post(admin, "/admin/users", form)
    assert resp.status_code == 400
    got_field, text = _error(resp)
    assert got_field == field and says in text, text
    label = {"password": "密码", "role": "角色", "scope": "权限范围", "username": "用户名", "display_name": "显示名称"}[field]
    assert text.startswith(f"{label}：")
    assert len(services.accounts.users()) == users_before
    assert audit.search(services.base_repo.engine, action="user_create")[1] == created_before
    if field != "username":  # the form keeps what was typed (never the password)
        assert f'value="{html.escape(form["username"])}"' in resp.get_data(as_text=True)
    assert "good-password" not in resp.get_data(as_text=True)


def test_a_username_taken_by_a_concurrent_create_is_a_400(admin, services, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    from datasources.access.accounts import Accounts

    def racing(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise IntegrityError("INSERT INTO users", {}, Exception("UNIQUE constraint failed: users.username"))

    monkeypatch.setattr(Accounts, "create_user", racing)
    name = _unique("race")
    resp = _post(admin, "/admin/users", {"username": name, "password": "good-password", "role": "analyst", "scope": ""})
    assert resp.status_code == 400 and _error(resp) == ("username", f"用户名：'{name}' already exists")


def test_disabling_a_user_ends_their_session_and_blocks_login(app, admin, services):
    name = _new_user(services)
    victim = login(app.server.test_client(), name, "secret-pass-1")
    assert victim.get("/").status_code == 200
    resp = _post(admin, f"/admin/users/{name}/active", {"active": "0"})
    assert resp.status_code == 302
    page = admin.get("/admin").get_data(as_text=True)
    assert f"已停用用户 {name}" in page and 'data-active="0"' in _row(page, "data-username", name)
    assert _user(services, name)["active"] is False
    nxt = victim.get("/")
    assert nxt.status_code == 302 and nxt.headers["Location"].startswith("/login")
    assert victim.post("/_dash-update-component", json={}).status_code == 401
    token = _csrf(victim, "/login")
    again = victim.post("/login", data={"username": name, "password": "secret-pass-1", "csrf_token": token})
    assert again.status_code == 403 and "已停用" in again.get_data(as_text=True)
    assert "active=False" in _audit(services, "user_update", name)[0]["detail"]
    assert _post(admin, f"/admin/users/{name}/active", {"active": "1"}).status_code == 302
    assert login(app.server.test_client(), name, "secret-pass-1").get("/").status_code == 200


def test_role_and_scope_changes_take_effect_and_end_sessions(app, admin, services):
    name = _new_user(services, "analyst")
    user = login(app.server.test_client(), name, "secret-pass-1")
    assert user.get("/admin").status_code == 403
    epoch = services.accounts.session_epoch(_user(services, name)["id"])
    # Saving the same role and scope changes nothing: no audit row, sessions kept.
    same = _post(admin, f"/admin/users/{name}/role", {"role": "analyst", "scope": ""})
    assert same.status_code == 302 and f"用户 {name} 没有变化" in admin.get("/admin").get_data(as_text=True)
    assert services.accounts.session_epoch(_user(services, name)["id"]) == epoch and not _audit(services, "user_update", name)
    assert _post(admin, f"/admin/users/{name}/role", {"role": "admin", "scope": ""}).status_code == 302
    assert _user(services, name)["role"] == "admin"
    assert user.get("/admin").status_code == 302  # old session ended: to the login page
    login(user, name, "secret-pass-1")
    assert "系统管理" in user.get("/admin").get_data(as_text=True)
    township = services.base_repo.children(services.base_repo.root_code())[2]["code"]
    assert _post(admin, f"/admin/users/{name}/role", {"role": "township", "scope": township}).status_code == 302
    assert (_user(services, name)["role"], _user(services, name)["scope_code"]) == ("township", township)
    assert "role=township" in _audit(services, "user_update", name)[0]["detail"]
    bad = _post(admin, f"/admin/users/{name}/role", {"role": "township", "scope": ""})
    assert bad.status_code == 400 and _error(bad)[0] == "role" and _user(services, name)["scope_code"] == township


def test_an_admin_cannot_disable_or_demote_themselves(admin, services):
    for path, data, field in (("/admin/users/admin/active", {"active": "0"}, "active"),
                              ("/admin/users/admin/role", {"role": "leader", "scope": ""}, "role")):
        resp = _post(admin, path, data)
        assert resp.status_code == 400 and _error(resp) == (field, f"{'启用状态' if field == 'active' else '角色'}：不能停用或降级自己的账户")
    assert (_user(services, "admin")["role"], _user(services, "admin")["active"]) == ("admin", True)


def test_password_reset_and_unknown_users(app, admin, services):
    name = _new_user(services)
    old = login(app.server.test_client(), name, "secret-pass-1")
    short = _post(admin, f"/admin/users/{name}/password", {"password": "short"})
    assert short.status_code == 400 and _error(short)[0] == "password"
    assert _post(admin, f"/admin/users/{name}/password", {"password": "brand-new-pass"}).status_code == 302
    assert old.get("/").status_code == 302  # the reset ended the old session
    assert login(app.server.test_client(), name, "brand-new-pass").get("/").status_code == 200
    assert "password=reset" in _audit(services, "user_update", name)[0]["detail"]
    missing = _post(admin, "/admin/users/nobody_here/unlock", {})
    assert missing.status_code == 400 and _error(missing) == ("username", "用户名：no account 'nobody_here'")
    odd = _post(admin, "/admin/users/a%00b/unlock", {})
    assert odd.status_code == 400 and _error(odd)[0] == "username"
    bad_active = _post(admin, f"/admin/users/{name}/active", {"active": "maybe"})
    assert bad_active.status_code == 400 and _error(bad_active)[0] == "active"
    assert admin.post("/admin/users/x/delete", data={"csrf_token": _csrf(admin)}).status_code in (404, 405)


def test_unlock_clears_a_lockout(app, admin, services):
    name = _new_user(services)
    client = app.server.test_client()
    ip = f"10.77.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    statuses = [_wrong_login(client, name, ip).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 423]
    assert _user(services, name)["locked_until"] > datetime.now()
    token = _csrf(client, "/login")
    locked = client.post("/login", data={"username": name, "password": "secret-pass-1", "csrf_token": token},
                         environ_base={"REMOTE_ADDR": ip})
    assert locked.status_code == 423
    row = _row(admin.get("/admin").get_data(as_text=True), "data-username", name)
    assert 'data-locked="1"' in row and f"/admin/users/{name}/unlock" in row
    assert _post(admin, f"/admin/users/{name}/unlock", {}).status_code == 302
    user = _user(services, name)
    assert (user["locked_until"], user["failed_logins"]) == (None, 0)
    row = _row(admin.get("/admin").get_data(as_text=True), "data-username", name)
    assert "data-locked" not in row and "/unlock" not in row
    assert "failed_logins=0 locked_until=None" in _audit(services, "user_update", name)[0]["detail"]
    token = _csrf(client, "/login")
    ok = client.post("/login", data={"username": name, "password": "secret-pass-1", "csrf_token": token},
                     environ_base={"REMOTE_ADDR": ip})
    assert ok.status_code == 302 and client.get("/").status_code == 200


# ------------------------------------------------------------------------------------------ tokens
def test_token_secret_is_shown_once_and_only_its_hash_is_stored(admin, services):
    name = _unique("feed")
    township = services.base_repo.children(services.base_repo.root_code())[0]["code"]
    resp = _post(admin, "/admin/tokens", {"name": name, "role": "feed", "scope": township})
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    secret = re.search(r'<code class="admin-secret-value">([^<]+)</code>', page).group(1)
    assert secret.startswith("ioc_") and len(secret) > 40
    assert "密钥只显示这一次" in page and page.count(secret) == 1
    assert resp.headers["Cache-Control"] == "no-store"
    listing = admin.get("/admin/tokens").get_data(as_text=True)
    assert secret not in listing and "admin-secret-value" not in listing
    row = _row(listing, "data-token-id", str(services.accounts.tokens()[0]["id"]))
    assert name in row and f"{secret[:12]}…" in row and "数据接入" in row and township in row
    with services.base_repo.engine.connect() as conn:
        stored = conn.execute(select(ApiToken.__table__).where(ApiToken.token_hash == hashlib.sha256(secret.encode()).hexdigest())).mappings().one()
        cells = [str(v) for r in conn.execute(select(ApiToken.__table__)).all() for v in r]
        log = [str(v) for r in conn.execute(select(AuditLog.__table__)).all() for v in r]
    assert (stored["name"], stored["role"], stored["scope_code"], stored["created_by"]) == (name, "feed", township, "admin")
    assert not any(secret in c for c in cells + log)
    principal = services.accounts.principal_for_token(secret)
    assert (principal.role, principal.scope, principal.kind) == ("feed", township, "token")
    bad = _post(admin, "/admin/tokens", {"name": "", "role": "feed", "scope": ""})
    assert bad.status_code == 400 and _error(bad)[0] == "name" and "admin-secret-value" not in bad.get_data(as_text=True)
    bad = _post(admin, "/admin/tokens", {"name": _unique("t"), "role": "god", "scope": ""})
    assert bad.status_code == 400 and _error(bad)[0] == "role"


def test_revoking_a_token_records_when_and_who(admin, services):
    name = _unique("revoke")
    secret, token_id = services.accounts.create_token(name, "feed", None, actor="test")
    resp = _post(admin, f"/admin/tokens/{token_id}/revoke", {"lang": "en"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/tokens?lang=en"
    page = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert f"Token {name} ({secret[:12]}…) revoked" in page
    row = _row(page, "data-token-id", str(token_id))
    assert "admin-muted" in row and " · admin" in row and "/revoke" not in row
    token = next(k for k in services.accounts.tokens() if k["id"] == token_id)
    assert token["revoked_by"] == "admin" and datetime.now() - token["revoked_at"] < timedelta(minutes=1)
    entry = _audit(services, "token_revoke", name)[0]
    assert (entry["username"], entry["target"]) == ("admin", f"{name} ({secret[:12]}…)")
    assert services.accounts.principal_for_token(secret) is None
    again = _post(admin, f"/admin/tokens/{token_id}/revoke", {})
    assert again.status_code == 302 and len(_audit(services, "token_revoke", name)) == 1
    missing = _post(admin, "/admin/tokens/2147483000/revoke", {})
    assert missing.status_code == 400 and _error(missing)[0] == "token"
    assert _post(admin, "/admin/tokens/99999999999999999999999/revoke", {}).status_code == 404


# ------------------------------------------------------------------------------------------ audit
def _audit_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-audit-id="(\d+)"', page)]


def test_audit_search_by_text_action_outcome_dates_and_pages(admin, services):
    engine = services.base_repo.engine
    mark = uuid.uuid4().hex[:10]
    day = datetime(2003, 4, 5, 9, 0)
    audit.record(engine, "dispatch", "duty", target=f"event {mark}-a", ip="10.1.1.1", ts=day)
    audit.record(engine, "export", f"analyst{mark}", detail="csv", ts=day + timedelta(hours=1))
    audit.record(engine, "login_failed", "someone", outcome="denied", ip=f"10.{mark}", ts=day + timedelta(days=1))
    audit.record(engine, "login_failed", "someone", outcome="failed", detail=f"wrong password {mark}", ts=day + timedelta(days=2))

    def search(**params):  # noqa: ANN202
        resp = admin.get("/admin/audit", query_string=params)
        assert resp.status_code == 200
        return resp.get_data(as_text=True)

    page = search(q=mark)
    assert 'data-total="4"' in page and "共 4 条，第 1/1 页" in page
    times = re.findall(r'<td class="admin-nowrap">([^<]+)</td>', page)
    assert times == ["2003-04-07 09:00:00", "2003-04-06 09:00:00", "2003-04-05 10:00:00", "2003-04-05 09:00:00"]
    assert 'data-total="1"' in search(q=mark, action="dispatch") and f"event {mark}-a" in search(q=mark, action="dispatch")
    failed = search(q=mark, action="login_failed", outcome="failed")
    assert 'data-total="1"' in failed and f"wrong password {mark}" in failed and 'data-outcome="failed"' in failed
    denied = search(q=mark, outcome="denied")
    assert 'data-total="1"' in denied and f"10.{mark}" in denied and "拒绝" in denied
    assert 'data-total="2"' in search(q=mark, since="2003-04-05", until="2003-04-05")  # the whole last day
    assert 'data-total="2"' in search(q=mark, since="2003-04-06")
    assert 'data-total="0"' in search(q=mark, action="import") and "没有符合条件的记录" in search(q=mark, action="import")
    # The select keeps the chosen filters.
    assert '<option value="login_failed" selected>' in failed and '<option value="failed" selected>' in failed

    many = uuid.uuid4().hex[:10]
    for i in range(120):
        audit.record(engine, "export", "analyst", detail=f"bulk {many} #{i:03d}", ts=day + timedelta(minutes=i))
    first = search(q=many, lang="en")
    assert "120 entries, page 1 of 3" in first and len(_audit_ids(first)) == 50
    assert "bulk " + many + " #119" in first and "#070" in first and "#069" not in first
    assert f'href="/admin/audit?lang=en&amp;q={many}&amp;page=2" rel="next"' in first and 'rel="prev"' not in first
    last = search(q=many, page="3", lang="en")
    assert "page 3 of 3" in last and len(_audit_ids(last)) == 20 and "#000" in last and 'rel="next"' not in last
    ids = _audit_ids(first) + _audit_ids(search(q=many, page="2")) + _audit_ids(last)
    assert len(set(ids)) == 120


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "page"), ({"page": "abc"}, "page"), ({"page": "²"}, "page"), ({"page": "99999999"}, "page"),
        ({"since": "2020-02-30"}, "since"), ({"until": "yesterday"}, "until"), ({"since": "0001-01-01"}, "since"),
        ({"since": "2021-01-02", "until": "2021-01-01"}, "until"), ({"action": "drop table"}, "action"),
        ({"outcome": "maybe"}, "outcome"), ({"q": "x" * 101}, "q"), ({"q": "a\x00b"}, "q"),
    ],
)
def test_bad_audit_parameters_give_400_naming_them(admin, params, field):
    resp = admin.get("/admin/audit", query_string=params)
    assert resp.status_code == 400 and _error(resp)[0] == field
    assert 'data-total="0"' in resp.get_data(as_text=True)


# ------------------------------------------------------------------------------------------ hostile input
def test_a_post_without_csrf_token_is_refused(admin, services):
    name = _unique("nocsrf")
    resp = admin.post("/admin/users", data={"username": name, "password": "good-password", "role": "analyst", "scope": ""})
    assert resp.status_code == 400 and "CSRF" in resp.get_json()["error"]
    assert services.accounts.user(name) is None
    bad = admin.post("/admin/users", data={"csrf_token": "forged", "username": name, "password": "good-password",
                                           "role": "analyst", "scope": ""})
    assert bad.status_code == 400 and services.accounts.user(name) is None


def test_injected_markup_is_rendered_escaped(app, admin, services):
    script = "<script>alert(1)</script>"
    name = _unique("xss")
    assert _post(admin, "/admin/users", {"username": name, "display_name": script, "password": "good-password",
                                         "role": "leader", "scope": ""}).status_code == 302
    page = admin.get("/admin").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _row(page, "data-username", name) and script not in page
    bad = _post(admin, "/admin/users", {"username": script, "display_name": script, "password": "good-password",
                                        "role": "leader", "scope": ""})
    assert bad.status_code == 400 and _error(bad)[0] == "username"
    assert script not in bad.get_data(as_text=True) and 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in bad.get_data(as_text=True)
    token = _post(admin, "/admin/tokens", {"name": script, "role": "feed", "scope": ""})
    assert token.status_code == 200 and script not in token.get_data(as_text=True)
    _wrong_login(app.server.test_client(), '"><script>alert(2)</script>', "10.66.0.1")
    log = admin.get("/admin/audit", query_string={"q": "<script>"}).get_data(as_text=True)
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in log and "<script>alert" not in log
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in admin.get("/admin/tokens").get_data(as_text=True)
    with services.base_repo.engine.connect() as conn:
        assert conn.execute(select(User.display_name).where(User.username == name)).scalar_one() == script


def test_accounts_refuse_the_token_only_feed_role_for_people(services):
    """A person with the ``feed`` role could never see a page (the guard needs ``view``): refused."""
    name = _unique("feeder")
    with pytest.raises(AccountError, match="^role: 'feed' is for API tokens only"):
        services.accounts.create_user(name, "good-password", "feed")
    assert services.accounts.user(name) is None
    name = _new_user(services)
    with pytest.raises(AccountError, match="^role: 'feed' is for API tokens only"):
        services.accounts.update_user(name, role="feed")
    assert _user(services, name)["role"] == "analyst"


@pytest.mark.postgres
def test_admin_pages_and_hostile_input_on_postgresql(mini_pg):
    """PostgreSQL refuses NUL characters outright: the page must reject them before the database does."""
    app = create_app({"database_url": mini_pg})
    services = app.server.config["IOC_SERVICES"]
    admin = login(app.server.test_client(), "admin")
    name = _unique("pg")
    assert _post(admin, "/admin/users", {"username": name, "display_name": "张三", "password": "good-password",
                                         "role": "analyst", "scope": ""}).status_code == 302
    assert "张三" in _row(admin.get("/admin").get_data(as_text=True), "data-username", name)
    for path, data, field in (("/admin/users", {"username": _unique("n"), "display_name": "a\x00b",
                                                "password": "good-password", "role": "analyst", "scope": ""}, "display_name"),
                              ("/admin/tokens", {"name": "a\x00b", "role": "feed", "scope": ""}, "name"),
                              ("/admin/tokens", {"name": "t", "role": "feed", "scope": "5\x00"}, "scope"),
                              (f"/admin/users/{name}/role", {"role": "analyst", "scope": "\x00"}, "scope")):
        resp = _post(admin, path, data)
        assert resp.status_code == 400 and _error(resp)[0] == field, path
    for params, status in (({"q": name}, 200), ({"q": "a\x00b"}, 400), ({"since": "2026-01-01", "page": "2"}, 200)):
        assert admin.get("/admin/audit", query_string=params).status_code == status
    page = admin.get("/admin/audit", query_string={"q": name, "action": "user_create"}).get_data(as_text=True)
    assert 'data-total="1"' in page and f"<td>{name}</td>" in page
    assert services.accounts.user(name)["display_name"] == "张三"


def test_accounts_refuse_control_characters_in_names(services):
    """PostgreSQL answers a NUL in text with a DataError (a 500 to any caller that forgot to check)."""
    name = _unique("nul")
    with pytest.raises(AccountError, match="^display_name: control characters"):
        services.accounts.create_user(name, "good-password", "analyst", display_name="a\x00b")
    with pytest.raises(AccountError, match="^name: control characters"):
        services.accounts.create_token("a\x00b", "feed", None, actor="test")
    assert services.accounts.user(name) is None and not any(k["name"] == "a\x00b" for k in services.accounts.tokens())
