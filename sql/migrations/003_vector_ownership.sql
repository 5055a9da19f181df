-- Which task loaded which row of which vector store (issue 14). Lives in OUR metadata database, whatever store
-- the rows went to: a row loaded by two tasks has two records, so deleting one task's vectors keeps the row.
-- `store_key` names the store without credentials: 'metadata' (our own database) or 'dbname@host:port'.
-- No foreign key to data_pipeline_tasks: a deleted task (without delete_vectors) and CLI runs without a task
-- row still own the rows they loaded, so another task's delete never removes them.
CREATE TABLE IF NOT EXISTS data_pipeline_vector_rows (
    store_key   TEXT         NOT NULL,
    row_id      TEXT         NOT NULL,                 -- langchain_pg_embedding.id in that store (any length)
    task_id     VARCHAR(40)  NOT NULL,
    collection  VARCHAR(20)  NOT NULL,                 -- sql | ddl | documentation
    loaded_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (store_key, task_id, row_id)
);

CREATE INDEX IF NOT EXISTS idx_vector_rows_row ON data_pipeline_vector_rows(store_key, row_id);

-- rows loaded before this table existed: their last loader (cmetadata.task_id) owns them
INSERT INTO data_pipeline_vector_rows (store_key, row_id, task_id, collection)
SELECT 'metadata', e.id, left(e.cmetadata->>'task_id', 40), c.name
FROM langchain_pg_embedding e JOIN langchain_pg_collection c ON c.uuid = e.collection_id
WHERE e.cmetadata ? 'task_id' AND c.name IN ('sql', 'ddl', 'documentation')
ON CONFLICT DO NOTHING;
