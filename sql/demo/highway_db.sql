-- Demo business database "highway_db": highway service areas, their companies, road sections, daily revenue
-- by payment channel and daily vehicle counts. Our own schema and deterministic synthetic data (no randomness:
-- every value derives from a hash of its key), about 2 years of daily rows for 100 service areas.
-- Some tables/columns carry Chinese comments and some do not, on purpose: the pipeline must cope with both.

-- r(key) -> a deterministic number in [0, 1)
CREATE FUNCTION pg_temp.r(k text) RETURNS double precision LANGUAGE sql IMMUTABLE AS
$$ SELECT (hashtextextended(k, 20250630) & 4294967295)::double precision / 4294967296.0 $$;
-- u(h, n) -> the n-th 16-bit slice of a 64-bit hash as a number in [0, 1): four draws per hash
CREATE FUNCTION pg_temp.u(h bigint, n int) RETURNS double precision LANGUAGE sql IMMUTABLE AS
$$ SELECT ((h >> (16 * n)) & 65535)::double precision / 65536.0 $$;
CREATE FUNCTION pg_temp.hid(k text) RETURNS varchar LANGUAGE sql IMMUTABLE AS $$ SELECT md5(k)::varchar $$;

CREATE TABLE bss_company (
    id          varchar(32) PRIMARY KEY,
    version     integer     NOT NULL DEFAULT 1,
    create_ts   timestamp   NOT NULL,
    created_by  varchar(50),
    update_ts   timestamp,
    updated_by  varchar(50),
    delete_ts   timestamp,
    deleted_by  varchar(50),
    company_name varchar(255) NOT NULL,
    company_no  varchar(255) NOT NULL UNIQUE
);
COMMENT ON TABLE bss_company IS '业务支撑系统公司信息表（服务区管理公司）';
COMMENT ON COLUMN bss_company.id IS '公司主键ID';
COMMENT ON COLUMN bss_company.version IS '版本号';
COMMENT ON COLUMN bss_company.create_ts IS '创建时间';
COMMENT ON COLUMN bss_company.created_by IS '创建人';
COMMENT ON COLUMN bss_company.update_ts IS '更新时间';
COMMENT ON COLUMN bss_company.updated_by IS '更新人';
COMMENT ON COLUMN bss_company.delete_ts IS '删除时间';
COMMENT ON COLUMN bss_company.deleted_by IS '删除人';
COMMENT ON COLUMN bss_company.company_name IS '公司名称';
COMMENT ON COLUMN bss_company.company_no IS '公司编码';

CREATE TABLE bss_section_route (
    id           varchar(32) PRIMARY KEY,
    version      integer     NOT NULL DEFAULT 1,
    create_ts    timestamp   NOT NULL,
    created_by   varchar(50),
    update_ts    timestamp,
    updated_by   varchar(50),
    delete_ts    timestamp,
    deleted_by   varchar(50),
    section_name varchar(255),
    route_name   varchar(255),
    code         varchar(255)
);
COMMENT ON TABLE bss_section_route IS '路段路线信息表';
COMMENT ON COLUMN bss_section_route.section_name IS '路段名称';
COMMENT ON COLUMN bss_section_route.route_name IS '路线名称';

CREATE TABLE bss_service_area (
    id                varchar(32) PRIMARY KEY,
    version           integer     NOT NULL DEFAULT 1,
    create_ts         timestamp   NOT NULL,
    created_by        varchar(50),
    update_ts         timestamp,
    updated_by        varchar(50),
    delete_ts         timestamp,
    deleted_by        varchar(50),
    service_area_name varchar(255) NOT NULL,
    service_area_no   varchar(255) NOT NULL UNIQUE,
    company_id        varchar(32) REFERENCES bss_company(id),
    service_position  varchar(255),
    service_area_type varchar(50),
    service_state     varchar(50)
);
COMMENT ON TABLE bss_service_area IS '服务区基础信息表';
COMMENT ON COLUMN bss_service_area.id IS '服务区主键ID';
COMMENT ON COLUMN bss_service_area.version IS '版本号';
COMMENT ON COLUMN bss_service_area.create_ts IS '创建时间';
COMMENT ON COLUMN bss_service_area.delete_ts IS '删除时间（软删除标记）';
COMMENT ON COLUMN bss_service_area.service_area_name IS '服务区名称';
COMMENT ON COLUMN bss_service_area.service_area_no IS '服务区编码';
COMMENT ON COLUMN bss_service_area.company_id IS '所属管理公司ID';
COMMENT ON COLUMN bss_service_area.service_position IS '服务区经纬度';
COMMENT ON COLUMN bss_service_area.service_area_type IS '服务区类型';
COMMENT ON COLUMN bss_service_area.service_state IS '服务区状态';

-- no comments at all on the link table
CREATE TABLE bss_section_route_area_link (
    section_route_id varchar(32) NOT NULL REFERENCES bss_section_route(id),
    service_area_id  varchar(32) NOT NULL REFERENCES bss_service_area(id),
    PRIMARY KEY (section_route_id, service_area_id)
);

-- no table comment; some column comments
CREATE TABLE bss_service_area_mapper (
    id                 varchar(32) PRIMARY KEY,
    version            integer     NOT NULL DEFAULT 1,
    create_ts          timestamp   NOT NULL,
    created_by         varchar(50),
    update_ts          timestamp,
    updated_by         varchar(50),
    delete_ts          timestamp,
    deleted_by         varchar(50),
    service_name       varchar(255),
    service_no         varchar(255),
    service_area_id    varchar(32) REFERENCES bss_service_area(id),
    source_system_type varchar(50),
    source_type        integer
);
COMMENT ON COLUMN bss_service_area_mapper.service_name IS '服务区名称';
COMMENT ON COLUMN bss_service_area_mapper.service_no IS '服务区编码';
COMMENT ON COLUMN bss_service_area_mapper.service_area_id IS '服务区ID';

-- the two big tables get their keys after the bulk load: one index build and one FK validation pass are far
-- cheaper than a trigger and an index insertion per row
CREATE TABLE bss_business_day_data (
    id          varchar(32) NOT NULL,
    version     integer     NOT NULL DEFAULT 1,
    create_ts   timestamp   NOT NULL,
    created_by  varchar(50),
    update_ts   timestamp,
    updated_by  varchar(50),
    delete_ts   timestamp,
    deleted_by  varchar(50),
    oper_date   date        NOT NULL,
    service_no  varchar(255),
    service_name varchar(255),
    branch_no   varchar(255),
    branch_name varchar(255),
    wx          numeric(19,4),
    wx_order    integer,
    zfb         numeric(19,4),
    zfb_order   integer,
    rmb         numeric(19,4),
    rmb_order   integer,
    xs          numeric(19,4),
    xs_order    integer,
    jd          numeric(19,4),
    jd_order    integer,
    order_sum   integer,
    pay_sum     numeric(19,4),
    source_type integer
);
COMMENT ON TABLE bss_business_day_data IS '业务支撑系统每日营业数据表（按服务区档口统计）';
COMMENT ON COLUMN bss_business_day_data.id IS '主键ID';
COMMENT ON COLUMN bss_business_day_data.version IS '版本号';
COMMENT ON COLUMN bss_business_day_data.create_ts IS '创建时间';
COMMENT ON COLUMN bss_business_day_data.created_by IS '创建人';
COMMENT ON COLUMN bss_business_day_data.update_ts IS '更新时间';
COMMENT ON COLUMN bss_business_day_data.updated_by IS '更新人';
COMMENT ON COLUMN bss_business_day_data.delete_ts IS '删除时间';
COMMENT ON COLUMN bss_business_day_data.deleted_by IS '删除人';
COMMENT ON COLUMN bss_business_day_data.oper_date IS '统计日期';
COMMENT ON COLUMN bss_business_day_data.service_no IS '服务区编码';
COMMENT ON COLUMN bss_business_day_data.service_name IS '服务区名称';
COMMENT ON COLUMN bss_business_day_data.branch_no IS '档口编码';
COMMENT ON COLUMN bss_business_day_data.branch_name IS '档口名称';
COMMENT ON COLUMN bss_business_day_data.wx IS '微信支付金额';
COMMENT ON COLUMN bss_business_day_data.wx_order IS '微信支付订单数';
COMMENT ON COLUMN bss_business_day_data.zfb IS '支付宝支付金额';
COMMENT ON COLUMN bss_business_day_data.zfb_order IS '支付宝支付订单数';
COMMENT ON COLUMN bss_business_day_data.rmb IS '现金支付金额';
COMMENT ON COLUMN bss_business_day_data.rmb_order IS '现金支付订单数';
COMMENT ON COLUMN bss_business_day_data.xs IS '行吧支付金额';
COMMENT ON COLUMN bss_business_day_data.xs_order IS '行吧支付订单数';
COMMENT ON COLUMN bss_business_day_data.jd IS '金豆支付金额';
COMMENT ON COLUMN bss_business_day_data.jd_order IS '金豆支付订单数';
COMMENT ON COLUMN bss_business_day_data.order_sum IS '订单总数';
COMMENT ON COLUMN bss_business_day_data.pay_sum IS '支付总金额';
COMMENT ON COLUMN bss_business_day_data.source_type IS '数据来源类别';

-- table comment, partial column comments
CREATE TABLE bss_car_day_count (
    id              varchar(32) NOT NULL,
    version         integer     NOT NULL DEFAULT 1,
    create_ts       timestamp   NOT NULL,
    created_by      varchar(50),
    update_ts       timestamp,
    updated_by      varchar(50),
    delete_ts       timestamp,
    deleted_by      varchar(50),
    customer_count  bigint,
    car_type        varchar(100),
    count_date      date,
    service_area_id varchar(32)
);
COMMENT ON TABLE bss_car_day_count IS '服务区车流量按车型每日统计表';
COMMENT ON COLUMN bss_car_day_count.customer_count IS '车辆数量';
COMMENT ON COLUMN bss_car_day_count.car_type IS '车辆类别';
COMMENT ON COLUMN bss_car_day_count.count_date IS '统计日期';

-- ---------------------------------------------------------------------------------------------- data
INSERT INTO bss_company (id, create_ts, created_by, company_name, company_no)
SELECT pg_temp.hid('company' || i), timestamp '2021-01-04 09:00:00' + i * interval '1 day', 'admin',
       (ARRAY['赣州分公司','吉安分公司','九江分公司','南昌分公司','上饶分公司','宜春分公司','抚州分公司','萍乡分公司'])[i],
       'H' || lpad(i::text, 3, '0')
FROM generate_series(1, 8) AS i;

INSERT INTO bss_section_route (id, create_ts, created_by, update_ts, updated_by, section_name, route_name, code)
SELECT pg_temp.hid('route' || i), timestamp '2021-02-01 10:00:00' + i * interval '3 hours',
       CASE WHEN i % 7 = 0 THEN NULL ELSE 'admin' END,
       CASE WHEN i % 3 = 0 THEN timestamp '2023-03-01 08:00:00' + i * interval '1 day' END,
       CASE WHEN i % 3 = 0 THEN 'ops' END,
       (ARRAY['昌九','昌樟','樟吉','吉泰','泰赣','赣定','昌铜','九景','景婺','德上','上饶','梨温','温厚','鹰瑞','抚吉','宁定','萍洪','昌宁','大广','济广'])[1 + (i - 1) % 20]
         || CASE WHEN i > 20 THEN '二期' ELSE '' END || '路段',
       (ARRAY['G60','G70','G45','G35','G56','G72','G4E','G6001'])[1 + (i * 7) % 8],
       'SR' || lpad(i::text, 4, '0')
FROM generate_series(1, 40) AS i;

INSERT INTO bss_service_area (id, create_ts, created_by, update_ts, updated_by, delete_ts, deleted_by,
                              service_area_name, service_area_no, company_id, service_position,
                              service_area_type, service_state)
SELECT pg_temp.hid('area' || i),
       timestamp '2021-03-01 09:30:00' + i * interval '1 day',
       CASE WHEN i % 9 = 0 THEN NULL ELSE 'admin' END,
       CASE WHEN i % 4 = 0 THEN timestamp '2024-01-10 12:00:00' + i * interval '2 hours' END,
       CASE WHEN i % 4 = 0 THEN 'ops' END,
       CASE WHEN i IN (17, 58, 93) THEN timestamp '2024-09-01 00:00:00' END,
       CASE WHEN i IN (17, 58, 93) THEN 'admin' END,
       (ARRAY['庐山','南城','瑞金','信丰','吉安','萍乡','九江','上饶','抚州','宜春'])[1 + (i - 1) % 10]
         || (ARRAY['','东','西','南','北','新城','湖口','桥头','岭下','港口'])[1 + (i - 1) / 10] || '服务区',
       (1000 + i)::text,
       pg_temp.hid('company' || (1 + i % 8)),
       CASE WHEN i % 11 = 0 THEN NULL
            ELSE round((114 + pg_temp.r('lon' || i) * 4)::numeric, 6) || ',' || round((24.5 + pg_temp.r('lat' || i) * 5)::numeric, 6) END,
       CASE WHEN pg_temp.r('type' || i) < 0.8 THEN '信息化服务区' ELSE '智能化服务区' END,
       CASE WHEN i IN (17, 58, 93) THEN '关闭' WHEN pg_temp.r('state' || i) < 0.92 THEN '开放' ELSE '上传数据' END
FROM generate_series(1, 100) AS i;

INSERT INTO bss_section_route_area_link (section_route_id, service_area_id)
SELECT DISTINCT pg_temp.hid('route' || r), pg_temp.hid('area' || i)
FROM generate_series(1, 100) AS i,
     LATERAL (VALUES (1 + (i - 1) % 40), (CASE WHEN i % 3 = 0 THEN 1 + (i * 7) % 40 END)) AS v(r)
WHERE r IS NOT NULL;

INSERT INTO bss_service_area_mapper (id, create_ts, created_by, service_name, service_no, service_area_id,
                                     source_system_type, source_type)
SELECT pg_temp.hid('mapper' || i || s), timestamp '2021-03-05 09:30:00' + i * interval '1 day', 'admin',
       a.service_area_name, a.service_area_no, a.id,
       CASE s WHEN 1 THEN '驿美' ELSE '驿购' END, CASE s WHEN 1 THEN 3 ELSE 1 END
FROM generate_series(1, 100) AS i
JOIN bss_service_area a ON a.id = pg_temp.hid('area' || i)
CROSS JOIN generate_series(1, 2) AS s
WHERE s = 1 OR i % 2 = 0;

-- per-day and per-area factors are computed once (731 and 100 rows), row draws come from integer hashes
CREATE TEMP TABLE demo_day AS
SELECT d::date AS d, row_number() OVER (ORDER BY d) AS day_no,
       (CASE WHEN extract(isodow FROM d) >= 6 THEN 1.35 ELSE 1.0 END)
       * (CASE WHEN extract(month FROM d) IN (2, 10) THEN 1.5 ELSE 1.0 END) AS busy,
       CASE WHEN extract(isodow FROM d) >= 6 THEN 1.3 ELSE 1.0 END AS weekend
FROM generate_series(date '2023-07-01', date '2025-06-30', interval '1 day') AS d;

CREATE TEMP TABLE demo_area AS
SELECT i, a.id, a.service_area_name, a.service_area_no, 0.5 + pg_temp.r('size' || i) * 1.5 AS size
FROM generate_series(1, 100) AS i JOIN bss_service_area a ON a.id = pg_temp.hid('area' || i);

-- daily revenue: one row per service area branch per day; areas with i % 3 = 0 have two branches
INSERT INTO bss_business_day_data (id, create_ts, created_by, delete_ts, deleted_by, oper_date, service_no,
                                   service_name, branch_no, branch_name, wx, wx_order, zfb, zfb_order, rmb,
                                   rmb_order, xs, xs_order, jd, jd_order, order_sum, pay_sum, source_type)
SELECT md5('biz' || k.k), y.d + interval '1 day 2 hours', CASE WHEN w < 0.03 THEN NULL ELSE 'etl' END,
       CASE WHEN w > 0.995 THEN y.d + interval '3 days' END, CASE WHEN w > 0.995 THEN 'etl' END,
       y.d, a.service_area_no, a.service_area_name, a.service_area_no || '-' || b,
       a.service_area_name || CASE b WHEN 1 THEN '-东区' ELSE '-西区' END,
       m.wx, m.wxo, m.zfb, m.zfbo, m.rmb, m.rmbo, m.xs, m.xso, m.jd, m.jdo,
       m.wxo + m.zfbo + m.rmbo + m.xso + m.jdo, m.wx + m.zfb + m.rmb + m.xs + m.jd,
       CASE WHEN w < 0.6 THEN 1 ELSE 3 END
FROM demo_area a
CROSS JOIN generate_series(1, 2) AS b
CROSS JOIN demo_day y
CROSS JOIN LATERAL (SELECT (a.i * 10 + b) * 100000 + y.day_no AS k) AS k
CROSS JOIN LATERAL (SELECT hashint8extended(k.k, 1) AS h1, hashint8extended(k.k, 2) AS h2,
                           hashint8extended(k.k, 3) AS h3, a.size * y.busy AS f) AS h
CROSS JOIN LATERAL (SELECT pg_temp.u(h.h3, 3) AS w) AS g
CROSS JOIN LATERAL (
    SELECT round((h.f * (3000 + pg_temp.u(h.h1, 0) * 9000))::numeric, 2) AS wx,
           (h.f * (80 + pg_temp.u(h.h1, 1) * 220))::int AS wxo,
           round((h.f * (1500 + pg_temp.u(h.h1, 2) * 5000))::numeric, 2) AS zfb,
           (h.f * (40 + pg_temp.u(h.h1, 3) * 120))::int AS zfbo,
           round((h.f * (200 + pg_temp.u(h.h2, 0) * 1500))::numeric, 2) AS rmb,
           (h.f * (5 + pg_temp.u(h.h2, 1) * 40))::int AS rmbo,
           CASE WHEN a.i % 5 = 0 THEN 0 ELSE round((h.f * pg_temp.u(h.h2, 2) * 800)::numeric, 2) END AS xs,
           CASE WHEN a.i % 5 = 0 THEN 0 ELSE (h.f * pg_temp.u(h.h2, 3) * 20)::int END AS xso,
           CASE WHEN a.i % 4 = 0 THEN 0 ELSE round((h.f * pg_temp.u(h.h3, 0) * 300)::numeric, 2) END AS jd,
           CASE WHEN a.i % 4 = 0 THEN 0 ELSE (h.f * pg_temp.u(h.h3, 1) * 8)::int END AS jdo
) AS m
WHERE b = 1 OR a.i % 3 = 0;

-- daily vehicle counts by car type
INSERT INTO bss_car_day_count (id, create_ts, created_by, delete_ts, customer_count, car_type, count_date,
                               service_area_id)
SELECT md5('car' || k.k), y.d + interval '1 day 1 hour',
       CASE WHEN pg_temp.u(h, 0) < 0.05 THEN NULL ELSE 'etl' END,
       CASE WHEN pg_temp.u(h, 1) > 0.997 THEN y.d + interval '2 days' END,
       (a.size * (ARRAY[60, 900, 2500, 400])[t] * (0.7 + pg_temp.u(h, 2) * 0.6) * y.weekend)::bigint,
       (ARRAY['危化品','城际','过境','其他'])[t], y.d, a.id
FROM demo_area a
CROSS JOIN generate_series(1, 4) AS t
CROSS JOIN demo_day y
CROSS JOIN LATERAL (SELECT (a.i * 10 + t) * 100000 + y.day_no AS k) AS k
CROSS JOIN LATERAL hashint8extended(k.k, 7) AS h;

DROP TABLE demo_day, demo_area;

ALTER TABLE bss_business_day_data ADD PRIMARY KEY (id);
ALTER TABLE bss_car_day_count ADD PRIMARY KEY (id);
ALTER TABLE bss_car_day_count ADD FOREIGN KEY (service_area_id) REFERENCES bss_service_area(id);
CREATE INDEX idx_business_day_oper_date ON bss_business_day_data (oper_date);
CREATE INDEX idx_business_day_service_no ON bss_business_day_data (service_no);
CREATE INDEX idx_car_day_count_date ON bss_car_day_count (count_date);
CREATE INDEX idx_car_day_count_area ON bss_car_day_count (service_area_id);
ANALYZE;
