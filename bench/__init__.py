"""Hostledger benchmarks: start the real server on a throwaway PostgreSQL database and load it
with wrk. Run them with `make bench` (all scenarios) or `python -m bench auth` (one).

Layout:
    cli.py          arguments, the run loop, exit codes
    environment.py  one scenario's world: a fresh database and a running `hostledger serve`
    postgres.py     create and drop the throwaway database
    server.py       migrate, start, wait for readiness, stop
    wrk.py          install, run and parse wrk
    report.py       result types, the table, the summary lines, the JSON
    scenarios/      one module per scenario, registered in scenarios/__init__.py
"""
