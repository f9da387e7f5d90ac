"""Steps shared by the browser tests."""

from __future__ import annotations

import itertools

from tests.live import Live

WAIT = 180_000  # ms: a busy 2-core machine runs the local model slowly; never a timing assert
_seq = itertools.count(1)


def new_user(live: Live, admin: bool = False) -> tuple[str, str]:
    """A user with a password (the master user has none), as the admin API makes it."""
    n = next(_seq)
    roles = live.admin.get("/v1/admin/roles", params={"limit": 100}).json()["data"]
    wanted = "admin" if admin else "user"
    role = next(r["id"] for r in roles if r["name"] == wanted)
    email, password = f"{wanted}{n}@example.org", f"console-pw-{n}"
    made = live.admin.post("/v1/admin/users", json={"email": email, "password": password, "role": role})
    assert made.status_code == 201, made.text
    return email, password


def sign_in(browser, live: Live, email: str, password: str, **context):
    ctx = browser.new_context(base_url=live.url, **context)
    ctx.set_default_timeout(WAIT)
    page = ctx.new_page()
    page.goto("/ui/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ui/playground")
    return page


def stream_answer(page, box: str) -> None:
    """Wait for the streamed answer in `box` to finish, and check it did not fail."""
    page.wait_for_selector(f"{box}[data-state=done], {box}[data-state=failed]")
    error = page.locator(f"{box} [data-error]").inner_text()
    assert page.locator(box).get_attribute("data-state") == "done", error
