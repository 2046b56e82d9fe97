"""The message catalog: every UI string in zh-CN (default) and English."""

from __future__ import annotations

LANGUAGES = ("zh", "en")

MESSAGES: dict[str, dict[str, str]] = {
    "title": {"zh": "{city}城市运行管理中心", "en": "{city} City Operations Center"},
    "demo": {"zh": "演示数据", "en": "Demo data"},
    "demo_note": {"zh": "镇街、村社区划分及名称为演示用途的合成数据", "en": "Townships, communities and their names are synthetic demo data"},
    "mode": {"zh": "运行模式", "en": "Mode"},
    "mode.daily": {"zh": "日常", "en": "Daily"},
    "mode.flood": {"zh": "汛期", "en": "Flood season"},
    "mode.holiday": {"zh": "假期", "en": "Holiday"},
    "mode.epidemic": {"zh": "疫情", "en": "Epidemic"},
    "mode.emergency": {"zh": "应急", "en": "Emergency"},
    "as_of": {"zh": "数据截至", "en": "Data as of"},
    "alerts": {"zh": "未处置预警", "en": "Open alerts"},
    "lang_switch": {"zh": "EN", "en": "中文"},
    "login.title": {"zh": "城市运行管理中心 登录", "en": "City Operations Center sign-in"},
    "login.username": {"zh": "用户名", "en": "Username"},
    "login.password": {"zh": "密码", "en": "Password"},
    "login.submit": {"zh": "登录", "en": "Sign in"},
    "login.bad": {"zh": "用户名或密码错误", "en": "Wrong username or password"},
    "login.inactive": {"zh": "该账户已停用，请联系管理员", "en": "This account is disabled; ask an administrator"},
    "login.locked": {"zh": "登录失败次数过多，账户已临时锁定至 {until}", "en": "Too many failed logins: the account is locked until {until}"},
    "login.rate_limited": {"zh": "本机登录失败次数过多，请稍后再试", "en": "Too many failed logins from this address; try again later"},
    "login.demo_hint": {
        "zh": "演示账户：leader（领导）、duty（值班员）、analyst（分析员）、township（镇街用户）、admin（管理员），密码均为 demo（或 IOC_DEMO_PASSWORD）",
        "en": "Demo accounts: leader, duty, analyst, township (one township), admin; password demo (or IOC_DEMO_PASSWORD)",
    },
    "logout": {"zh": "退出", "en": "Sign out"},
    "role.leader": {"zh": "领导", "en": "Leader"},
    "role.duty": {"zh": "值班员", "en": "Duty officer"},
    "role.analyst": {"zh": "分析员", "en": "Analyst"},
    "role.township": {"zh": "镇街用户", "en": "Township officer"},
    "role.admin": {"zh": "管理员", "en": "Administrator"},
    "role.feed": {"zh": "数据接入", "en": "Data feed"},
    "indicator": {"zh": "地图指标", "en": "Map indicator"},
    "period": {"zh": "统计期", "en": "Period"},
    "layers": {"zh": "图层", "en": "Layers"},
    "layer.heat": {"zh": "事件热力", "en": "Event heat"},
    "layer.open": {"zh": "在办事件", "en": "Open events"},
    "layer.camera": {"zh": "视频监控", "en": "Cameras"},
    "layer.air_station": {"zh": "空气微站", "en": "Air stations"},
    "layer.water_station": {"zh": "水质站", "en": "Water stations"},
    "layer.hospital": {"zh": "医疗机构", "en": "Hospitals"},
    "layer.school": {"zh": "学校", "en": "Schools"},
    "layer.shelter": {"zh": "避难场所", "en": "Shelters"},
    "layer.base_station": {"zh": "通信基站", "en": "Base stations"},
    "layer.major_project": {"zh": "重大项目", "en": "Major projects"},
    "layer.pollution_camera": {"zh": "污染源监控", "en": "Pollution cameras"},
    "prev": {"zh": "环比", "en": "MoM"},
    "yoy": {"zh": "同比", "en": "YoY"},
    "stale_since": {"zh": "停更于 {period}", "en": "Stale since {period}"},
    "no_data": {"zh": "暂无数据", "en": "No data"},
    "rank": {"zh": "排名", "en": "Rank"},
    "change": {"zh": "较上期", "en": "vs previous"},
    "value": {"zh": "数值", "en": "Value"},
    "ticker": {"zh": "最新事件与预警", "en": "Latest events and alerts"},
    "event_stats": {"zh": "本期事件", "en": "Events this period"},
    "events_total": {"zh": "事件总数", "en": "Events"},
    "closed_rate": {"zh": "办结率", "en": "Closed"},
    "open_now": {"zh": "在办", "en": "Open"},
    "alert": {"zh": "预警", "en": "Alert"},
    "status.reported": {"zh": "待派遣", "en": "Reported"},
    "status.dispatched": {"zh": "已派遣", "en": "Dispatched"},
    "status.processing": {"zh": "处置中", "en": "Processing"},
    "status.resolved": {"zh": "已处置", "en": "Resolved"},
    "status.closed": {"zh": "已办结", "en": "Closed"},
    "status.kpi.ok": {"zh": "正常", "en": "Normal"},
    "status.kpi.warn": {"zh": "预警", "en": "Warning"},
    "status.kpi.alarm": {"zh": "告警", "en": "Alarm"},
    "status.kpi.none": {"zh": "无阈值", "en": "No threshold"},
    "export_kpis": {"zh": "导出指标", "en": "Export KPIs"},
    "export.area": {"zh": "地区", "en": "Area"},
    "export.area_code": {"zh": "地区代码", "en": "Area code"},
    "export.code": {"zh": "指标代码", "en": "Indicator code"},
    "export.indicator": {"zh": "指标", "en": "Indicator"},
    "export.period": {"zh": "统计期", "en": "Period"},
    "export.value": {"zh": "数值", "en": "Value"},
    "export.unit": {"zh": "单位", "en": "Unit"},
    "export.previous": {"zh": "上期值", "en": "Previous value"},
    "export.change": {"zh": "环比(%)", "en": "Change (%)"},
    "export.last_year": {"zh": "去年同期值", "en": "Value a year earlier"},
    "export.yoy": {"zh": "同比(%)", "en": "Year on year (%)"},
    "export.status": {"zh": "状态", "en": "Status"},
    "source.hotline": {"zh": "网络理政", "en": "Citizen hotline"},
    "source.city_management": {"zh": "数字城管", "en": "City management"},
    "source.grid": {"zh": "网格治理", "en": "Grid governance"},
    "source.emergency": {"zh": "突发事件", "en": "Emergencies"},
    "source.sensor": {"zh": "感知报警", "en": "Sensor alarms"},
    "severity.1": {"zh": "Ⅰ级", "en": "Level I"},
    "severity.2": {"zh": "Ⅱ级", "en": "Level II"},
    "severity.3": {"zh": "Ⅲ级", "en": "Level III"},
    "severity.4": {"zh": "Ⅳ级", "en": "Level IV"},
    "error": {"zh": "无法显示该区域：{reason}", "en": "Cannot show this area: {reason}"},
    "unknown_area": {"zh": "区域不存在或无权查看", "en": "unknown area or outside your scope"},
    "kpi_hint": {"zh": "点击卡片在地图上查看", "en": "Click a card to map it"},
}


def t(key: str, lang: str = "zh", **kwargs: object) -> str:
    """The text of ``key`` in ``lang`` (falls back to zh, then to the key itself), formatted."""
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry["zh"]
    return text.format(**kwargs) if kwargs else text


def pick(lang: str, zh: str, en: str) -> str:
    """Choose a data-supplied name by language (English falls back to Chinese when empty)."""
    return en if lang == "en" and en else zh


def screen_title(configured: str, root: dict, lang: str = "zh") -> str:
    """The header title: the configured one, else '<top area>城市运行管理中心' from the top region's name."""
    return configured or t("title", lang, city=pick(lang, root["name"], root.get("name_en", "")))
