"""`make smoke`: a new user's first five minutes. Drives one Surat Keterangan Domisili through a
running `make run` over public HTTP (resident sign-in by OTP, application, documents, three
approvals), then downloads the signed letter and has the public service verify it."""

import os
import secrets
import sys
from pathlib import Path

from scripts.journey import Endpoints, Journey, sample_pdf, sample_png


def random_resident() -> tuple[str, str]:
    """A structurally valid NIK (Kecamatan Pamanukan, a woman born 15-08-1990: day + 40) and a
    phone number,
    fresh each run so runs never collide."""
    nik = f"321311550890{secrets.randbelow(9998) + 1:04d}"
    phone = f"0812{secrets.randbelow(10**8):08d}"
    return nik, phone


def main() -> int:
    base = os.environ.get("SMARTDESA_SMOKE_HOST", "http://127.0.0.1")
    ports = [os.environ.get(f"SMARTDESA_{n}_HTTP_PORT", d) for n, d in
             (("INTAKE", "8000"), ("VERIFICATION", "8001"), ("SIGNING", "8002"), ("NOTIFICATION", "8003"))]  # fmt: skip
    journey = Journey(Endpoints(*(f"{base}:{p}" for p in ports)))
    password = os.environ.get("SMARTDESA_DEMO_PASSWORD", "rahasia-dev")
    nik, phone = random_resident()
    try:
        print("1. resident signs in with NIK + one-time code (read from the dev WhatsApp sink)")
        token = journey.resident_sign_in(nik, phone)
        print("2. resident requests a Surat Keterangan Domisili and uploads KTP and KK")
        app_id = journey.create_application(
            token,
            "Persyaratan membuka rekening bank",
            {"nama": "Siti Aminah", "alamat": "Dusun Krajan RT 002 RW 001", "jenis_kelamin": "P"},
        )
        for kind, name, content in (
            ("KTP", "ktp.png", sample_png()),
            ("KK", "kk.pdf", sample_pdf()),
        ):
            r = journey.upload(token, app_id, kind, name, content)
            assert r.status_code == 201, r.text
        r = journey.submit(token, app_id)
        assert r.status_code == 202, r.text
        for step, username in enumerate(
            ("pemerintahan.pamanukan", "sekdes.pamanukan", "kades.pamanukan")
        ):
            staff = journey.staff_token(username, password)
            journey.wait_for_task(staff, app_id, step)
            r = journey.decide(staff, app_id, "approve")
            assert r.status_code == 200, r.text
            print(f"{3 + step}. {username} approves")
        application = journey.wait_for_status(token, app_id, "issued")
        letter = application["letter"]
        r = journey.letter_pdf(token, app_id)
        assert r.status_code == 200, r.text
        out_dir = Path("smoke-output")
        out_dir.mkdir(exist_ok=True)
        path = (out_dir / f"surat-{app_id}.pdf").resolve()
        path.write_bytes(r.content)
        result = journey.verify_pdf(r.content)
    finally:
        journey.close()
    print(f"\nletter number:      {letter['number']}")
    print(f"downloaded letter:  {path}")
    print(f"verification page:  {letter['verification_url']}")
    print(f"verification:       {result['conclusion']} - {result['message']}")
    return 0 if result["conclusion"] == "valid" else 1


if __name__ == "__main__":
    sys.exit(main())
