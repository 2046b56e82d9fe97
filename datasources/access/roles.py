"""Roles and the permission matrix (docs/ACCESS.md prints it from here).

A caller is a ``Principal``: a logged-in user or an API token, with a role and a scope (the region
whose subtree it may see; ``None`` = the whole city). Permissions are checked against the matrix;
scope is enforced by the repository the caller's requests are bound to.
"""

from __future__ import annotations

from dataclasses import dataclass

VIEW, DRILL, DISPATCH, SWITCH_MODE, EXPORT, ADMINISTER, INGEST = (
    "view", "drill", "dispatch", "switch_mode", "export", "administer", "ingest",
)
PERMISSIONS = (VIEW, DRILL, DISPATCH, SWITCH_MODE, EXPORT, ADMINISTER, INGEST)

#: role -> permissions. ``feed`` is for machine clients (API tokens that only send data).
MATRIX: dict[str, frozenset[str]] = {
    "leader": frozenset({VIEW, DRILL, SWITCH_MODE, EXPORT}),
    "duty": frozenset({VIEW, DRILL, DISPATCH, SWITCH_MODE, EXPORT}),
    "analyst": frozenset({VIEW, DRILL, EXPORT}),
    "township": frozenset({VIEW, DRILL, DISPATCH, EXPORT}),
    "admin": frozenset(PERMISSIONS),
    "feed": frozenset({INGEST}),
}
ROLES = tuple(MATRIX)
#: Permissions that write to the database: nobody holds them while the database is served read-only.
WRITES = frozenset({DISPATCH, SWITCH_MODE, ADMINISTER, INGEST})
#: Roles a person can log in with (``feed`` is for tokens only).
USER_ROLES = ("leader", "duty", "analyst", "township", "admin")
#: Roles that must be limited to a region subtree.
SCOPED_ROLES = frozenset({"township"})



@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (``kind='user'``) or an API token (``kind='token'``)."""

    name: str
    role: str
    scope: str | None = None
    kind: str = "user"
    id: int = 0
    read_only: bool = False  # the database is served read-only: no write permission holds

    def can(self, permission: str) -> bool:
        """True when the role grants ``permission`` (and, for a write, the database can be written)."""
        if self.read_only and permission in WRITES:
            return False
        return permission in MATRIX.get(self.role, frozenset())


class AccessDenied(PermissionError):
    """The caller lacks a permission (HTTP 403)."""

    def __init__(self, principal: Principal | None, permission: str):
        who = f"{principal.kind} {principal.name!r} ({principal.role})" if principal else "anonymous caller"
        why = " while the database is served read-only" if principal and principal.read_only and permission in WRITES else ""
        super().__init__(f"{who} may not {permission}{why}")
        self.permission = permission


def require(principal: Principal | None, permission: str) -> Principal:
    """Return the principal when it holds ``permission``; raise AccessDenied otherwise."""
    if principal is None or not principal.can(permission):
        raise AccessDenied(principal, permission)
    return principal


def check_role_scope(role: str, scope: str | None) -> str | None:
    """The problem with a role/scope pair, or None: unknown roles, township roles without a scope."""
    if role not in MATRIX:
        return f"unknown role {role!r} (known: {', '.join(ROLES)})"
    if role in SCOPED_ROLES and not scope:
        return f"role {role!r} needs a scope (the region whose subtree it may see)"
    return None


def matrix_markdown() -> str:
    """The permission matrix as a Markdown table (the docs embed it; a test keeps them equal)."""
    head = "| role | " + " | ".join(PERMISSIONS) + " |"
    rule = "|---|" + "---|" * len(PERMISSIONS)
    rows = [
        f"| {role} | " + " | ".join("✓" if p in perms else "–" for p in PERMISSIONS) + " |"
        for role, perms in MATRIX.items()
    ]
    return "\n".join([head, rule, *rows])
