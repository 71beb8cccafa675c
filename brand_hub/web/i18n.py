"""Chinese first, English too: Flask-Babel with one catalog folder per area.

Each area keeps its own ``translations/`` folder beside its code (so areas are
translated independently); Flask-Babel merges them. The ``.mo`` catalogs are
compiled by ``scripts/setup.sh`` and the package build (``catalogs.py``), never at
start-up: the app only reads them.
"""
from __future__ import annotations

from babel import support
from flask import Flask, redirect, request, session
from flask_babel import Babel, Domain, get_locale
from flask_login import current_user

from .catalogs import compile_catalogs, translation_dirs  # noqa: F401  (compile_catalogs: for setup and build)

LOCALES = {"zh_CN": "中文", "en": "English"}


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
