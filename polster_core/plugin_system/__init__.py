"""The plugin system: the hook specifications (:mod:`.hookspecs`), the classes plugins
register (:mod:`.specs`) and the plugin manager (:mod:`.manager`). The built-in plugins
live in :mod:`polster_core.builtin`.
"""
