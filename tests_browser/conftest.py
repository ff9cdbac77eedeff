"""On a failure, a screenshot of the page as it was: outputs/[fast/]browser/FAILED_<test>.png."""
from __future__ import annotations

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    opened = item.funcargs.get("page") or item.funcargs.get("camera_page")
    if report.when == "call" and report.failed and opened and "out_dir" in item.funcargs:
        tab = opened[0]
        path = item.funcargs["out_dir"] / f"FAILED_{item.name}.png"
        try:
            tab.screenshot(path=str(path))
            report.sections.append(("screenshot", str(path)))
        except Exception:  # noqa: BLE001 - a page that cannot be photographed must not hide the failure
            pass
    return report
