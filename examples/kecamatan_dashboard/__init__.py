"""A kecamatan dashboard fed by Smart Desa's public events (see README.md)."""
