"""The engine: transitions planned and written in one transaction, the one writer of history.

The package imports nothing on its own (the public names are in :mod:`workflow`), so that a
module such as :mod:`workflow.engine.changes` can be used without loading the engine.
"""
