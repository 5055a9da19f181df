"""Step 4's destination: rows of Vanna's PG_VectorStore tables, and their backups.

In: training documents (DDL, docs, question–SQL pairs) with embeddings. Out: rows in the `langchain_pg_*`
tables exactly as Vanna reads them; CSV backups under `vector_bak/`.

    store.py      training documents -> vector rows, written in one transaction, ownership recorded
    target.py     which vector store a task or request uses (VECTOR_DB_URL / vector_db_connection), its tables
    ownership.py  delete the rows only one task owns; re-align ownership records after a restore
    search.py     search preview: the rows Vanna would retrieve for a question
    backup.py     backup, listing and restore of the vector tables as CSV files
"""
