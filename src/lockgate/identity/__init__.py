"""Identity: users, roles (permissions + limits), organizations, API keys, login, "me"."""
