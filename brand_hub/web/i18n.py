"""Chinese first, English too: Flask-Babel with one catalog folder per area.

Each area keeps its own ``translations/`` folder beside its code (so areas are
translated independently); Flask-Babel merges them. Catalogs are compiled from
the ``.po`` sources at start-up when a ``.mo`` is missing or older.
"""
from __future__ import annotations

from pathlib import Path

from babel import support
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, redirect, request, session
from flask_babel import Babel, Domain, get_locale
from flask_login import current_user

LOCALES = {"zh_CN": "中文", "en": "English"}
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


class AreaCatalogs(Domain):
    """The ``messages`` domain, merged from every area's folder.

    Babel reads ``zh_CN`` as ``zh_Hans_CN`` (it adds the script), while the
    catalogs live in ``zh_CN/`` folders: look under both names, then the bare
    language.
    """

    def get_translations(self):
        locale = get_locale()
        if locale is None:
            return support.NullTranslations()
        key = str(locale)
        if key not in self.cache:
            names = [key]
            if locale.territory:
                names.append(f"{locale.language}_{locale.territory}")
            names.append(locale.language)
            merged = support.Translations()
            for directory in self.translation_directories:
                merged.merge(support.Translations.load(directory, names, "messages"))
            self.cache[key] = merged
        return self.cache[key]


def select_locale() -> str:
    from . import settings

    chosen = session.get("lang")
    if chosen in LOCALES:
        return chosen
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale in LOCALES:
        return current_user.locale
    return settings().locale if settings().locale in LOCALES else "zh_CN"


def init_app(app: Flask) -> None:
    from .access import public

    compile_catalogs()
    app.config["BABEL_DEFAULT_LOCALE"] = "zh_CN"
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Asia/Shanghai"
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(d) for d in translation_dirs())
    babel = Babel(app, locale_selector=select_locale)
    babel.domain_instance = AreaCatalogs()

    @public
    def set_language():
        lang = request.form.get("lang", "")
        if lang in LOCALES:
            session["lang"] = lang
        from .redirects import safe_target

        return redirect(safe_target(request.form.get("next"), "/"))

    app.add_url_rule("/lang", "set_language", set_language, methods=["POST"])
    app.jinja_env.globals["LOCALES"] = LOCALES
    app.jinja_env.globals["current_locale"] = select_locale
    app.jinja_env.add_extension("jinja2.ext.do")
