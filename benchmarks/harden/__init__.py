"""Keep-the-probe-running harness: small parts, each measuring one kind of hardening, merged into one JSON line.

`python benchmarks/harden/run.py --parts access,schema,browser` (or `make harden`). A part is a module here with
`run() -> dict` of figures and `TARGETS` (figure -> rule); see run.py.
"""
