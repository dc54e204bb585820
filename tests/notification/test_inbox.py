"""GET /api/v1/inbox and friends, with tokens from intake (residents) and verification (staff)."""

from smartdesa.v1 import directory_pb2

from common.domain.events import APPLICATION_STEP_ASSIGNED, LETTER_ISSUED
from tests.notification.conftest import PAMANUKAN, RESIDENT_ID, Service, application_event


async def test_no_token_is_401_in_indonesian(service: Service) -> None:
    for method, path in (
        ("GET", "/api/v1/inbox"),
        ("GET", "/api/v1/inbox/unread-count"),
        ("POST", "/api/v1/inbox/1/read"),
    ):
        response = await service.client.request(method, path)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
        assert "Silakan masuk" in response.json()["detail"]
    garbage = await service.client.get(
        "/api/v1/inbox", headers={"Authorization": "Bearer not-a-token"}
    )
    assert garbage.status_code == 401


async def test_inbox_is_newest_first_and_tracks_reading(service: Service) -> None:
    handler = service.runtime.handler
    for index, application_id in enumerate(("app-a", "app-b")):
        _, event = application_event(
            APPLICATION_STEP_ASSIGNED,
            application_id=application_id,
            step_index=index,
            step_role="kasi_pemerintahan",
        )
        await handler(event)
    me = service.staff_headers("pemerintahan.pamanukan")

    inbox = (await service.client.get("/api/v1/inbox", headers=me)).json()
    assert [item["link"] for item in inbox] == ["/api/v1/tasks/app-b", "/api/v1/tasks/app-a"]
    assert set(inbox[0]) == {"id", "title", "body", "link", "created_at", "read"}
    assert not any(item["read"] for item in inbox)
    count = await service.client.get("/api/v1/inbox/unread-count", headers=me)
    assert count.json() == {"unread": 2}

    marked = await service.client.post(f"/api/v1/inbox/{inbox[1]['id']}/read", headers=me)
    assert marked.status_code == 200 and marked.json()["read"] is True
    again = await service.client.post(f"/api/v1/inbox/{inbox[1]['id']}/read", headers=me)
    assert again.status_code == 200  # idempotent
    count = await service.client.get("/api/v1/inbox/unread-count", headers=me)
    assert count.json() == {"unread": 1}
    unread = await service.client.get("/api/v1/inbox?unread_only=true", headers=me)
    assert [item["id"] for item in unread.json()] == [inbox[0]["id"]]


async def test_nobody_reads_or_marks_anothers_inbox(service: Service) -> None:
    _, staff_event = application_event(APPLICATION_STEP_ASSIGNED, step_role="kasi_pemerintahan")
    _, resident_event = application_event(LETTER_ISSUED, letter_number="470/003/2004/VII/2026")
    await service.runtime.handler(staff_event)
    await service.runtime.handler(resident_event)

    owner = service.staff_headers("pemerintahan.pamanukan")
    other_staff = service.staff_headers("pemerintahan.rancasari")
    resident = service.resident_headers(RESIDENT_ID)
    # A resident whose id happens to equal a staff username still has another inbox.
    lookalike = service.resident_headers("pemerintahan.pamanukan")

    [mine] = (await service.client.get("/api/v1/inbox", headers=owner)).json()
    assert (await service.client.get("/api/v1/inbox", headers=other_staff)).json() == []
    assert (await service.client.get("/api/v1/inbox", headers=lookalike)).json() == []
    inbox = (await service.client.get("/api/v1/inbox", headers=resident)).json()
    # The letter's news, and the satisfaction survey's invitation.
    assert {n["title"] for n in inbox} == {"Surat Anda sudah terbit", "Bagaimana pelayanan desa?"}
    [theirs] = [n for n in inbox if n["title"] == "Surat Anda sudah terbit"]

    for intruder in (other_staff, resident, lookalike):
        response = await service.client.post(f"/api/v1/inbox/{mine['id']}/read", headers=intruder)
        assert response.status_code == 404
        assert response.json()["detail"] == "Pemberitahuan tidak ditemukan."
    assert (await service.client.get("/api/v1/inbox/unread-count", headers=owner)).json() == {
        "unread": 1
    }
    missing = await service.client.post("/api/v1/inbox/999999/read", headers=owner)
    assert missing.status_code == 404


async def test_a_last_event_id_that_is_not_ascii_digits_is_422_not_a_crash(
    service: Service,
) -> None:
    """Header bytes are read as Latin-1, where 0xB2 is "²": isdigit() said yes, int() crashed."""
    for value in (b"\xb2", b"1\xb9", b"-1", b"9" * 19, b"2147483648"):
        r = await service.client.get(
            "/api/v1/inbox/stream",
            headers={
                **{
                    k.encode(): v.encode() for k, v in service.resident_headers(RESIDENT_ID).items()
                },
                b"Last-Event-ID": value,
            },
        )
        assert r.status_code == 422, (value, r.text)
        assert r.json()["detail"] == "Last-Event-ID harus berupa angka."


async def test_an_id_past_what_the_column_holds_is_422_not_a_crash(service: Service) -> None:
    """Schemathesis found it: an id past 64 bits crashed SQLite's driver (and past 32 bits,
    PostgreSQL's column)."""
    headers = service.resident_headers(RESIDENT_ID)
    for notification_id in ("2147483648", "9" * 30):
        r = await service.client.post(f"/api/v1/inbox/{notification_id}/read", headers=headers)
        assert r.status_code == 422, r.text
    r = await service.client.post("/api/v1/inbox/2147483647/read", headers=headers)
    assert r.status_code == 404


async def test_a_token_whose_session_ended_opens_no_inbox(service: Service) -> None:
    """Notification asks the owner of each token's account (intake, verification) whether its
    session is current: a signed-out resident and a deactivated staff member are refused."""
    resident = service.resident_headers(RESIDENT_ID)
    staff = service.staff_headers("pemerintahan.pamanukan")
    unknown = service.staff_headers("mantan.pamanukan")
    verifier = service.runtime.token_verifier
    signed_out = verifier.verify(resident["Authorization"].removeprefix("Bearer ")).session_id
    assert signed_out is not None
    service.peers.intake.signed_out.add(signed_out)
    service.peers.directory.accounts["pemerintahan.pamanukan"] = directory_pb2.StaffSessionState(
        active=False, role="kasi_pemerintahan", desa_code=PAMANUKAN, session_version=1
    )
    del service.peers.directory.accounts["mantan.pamanukan"]

    for headers in (resident, staff, unknown):
        response = await service.client.get("/api/v1/inbox", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    # The resident's other session (another phone) goes on.
    other_phone = service.resident_headers(RESIDENT_ID)
    assert (await service.client.get("/api/v1/inbox", headers=other_phone)).status_code == 200
