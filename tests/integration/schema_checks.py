"""Checks of our own that schemathesis runs beside its built-in ones (SCHEMATHESIS_HOOKS)."""

from typing import Any

import schemathesis


@schemathesis.check
def body_is_declared(ctx: schemathesis.CheckContext, response: Any, case: Any) -> None:
    """A response with a body has a media type (and so a schema) declared for its status.

    schemathesis validates a body only against a declared schema: an undeclared one, e.g. a
    404 whose `detail` is text, would pass unseen.
    """
    if case.method.upper() != case.operation.method.upper():
        return  # a probe with a method the path does not have: the 405 belongs to no operation
    if response.content and not case.operation.schema.get_content_types(case.operation, response):
        raise AssertionError(
            f"{response.status_code} has a body but declares none: {response.text[:300]!r}"
        )


@schemathesis.check
class EveryOperationReachesObjects:
    """Each operation answers 2xx or 409 at least once: it ran on real objects, not only 404s."""

    def __init__(self) -> None:
        self.tested: set[str] = set()
        self.reached: set[str] = set()

    def after_response(self, ctx: schemathesis.CheckContext, response: Any, case: Any) -> None:
        """Note the operation, and whether it reached an object."""
        self.tested.add(case.operation.label)
        if response.status_code < 300 or response.status_code == 409:
            self.reached.add(case.operation.label)

    def after_run(self, ctx: schemathesis.CheckContext) -> None:
        """Fail naming the operations that never reached one."""
        if never := sorted(self.tested - self.reached):
            raise AssertionError(f"never answered 2xx or 409: {', '.join(never)}")
