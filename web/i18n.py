"""Languages: Simplified Chinese by default, English available.

A small catalog in place of Flask-Babel: message ids are the English text,
``CATALOGS["zh"]`` translates them, English needs no table. The language of a
request comes from ``?lang=`` (remembered in a cookie), else the cookie, else
the configured default (Chinese). ``Accept-Language`` is deliberately not
consulted: the staff of a Chinese community office use whatever browser the
office has, often with an English default, and must still get Chinese unless
they choose English. Templates call ``_("...")``;
Python code calls :func:`gettext`. ``tests/web/test_i18n.py`` checks that
every id used in templates and map code has a Chinese translation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, g, request, url_for
from werkzeug.wrappers import Response

LANGUAGES = ("zh", "en")
#: Each language in its own words, for the switch in the header.
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
HTML_LANG = {"zh": "zh-CN", "en": "en"}
COOKIE = "gridgis_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

CATALOGS: dict[str, dict[str, str]] = {
    "en": {},
    "zh": {
        # Page
        "Grid map": "网格地图",
        "Community": "社区",
        "Go": "前往",
        "Language": "语言",
        "Choose a community": "选择社区",
        "Choose a community.": "请选择一个社区。",
        # Empty state
        "No community yet": "还没有社区",
        "The database holds no community yet, so there is no map to show.": "数据库中还没有社区，暂无地图可显示。",
        "Load the demo community with this command, then reload this page:": "运行以下命令加载演示社区，然后刷新本页：",
        "The API lists what is loaded at": "API 列出已加载的数据：",
        # Errors
        "Bad request": "请求有误",
        "Not found": "未找到",
        "Method not allowed": "不允许的请求方法",
        "Server error": "服务器错误",
        "Service unavailable": "服务暂不可用",
        "Error": "错误",
        "Back to the map": "返回地图",
        "There is no page at this address.": "此地址没有页面。",
        "This address does not accept that kind of request.": "此地址不接受这种请求。",
        "Something went wrong on our side; it has been logged. Please try again.": "服务器出现问题，已记录。请稍后重试。",
        "Database unavailable: please try again in a minute. If it persists, "
        "ask the administrator to check that PostGIS is running.": "数据库不可用：请稍后重试。如持续出现，请联系管理员检查 PostGIS 是否在运行。",
        "Not logged in": "未登录",
        "Not allowed": "无权访问",
        "Request too large": "请求过大",
        "Too many requests": "请求过于频繁",
        # Accounts
        "Log in": "登录",
        "Log out": "退出",
        "Account": "账号",
        "Username": "用户名",
        "Password": "密码",
        "Administrator": "管理员",
        "Planner": "规划员",
        "Dispatcher": "受理派遣员",
        "Grid staff": "网格员",
        "Viewer": "只读用户",
        "Enter your username and password.": "请输入用户名和密码。",
        "Wrong username or password.": "用户名或密码错误。",
        "Too many failed logins: this account is locked. "
        "Try again in {minutes} min, or ask an administrator to unlock it.": "登录失败次数过多，账号已锁定。请 {minutes} 分钟后再试，或请管理员解锁。",
        "Too many login attempts from your address: wait a minute and try again.": "此地址登录尝试过于频繁，请一分钟后再试。",
        "Too many requests from this client: slow down, and retry after the number of "
        "seconds in the Retry-After header.": "请求过于频繁，请按 Retry-After 头所示的秒数后重试。",
        "Your session has ended; please log in again.": "登录已失效，请重新登录。",
        "You have logged out.": "您已退出登录。",
        "Accounts are created by the administrator (gridgis user add).": "账号由管理员创建（gridgis user add）。",
        "Log in first (or send an API key) to use this.": "请先登录（或提供 API 密钥）。",
        "Invalid or revoked API key.": "API 密钥无效或已吊销。",
        "Your account does not allow this page. Ask an administrator if you need it.": "您的账号无权访问此页面。如有需要，请联系管理员。",
        "This address is not open to anyone (it declares no permission).": "此地址未声明访问权限，拒绝访问。",
        "This form has expired or did not come from this site (CSRF check failed). "
        "Reload the page and try again.": "表单已过期或并非来自本站（CSRF 校验失败）。请刷新页面后重试。",
        "Change password": "修改密码",
        "Current password": "当前密码",
        "New password": "新密码",
        "New password again": "再次输入新密码",
        "At least 10 characters, not only digits, not your username. Your other sessions end.": "至少 10 个字符，不能全是数字，不能与用户名相同。修改后您在其他设备上的登录将失效。",
        "The two new passwords are not the same.": "两次输入的新密码不一致。",
        "The current password is wrong; nothing was changed.": "当前密码错误，未作任何修改。",
        "Your password has been changed. Other sessions of your account have ended.": "密码已修改。您账号的其他登录已失效。",
        # Audit log
        "Audit log": "审计日志",
        "Who": "操作人",
        "What": "对象",
        "When": "时间",
        "Action": "操作",
        "Before": "修改前",
        "After": "修改后",
        "Note": "备注",
        "Filter": "筛选",
        "Export CSV": "导出 CSV",
        "No entries.": "没有记录。",
        "Newer": "较新",
        "Older": "较早",
        # Map layers and legend
        "Grids": "网格",
        "Compounds": "小区",
        "Buildings": "楼栋",
        "Units": "单元",
        "Legend": "图例",
        "Community boundary": "社区边界",
        "No layout in force": "没有生效的网格方案",
        "Buildings, by compound": "楼栋（按小区着色）",
        "Not in a compound": "不属于任何小区",
        "Other lines": "其他线条",
        "Compound outline": "小区边界",
        "Unit divisions": "单元分隔线",
        # Popups
        "Grid": "网格",
        "Compound": "小区",
        "Building": "楼栋",
        "Unit {number}": "{number}单元",
        "Code": "编码",
        "Layout": "网格方案",
        "Households": "户数",
        "Address": "地址",
        "Floors": "层数",
        "Property company": "物业公司",
        "Owners' committee": "业委会",
        "Yes": "有",
        "No": "无",
        "No team assigned yet.": "尚未配备网格团队。",
        "Names and phone numbers are masked.": "姓名和电话已脱敏显示。",
        "off duty": "休息中",
        # Roles and volunteer teams (1+1+1+N)
        "Grid worker": "专职网格员",
        "Part-time grid worker": "兼职网格员",
        "Building head": "楼栋长",
        "Unit head": "单元长",
        "Volunteer": "志愿者",
        "Red Pioneer team": "红色先锋队",
        "Blue Grid team": "蓝色网格队",
        "Green Veteran team": "绿色老兵队",
        "Orange Elderly team": "橙色老年队",
        "White Medical team": "白色医疗队",
    },
}


def normalise(tag: str | None) -> str | None:
    """``zh-CN``, ``zh_Hans``, ``ZH`` → ``zh``; ``en-GB`` → ``en``; others → None."""
    if not tag:
        return None
    primary = tag.replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else None


def translator(lang: str) -> Callable[[str], str]:
    """A gettext for ``lang``: an unknown id comes back as it is (English)."""
    catalog = CATALOGS.get(lang, {})
    return lambda msgid: catalog.get(msgid, msgid)


def current_language() -> str:
    lang = g.get("lang")
    return lang if lang in LANGUAGES else LANGUAGES[0]


def gettext(msgid: str) -> str:
    """Translate ``msgid`` into the current request's language."""
    return translator(current_language())(msgid)


def negotiate(default: str) -> str:
    """The request's language: ?lang=, then the cookie, then ``default``."""
    chosen = normalise(request.args.get("lang")) or normalise(request.cookies.get(COOKIE))
    return chosen or normalise(default) or LANGUAGES[0]


def lang_url(lang: str) -> str:
    """This page in ``lang``: the same endpoint and arguments, with ``lang=``."""
    values: dict[str, Any] = {**(request.view_args or {}), **request.args.to_dict(), "lang": lang}
    return url_for(request.endpoint or "maps.overview", **values)


def init_app(app: Flask, default: str) -> None:
    @app.before_request
    def choose_language() -> None:
        g.lang = negotiate(default)

    @app.after_request
    def remember_language(response: Response) -> Response:
        asked = normalise(request.args.get("lang"))
        if asked:
            response.set_cookie(
                COOKIE, asked, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True
            )
        # Pages differ by language: caches must key on what chose it (static
        # files and JSON do not, and stay cacheable).
        if response.mimetype == "text/html":
            response.vary.add("Cookie")
        return response

    @app.context_processor
    def language_context() -> dict[str, Any]:
        lang = current_language()
        return {
            "_": translator(lang),
            "lang": lang,
            "html_lang": HTML_LANG[lang],
            "languages": LANGUAGE_NAMES,
            "lang_url": lang_url,
        }
