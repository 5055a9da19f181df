"""A built-in bilingual glossary of schema words, for identifiers that have no comment.

`words(name)` splits an identifier on snake_case, camelCase and digits ("originalLanguageID" -> original,
language, id); `zh_phrase(words)` renders them in Chinese only when every word (or phrase, such as
"reports to", "birth date", "created by") is known, else None; the caller then quotes the identifier whole
(“film_text”): a question never mixes a half-translated identifier into Chinese text. `en_phrase(words)` is
the English reading ("original language ID"). Plurals are understood ("categories" -> category).
`resolve_language(requested, business_context, comments)` turns the task's `question_language` (zh, en, auto)
into zh or en. Nothing here knows a business domain beyond common dictionary words of schemas.
"""
from __future__ import annotations

import functools
import re
from typing import Iterable, Optional

LANGUAGES = ("zh", "en", "auto")
DEFAULT_LANGUAGE = "zh"
LANGUAGE_NAMES = {"zh": "中文", "en": "英文（English）"}     # how prompts name the output language

# English schema word -> Chinese; one "word 中文" per entry, several hundred common words of business schemas
_WORD_LIST = """
id ID|no 编号|num 数量|number 编号|code 编码|name 名称|title 标题|type 类型|kind 种类|category 分类|class 类别
status 状态|state 状态|date 日期|time 时间|ts 时间|timestamp 时间|day 日|month 月|year 年|hour 小时|week 周|quarter 季度
minute 分钟|minutes 分钟数|second 秒|seconds 秒数|millisecond 毫秒|milliseconds 毫秒数|duration 时长|period 期间
create 创建|created 创建|creation 创建|update 更新|updated 更新|modify 修改|modified 修改|delete 删除|deleted 删除
insert 插入|inserted 插入|user 用户|users 用户|amount 金额|amt 金额|money 金额|fee 费用|price 价格|cost 成本
count 数量|cnt 数量|qty 数量|quantity 数量|total 总额|sum 合计|avg 平均|average 平均|rate 率|ratio 比例
percent 百分比|pct 百分比|percentage 百分比|desc 描述|description 描述|remark 备注|memo 备注|note 备注
comment 备注|version 版本|order 订单|orders 订单|pay 支付|payment 支付|paid 支付|company 公司|area 区域
service 服务|route 路线|section 路段|car 车辆|vehicle 车辆|customer 客户|client 客户|city 城市|province 省份
country 国家|district 区县|county 县|town 城镇|village 村|street 街道|address 地址|postal 邮政|zip 邮编
postcode 邮编|phone 电话|mobile 手机号|tel 电话|email 邮箱|fax 传真|sort 排序|seq 序号|sequence 序号|level 级别
parent 上级|child 下级|start 开始|end 结束|begin 开始|finish 完成|lat 纬度|latitude 纬度|lng 经度|lon 经度
longitude 经度|position 职位|location 位置|source 来源|system 系统|branch 分支机构|link 关联|map 映射|mapping 映射
mapper 映射|info 信息|detail 明细|details 明细|data 数据|log 日志|record 记录|product 产品|goods 商品|item 项目|shop 店铺
store 门店|dept 部门|department 部门|org 组织|organization 组织|employee 员工|staff 员工|worker 工人
content 内容|url 链接|path 路径|file 文件|image 图片|picture 图片|photo 照片|flag 标志|enabled 启用|enable 启用
active 有效|valid 有效|region 地区|group 分组|operator 操作人|owner 负责人|tenant 租户|account 账户
balance 余额|income 收入|revenue 营收|profit 利润|discount 折扣|tax 税|unit 单位|weight 重量|length 长度
size 大小|age 年龄|gender 性别|sex 性别|birthday 生日|birth 出生|score 得分|grade 等级|station 站点|site 站点
road 道路|contact 联系人|person 人员|member 会员|card 卡|bank 银行|event 事件|full 完整|home 家庭|line 明细
channel 渠道|platform 平台|app 应用|device 设备|film 电影|movie 电影|actor 演员|actress 演员|track 曲目
album 专辑|artist 艺术家|genre 流派|media 媒体|playlist 播放列表|invoice 发票|rental 租赁|rent 租金
inventory 库存|language 语言|original 原始|release 发行|released 发行|replacement 重置|special 特别
feature 特性|features 特性|rating 评级|last 最后|first 首|middle 中间|manager 经理|supervisor 主管
reports 汇报|salary 薪资|wage 工资|hire 入职|hired 入职|job 职位|role 角色|office 办公室|team 团队|project 项目
task 任务|ticket 工单|issue 问题|priority 优先级|opened 创建|closed 关闭|close 关闭|open 打开|assigned 指派
assignee 处理人|reporter 报告人|book 图书|author 作者|publisher 出版社|page 页|pages 页数|isbn ISBN
edition 版次|library 图书馆|loan 借阅|borrow 借阅|return 归还|returned 归还|due 到期|student 学生|teacher 教师
course 课程|class 班级|school 学校|exam 考试|enrollment 注册|patient 患者|doctor 医生|hospital 医院|visit 就诊
diagnosis 诊断|blood 血液|pressure 压力|temperature 温度|temp 温度|humidity 湿度|heart 心脏|reading 读数
sensor 传感器|meter 仪表|measurement 测量|sample 样本|test 测试|result 结果|value 值|unit 单位|min 最小
max 最大|minimum 最小|maximum 最大|mean 平均|median 中位数|limit 限额|credit 信用|debit 借方|loyalty 忠诚度
points 积分|point 积分|coupon 优惠券|promotion 促销|campaign 活动|segment 细分群体|tier 层级|plan 计划
subscription 订阅|contract 合同|policy 保单|claim 理赔|premium 保费|loan 贷款|interest 利息|deposit 存款
transaction 交易|transfer 转账|currency 币种|exchange 兑换|stock 库存|warehouse 仓库|shipment 发货|ship 发货
shipped 发货|shipping 运费|delivery 配送|delivered 送达|carrier 承运商|freight 运费|supplier 供应商
vendor 供应商|purchase 采购|sale 销售|sales 销售|sold 售出|buyer 买家|seller 卖家|cart 购物车|review 评价
feedback 反馈|satisfaction 满意度|response 响应|request 请求|session 会话|login 登录|visitor 访客|page 页面
click 点击|view 浏览|views 浏览量|download 下载|upload 上传|message 消息|notification 通知|city 城市
floor 楼层|room 房间|building 建筑|facility 设施|asset 资产|equipment 设备|machine 机器|part 零件|material 材料
batch 批次|lot 批号|serial 序列|model 型号|brand 品牌|color 颜色|colour 颜色|style 款式|material 材质
height 高度|width 宽度|depth 深度|volume 体积|capacity 容量|speed 速度|distance 距离|mileage 里程|fuel 燃油
energy 能耗|power 功率|water 用水|gas 燃气|electricity 用电|consumption 消耗|usage 用量|budget 预算
expense 费用|salary 薪资|bonus 奖金|commission 佣金|payroll 工资单|attendance 考勤|leave 请假|shift 班次
schedule 排班|calendar 日历|holiday 假日|weekday 工作日|weekend 周末|season 季节|fiscal 财年|report 报表
summary 汇总|statistic 统计|statistics 统计|metric 指标|kpi 指标|target 目标|actual 实际|forecast 预测
estimate 估计|estimated 预计|expected 预期|planned 计划|real 实际|net 净|gross 毛|unit 单位|list 列表
retail 零售|wholesale 批发|margin 利润率|markup 加价|vat 增值税|invoice 发票|bill 账单|billing 账单
receipt 收据|refund 退款|return 退货|exchange 换货|cancel 取消|cancelled 取消|canceled 取消|approve 审批
approved 审批|approval 审批|reject 拒绝|rejected 拒绝|submit 提交|submitted 提交|complete 完成|completed 完成
pending 待处理|draft 草稿|published 发布|publish 发布|expire 过期|expired 过期|expiry 到期|effective 生效
signup 注册|register 注册|registered 注册|registration 注册|join 加入|joined 加入|leaving 离开|left 离开
visit 访问|visits 访问|hit 命中|hits 命中|ip IP|host 主机|server 服务器|domain 域名|agent 代理|browser 浏览器
os 操作系统|version 版本|release 发行|build 构建|package 包|module 模块|feature 功能|config 配置|setting 设置
key 键|secret 密钥|token 令牌|password 密码|hash 哈希|salt 盐值|role 角色|permission 权限|menu 菜单|dict 字典
tag 标签|label 标签|keyword 关键词|topic 主题|subject 主题|body 正文|text 文本|summary 摘要|abstract 摘要
language 语言|locale 区域设置|timezone 时区|zone 区域|region 地区|territory 区域|market 市场|industry 行业
sector 部门|employee 员工|employees 员工|headcount 人数|population 人口|family 家庭|household 住户|income 收入
education 学历|occupation 职业|marital 婚姻|nationality 国籍|ethnicity 民族|religion 宗教|blood 血型|dob 出生日期
death 死亡|dead 死亡|alive 存活|cause 原因|reason 原因|result 结果|outcome 结果|grade 等级|rank 排名|ranking 排名
position 职位|title 标题|label 标签|store 门店|stores 门店|staff 员工|film 电影|films 电影|category 分类
actor 演员|customer 客户|rental 租赁|payment 支付|inventory 库存|address 地址|by 按|per 每|of 的|is 是否|has 是否
to 至|from 从|on 于|at 时间|in 在|for 用于|and 与|with 含|without 不含|new 新|old 旧|current 当前|previous 上一
next 下一|prev 上一|main 主|sub 子|primary 主要|secondary 次要|default 默认|total 总额|daily 每日|monthly 每月
yearly 每年|annual 年度|weekly 每周|hourly 每小时|online 线上|offline 线下|internal 内部|external 外部
public 公开|private 私有|local 本地|global 全局|national 全国|international 国际|domestic 国内|foreign 国外
dim 维度|fact 事实|ods 原始|dwd 明细|dws 汇总|ads 应用|stg 暂存|tmp 临时|bak 备份|hist 历史|history 历史
snapshot 快照|archive 归档|audit 审计|trace 追踪|track 曲目|bytes 字节数|byte 字节|composer 作曲家
method 方式|read 读取|mode 模式|means 方式|way 方式|option 选项|answer 答案|question 问题|step 步骤
stage 阶段|phase 阶段|area 面积|floor 楼层|term 期限|rental 租赁|genre 流派|publisher 出版社|segment 细分群体
unitprice 单价|invoiceline 发票明细|playlisttrack 播放列表曲目|mediatype 媒体类型|billingaddress 账单地址
shipper 承运商|shippers 承运商|extended 扩展|album 专辑|albums 专辑|vendor 供应商|vendors 供应商|sku 商品SKU
receipt 收据|salesperson 销售人员|header 主表|entity 实体|business 业务|guid GUID|row 行|offer 优惠|measure 度量|scrap 报废|culture 语言文化|support 支持|rep 代表|reps 代表|standard 标准|discontinued 已停售|shipvia 承运商|territories 销售区域|headcount 人数|onhand 在库|range 区间|activebool 有效
"""

GLOSSARY: dict[str, str] = {}
for _entry in _WORD_LIST.replace("\n", "|").split("|"):
    if _entry.strip():
        _en, _zh = _entry.split(None, 1)
        GLOSSARY.setdefault(_en.lower(), _zh.strip())

# multi-word phrases, matched before single words (longest first)
PHRASES: dict[tuple[str, ...], tuple[str, str]] = {
    ("first", "name"): ("名", "first name"), ("last", "name"): ("姓", "last name"),
    ("full", "name"): ("姓名", "full name"), ("birth", "date"): ("出生日期", "birth date"),
    ("date", "of", "birth"): ("出生日期", "date of birth"), ("hire", "date"): ("入职日期", "hire date"),
    ("reports", "to"): ("上级", "manager"), ("report", "to"): ("上级", "manager"),
    ("created", "at"): ("创建时间", "creation time"), ("updated", "at"): ("更新时间", "update time"),
    ("created", "by"): ("创建人", "creator"), ("updated", "by"): ("更新人", "updater"),
    ("create", "by"): ("创建人", "creator"), ("update", "by"): ("更新人", "updater"),
    ("deleted", "at"): ("删除时间", "deletion time"), ("last", "update"): ("最后更新时间", "last update"),
    ("last", "updated"): ("最后更新时间", "last update"), ("zip", "code"): ("邮政编码", "zip code"),
    ("postal", "code"): ("邮政编码", "postal code"), ("unit", "price"): ("单价", "unit price"),
    ("list", "price"): ("标价", "list price"), ("release", "year"): ("发行年份", "release year"),
    ("phone", "number"): ("电话号码", "phone number"), ("e", "mail"): ("邮箱", "email"),
    ("is", "deleted"): ("是否删除", "is deleted"), ("is", "active"): ("是否有效", "is active"),
    ("line", "item"): ("明细项", "line item"), ("order", "line"): ("订单明细", "order line"),
    ("page", "count"): ("页数", "page count"), ("sales", "order"): ("销售订单", "sales order"),
    ("rental", "rate"): ("租赁费率", "rental rate"), ("replacement", "cost"): ("重置成本", "replacement cost"),
    ("special", "features"): ("特别功能", "special features"), ("floor", "area"): ("营业面积", "floor area"),
    ("job", "title"): ("职位", "job title"), ("shipping", "fee"): ("运费", "shipping fee"),
    ("ship", "via"): ("承运商", "shipper"), ("total", "fee"): ("总费用", "total fee"), ("total", "cost"): ("总成本", "total cost"),
    ("total", "sales"): ("总销售额", "total sales"), ("total", "amount"): ("总金额", "total amount"), ("total", "price"): ("总价", "total price"),
    ("temperature", "c"): ("温度（℃）", "temperature (°C)"), ("temperature", "f"): ("温度（℉）", "temperature (°F)"),
    ("temp", "c"): ("温度（℃）", "temperature (°C)"), ("weight", "kg"): ("重量（千克）", "weight (kg)"),
    ("distance", "km"): ("距离（千米）", "distance (km)"), ("length", "cm"): ("长度（厘米）", "length (cm)"),
    ("opened", "on"): ("开业日期", "opening date"), ("paid", "at"): ("支付时间", "payment time"),
    ("read", "at"): ("读取时间", "reading time"), ("signup", "date"): ("注册日期", "signup date"), ("billing", "state"): ("账单所在州", "billing state"),
    ("units", "in", "stock"): ("库存数量", "units in stock"), ("units", "on", "order"): ("订购数量", "units on order"),
    ("reorder", "level"): ("再订购水平", "reorder level"), ("quantity", "per", "unit"): ("每单位数量", "quantity per unit"),
    ("home", "country"): ("所属国家", "home country"),
    ("billing", "country"): ("账单国家", "billing country"), ("billing", "city"): ("账单城市", "billing city"), ("support", "ticket"): ("支持工单", "support ticket"),
}
_PERSON_WORDS = {"employee", "staff", "user", "customer", "person", "operator", "member", "manager", "agent",
                 "worker", "admin", "client", "owner"}
_ALONE = {"rate": "比率", "tax": "税额", "day": "日期", "list": "列表", "line": "行", "first": "第一",
          "last": "最后", "state": "状态", "by": "操作人", "year": "年份"}   # a word that reads wrong alone in Chinese
_MAX_PHRASE = max(len(k) for k in PHRASES)

# Chinese comment words -> English, for an English question about a column whose name English cannot read (`wx`
# commented 微信支付金额): the glossary read backwards, full words before abbreviations, plus the words below
_ZH_EN_EXTRA = {"微信": "WeChat", "支付宝": "Alipay", "现金": "cash", "支付": "payment", "统计": "statistics",
                "总数": "total count", "订单数": "order count", "数": "count", "总": "total", "营业额": "revenue", "营业": "business", "数量": "count",
                "编号": "number", "类别": "category", "车型": "vehicle type", "每日": "daily"}

_CJK = re.compile(r"[\u3400-\u9fff]")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_SEPARATORS = re.compile(r"[^0-9A-Za-z\u3400-\u9fff]+")


def has_cjk(text: Optional[str]) -> bool:
    return bool(text and _CJK.search(text))


def words(name: str) -> list[str]:
    """Lower-case words of an identifier: snake_case, camelCase, digits apart from letters only where a word
    ends ("orderID2" -> order, id, 2; "d00_t1" -> d00, t1: a code stays one word); a run-together lower-case
    word the glossary knows every piece of is split too ("salesorderheader" -> sales, order, header)."""
    out: list[str] = []
    for part in _SEPARATORS.split(name):
        if not part:
            continue
        if has_cjk(part) or re.fullmatch(r"[a-z]+\d+|[A-Z]+\d+|[a-z]\d+[a-z]?\d*", part):
            out.append(part.lower())
            continue
        for w in _CAMEL.findall(part):
            out.extend(_compound(w.lower()))
    return out


def _known(piece: str) -> bool:
    return (len(piece) >= 3 or piece in ("id", "no")) and (piece in GLOSSARY or singular(piece) in GLOSSARY)


def _compound(word: str) -> list[str]:
    """`word` cut into the fewest glossary words (each of 3+ letters, or id/no), else `word` whole."""
    if len(word) < 6 or not word.isalpha() or word in GLOSSARY or singular(word) in GLOSSARY:
        return [word]
    best: list[Optional[list[str]]] = [[]] + [None] * len(word)
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 16), end):
            if best[start] is not None and _known(word[start:end]):
                cut = best[start] + [word[start:end]]
                if best[end] is None or len(cut) < len(best[end]):
                    best[end] = cut
    return best[-1] if best[-1] and len(best[-1]) >= 2 else [word]


def singular(word: str) -> str:
    """The glossary's form of an English plural ("categories" -> "category", "addresses" -> "address")."""
    if word in GLOSSARY or len(word) <= 3:
        return word
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"), ("shes", "sh"),
                         ("ses", "s"), ("s", "")):
        if word.endswith(suffix) and word[: -len(suffix)] + repl in GLOSSARY:
            return word[: -len(suffix)] + repl
    return word


def _segments(tokens: list[str]) -> list[tuple[Optional[str], str]]:
    """(Chinese or None when unknown, English) per phrase or word, longest phrase first."""
    out, i = [], 0
    while i < len(tokens):
        for n in range(min(_MAX_PHRASE, len(tokens) - i), 1, -1):
            key = tuple(singular(t) if j == n - 1 else t for j, t in enumerate(tokens[i:i + n]))
            hit = PHRASES.get(tuple(tokens[i:i + n])) or PHRASES.get(key)
            if hit:
                out.append(hit)
                i += n
                break
        else:
            t = tokens[i]
            if has_cjk(t):
                out.append((t, t))
            else:
                zh = GLOSSARY.get(t) or GLOSSARY.get(singular(t))
                out.append((zh, t))
            i += 1
    return out


# abbreviations read out in English
EN_EXPAND = {"activebool": "active", "pct": "percent", "qty": "quantity", "amt": "amount", "cnt": "count", "desc": "description",
             "num": "number", "dept": "department", "org": "organization", "addr": "address", "ts": "time",
             "dt": "date", "lat": "latitude", "lng": "longitude", "lon": "longitude", "no": "number",
             "seq": "sequence", "dob": "date of birth", "tel": "phone", "msg": "message", "img": "image",
             "prev": "previous", "cust": "customer", "emp": "employee"}


def zh_phrase(tokens: list[str]) -> Optional[str]:
    """Chinese for the words when every one is known (with "X by Y" read as 按Y的X, a trailing "by" as 人),
    else None: the caller quotes the identifier instead of mixing languages."""
    if not tokens:
        return None
    if "by" in tokens[1:-1]:                     # rental_by_category: 按分类的租赁, never "租赁人分类"
        k = tokens.index("by", 1)
        head, tail = zh_phrase(tokens[:k]), zh_phrase(tokens[k + 1:])
        if not (head and tail):
            return None
        # opened_by_employee_id: the employee who opened it (创建员工ID); rental_by_category: 按分类的租赁
        return f"{head}{tail}" if singular(tokens[k + 1]) in _PERSON_WORDS else f"按{tail}的{head}"
    if tokens[-1] == "by" and len(tokens) > 1:   # approved_by: 审批人
        head = zh_phrase(tokens[:-1])
        return f"{head}人" if head else None
    if len(tokens) == 1 and tokens[0] in _ALONE:
        return _ALONE[tokens[0]]
    if len(tokens) > 1 and tokens[-1] in ("on", "at") and tuple(tokens[-2:]) not in PHRASES:
        head = zh_phrase(tokens[:-1])                # published_on: 发布日期, read_at: 读取时间
        return f"{head}{'日期' if tokens[-1] == 'on' else '时间'}" if head else None
    parts = _segments(tokens)
    if any(zh is None for zh, _ in parts):
        return None
    text = ""
    for zh, _ in parts:
        if not text.endswith(zh):                    # never a doubled word ("库存库存ID")
            text += zh
    return text


def en_readable(tokens: list[str]) -> bool:
    """True when English can read every word of the identifier (glossary words, phrases, known abbreviations);
    False for `wx`, `oper_date`, `zfb`: raw codes that must not stand in an English question."""
    return bool(tokens) and all(zh is not None or en in EN_EXPAND for zh, en in _segments(tokens))


@functools.lru_cache(maxsize=1)
def _zh_en() -> dict[str, str]:
    table = dict(_ZH_EN_EXTRA)
    for en, zh in GLOSSARY.items():
        if en.isalpha() and len(en) > 2 and en not in EN_EXPAND:   # "amount", not "amt"
            table.setdefault(zh, en)
    return table


def en_from_zh(text: str) -> Optional[str]:
    """English for a short Chinese name made wholly of known words (longest first: 微信支付金额 -> "WeChat payment
    amount"), else None: never a half-translated mix."""
    table = _zh_en()
    longest = max(len(k) for k in table)
    text = re.sub(r"\s+", "", text)
    out, i = [], 0
    while i < len(text):
        for n in range(min(longest, len(text) - i), 0, -1):
            en = table.get(text[i:i + n])
            if en:
                out.append(en)
                i += n
                break
        else:
            return None
    return re.sub(r"\b(\w+) \1\b", r"\1", " ".join(out)) or None


def en_phrase(tokens: list[str]) -> str:
    """The English reading of the words: phrases by their English name, `id` as "ID", abbreviations spelled
    out, "published on" / "paid at" read as a date / time."""
    if len(tokens) > 1 and tokens[-1] in ("on", "at") and tuple(tokens[-2:]) not in PHRASES:
        return f"{en_phrase(tokens[:-1])} {'date' if tokens[-1] == 'on' else 'time'}"
    out = []
    for zh, en in _segments(tokens):
        out.append("ID" if en == "id" else EN_EXPAND.get(en, en))
    text = " ".join(out)
    return re.sub(r"\b(\w+) \1\b", r"\1", text)   # "store store ID" -> "store ID"


_UNCOUNTED = {"data", "info", "media", "staff", "inventory", "equipment", "information", "feedback", "news",
              "series", "status", "metadata", "personnel"}


def pluralize(phrase: str) -> str:
    """English plural of a noun phrase's last word ("sales order" -> "sales orders", "city" -> "cities");
    codes, IDs and words already plural stay as they are."""
    head, _, last = phrase.rpartition(" ")
    if last == "inventory":                     # a row of Pagila's inventory is one copy: "inventory items"
        return f"{phrase} items"
    if last in ("data", "info", "information", "metadata") and head:   # "How many business day data records"
        return f"{phrase} records"
    if not last.isalpha() or not last.islower() or last in _UNCOUNTED:
        return phrase
    if last == "person":
        plural = "people"
    elif last.endswith(("ss", "x", "z", "ch", "sh")):
        plural = last + "es"
    elif last.endswith("s"):
        plural = last
    elif re.search(r"[^aeiou]y$", last):
        plural = last[:-1] + "ies"
    else:
        plural = last + "s"
    return f"{head} {plural}".strip()


def resolve_language(requested: Optional[str], business_context: str = "",
                     comments: Iterable[Optional[str]] = ()) -> str:
    """zh or en for a task: `requested` when zh or en; `auto` -> zh when the business context is Chinese or
    most existing database comments are, else en; anything else (not given) -> zh, the default."""
    if requested in ("zh", "en"):
        return requested
    if requested != "auto":
        return DEFAULT_LANGUAGE
    if has_cjk(business_context):
        return "zh"
    given = [c for c in comments if c and c.strip()]
    return "zh" if given and 2 * sum(1 for c in given if has_cjk(c)) > len(given) else "en"
