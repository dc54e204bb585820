"""Renders the portal's icon (services/intake/web/static/ikon.svg) to the PNG icons the web app
manifest lists. Run once after changing the SVG and commit the PNGs; nothing runs it at build
or start-up: `.venv/bin/python -m scripts.portal_icons`."""

from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.support.browser import launch

STATIC = Path(__file__).resolve().parents[1] / "services" / "intake" / "web" / "static"
SIZES = (192, 512)


def main() -> None:
    svg = (STATIC / "ikon.svg").read_text()
    with sync_playwright() as playwright:
        browser = launch(playwright)
        for size in SIZES:
            page = browser.new_page(viewport={"width": size, "height": size})
            page.set_content(
                f"<style>html,body{{margin:0}}svg{{display:block;width:{size}px;"
                f"height:{size}px}}</style>{svg}"
            )
            page.screenshot(path=str(STATIC / f"ikon-{size}.png"))
        browser.close()


if __name__ == "__main__":
    main()
