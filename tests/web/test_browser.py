"""The console in a real headless Chromium, against a live Lockgate with the local models. Asserts
behaviour (states, counts, statuses), never the model's wording. Each test saves screenshots."""

from __future__ import annotations

import re

import pytest

from tests.web.browser import new_user, sign_in, stream_answer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def admin_page(browser, live, shots):
    email, password = new_user(live, admin=True)
    context_page = browser.new_context(base_url=live.url).new_page()
    context_page.goto("/ui/login")
    context_page.screenshot(path=shots / "sign-in.png")
    context_page.context.close()
    page = sign_in(browser, live, email, password)
    yield page
    page.context.close()


def test_stream_a_playground_answer(admin_page, shots):
    page = admin_page
    page.goto("/ui/playground")
    assert page.locator("#model option").count() >= 1
    page.get_by_label("Message").fill("Say hello to the team in one short sentence.")
    page.get_by_label("Max tokens").fill("24")
    page.get_by_role("button", name="Send").click()
    stream_answer(page, "#playground-answer")
    assert page.locator("#playground-answer [data-answer]").inner_text().strip()
    assert int(page.locator("#playground-answer [data-tokens]").get_attribute("data-tokens")) > 0
    assert page.locator("#playground-answer [data-carbon]").count() == 1
    page.screenshot(path=shots / "playground.png", full_page=True)


def test_collection_upload_chunks_search_and_grounded_chat(admin_page, shots, tmp_path):
    page = admin_page
    alpha = tmp_path / "lighthouse.txt"
    alpha.write_text(
        "The Lockgate lighthouse stands on Carrow Point. Its keeper, Maren Holt, feeds seven cats "
        "named after the planets and winds the lamp clock every evening at dusk.\n"
    )
    beta = tmp_path / "harbour.md"
    beta.write_text(
        "# Harbour rules\n\nFerries to Carrow Point leave at 9:00 and 17:30. Fishing boats moor on the "
        "north quay; visitors must register at the harbour office before boarding.\n"
    )
    page.goto("/ui/collections")
    page.get_by_label("Name").fill("Carrow Point")
    page.get_by_role("button", name="Create collection").click()
    page.wait_for_url(re.compile(r".*/ui/collections/\d+$"))
    collection_url = page.url

    page.set_input_files("#files", [str(alpha), str(beta)])
    page.wait_for_selector("[data-upload-list] li[data-state]:nth-child(2)")
    page.wait_for_function("document.querySelectorAll('[data-upload-list] li[data-state]').length == 2")
    states = page.locator("[data-upload-list] li").evaluate_all("items => items.map(i => i.dataset.state)")
    assert states == ["ready", "ready"], page.locator("[data-upload-list]").inner_text()
    page.wait_for_selector("#documents tr[data-document='harbour.md']")
    assert page.locator("#documents tr[data-document]").count() == 2
    page.screenshot(path=shots / "collection.png", full_page=True)

    page.locator("#documents a", has_text="lighthouse.txt").click()
    page.wait_for_url(re.compile(r".*/ui/documents/\d+$"))
    page.locator("button.pill").first.focus()  # by keyboard: Enter opens, Escape closes, focus returns
    page.keyboard.press("Enter")
    dialog = page.locator("#chunk-dialog")
    dialog.locator("[data-chunk]").wait_for()
    assert "Carrow Point" in dialog.inner_text()
    page.screenshot(path=shots / "chunk.png")
    page.keyboard.press("Escape")
    page.wait_for_function("!document.getElementById('chunk-dialog').open")
    assert page.evaluate("document.activeElement.classList.contains('pill')")

    page.goto(collection_url + "/search")
    page.get_by_label("Query").fill("ferries harbour")
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("#results [data-method=hybrid] [data-hit]")
    for method in ("lexical", "semantic", "hybrid"):
        assert page.locator(f"#results [data-method={method}] [data-hit]").count() >= 1
        score = page.locator(f"#results [data-method={method}] [data-score]").first.inner_text()
        assert float(score) >= 0  # BM25 over two documents may score 0: a number, shown
    fused = page.locator("#results [data-method=hybrid] [data-score]").first.inner_text()
    assert float(fused) > 0
    page.screenshot(path=shots / "search.png", full_page=True)

    page.goto(collection_url)
    page.get_by_role("button", name="New chat on this collection").click()
    page.wait_for_url(re.compile(r".*/ui/chats/\d+$"))
    page.get_by_label("Question").fill("When do the ferries to Carrow Point leave?")
    page.get_by_role("button", name="Ask").click()
    stream_answer(page, "#chat-answer")
    pills = page.locator("#chat-answer [data-sources] button.pill")
    assert pills.count() >= 1
    pills.first.click()
    page.locator("#chunk-dialog [data-chunk]").wait_for()
    assert page.locator("#chunk-dialog .chunk").inner_text().strip()
    page.screenshot(path=shots / "chat.png", full_page=True)
    page.keyboard.press("Escape")

    page.goto("/ui/playground")
    page.get_by_label("Carrow Point").check()
    page.get_by_label("Message").fill("Who keeps the lighthouse?")
    page.get_by_label("Max tokens").fill("32")
    page.get_by_role("button", name="Send").click()
    stream_answer(page, "#playground-answer")
    grounded = page.locator("#playground-answer [data-sources] button.pill")
    assert grounded.count() >= 1
    grounded.first.click()
    page.locator("#chunk-dialog [data-chunk]").wait_for()
    page.screenshot(path=shots / "playground-grounded.png", full_page=True)
    page.keyboard.press("Escape")


def test_admin_creates_a_user_and_a_key_shown_once(admin_page, shots):
    page = admin_page
    page.goto("/ui/admin/users")
    page.get_by_label("Email").fill("new.colleague@example.org")
    page.get_by_label("Password (8 characters or more)").fill("a-long-password")
    page.get_by_role("button", name="Create user").click()
    page.wait_for_selector("tr[data-user='new.colleague@example.org']")
    page.screenshot(path=shots / "users.png", full_page=True)

    page.goto("/ui/keys")
    page.get_by_label("Name").fill("ci-pipeline")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("[data-secret]").inner_text().strip()
    assert secret.startswith("sk-")
    page.screenshot(path=shots / "keys.png", full_page=True)
    page.goto("/ui/keys")
    assert page.locator("tr[data-key='ci-pipeline']").count() == 1
    assert secret not in page.content()


def test_non_admin_sees_no_admin_page_and_gets_403(browser, live, shots):
    email, password = new_user(live)
    page = sign_in(browser, live, email, password, viewport={"width": 390, "height": 844})
    page.screenshot(path=shots / "playground-phone.png", full_page=True)
    assert page.locator("nav a[href^='/ui/admin/']").count() == 0
    for path in (
        "/ui/admin/users",
        "/ui/admin/roles",
        "/ui/admin/organizations",
        "/ui/admin/keys",
        "/ui/admin/models",
    ):
        response = page.goto(path)
        assert response.status == 403, path
    page.screenshot(path=shots / "forbidden.png")
    page.context.close()


def test_csrf_less_posts_are_refused(browser, live):
    email, password = new_user(live)
    page = sign_in(browser, live, email, password)
    for form in ({"name": "no-token"}, {"name": "bad-token", "csrf_token": "0" * 64}):
        response = page.request.post(f"{live.url}/ui/keys", form=form)
        assert response.status == 403
    page.goto("/ui/keys")
    assert page.locator("tr[data-key]").count() == 0
    page.context.close()


def test_another_users_cookie_never_shows_this_users_collections(browser, live):
    alice_email, alice_password = new_user(live)
    bob_email, bob_password = new_user(live)
    alice = sign_in(browser, live, alice_email, alice_password)
    alice.goto("/ui/collections")
    alice.get_by_label("Name").fill("alice-only-notes")
    alice.get_by_role("button", name="Create collection").click()
    alice.wait_for_url(re.compile(r".*/ui/collections/\d+$"))
    private_url = alice.url
    bob = sign_in(browser, live, bob_email, bob_password)
    bob.goto("/ui/collections")
    assert "alice-only-notes" not in bob.content()
    assert bob.goto(private_url).status == 404
    bob.goto("/ui/playground")
    assert "alice-only-notes" not in bob.content()
    alice.context.close()
    bob.context.close()


def test_usage_plot_updates(admin_page, shots):
    page = admin_page
    page.goto("/ui/usage?days=1")
    before = int(page.locator("#usage-charts").get_attribute("data-requests"))
    page.goto("/ui/playground")
    page.get_by_label("Message").fill("Count to three.")
    page.get_by_label("Max tokens").fill("12")
    page.get_by_role("button", name="Send").click()
    stream_answer(page, "#playground-answer")
    page.goto("/ui/usage?days=1")
    after = int(page.locator("#usage-charts").get_attribute("data-requests"))
    assert after > before
    for metric in ("requests", "tokens", "cost", "kgco2eq"):
        assert page.locator(f"[data-chart={metric}] polyline").count() >= 1
    assert page.locator("[data-usage-row]").count() >= 1
    page.screenshot(path=shots / "usage.png", full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    assert download.value.suggested_filename.endswith(".csv")


def test_models_page_shows_provider_health(admin_page, shots):
    page = admin_page
    page.goto("/ui/admin/models")
    assert page.locator("[data-router] [data-health]").count() >= 2
    assert page.locator("[data-health=healthy]").count() >= 1
    page.screenshot(path=shots / "models.png", full_page=True)
    page.goto("/ui/admin/roles")
    page.screenshot(path=shots / "roles.png", full_page=True)


def test_sign_out(browser, live):
    email, password = new_user(live)
    page = sign_in(browser, live, email, password)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/ui/login")
    assert not [c for c in page.context.cookies() if c["name"].endswith("lockgate_session")]
    page.goto("/ui/playground")
    page.wait_for_url("**/ui/login?next=/ui/playground")
    page.context.close()


def test_chunks_are_labelled_with_their_number_in_the_document_as_the_api_numbers_them(admin_page, tmp_path):
    """Pills link by the chunk's global id, but what a user reads is the chunk id of
    GET /v1/documents/{id}/chunks/{chunk_id} (from 0 within its document), never the global id."""
    page = admin_page
    paths = []
    for name in ("first.txt", "second.txt"):
        paths.append(tmp_path / name)
        paths[-1].write_text(f"The {name} notes talk about tide tables and the {name} quay.\n")
    page.goto("/ui/collections")
    page.get_by_label("Name").fill("Labels")
    page.get_by_role("button", name="Create collection").click()
    page.wait_for_url(re.compile(r".*/ui/collections/\d+$"))
    collection_url = page.url
    page.set_input_files("#files", [str(p) for p in paths])
    page.wait_for_selector("#documents tr[data-document='second.txt']")
    page.locator("#documents a", has_text="second.txt").click()
    page.wait_for_url(re.compile(r".*/ui/documents/\d+$"))
    pill = page.locator("button.pill").first
    global_id = pill.get_attribute("data-chunk-url").rsplit("/", 1)[1]
    assert global_id != "0"  # global ids start at 1: a label showing one can never read "Chunk 0"
    assert pill.inner_text().strip() == "Chunk 0"
    pill.click()
    page.locator("#chunk-dialog [data-chunk]").wait_for()
    assert "second.txt · chunk 0" in page.locator("#chunk-dialog").inner_text()
    page.keyboard.press("Escape")

    page.goto(collection_url + "/search")
    page.get_by_label("Query").fill("second.txt quay")
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("#results [data-method=lexical] [data-hit]")
    hits = page.locator("#results [data-method=lexical] [data-hit]")
    labels = hits.locator("button.pill").all_inner_texts()
    assert labels and all(label == "chunk 0" for label in labels), labels
