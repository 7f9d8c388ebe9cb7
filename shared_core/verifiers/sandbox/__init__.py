"""Child programs of the python_tests verifier, run as scripts with `python -I`
(see ../python_tests.py): `code_host.py` runs the answer, `test_host.py` runs the
tests against it, `reaper.py` kills whatever the answer started."""
