"""A made-up desa population in OpenSID's penduduk import layout (every column OpenSID's own
template has, in its order, plus our optional telepon and email), as .xlsx or .csv: for the
import benchmark, the tests, and trying the import by hand. Names and numbers are invented; the
NIKs and KK numbers have a valid structure.

    .venv/bin/python -m scripts.opensid_sample --rows 500 penduduk.xlsx
"""

import argparse
import csv
import io
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from openpyxl import Workbook

# OpenSID's import columns in its order (the issue lists the start; the rest follow its
# template), then ours.
COLUMNS = (
    "alamat",
    "dusun",
    "rw",
    "rt",
    "nama",
    "no_kk",
    "nik",
    "sex",
    "tempatlahir",
    "tanggallahir",
    "agama_id",
    "pendidikan_kk_id",
    "pendidikan_sedang_id",
    "pekerjaan_id",
    "status_kawin",
    "kk_level",
    "warganegara_id",
    "ayah_nik",
    "nama_ayah",
    "ibu_nik",
    "nama_ibu",
    "golongan_darah_id",
    "akta_lahir",
    "dokumen_pasport",
    "tanggal_akhir_paspor",
    "dokumen_kitas",
    "akta_perkawinan",
    "tanggalperkawinan",
    "akta_perceraian",
    "tanggalperceraian",
    "cacat_id",
    "cara_kb_id",
    "hamil",
    "ktp_el",
    "status_rekam",
    "alamat_sekarang",
    "status_dasar",
    "telepon",
    "email",
)

REGION = "321311"  # where the NIKs were issued (a kecamatan of Subang)
DUSUN = ("KRAJAN", "SUKAMAJU", "CIBEUREUM", "MEKARSARI")
MEN = ("Asep", "Budi", "Dadang", "Ujang", "Cecep", "Agus", "Yayan", "Deden", "Endang", "Iwan")
WOMEN = ("Siti", "Euis", "Dewi", "Neneng", "Imas", "Yati", "Enok", "Lilis", "Nining", "Popon")
FAMILY = ("Saepudin", "Rahmawati", "Hidayat", "Suryana", "Kurniasih", "Permana", "Sutisna")


def nik(birth: date, female: bool, serial: int, region: str = REGION) -> str:
    day = birth.day + (40 if female else 0)
    return f"{region}{day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}"


def _name(rng: random.Random, female: bool) -> str:
    return f"{rng.choice(WOMEN if female else MEN)} {rng.choice(FAMILY)}".upper()


def _birth(rng: random.Random, oldest: int, youngest: int) -> date:
    return date(2026, 1, 1) - timedelta(days=rng.randint(youngest * 365, oldest * 365))


def rows(count: int, seed: int = 13) -> Iterator[dict[str, str]]:
    """`count` residents in families of a head, a wife and children (status hidup)."""
    rng = random.Random(seed)
    made = 0
    family = 0
    while made < count:
        family += 1
        dusun = DUSUN[family % len(DUSUN)]
        rw, rt = f"{1 + family % 5:03d}", f"{1 + family % 12:03d}"
        kk = f"{REGION}{1 + family % 28:02d}{1 + family % 12:02d}{10 + family % 15:02d}{family % 10000:04d}"
        if kk.endswith("0000"):
            kk = kk[:-4] + "9999"
        address = f"KP. {dusun} NO. {family}"
        father_birth = _birth(rng, 60, 25)
        mother_birth = _birth(rng, 55, 22)
        father = _name(rng, False)
        mother = _name(rng, True)
        members = [
            (1, False, father_birth, father, "", ""),
            (3, True, mother_birth, mother, "", ""),
        ]
        for _ in range(rng.randint(0, 3)):
            female = rng.random() < 0.5
            members.append((4, female, _birth(rng, 20, 0), _name(rng, female), father, mother))
        for level, female, birth, name, father_name, mother_name in members:
            if made >= count:
                return
            made += 1
            row = dict.fromkeys(COLUMNS, "")
            row.update(
                alamat=address,
                dusun=dusun,
                rw=rw,
                rt=rt,
                nama=name,
                no_kk=kk,
                nik=nik(birth, female, (made - 1) % 9999 + 1),
                sex="2" if female else "1",
                tempatlahir="SUBANG",
                tanggallahir=birth.isoformat(),
                agama_id="1",
                pendidikan_kk_id=str(rng.randint(1, 10)),
                pendidikan_sedang_id="18",
                pekerjaan_id=str(rng.choice((1, 2, 3, 9, 11, 15, 19, 88))),
                status_kawin="2" if level in (1, 3) else "1",
                kk_level=str(level),
                warganegara_id="1",
                nama_ayah=father_name or "-",
                nama_ibu=mother_name or "-",
                golongan_darah_id="13",
                ktp_el="2",
                status_rekam="4",
                status_dasar="1",
                telepon=f"08{rng.randint(10**9, 10**10 - 1)}" if level == 1 else "",
            )
            yield row


def to_csv(table: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(table)
    return out.getvalue().encode()


def to_xlsx(table: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS) -> bytes:
    """As OpenSID exports it: every cell text (a NIK as a number would lose digits in Excel)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("penduduk")
    sheet.append(list(columns))
    for row in table:
        sheet.append([row.get(c, "") for c in columns])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("out", type=Path, help="penduduk.xlsx or penduduk.csv")
    args = parser.parse_args()
    table = list(rows(args.rows))
    args.out.write_bytes(to_xlsx(table) if args.out.suffix == ".xlsx" else to_csv(table))
    print(f"{args.out}: {len(table)} penduduk")


if __name__ == "__main__":
    main()
