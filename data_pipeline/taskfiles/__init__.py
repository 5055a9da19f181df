"""A task directory as clients see it: files, table lists and the task log (the side area of files/logs).

In: a task id and client-given names. Out: safe paths, listings, uploads, table lists and log pages.

    safety.py             path safety: a client's task id or file name never reaches outside the task directory
    files.py              listing (reconciled with the outputs table), upload, download and preview
    table_list.py         table list parsing and validation, the task's `table_list.txt`
    table_list_upload.py  a task's table list given after creation (uploaded `.txt` or JSON list)
    table_list_server.py  `table_list_file` at creation: only {DATA_HOME}/table_lists/ or a task's table_list.txt
    log_reader.py         reading `data_pipeline.log` without loading it whole
    log_query.py          filtered, paginated queries over a task log in one streamed pass
"""
