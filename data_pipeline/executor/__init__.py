"""Background execution of the steps: claim and spawn (API side), the state machine (executor side), heartbeat,
DB log writer, cancellation and dead-executor recovery. Nothing here imports Flask; the API only calls
`launcher` and never runs a step itself.

    plan.py       pure rules: modes, which steps run, dependencies, final task status
    launcher.py   API side: validate, claim (store), spawn task_executor.py, cancel
    bytecode.py   the executors' bytecode cache under the data home (warmed at service start)
    standby.py    the next execution's process, started ahead; its command line handed over on a pipe
    process.py    pids, hosts, process groups, signals
    session.py    executor side: one execution end to end (task_executor.py and the CLI both call it)
    runner.py     the step state machine
    tracking.py   where the state goes: DbTracker (task/execution rows), TerminalProgress, NullTracker
    heartbeat.py  heartbeat thread
    dblog.py      batched logging handler -> data_pipeline_task_logs
    outputs.py    clean / register / remove a step's output files
    recovery.py   dead or silent executors -> failed with a reason
"""
