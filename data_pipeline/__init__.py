"""The Data Pipeline: a business database -> NL2SQL training data, in four steps run in the background.

Packages, by the work they do:

    schema/      step 1: read tables, protect personal data, comment, render DDL/Markdown/metadata.txt
    qa/          step 2: business themes and question–SQL pairs
    validation/  step 3: SQL guard, execution check, repair, quality report
    vectors/     step 4's destination: Vanna's vector tables and their backups
    evaluation/  optional step 5: hold-out, paraphrases, retrieval recall, execution accuracy, the report
    steps/       the steps themselves (one module each, the optional evaluation too), wiring the packages
                 above to files and logs
    executor/    background execution: claim, spawn, state machine, heartbeat, cancel, recovery
    taskfiles/   a task directory's files, table lists and logs as clients see them
    store/       every SQL statement on our own tables
    api/         the Flask blueprints, one per resource
    web/         the console (static pages)

At the root: the task service (`tasks`), `ids`, `context`, `monitor`, `cleanup`, and the two entry scripts
`task_executor.py` and `schema_workflow.py` (the seed documents' command lines).
"""
