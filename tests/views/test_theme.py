"""Theme style sheets: every image they name exists, so no control loses its arrows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ctp10_gui.views.theme import style_sheet


@pytest.mark.parametrize("name", ["dark", "light"])
def test_style_sheet_images_resolve_to_real_files(name: str) -> None:
    qss = style_sheet(name)
    urls = re.findall(r"url\(([^)]+)\)", qss)
    assert urls, "the spin-box and combo-box arrows are drawn from image files"
    assert "@RESOURCES@" not in qss
    missing = [u for u in urls if not Path(u).is_file()]
    assert missing == []
