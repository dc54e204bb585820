"""Small programs that show how other systems build on Smart Desa."""
