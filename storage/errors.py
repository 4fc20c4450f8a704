"""Errors raised by the storage layer."""


class StorageError(Exception):
    """Base class for every error the storage layer raises on purpose."""


class UnsupportedDatabaseError(StorageError):
    """The database URL names a backend YouthVoice does not run on."""


class ConcurrentUpdateError(StorageError):
    """Another writer changed the conversation state since it was loaded."""


class UnknownParticipantError(StorageError):
    """No participant has the given pseudonymous id."""


class CampaignVersionConflictError(StorageError):
    """A campaign arrived with an (id, version) already stored under different content."""


class StorageUnavailableError(StorageError):
    """The database cannot be reached, or is too busy right now: the same work may succeed later."""
