"""The conversation's Indonesian texts: short, plain, with numbered choices (docs/whatsapp.md
lists them, and the templates that go out instead outside the 24-hour window)."""

HELP = (
    "Bantuan Smart Desa. Ketik:\n"
    "• *surat* untuk mengajukan surat\n"
    "• *status* untuk melihat permohonan Anda\n"
    "• *batal* untuk membatalkan permohonan yang sedang diisi\n"
    "• *petugas* untuk mengirim pesan ke kantor desa\n"
    "• *bantuan* untuk pesan ini"
)
UNKNOWN_NUMBER = (
    "Nomor WhatsApp ini belum terdaftar di data kependudukan desa. Anda dapat menautkannya "
    "sekali dengan menjawab tiga pertanyaan, seperti saat pertama kali masuk ke portal warga.\n\n"
    "Ketik NIK Anda (16 angka), atau *batal*."
)
LINK_KK = "Ketik nomor Kartu Keluarga (KK) Anda (16 angka)."
LINK_MOTHER = "Ketik nama lengkap ibu kandung Anda."
LINK_TEXT = "Mohon jawab dengan teks."
LINK_DONE = "Nomor ini sekarang tertaut dengan data kependudukan Anda."
LINK_FAILED = (
    "Jawaban tidak cocok dengan data kependudukan desa, atau nomor ini tidak dapat ditautkan. "
    "Periksa lagi, atau datang ke kantor desa untuk mendaftarkan nomor Anda. Ketik apa saja "
    "untuk mencoba lagi."
)
LINK_LOCKED = (
    "Terlalu banyak percobaan yang tidak cocok. Coba lagi besok, atau datang ke kantor desa "
    "untuk mendaftarkan nomor Anda."
)
LINK_CANCELLED = "Penautan dibatalkan."
WHO = "Nomor ini terdaftar untuk beberapa orang. Siapa yang sedang menulis?"
WHO_BUTTON = "Pilih nama"
MENU = "Halo, {name}. Apa yang ingin Anda lakukan?"
MENU_SURAT = "Ajukan surat"
MENU_STATUS = "Status permohonan"
MENU_HELP = "Bantuan"
TYPES = "Pilih jenis surat yang ingin Anda ajukan."
TYPES_BUTTON = "Pilih surat"
NO_TYPES = "Maaf, desa Anda belum membuka permohonan surat lewat WhatsApp."
DATA = "Data Anda yang tercatat di desa:\n{summary}\n\nApakah data ini benar?"
DATA_OK = "Benar"
DATA_WRONG = "Ada yang salah"
DATA_WRONG_ANSWER = (
    "Data yang salah perlu diperbaiki dulu oleh kantor desa. Silakan datang ke kantor desa "
    "atau ajukan perbaikan data di portal warga. Ketik *surat* untuk mulai lagi setelahnya."
)
# The register fields a resident may ask to correct, named as the portal names them
# (services/intake/register_data.py FIELD_LABELS; at most 10: one list message).
CORRECTABLE_FIELDS = {
    "nama": "Nama lengkap",
    "tempat_lahir": "Tempat lahir",
    "tanggal_lahir": "Tanggal lahir",
    "jenis_kelamin": "Jenis kelamin",
    "agama": "Agama",
    "pekerjaan": "Pekerjaan",
    "status_perkawinan": "Status perkawinan",
    "alamat": "Alamat",
    "rt": "RT",
    "rw": "RW",
}
CORRECT_WHICH = "Data mana yang salah? Pilih satu."
CORRECT_BUTTON = "Pilih data"
CORRECT_VALUE = "Tulis {label} yang benar."
CORRECT_VALUE_EMPTY = "Tulis data yang benar sebagai teks."
CORRECT_VALUE_TOO_LONG = "Terlalu panjang (paling banyak {limit} karakter)."
CORRECT_CONFIRM = (
    "Permintaan perbaikan data:\n{label}: {current}\nmenjadi: {value}\n\nKirim ke operator desa?"
)
CORRECT_SEND = "Kirim"
CORRECT_DROP = "Batal"
# As the portal's confirmation (services/intake/web/routes/own_data.py NOTICES["perbaikan"]).
CORRECT_SENT = (
    "Permintaan perbaikan sudah dikirim ke operator desa. Kantor desa akan memeriksanya; "
    "hasilnya tampil di portal warga (Data saya)."
)
CORRECT_DROPPED = "Permintaan perbaikan tidak dikirim."
CORRECT_NEXT = "Lanjutkan permohonan surat dengan data yang tercatat sekarang?"
CORRECT_CONTINUE = "Lanjutkan"
CORRECT_STOP = "Berhenti"
CORRECT_STOPPED = (
    "Permohonan surat dihentikan. Ketik *surat* untuk mulai lagi setelah data diperbaiki."
)
PURPOSE = "Untuk keperluan apa surat ini? (misalnya: melamar pekerjaan)"
PURPOSE_EMPTY = "Keperluan wajib diisi."
PURPOSE_TOO_LONG = "Keperluan terlalu panjang (paling banyak {limit} karakter)."
QUESTION = "({index}/{total}) {label}"
QUESTION_DATE = "Contoh: 15 Agustus 1990."
QUESTION_OPTIONAL = "Ketik *lewati* jika tidak ada."
SKIP_WORDS = frozenset({"lewati", "-", "tidak ada"})
REQUIRED = "{label} wajib diisi."
SYARAT = "Kirim foto atau PDF *{name}* ({index}/{total})."
SYARAT_KEPT = "{name} Anda tersimpan di Smart Desa. Pakai yang tersimpan, atau kirim foto baru."
USE_KEPT = "Pakai yang tersimpan"
SYARAT_TEXT = "Mohon kirim *{name}* sebagai foto atau PDF, bukan teks."
# After the required syarat: each optional one, while the filing has room for another scan.
SYARAT_OPTIONAL = (
    "Bila ada, kirim juga foto atau PDF *{name}* (tidak wajib). Jika tidak ada, ketik *lewati*."
)
SYARAT_OPTIONAL_TEXT = "Kirim *{name}* sebagai foto atau PDF, atau ketik *lewati* jika tidak ada."
SKIP_SYARAT = "Lewati"
# "Bawa berkas asli" syarat are never asked for in the chat; the confirmation names them.
ORIGINALS = "Bawa berkas asli ke kantor desa: {names}."
MEDIA_PROBLEMS = {
    "too-large": "Berkas terlalu besar (paling besar {limit} MB). Kirim foto yang lebih kecil.",
    "unsupported": "Jenis berkas ini tidak dapat diterima. Kirim foto (JPEG atau PNG) atau PDF.",
    "unreadable": "Berkas tidak dapat dibaca. Silakan kirim ulang.",
}
CONFIRM = "Periksa permohonan Anda:\n{summary}\n\nKirim ke kantor desa?"
CONFIRM_SEND = "Kirim"
CONFIRM_CANCEL = "Batalkan"
SUBMITTED = (
    "Permohonan {name} sudah terkirim ke kantor desa. Kabar berikutnya kami kirim di sini. "
    "Ketik *status* kapan saja."
)
EXPECTED_CHOICE = "Mohon pilih salah satu pilihan (ketuk tombolnya atau ketik nomornya)."
STALE_CHOICE = "Pilihan itu dari pesan sebelumnya dan sudah tidak berlaku."
CANCEL_ASK = "Batalkan permohonan yang sedang Anda isi?"
CANCEL_YES = "Ya, batalkan"
CANCEL_NO = "Lanjutkan"
CANCELLED = "Permohonan dibatalkan. Tidak ada yang dikirim ke desa."
NOTHING_TO_CANCEL = "Tidak ada permohonan yang dapat dibatalkan."
WHICH_TO_CANCEL = "Permohonan mana yang ingin Anda batalkan?"
CANCEL_SUBMITTED_ASK = (
    "Batalkan permohonan {number} ({name})? Permohonan yang dibatalkan tidak dapat dilanjutkan."
)
CANCEL_SUBMITTED_NO = "Tidak"
SUBMITTED_CANCELLED = "Permohonan {number} sudah dibatalkan."
KEEP_IT = "Baik, permohonan tidak dibatalkan."
EXPIRED = (
    "Permohonan surat yang belum selesai kami hapus karena tidak ada balasan selama {days} "
    "hari. Ketik *surat* untuk mulai lagi."
)
OFFICE_ASK = "Tulis pesan Anda untuk kantor desa dalam satu pesan."
OFFICE_SENT = "Pesan Anda sudah diteruskan ke kantor desa. Balasan petugas akan muncul di sini."
OFFICE_ANSWER = "Balasan dari kantor desa:\n{text}"
UNSUPPORTED = "Maaf, jenis pesan ini belum bisa kami baca. Kirim teks, foto, atau PDF."
REVISE_WHICH = (
    "Permohonan {number} ({name}) diminta diperbaiki. Berkas ini menggantikan syarat yang mana?"
)
REVISE_NOT = "Bukan perbaikan"
REVISED = (
    "Terima kasih. {syarat} untuk permohonan {number} sudah diganti, dan permohonan dikirim "
    "kembali untuk diperiksa petugas desa."
)
REVISE_DROPPED = "Baik, berkas tadi tidak dipakai."
MEDIA_NOT_EXPECTED = "Terima kasih. Berkas hanya diminta saat mengajukan surat; ketik *surat*."
