"""docs/operations.md lists every setting the code accepts, with its default."""

import dataclasses
from pathlib import Path

from ringex.config import Settings

DOC = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text()


def test_every_setting_is_documented_with_its_default():
    for section in dataclasses.fields(Settings):
        if section.name == "pairs":
            continue
        for setting in dataclasses.fields(section.default_factory()):
            default = setting.default if setting.default is not dataclasses.MISSING \
                else setting.default_factory()
            row = (f"| `{setting.name}` | `RINGEX_{section.name.upper()}_{setting.name.upper()}`"
                   f" | `{default!r}` |")
            assert row in DOC, f"docs/operations.md lacks or misstates {section.name}.{setting.name}"
