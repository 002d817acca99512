"""CLI commands beyond init/setup/plugins, one module per group; each adds to ``cli.app``."""
