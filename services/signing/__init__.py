"""Signing: owns the letters.

Numbering counters, letter templates, the signers' keys and certificates (a development PKI in
the dev profile), the register of issued letters, and the public verification site (QR landing
page, root certificate, PDF upload check).
"""
