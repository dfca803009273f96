"""Errors raised while finding, reading or checking a checkpoint: one clear line each."""


class CheckpointError(ValueError):
    """A model folder or hub repo that cannot be used. The message says what is wrong and what to do."""
