"""Step 4's destination: rows of Vanna's PG_VectorStore tables, and their backups.

In: training documents (DDL, docs, question–SQL pairs) with embeddings. Out: rows in the `langchain_pg_*`
tables exactly as Vanna reads them; CSV backups under `vector_bak/`.

    store.py   training documents -> vector rows, written in one transaction
    backup.py  backup, listing and restore of the vector tables as CSV files
"""
