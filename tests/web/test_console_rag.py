"""Console collections and documents: another user's objects stay invisible, bad uploads leave
nothing behind (SQLite and PostgreSQL; a fake embedding upstream, no local model needed)."""

from __future__ import annotations

import re

from tests.web.console import Console


async def _collection(ui: Console, name: str) -> int:
    made = await ui.post("/ui/collections", {"name": name})
    assert made.status_code == 303, made.text
    return int(made.headers["location"].rsplit("/", 1)[1])


async def test_another_users_collection_is_not_found_in_the_console(api, app):
    alice = await api.create_member()
    bob = await api.create_member()
    async with Console(app) as mine, Console(app) as theirs:
        await mine.sign_in(alice.email, alice.password)
        collection_id = await _collection(mine, "alice-secret")
        chat = await mine.post(f"/ui/collections/{collection_id}/chats")
        assert chat.status_code == 303
        chat_url = chat.headers["location"]
        await theirs.sign_in(bob.email, bob.password)
        listing = await theirs.get("/ui/collections")
        assert "alice-secret" not in listing.text
        for path in (
            f"/ui/collections/{collection_id}",
            f"/ui/collections/{collection_id}/documents",
            f"/ui/collections/{collection_id}/search?q=x",
            chat_url,
        ):
            assert (await theirs.get(path)).status_code == 404, path
        for path in (f"/ui/collections/{collection_id}/delete", f"{chat_url}/ask"):
            assert (await theirs.post(path, {"message": "hi"})).status_code == 404, path
        assert (await mine.get(f"/ui/collections/{collection_id}")).status_code == 200

        shared = await mine.post(f"/ui/collections/{collection_id}/share", {"email": bob.email})
        assert shared.status_code == 303
        page = await theirs.get(f"/ui/collections/{collection_id}")
        assert page.status_code == 200 and "Upload" not in page.text  # read-only for bob
        refused = await theirs.post(f"/ui/collections/{collection_id}/delete")
        assert refused.status_code == 403
        await mine.post(f"/ui/collections/{collection_id}/unshare", {"email": bob.email})
        assert (await theirs.get(f"/ui/collections/{collection_id}")).status_code == 404


async def test_an_upload_too_large_or_unreadable_leaves_no_document(api, app):
    member = await api.create_member()
    limit = api.state.settings.max_upload_bytes
    async with Console(app) as ui:
        await ui.sign_in(member.email, member.password)
        collection_id = await _collection(ui, "uploads")
        headers = {"X-CSRF-Token": ui.csrf}
        url = f"/ui/collections/{collection_id}/documents"
        huge = await ui.client.post(url, files={"file": ("big.txt", b"a" * (limit + 1))}, headers=headers)
        assert huge.status_code == 413
        assert "file" in huge.text
        broken = await ui.client.post(
            url, files={"file": ("broken.pdf", b"%PDF-1.7 not really", "application/pdf")}, headers=headers
        )
        assert 400 <= broken.status_code < 500
        no_token = await ui.client.post(url, files={"file": ("a.txt", b"hello")})
        assert no_token.status_code == 403
        documents = await ui.get(f"/ui/collections/{collection_id}/documents")
        assert re.search(r"0 document\(s\)", documents.text)


async def test_bad_playground_and_viewer_input_is_a_clear_4xx(api, app):
    member = await api.create_member()
    async with Console(app) as ui:
        await ui.sign_in(member.email, member.password)
        url = "/ui/playground/stream"
        unknown = await ui.post(url, {"model": "no-such-model", "prompt": "hi"})
        assert unknown.status_code == 404 and "no-such-model" in unknown.text
        huge = await ui.post(url, {"model": "m", "prompt": "hi", "collections": str(2**70)})
        assert huge.status_code == 422 and "collections" in huge.text
        hot = await ui.post(url, {"model": "m", "prompt": "hi", "temperature": "9"})
        assert hot.status_code == 422 and "temperature" in hot.text
        missing = await ui.post(url, {"model": "m"})
        assert missing.status_code == 422 and "prompt" in missing.text
        far = await ui.get(f"/ui/documents/1?offset={2**70}")
        assert far.status_code == 422
        assert (await ui.get("/ui/documents/999999")).status_code == 404


async def test_only_users_allowed_to_may_create_public_collections(api, app):
    member = await api.create_member()
    publisher = await api.create_member(permissions=["create_public_collection"])
    async with Console(app) as ui:
        await ui.sign_in(member.email, member.password)
        assert "collection-visibility" not in (await ui.get("/ui/collections")).text
        refused = await ui.post("/ui/collections", {"name": "for-all", "visibility": "public"})
        assert refused.status_code == 403
    async with Console(app) as ui:
        await ui.sign_in(publisher.email, publisher.password)
        made = await ui.post("/ui/collections", {"name": "for-all", "visibility": "public"})
        assert made.status_code == 303
    async with Console(app) as ui:
        await ui.sign_in(member.email, member.password)
        assert "for-all" in (await ui.get("/ui/collections")).text  # readable by everyone
