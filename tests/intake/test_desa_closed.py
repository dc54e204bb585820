"""A desa that is not switched on (or was switched off) by the kabupaten is not offered in the
portal's desa picker and takes no new application: verification's DirectoryService says so (desa_closed, with the reason in
Indonesian) and intake refuses a new draft and a draft's submission, in the API and in the
portal, with that reason next to the choice of desa. Applications already submitted are not
asked about again (tests/verification/test_onboarding.py lets one finish)."""

import grpc
import pytest
from smartdesa.v1 import directory_pb2

from common.wilayah import all_desa
from tests.intake import test_offered
from tests.intake.conftest import PAMANUKAN, SKD_FIELDS, Intake, problem
from tests.intake.test_offered import RANCASARI, Directory

# Intake beside a DirectoryService of the test's own (tests/intake/test_offered.py).
directory_port = test_offered.directory_port
offered_settings = test_offered.offered_settings
offering_intake = test_offered.offering_intake

CLOSED = (
    "Desa Rancasari sedang tidak menerima permohonan surat baru melalui Smart Desa. "
    "Permohonan yang sudah diajukan tetap diproses sampai selesai."
)


class ClosingDirectory(Directory):
    """Offers everything, except in the desa switched off (`closed`)."""

    def __init__(self) -> None:
        super().__init__()
        self.not_offered = set()
        self.closed: dict[str, str] = {}

    async def ListOfferedLetterTypes(
        self,
        request: directory_pb2.ListOfferedLetterTypesRequest,
        context: grpc.aio.ServicerContext,
    ) -> directory_pb2.ListOfferedLetterTypesResponse:
        if request.desa_code in self.closed:
            return directory_pb2.ListOfferedLetterTypesResponse(
                desa_closed=True, closed_reason=self.closed[request.desa_code]
            )
        return await super().ListOfferedLetterTypes(request, context)

    async def ListServingDesa(
        self, request: directory_pb2.ListServingDesaRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.ListServingDesaResponse:
        codes = sorted(code for code in all_desa() if code not in self.closed)
        return directory_pb2.ListServingDesaResponse(desa_codes=codes)


@pytest.fixture
def directory() -> ClosingDirectory:
    return ClosingDirectory()


async def test_a_closed_desa_refuses_new_applications_in_the_api_and_the_portal(
    offering_intake: Intake, directory: ClosingDirectory
) -> None:
    headers = await offering_intake.sign_in()
    draft = await offering_intake.create_application(headers, desa_code=RANCASARI)
    directory.closed[RANCASARI] = CLOSED

    listed = await offering_intake.http.get("/api/v1/letter-types", params={"desa": RANCASARI})
    assert listed.json() == []
    body = {"desa_code": RANCASARI, "letter_type": "SKD", "purpose": "Melamar kerja"}
    refused = await offering_intake.http.post(
        "/api/v1/applications", json=body | {"fields": SKD_FIELDS}, headers=headers
    )
    assert refused.status_code == 422
    assert (problem(refused)["detail"], problem(refused)["field"]) == (CLOSED, "desa_code")
    # A draft made before the switch is not submitted either: it would be a new application.
    submit = await offering_intake.http.post(
        f"/api/v1/applications/{draft}/submit", headers=headers
    )
    assert submit.status_code == 422 and problem(submit)["detail"] == CLOSED
    still = await offering_intake.http.get(f"/api/v1/applications/{draft}", headers=headers)
    assert still.json()["status"] == "draft"

    # The portal's desa picker no longer offers it.
    picker = await offering_intake.http.get("/permohonan/baru/SKD", headers=headers)
    assert f'value="{RANCASARI}"' not in picker.text and f'value="{PAMANUKAN}"' in picker.text
    form = {"purpose": "Melamar kerja", **{f"isian_{k}": v for k, v in SKD_FIELDS.items()}}
    page = await offering_intake.http.post(
        "/permohonan/baru/SKD", data={**form, "desa_code": RANCASARI}, headers=headers
    )
    assert page.status_code == 422 and CLOSED in page.text
    # Another desa is not affected.
    await offering_intake.create_application(headers, desa_code=PAMANUKAN)
