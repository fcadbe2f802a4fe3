"""Opens a report page in headless Chromium as a person would, and says what happened.

Usage: report_check.py PAGE.html SCREENSHOT.png [CHROMIUM]

Prints one JSON object: console messages and page errors, every request the page made other
than its own file, whether the screenshot shows something (distinct colours), and the numbers
of the page's tables (credits per channel and model, spend per campaign) read from the DOM.
"""
import json
import pathlib
import sys

from PIL import Image
from playwright.sync_api import sync_playwright

page_path = pathlib.Path(sys.argv[1]).resolve()
shot = sys.argv[2]
chromium = sys.argv[3] if len(sys.argv) > 3 else "/usr/bin/chromium"
url = page_path.as_uri()

out = {"console": [], "requests": [], "distinct_colours": 0, "credits": {}, "campaigns": []}
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.on("console", lambda m: out["console"].append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: out["console"].append(f"pageerror: {e}"))
    page.on("request", lambda r: r.url != url and out["requests"].append(r.url))
    page.goto(url, wait_until="load")
    page.screenshot(path=shot, full_page=True)
    for row in page.query_selector_all("#channel-credit tbody tr"):
        channel = row.get_attribute("data-channel")
        out["credits"][channel] = {
            td.get_attribute("data-model"): float(td.get_attribute("data-conversions"))
            for td in row.query_selector_all("td[data-model]")
        }
    for row in page.query_selector_all("#campaigns-table tbody tr"):
        out["campaigns"].append(
            {
                "platform": row.get_attribute("data-platform"),
                "campaign_id": row.get_attribute("data-campaign"),
                "spend_micros": row.get_attribute("data-spend-micros"),
                "currency": row.get_attribute("data-currency"),
            }
        )
    # Clicking a sortable heading reorders rows without errors.
    page.click("#campaigns-table th:nth-child(3)")
    browser.close()

img = Image.open(shot).convert("RGB")
img.thumbnail((400, 400))
out["distinct_colours"] = len(img.getcolors(maxcolors=1 << 24) or [])
print(json.dumps(out))
