-- Every task id ever given out (issue 23): a deleted task's id is never handed to a later task, even one created
-- in the same second (the id names files, logs, vector ownership records and clients' bookmarks). No foreign key:
-- the id stays claimed after its task row is deleted or removed by the retention cleanup.
CREATE TABLE IF NOT EXISTS data_pipeline_task_ids (
    task_id     VARCHAR(40)  PRIMARY KEY,
    claimed_at  TIMESTAMPTZ  NOT NULL DEFAULT now()
);

INSERT INTO data_pipeline_task_ids (task_id)
SELECT id FROM data_pipeline_tasks
ON CONFLICT (task_id) DO NOTHING;
