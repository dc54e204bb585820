"""The population register (penduduk): see docs/design.md, "The population register"."""
