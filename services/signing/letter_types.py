"""The letter types signing renders, as the kabupaten's catalogue defines them
(services/signing/catalogue, docs/letter-catalogue.md). This module is the catalogue as the
repository's seed files define it (version 0, before anything is published); issuing reads the
published version from the catalogue store, and every letter records which version it was.

Kode klasifikasi follow Permendagri 83/2022 (Pedoman Klasifikasi Arsip di Lingkungan
Kemendagri dan Pemerintah Daerah, which replaced Permendagri 78/2012). Each seed file says which
class of the regulation its code is and why; a type whose class is not established says
"belum ditetapkan", and a desa then sets its own code (DesaProfile.kode_klasifikasi) before it
can issue one. Letters keep the code they were issued with (it is part of the number).
"""

from services.signing.catalogue.definition import LetterTypeDef, load_seed

LetterType = LetterTypeDef

LETTER_TYPES: dict[str, LetterType] = load_seed()


def find_letter_type(code: str) -> LetterType | None:
    return LETTER_TYPES.get(code)
