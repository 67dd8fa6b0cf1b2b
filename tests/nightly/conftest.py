"""The nightly tests run on the small program of tests/program."""

from tests.program.conftest import Program, program, program_build  # noqa: F401
