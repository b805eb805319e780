"""Errors a user can act on. Each kind carries the command-line exit code."""


class StudyDeskError(Exception):
    """A failure with a one-line message naming the object and the rule."""

    exit_code = 1

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class BadInput(StudyDeskError):
    exit_code = 2


class NotAllowed(StudyDeskError):
    exit_code = 3


class NotFound(StudyDeskError):
    exit_code = 4


class RuleRefused(StudyDeskError):
    exit_code = 5


class Cancelled(StudyDeskError):
    """The user asked a job to stop. A normal outcome, never an error dialog."""

    exit_code = 1

    def __init__(self, message: str = "cancelled", detail: str = ""):
        super().__init__(message, detail)
