"""The project model and its plans: files only (no Dagster, no polars at module level).

What ``polster init``, ``add-asset``, ``remove-asset``, ``list``, ``check``, ``enable``,
``upgrade`` and ``setup`` read and write: the project on disk (:mod:`.model`), its assets read
with ``ast`` (:mod:`.graph`, :mod:`.registry`), the record (:mod:`.record`), plans applied
all-or-nothing (:mod:`.plan`), scaffolding and upgrades.
"""
