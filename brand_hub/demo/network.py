"""Demo stage: the network. Six partners, 24 sites in real cities, agreements and users.

Everything goes through the registry and account services, so the demo leaves
the same audit trail a real onboarding would.
"""
from __future__ import annotations

from sqlmodel import Session

from .. import accounts, audit, registry
from ..db import session_scope
from . import DemoContext

DEMO_PASSWORD = "fangcun-demo-2026"
DEMO_ACTOR = audit.Actor("demo")

_FLAGSHIP = "mon-sun 08:00-22:00"
_STANDARD = "mon-fri 09:00-21:00; sat-sun 10:00-18:00"
_LITE = "mon-fri 09:00-19:00; sat 10:00-16:00"
HOURS = {"flagship": _FLAGSHIP, "standard": _STANDARD, "lite": _LITE}

PARTNERS = (
    dict(code="SH01", legal_name="上海静安方寸企业管理有限公司", name_en="Shanghai Jing'an FangCun Management Co., Ltd.",
         unified_credit_code="91310106MA1FY3KX2P", contact_name="陈思远", contact_email="chen.siyuan@sh01.example",
         contact_phone="+86 21 6288 1001", address="上海市静安区南京西路1266号恒隆广场一座18楼", status="active"),
    dict(code="BJ01", legal_name="北京朝阳方寸空间管理有限公司", name_en="Beijing Chaoyang FangCun Space Management Co., Ltd.",
         unified_credit_code="91110105MA01R8WQ3T", contact_name="王晓峰", contact_email="wang.xiaofeng@bj01.example",
         contact_phone="+86 10 8526 2002", address="北京市朝阳区建国门外大街1号国贸大厦B座22层", status="active"),
    dict(code="GZ01", legal_name="广州天河方寸商务服务有限公司", name_en="Guangzhou Tianhe FangCun Business Services Co., Ltd.",
         unified_credit_code="91440106MA5CK7LT9X", contact_name="林嘉欣", contact_email="lin.jiaxin@gz01.example",
         contact_phone="+86 20 3891 3003", address="广州市天河区珠江新城花城大道85号高德置地春广场A座", status="active"),
    dict(code="CD01", legal_name="成都锦江方寸企业管理有限公司", name_en="Chengdu Jinjiang FangCun Management Co., Ltd.",
         unified_credit_code="91510104MA6CPX4N1R", contact_name="张涛", contact_email="zhang.tao@cd01.example",
         contact_phone="+86 28 8666 4004", address="成都市锦江区红星路三段1号国际金融中心二号办公楼", status="on_notice"),
    dict(code="HZ01", legal_name="杭州西湖方寸空间运营有限公司", name_en="Hangzhou Xihu FangCun Space Operations Co., Ltd.",
         unified_credit_code="91330106MA2GM5QY8E", contact_name="周文静", contact_email="zhou.wenjing@hz01.example",
         contact_phone="+86 571 8796 5005", address="杭州市西湖区文三路259号昌地火炬大厦1号楼", status="active"),
    dict(code="SZ01", legal_name="深圳前海方寸国际管理有限公司", name_en="Shenzhen Qianhai FangCun International Management Co., Ltd.",
         unified_credit_code="91440300MA5FTB2J6W", contact_name="黄志明", contact_email="huang.zhiming@sz01.example",
         contact_phone="+86 755 8663 6006", address="深圳市前海深港合作区前湾一路1号A栋201室", status="active"),
)

AGREEMENTS = (
    dict(number="FC-2023-001", franchisee="SH01", start_date="2023-03-01", end_date="2028-02-29",
         royalty_plan_id="standard-2026", territory="上海市", status="active"),
    dict(number="FC-2025-007", franchisee="SH01", start_date="2025-09-01", end_date="2030-08-31",
         royalty_plan_id="standard-2026", territory="上海市浦东新区", status="active"),
    dict(number="FC-2023-002", franchisee="BJ01", start_date="2023-06-01", end_date="2028-05-31",
         royalty_plan_id="standard-2026", territory="北京市、天津市", status="active"),
    dict(number="FC-2024-003", franchisee="GZ01", start_date="2024-01-01", end_date="2028-12-31",
         royalty_plan_id="standard-2026", territory="广东省（深圳除外）、福建省", status="active"),
    dict(number="FC-2024-004", franchisee="CD01", start_date="2024-04-01", end_date="2029-03-31",
         royalty_plan_id="standard-2026", territory="四川省、重庆市、陕西省", status="active"),
    dict(number="FC-2024-005", franchisee="HZ01", start_date="2024-07-01", end_date="2029-06-30",
         royalty_plan_id="lite-2026", territory="浙江省、江苏省", status="active"),
    dict(number="FC-2025-006", franchisee="SZ01", start_date="2025-02-01", end_date="2030-01-31",
         royalty_plan_id="lite-2026", territory="深圳市、香港特别行政区、新加坡", status="active"),
)

# code, name_zh, name_en, partner, agreement, city, region, tier, address, area m², desks, status, opened, zone
SITES = (
    ("SH-JA-01", "方寸空间·静安寺", "FangCun Jing'an Temple", "SH01", "FC-2023-001", "上海", "east", "flagship",
     "上海市静安区南京西路1515号嘉里中心南区12楼", "2400", 360, "active", "2023-05-18", ""),
    ("SH-XH-01", "方寸空间·徐家汇", "FangCun Xujiahui", "SH01", "FC-2023-001", "上海", "east", "standard",
     "上海市徐汇区虹桥路1号港汇恒隆广场办公楼一座9楼", "1350", 210, "active", "2023-09-01", ""),
    ("SH-HP-01", "方寸空间·新天地", "FangCun Xintiandi", "SH01", "FC-2023-001", "上海", "east", "standard",
     "上海市黄浦区湖滨路222号企业天地1号楼7楼", "1180", 176, "active", "2024-02-20", ""),
    ("SH-PD-01", "方寸空间·陆家嘴", "FangCun Lujiazui", "SH01", "FC-2025-007", "上海", "east", "flagship",
     "上海市浦东新区世纪大道100号环球金融中心31楼", "2850", 420, "active", "2025-11-03", ""),
    ("SH-PD-02", "方寸空间·张江", "FangCun Zhangjiang", "SH01", "FC-2025-007", "上海", "east", "lite",
     "上海市浦东新区祖冲之路2288弄1号楼5楼", "720", 110, "onboarding", "", ""),
    ("BJ-CY-01", "方寸空间·国贸", "FangCun CBD Guomao", "BJ01", "FC-2023-002", "北京", "north", "flagship",
     "北京市朝阳区建国门外大街1号国贸写字楼二座16层", "2600", 390, "active", "2023-08-08", ""),
    ("BJ-CY-02", "方寸空间·望京", "FangCun Wangjing", "BJ01", "FC-2023-002", "北京", "north", "standard",
     "北京市朝阳区望京街10号望京SOHO塔3 B座11层", "1420", 220, "active", "2024-01-15", ""),
    ("BJ-HD-01", "方寸空间·中关村", "FangCun Zhongguancun", "BJ01", "FC-2023-002", "北京", "north", "standard",
     "北京市海淀区中关村大街27号中关村大厦8层", "1260", 198, "active", "2024-05-06", ""),
    ("BJ-DC-01", "方寸空间·东直门", "FangCun Dongzhimen", "BJ01", "FC-2023-002", "北京", "north", "lite",
     "北京市东城区东直门南大街3号国华投资大厦6层", "680", 96, "active", "2025-03-10", ""),
    ("TJ-HP-01", "方寸空间·天津和平", "FangCun Tianjin Heping", "BJ01", "FC-2023-002", "天津", "north", "lite",
     "天津市和平区南京路189号津汇广场2座15层", "760", 104, "suspended", "2024-09-01", ""),
    ("GZ-TH-01", "方寸空间·珠江新城", "FangCun Zhujiang New Town", "GZ01", "FC-2024-003", "广州", "south", "flagship",
     "广州市天河区珠江东路6号周大福金融中心28层", "2300", 340, "active", "2024-03-18", ""),
    ("GZ-TH-02", "方寸空间·天河北", "FangCun Tianhe North", "GZ01", "FC-2024-003", "广州", "south", "standard",
     "广州市天河区天河北路233号中信广场办公楼41层", "1150", 168, "active", "2024-08-26", ""),
    ("XM-SM-01", "方寸空间·厦门思明", "FangCun Xiamen Siming", "GZ01", "FC-2024-003", "厦门", "south", "standard",
     "厦门市思明区鹭江道8号国际银行大厦19层", "980", 140, "active", "2025-04-12", ""),
    ("CD-JJ-01", "方寸空间·春熙路", "FangCun Chunxi Road", "CD01", "FC-2024-004", "成都", "west", "flagship",
     "成都市锦江区红星路三段1号国际金融中心二号办公楼20层", "2150", 320, "active", "2024-06-01", ""),
    ("CD-GX-01", "方寸空间·成都高新", "FangCun Chengdu Hi-Tech Zone", "CD01", "FC-2024-004", "成都", "west",
     "standard", "成都市武侯区天府大道北段1700号环球中心E1区10层", "1300", 190, "active", "2024-10-08", ""),
    ("CQ-YZ-01", "方寸空间·解放碑", "FangCun Jiefangbei", "CD01", "FC-2024-004", "重庆", "west", "standard",
     "重庆市渝中区民族路188号环球金融中心33层", "1100", 160, "active", "2025-01-06", ""),
    ("XA-YT-01", "方寸空间·西安雁塔", "FangCun Xi'an Yanta", "CD01", "FC-2024-004", "西安", "west", "lite",
     "西安市雁塔区高新路52号高科大厦12层", "640", 88, "terminated", "2024-11-11", ""),
    ("HZ-XH-01", "方寸空间·西湖文三", "FangCun West Lake Wensan", "HZ01", "FC-2024-005", "杭州", "east", "standard",
     "杭州市西湖区文三路259号昌地火炬大厦1号楼9层", "1200", 180, "active", "2024-09-02", ""),
    ("HZ-BJ-01", "方寸空间·滨江", "FangCun Binjiang", "HZ01", "FC-2024-005", "杭州", "east", "lite",
     "杭州市滨江区江南大道3688号潮人汇大厦7层", "700", 100, "active", "2025-02-17", ""),
    ("SU-GY-01", "方寸空间·苏州金鸡湖", "FangCun Suzhou Jinji Lake", "HZ01", "FC-2024-005", "苏州", "east", "standard",
     "苏州市苏州工业园区苏州大道东265号现代传媒广场18层", "1050", 150, "active", "2025-05-20", ""),
    ("NJ-XW-01", "方寸空间·新街口", "FangCun Xinjiekou", "HZ01", "FC-2024-005", "南京", "east", "lite",
     "南京市秦淮区中山南路1号南京中心26层", "620", 90, "onboarding", "", ""),
    ("SZ-NS-01", "方寸空间·深圳南山", "FangCun Shenzhen Nanshan", "SZ01", "FC-2025-006", "深圳", "south", "flagship",
     "深圳市南山区科苑南路2666号中国华润大厦25层", "2500", 380, "active", "2025-03-28", ""),
    ("HK-CE-01", "方寸空间·香港中环", "FangCun Hong Kong Central", "SZ01", "FC-2025-006", "香港", "south", "standard",
     "香港中环皇后大道中99号中环中心38楼", "860", 120, "active", "2025-07-01", "Asia/Hong_Kong"),
    ("SG-RP-01", "方寸空间·新加坡莱佛士坊", "FangCun Singapore Raffles Place", "SZ01", "FC-2025-006", "新加坡", "south",
     "lite", "1 Raffles Place, #20-61 One Raffles Place, Singapore 048616", "540", 72, "onboarding", "",
     "Asia/Singapore"),
)

HQ_USERS = (
    ("admin@fangcun.example", "hq_admin", "刘海燕（系统管理员）"),
    ("manager@fangcun.example", "hq_manager", "赵明（品牌运营经理）"),
    ("finance@fangcun.example", "hq_finance", "孙丽（财务）"),
    ("viewer@fangcun.example", "hq_viewer", "吴迪（只读）"),
)


def site_values(row: tuple) -> dict:
    (code, name_zh, name_en, partner, agreement, city, region, tier, address, area, desks, status, opened,
     zone) = row
    return dict(code=code, name_zh=name_zh, name_en=name_en, franchisee=partner, agreement=agreement, city=city,
                region=region, tier=tier, address=address, timezone=zone or "Asia/Shanghai",
                opening_hours=HOURS[tier], area_m2=area, desks=desks, status=status, opened_on=opened)


def seed(session: Session) -> list[str]:
    """Put the demo network into ``session``; return the login lines to print."""
    for values in PARTNERS:
        registry.save_franchisee(session=session, actor=DEMO_ACTOR, values=values)
    for values in AGREEMENTS:
        registry.save_agreement(session=session, actor=DEMO_ACTOR, values=values)
    for row in SITES:
        registry.save_site(session=session, actor=DEMO_ACTOR, values=site_values(row))
    logins = [f"demo logins (password for all: {DEMO_PASSWORD}):"]
    for email, role, name in HQ_USERS:
        accounts.create_user(session=session, actor=DEMO_ACTOR, email=email, password=DEMO_PASSWORD, role=role,
                             name=name)
        logins.append(f"  HQ       {role:<17} {email}")
    for partner in PARTNERS:
        code = partner["code"].lower()
        for role, prefix, title in (("franchisee_admin", "admin", "管理员"), ("franchisee_staff", "staff", "店长")):
            email = f"{prefix}@{code}.example"
            accounts.create_user(session=session, actor=DEMO_ACTOR, email=email, password=DEMO_PASSWORD,
                                 role=role, name=f"{partner['contact_name'] if prefix == 'admin' else title}",
                                 franchisee_code=partner["code"])
            logins.append(f"  partner  {role:<17} {email}  ({partner['legal_name']})")
    _assign_demo_staff(session)
    return logins


def _assign_demo_staff(session: Session) -> None:
    """Each partner's site manager (staff@…) looks after the partner's first two sites (issue 10)."""
    from sqlmodel import select

    from brand_hub import partner_staff
    from brand_hub.models import Site, User

    for partner in PARTNERS:
        franchisee = registry.get_franchisee(session=session, code=partner["code"])
        staff = session.exec(select(User).where(User.email == f"staff@{partner['code'].lower()}.example")).one()
        site_ids = list(session.exec(select(Site.id).where(Site.franchisee_id == franchisee.id)
                                     .order_by(Site.code).limit(2)))
        partner_staff.set_sites(session=session, actor=DEMO_ACTOR, franchisee_id=franchisee.id, user=staff,
                                site_ids=site_ids)


def run(context: DemoContext) -> None:
    with session_scope(context.engine) as session:
        logins = seed(session)
        session.commit()
    context.shared["logins"] = logins
    context.shared["demo_password"] = DEMO_PASSWORD
    context.echo(f"demo: {len(PARTNERS)} partners, {len(AGREEMENTS)} agreements, {len(SITES)} sites")
