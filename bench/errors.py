"""Why a benchmark run could not be measured (as opposed to a target being missed)."""

from __future__ import annotations


class BenchError(RuntimeError):
    """The harness itself failed: no wrk, no database, the server did not start."""


class SetupError(BenchError):
    """A scenario could not prepare its data (a user, a login) through the API."""


class EndpointMissing(SetupError):
    """The API answered 404 for an endpoint the scenario needs: it is not in this build yet."""
