"""Step 1's knowledge of the business tables: read them, protect personal data, comment and render them.

In: a business database URL and a table list. Out: `Table` objects (`model.py`) and the files of ddl_generation.

    access.py         which listed tables exist, are readable by the role, hold data (checked before reading)
    model.py          Table / Column / ForeignKey / ValueCount and the schema snapshot file shared by every step
    introspect.py     batched catalog reads, row counts, samples and value profiles (read-only, masked at once)
    time_range.py     the real min/max of each table's event time (one bounded read-only statement per table)
    pii.py            personal data and secrets: detect by column name, comment and value shape, mask keeping
                      the shape (secrets are withheld: never sampled)
    pii_shapes.py     value shapes of phones in any locale, Luhn cards, IBANs, hashes, JWTs, PEM blocks, tokens
    view_lineage.py   which source columns feed each view column (catalog dependencies + parsed definition)
    comments.py       comments for tables and columns that have none (rule-based or LLM)
    ddl_render.py     `{table}.ddl` (executable PostgreSQL DDL) and `{table}_detail.md`
    metadata_file.py  `metadata.txt` (a SQL script summarising tables and themes)
"""
