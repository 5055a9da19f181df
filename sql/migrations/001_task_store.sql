-- The task store: the only bridge between the API and the executor processes.
-- Tables and indexes follow seed 000 ("数据库设计"), plus the columns the contract needs.

CREATE TABLE IF NOT EXISTS data_pipeline_tasks (
    id               VARCHAR(40) PRIMARY KEY,               -- task_YYYYMMDD_HHMMSS[_n] / manual_...
    task_type        VARCHAR(50)  NOT NULL DEFAULT 'data_workflow',
    task_name        VARCHAR(255),
    status           VARCHAR(20)  NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending','in_progress','partial_completed','completed','failed','cancelled')),
    parameters       JSONB        NOT NULL DEFAULT '{}',    -- as given (secrets kept here only; masked on output)
    result           JSONB,
    error_message    TEXT,
    step_status      JSONB        NOT NULL DEFAULT
                     '{"ddl_generation":"pending","qa_generation":"pending","sql_validation":"pending","training_load":"pending"}',
    step_details     JSONB        NOT NULL DEFAULT '{}',    -- per step: started_at, completed_at, duration, error_message
    progress         INTEGER      NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    output_directory TEXT,
    directory_exists BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    started_at       TIMESTAMPTZ,
    completed_at     TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    created_by       VARCHAR(100),
    db_name          VARCHAR(100),
    business_context TEXT
);

CREATE TABLE IF NOT EXISTS data_pipeline_task_executions (
    id               SERIAL PRIMARY KEY,
    task_id          VARCHAR(40)  NOT NULL REFERENCES data_pipeline_tasks(id) ON DELETE CASCADE,
    execution_id     VARCHAR(160) NOT NULL UNIQUE,          -- {task_id}_step_{step|complete}_exec_{YYYYMMDD_HHMMSS}
    execution_step   VARCHAR(50)  NOT NULL,                 -- a step name, or 'complete'
    execution_mode   VARCHAR(20)  NOT NULL DEFAULT 'step' CHECK (execution_mode IN ('complete','step')),
    status           VARCHAR(20)  NOT NULL DEFAULT 'running'
                     CHECK (status IN ('running','completed','failed','cancelled')),
    started_at       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    completed_at     TIMESTAMPTZ,
    duration         DOUBLE PRECISION,                      -- seconds
    error_message    TEXT,
    execution_result JSONB,
    options          JSONB        NOT NULL DEFAULT '{}',    -- force_execute, clean_previous, vector flags
    force_executed   BOOLEAN      NOT NULL DEFAULT FALSE,
    files_cleaned    BOOLEAN      NOT NULL DEFAULT FALSE,
    pid              INTEGER,
    host             VARCHAR(255),
    heartbeat_at     TIMESTAMPTZ
);

-- "At most one running execution per task" is a database fact, not a check in code.
CREATE UNIQUE INDEX IF NOT EXISTS uq_executions_one_running_per_task
    ON data_pipeline_task_executions(task_id) WHERE status = 'running';

CREATE TABLE IF NOT EXISTS data_pipeline_task_logs (
    id            BIGSERIAL PRIMARY KEY,
    task_id       VARCHAR(40) NOT NULL REFERENCES data_pipeline_tasks(id) ON DELETE CASCADE,
    execution_id  VARCHAR(160) REFERENCES data_pipeline_task_executions(execution_id) ON DELETE CASCADE,
    log_level     VARCHAR(10) NOT NULL CHECK (log_level IN ('DEBUG','INFO','WARNING','ERROR','CRITICAL')),
    message       TEXT        NOT NULL,
    step_name     VARCHAR(50),
    module_name   VARCHAR(100),
    function_name VARCHAR(100),
    timestamp     TIMESTAMPTZ NOT NULL DEFAULT now(),
    extra_data    JSONB       NOT NULL DEFAULT '{}'
);

CREATE TABLE IF NOT EXISTS data_pipeline_task_outputs (
    id              SERIAL PRIMARY KEY,
    task_id         VARCHAR(40)  NOT NULL REFERENCES data_pipeline_tasks(id) ON DELETE CASCADE,
    execution_id    VARCHAR(160) REFERENCES data_pipeline_task_executions(execution_id) ON DELETE SET NULL,
    step_name       VARCHAR(50),
    file_type       VARCHAR(50)  NOT NULL,                  -- ddl, md, json, log, report, txt, csv, ...
    file_name       VARCHAR(255) NOT NULL,
    file_path       TEXT         NOT NULL,                  -- relative to the task directory
    file_size       BIGINT       NOT NULL DEFAULT 0,
    content_hash    VARCHAR(64),
    description     TEXT,
    created_at      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    modified_at     TIMESTAMPTZ  NOT NULL DEFAULT now(),
    is_primary      BOOLEAN      NOT NULL DEFAULT FALSE,
    is_downloadable BOOLEAN      NOT NULL DEFAULT TRUE,
    UNIQUE (task_id, file_name)
);

CREATE INDEX IF NOT EXISTS idx_tasks_status      ON data_pipeline_tasks(status);
CREATE INDEX IF NOT EXISTS idx_tasks_created_at  ON data_pipeline_tasks(created_at DESC);
CREATE INDEX IF NOT EXISTS idx_tasks_db_name     ON data_pipeline_tasks(db_name);
CREATE INDEX IF NOT EXISTS idx_tasks_created_by  ON data_pipeline_tasks(created_by);

CREATE INDEX IF NOT EXISTS idx_executions_task_id    ON data_pipeline_task_executions(task_id);
CREATE INDEX IF NOT EXISTS idx_executions_step       ON data_pipeline_task_executions(execution_step);
CREATE INDEX IF NOT EXISTS idx_executions_status     ON data_pipeline_task_executions(status);
CREATE INDEX IF NOT EXISTS idx_executions_started_at ON data_pipeline_task_executions(started_at DESC);

CREATE INDEX IF NOT EXISTS idx_logs_task_id      ON data_pipeline_task_logs(task_id);
CREATE INDEX IF NOT EXISTS idx_logs_execution_id ON data_pipeline_task_logs(execution_id);
CREATE INDEX IF NOT EXISTS idx_logs_timestamp    ON data_pipeline_task_logs(timestamp DESC);
CREATE INDEX IF NOT EXISTS idx_logs_level        ON data_pipeline_task_logs(log_level);
CREATE INDEX IF NOT EXISTS idx_logs_step         ON data_pipeline_task_logs(step_name);

CREATE INDEX IF NOT EXISTS idx_outputs_task_id      ON data_pipeline_task_outputs(task_id);
CREATE INDEX IF NOT EXISTS idx_outputs_execution_id ON data_pipeline_task_outputs(execution_id);
CREATE INDEX IF NOT EXISTS idx_outputs_file_type    ON data_pipeline_task_outputs(file_type);
CREATE INDEX IF NOT EXISTS idx_outputs_primary      ON data_pipeline_task_outputs(is_primary) WHERE is_primary = TRUE;
