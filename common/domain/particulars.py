"""How a resident's particulars are written out to people: the coded values a form stores
(jenis kelamin "L"/"P") in words. Letters, the portal and the staff pages say them the same."""

from typing import Final

SEX_LABELS: Final[dict[str, str]] = {"L": "Laki-laki", "P": "Perempuan"}
