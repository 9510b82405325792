"""Every statement on users and API keys. Keys are stored as their SHA-256 only."""

from __future__ import annotations

CREATE_USER = """
INSERT INTO users (id, username, is_admin)
VALUES (:name, :name, :admin)
ON CONFLICT (id) DO NOTHING
RETURNING id
"""

GET_USER = """
SELECT id, username, is_admin
FROM users
WHERE id = :id
"""

ISSUE_KEY = """
INSERT INTO api_keys (user_id, key_hash, prefix, label)
VALUES (:user_id, :hash, :prefix, :label)
RETURNING id
"""

USER_FOR_KEY = """
-- `stale`: last use not noted for a minute, so a busy key costs one write a minute, not one a request
SELECT u.id, u.username, u.is_admin, u.daily_token_limit, k.id AS key_id, k.is_gateway,
       (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute') AS stale
FROM api_keys k JOIN users u ON u.id = k.user_id
WHERE k.key_hash = :hash AND k.revoked_at IS NULL
"""

TOUCH_KEY = """
UPDATE api_keys SET last_used_at = now()
WHERE id = :id
"""

# A user first seen through a token or a gateway, kept up to date; with their own token limit, if any.
REMEMBER_USER = """
INSERT INTO users AS u (id, username, is_admin)
VALUES (:id, :username, :admin)
ON CONFLICT (id) DO UPDATE SET username = excluded.username, is_admin = excluded.is_admin
RETURNING u.daily_token_limit
"""

LIST_USERS = """
SELECT u.id, u.username, u.is_admin, u.created_at, u.daily_token_limit,
       count(k.id) FILTER (WHERE k.revoked_at IS NULL) AS active_keys, max(k.last_used_at) AS last_seen
FROM users u
LEFT JOIN api_keys k ON k.user_id = u.id
GROUP BY u.id
ORDER BY u.created_at
"""

LIST_KEYS = """
SELECT id, user_id, prefix, label, created_at, last_used_at, revoked_at, is_gateway
FROM api_keys
WHERE CAST(:user_id AS text) IS NULL OR user_id = :user_id
ORDER BY id
"""

REVOKE_KEY = """
UPDATE api_keys SET revoked_at = now()
WHERE id = :id AND revoked_at IS NULL
"""

MARK_GATEWAY = """
UPDATE api_keys SET is_gateway = :gateway
WHERE id = :id AND revoked_at IS NULL
RETURNING id, user_id, prefix, label, created_at, last_used_at, revoked_at, is_gateway
"""

SET_DAILY_TOKEN_LIMIT = """
UPDATE users SET daily_token_limit = :limit
WHERE id = :id
RETURNING id
"""

BOOTSTRAP_LOCK = "SELECT pg_advisory_xact_lock(:id)"

ANY_USER = "SELECT EXISTS (SELECT 1 FROM users)"
