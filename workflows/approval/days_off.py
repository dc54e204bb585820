"""National days off for the working-time calendar, computed by the resolve_route activity (the
workflow never imports the `holidays` package) and by verification's calendar page."""

# Days off are computed for this year and the next ones: far beyond any letter's lifetime
# (a few working days per step, plus at most a few resubmission periods).
_DAYS_OFF_YEARS = 3


def national_days_off(from_year: int, years: int = _DAYS_OFF_YEARS) -> list[str]:
    """Indonesian public holidays and cuti bersama (the `holidays` package's "government"
    category for ID holds the joint leave days set by the SKB of three ministers), as ISO
    dates. Dates of Islamic holidays beyond the published decree are the package's estimates;
    a new `holidays` release corrects them, and a desa adds any local day off itself."""
    # Imported on first use: about 4 MB that an idle service or worker does not hold.
    import holidays

    days = holidays.country_holidays(
        "ID",
        years=range(from_year, from_year + years),
        categories=(holidays.PUBLIC, holidays.GOVERNMENT),
    )
    return sorted(d.isoformat() for d in days)
