"""Chinese first, English too: Flask-Babel with one catalog folder per area.

Each area keeps its own ``translations/`` folder beside its code (so areas are
translated independently); Flask-Babel merges them. The ``.mo`` catalogs are
compiled by ``scripts/setup.sh`` and the package build (``catalogs.py``), never at
start-up: the app only reads them.
"""
from __future__ import annotations

from babel import support
from flask import Flask, g, has_app_context, redirect, request, session
from flask_babel import Babel, Domain, get_locale, get_translations
from flask_login import current_user

from .catalogs import compile_catalogs, translation_dirs  # noqa: F401  (compile_catalogs: for setup and build)

LOCALES = {"zh_CN": "中文", "en": "English"}


class AreaCatalogs(Domain):
    """The ``messages`` domain, merged from every area's folder.

    Babel reads ``zh_CN`` as ``zh_Hans_CN`` (it adds the script), while the
    catalogs live in ``zh_CN/`` folders: look under both names, then the bare
    language.
    """

    _last: tuple | None = None  # (the locale object, its catalogs) of the last call

    def get_translations(self):
        locale = get_locale()
        if locale is None:
            return support.NullTranslations()
        last = self._last   # a page calls this once a string: the same request's locale object, the same catalogs
        if last is not None and last[0] is locale:
            return last[1]
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
        self._last = (locale, self.cache[key])
        return self.cache[key]


def request_locale():
    """``flask_babel.get_locale``, read straight from where Flask-Babel keeps it once the request chose it
    (pages format hundreds of figures; each ``get_locale`` went through ``g`` three times)."""
    if has_app_context():
        locale = getattr(getattr(g._get_current_object(), "_flask_babel", None), "babel_locale", None)
        if locale is not None:
            return locale
    return get_locale()


def _catalogs():
    """The catalogs of the request's locale (``flask_babel.get_translations``), kept on ``g`` for the request.

    A page calls gettext hundreds of times (a to-do list of 30 rows, 50 site cards); Flask-Babel looked up the
    request's domain and locale through ``g`` several times a call (issue 10: a sixth of the partner home's
    rendering). Kept with the locale and domain objects they were found for: ``force_locale`` or ``refresh``
    (a new locale object) looks them up again.
    """
    if not has_app_context():
        return get_translations()
    store = g._get_current_object()
    babel_ctx = getattr(store, "_flask_babel", None)   # where Flask-Babel keeps the request's locale and domain
    locale = getattr(babel_ctx, "babel_locale", None)
    domain = getattr(babel_ctx, "babel_domain", None)
    kept = getattr(store, "_brandhub_catalogs", None)
    if kept is not None and locale is not None and kept[0] is locale and kept[1] is domain:
        return kept[2]
    found = get_translations()
    store._brandhub_catalogs = (get_locale(), getattr(getattr(store, "_flask_babel", None), "babel_domain", None),
                                found)
    return found


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
    app.jinja_env.install_gettext_callables(   # Flask-Babel's, with the request's catalogs looked up once
        gettext=lambda s: _catalogs().ugettext(s),
        ngettext=lambda s, p, n: _catalogs().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _catalogs().upgettext(c, s),
        npgettext=lambda c, s, p, n: _catalogs().unpgettext(c, s, p, n),
    )

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
