"""Languages: Simplified Chinese by default, English available, through Flask-Babel.

Message ids are the English text. The Chinese catalog is
``web/translations/zh/LC_MESSAGES/messages.po``, a gettext file a translator
edits; ``make messages`` extracts the ids (``babel.cfg``) and merges them into
it, ``make translations`` compiles it to ``messages.mo``, the file Flask-Babel
reads. The ``.mo`` is built at setup and never committed.

There is no ``en`` catalog on purpose: English is the ids themselves, and
gettext answers an id it has no translation for with the id. An ``en``
catalog would be a copy of every id to keep in step (each new id arriving
with an empty msgstr, which means the same as no catalog); it would earn its
place only if the English wording had to change without changing the ids.

The language of a request comes from ``?lang=`` (remembered in a cookie),
else the cookie, else the configured default (Chinese). ``Accept-Language``
is deliberately not consulted: the staff of a Chinese community office use
whatever browser the office has, often with an English default, and must
still get Chinese unless they choose English.

Templates call ``_("...")`` (Flask-Babel installs it in Jinja); Python code
calls :func:`gettext`, or marks a message defined far from that call with
``gridgis.errors.N_`` so that extraction finds it. Role and volunteer-team
names are not catalog messages: they come from one table,
:mod:`gridgis.models.roles`, which templates reach as ``role_name(code)`` and
``team_name(code)``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from typing import Any

# Flask-Babel ships no type information (no py.typed).
import flask_babel  # type: ignore[import-untyped]
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, has_request_context, request, url_for
from werkzeug.wrappers import Response

from gridgis import clock
from gridgis.models import roles

logger = logging.getLogger(__name__)

#: Supported languages, the default first.
LANGUAGES = ("zh", "en")
#: Each language in its own words, for the switch in the header.
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
HTML_LANG = {"zh": "zh-CN", "en": "en"}
COOKIE = "gridgis_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

#: The gettext catalogs: ``<lang>/LC_MESSAGES/messages.po`` (and its compiled ``.mo``).
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
DOMAIN = "messages"


def normalise(tag: str | None) -> str | None:
    """``zh-CN``, ``zh_Hans``, ``ZH`` → ``zh``; ``en-GB`` → ``en``; others → None."""
    if not tag:
        return None
    primary = tag.replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else None


def negotiate(default: str) -> str:
    """The request's language: ?lang=, then the cookie, then ``default``."""
    chosen = normalise(request.args.get("lang")) or normalise(request.cookies.get(COOKIE))
    return chosen or normalise(default) or LANGUAGES[0]


def current_language() -> str:
    """The language of this request (``zh`` or ``en``); the first of LANGUAGES outside one."""
    if not has_request_context():
        return LANGUAGES[0]
    locale = flask_babel.get_locale()
    language = locale.language if locale is not None else None
    return language if language in LANGUAGES else LANGUAGES[0]


def gettext(msgid: str) -> str:
    """Translate ``msgid`` into the current request's language.

    Outside a request, and for English, the id comes back unchanged. Format
    placeholders (``{minutes}``) are left for the caller's ``str.format``.
    """
    # Without keyword arguments Flask-Babel does no %-formatting, so ids may
    # contain "%" and "{...}" safely.
    return flask_babel.gettext(msgid)


def role_name(code: str) -> str:
    """The name of a staff or account role in this request's language."""
    return roles.role_name(code, current_language())


def local_time(moment: str | dt.datetime | None) -> str:
    """A stored time (aware datetime or ISO text) as people read it, in the display zone."""
    if isinstance(moment, str):
        moment = clock.parse_time(moment) if moment else None
    return clock.show(moment)


def team_name(code: str) -> str:
    """The name of a volunteer team in this request's language."""
    return roles.team_name(code, current_language())


def lang_url(lang: str) -> str:
    """This page in ``lang``: the same endpoint and arguments, with ``lang=``.

    A link on our own site, never to another: query arguments that url_for
    would take as instructions (``_external``, ``_anchor``, ``_scheme``,
    ``_method``, ``endpoint``) are dropped, and the path's own arguments win
    over query arguments of the same name.
    """
    query = {
        k: v for k, v in request.args.to_dict().items() if not k.startswith("_") and k != "endpoint"
    }
    values: dict[str, Any] = {**query, **(request.view_args or {}), "lang": lang}
    return url_for(request.endpoint or "maps.overview", **values)


def stale_catalogs(directory: Path = TRANSLATIONS) -> list[Path]:
    """The ``.po`` catalogs under ``directory`` whose ``.mo`` is missing or older."""
    stale = []
    for po in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            stale.append(po)
    return stale


def compile_catalogs(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every stale ``.po`` under ``directory`` to its ``.mo``; return those compiled.

    Not ``pybabel compile``: our catalogs carry no header (``--omit-header``
    keeps their diffs to the messages), and babel takes a catalog without a
    header for a fuzzy one, which ``pybabel compile`` skips whole, leaving the
    interface English. Fuzzy *entries* are left out here as pybabel would.
    Each ``.mo`` is written to a temporary file and renamed, so parallel
    callers (the test workers) never read half a file.
    """
    compiled = []
    for po in stale_catalogs(directory):
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        mo = po.with_suffix(".mo")
        partial = mo.with_name(f"{mo.name}.{os.getpid()}.tmp")
        with partial.open("wb") as target:
            write_mo(target, catalog)
        partial.replace(mo)
        compiled.append(mo)
    return compiled


def init_app(app: Flask, default: str) -> None:
    """Flask-Babel with our language choice, the language cookie, and template names.

    Args:
        app: The app to configure.
        default: The language when the request chooses none (``zh`` or ``en``).
    """
    # The server only reads the catalogs: compiling is a setup step (`make
    # translations`; the web tests' conftest does the same), and a server may
    # run from a read-only install. A missing .mo would silently turn the
    # interface English, so say so where an administrator looks.
    for po in stale_catalogs():
        logger.warning(
            "translation catalog %s is not compiled or is older than its .po; "
            "run `make translations`",
            po.relative_to(TRANSLATIONS.parent),
        )
    settings = app.config.get("GRIDGIS_SETTINGS")
    flask_babel.Babel(
        app,
        default_locale=normalise(default) or LANGUAGES[0],
        default_domain=DOMAIN,
        default_translation_directories=str(TRANSLATIONS),
        # Flask-Babel's date filters (datetimeformat...) show our zone, not UTC.
        default_timezone=getattr(settings, "timezone", "Asia/Shanghai"),
        locale_selector=lambda: negotiate(default),
    )
    app.jinja_env.globals.update(role_name=role_name, team_name=team_name)
    app.jinja_env.filters["local_time"] = local_time

    @app.after_request
    def remember_language(response: Response) -> Response:
        asked = normalise(request.args.get("lang"))
        if asked:
            response.set_cookie(
                COOKIE,
                asked,
                max_age=COOKIE_MAX_AGE,
                samesite="Lax",
                httponly=True,
                # Over HTTPS like the session cookie (web.security.keys.secure_cookies).
                secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
            )
        # Pages differ by language: caches must key on what chose it (static
        # files and JSON do not, and stay cacheable).
        if response.mimetype == "text/html":
            response.vary.add("Cookie")
        return response

    @app.context_processor
    def language_context() -> dict[str, Any]:
        # `_` (and gettext, ngettext) are Jinja globals installed by Flask-Babel.
        lang = current_language()
        return {
            "lang": lang,
            "html_lang": HTML_LANG[lang],
            "languages": LANGUAGE_NAMES,
            "lang_url": lang_url,
        }
