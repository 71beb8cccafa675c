"""The package build compiles the translation catalogs (``.mo``) before collecting package data.

Everything else is in ``pyproject.toml``; the app never writes catalogs at start-up.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogs(build_py):
    def run(self) -> None:
        path = Path(__file__).resolve().parent / "brand_hub" / "web" / "catalogs.py"
        spec = importlib.util.spec_from_file_location("brandhub_catalogs", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.compile_catalogs()
        super().run()


setup(cmdclass={"build_py": BuildWithCatalogs})
