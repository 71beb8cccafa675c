"""Compile every area's ``messages.po`` to ``messages.mo``: a set-up and build step, never start-up.

Only Babel here (no Flask, no package imports), so the package build can load
this file on its own (``setup.py``) and ``scripts/setup.sh`` can run it.
"""
from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

_ROOTS = ("brand_hub", "franchisee_portal")


def translation_dirs() -> list[Path]:
    base = Path(__file__).resolve().parents[2]
    found: list[Path] = []
    for root in _ROOTS:
        found.extend(sorted(p for p in (base / root).rglob("translations") if p.is_dir()))
    return found


def compile_catalogs() -> list[Path]:
    """Compile every stale ``messages.po`` to ``messages.mo``; return what was written."""
    written = []
    for directory in translation_dirs():
        for po_path in directory.glob("*/LC_MESSAGES/messages.po"):
            mo_path = po_path.with_suffix(".mo")
            if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                continue
            with po_path.open("rb") as fh:
                catalog = read_po(fh, locale=po_path.parent.parent.name)
            with mo_path.open("wb") as fh:
                write_mo(fh, catalog, use_fuzzy=False)
            written.append(mo_path)
    return written


if __name__ == "__main__":
    for path in compile_catalogs():
        print(f"compiled {path}")
