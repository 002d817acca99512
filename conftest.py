"""Root of the test suite (core and plugins): a test whose external tool cannot be had skips
with the reason, except under CI=true, where it fails. Polster's pytest plugin does that
(``polster_core.testing.pytest_plugin``, entry point ``pytest11``, installed with polster by
``scripts/dev-env.sh``), for this suite as for a plugin author's."""
