"""The operator's tools: what only a person running the stack uses (offline plan, cost
estimate, pre-flight checks, day-two operations, the config reference generator). `pulumi up`
runs `__main__.py` and `components/`; nothing in `components/` imports from here."""
