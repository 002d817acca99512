"""Where a project's asset files live (``src/core``, ``src/orchestration/assets/{layer}``,
``tests``) and the layer rules (which layer may read which).
"""

from __future__ import annotations

from .asset_source import CORE_DIR

ASSETS_DIR = "src/orchestration/assets"


# Upstream layers each layer may depend on; same-layer chains need allow_same_layer_deps.
UPSTREAM_LAYERS = {"bronze": (), "silver": ("bronze",), "gold": ("silver",)}


RULES = {
    "bronze": "bronze assets have no upstream assets (they ingest raw data)",
    "silver": "silver assets depend on bronze assets only",
    "gold": "gold assets depend on silver assets only",
}


SAME_LAYER_RULES = {
    "silver": "silver assets depend on bronze or silver assets only",
    "gold": "gold assets depend on silver or gold assets only",
}


def wrapper_path(layer: str, name: str) -> str:
    return f"{ASSETS_DIR}/{layer}/run_{layer}_{name}.py"


def core_path(layer: str, name: str) -> str:
    return f"{CORE_DIR}/{layer}_{name}.py"


def test_path(layer: str, name: str) -> str:
    """The asset's own test file, removed with it (init writes one per example asset)."""
    return f"tests/test_{layer}_{name}.py"


def registry_path(layer: str) -> str:
    return f"{ASSETS_DIR}/{layer}/__init__.py"


def allowed_layers(layer: str, allow_same_layer: bool) -> tuple[str, ...]:
    """The layers an asset of ``layer`` may depend on."""
    allowed = UPSTREAM_LAYERS[layer]
    if allow_same_layer and layer != "bronze":
        allowed = (*allowed, layer)
    return allowed


def rule(layer: str, allow_same_layer: bool) -> str:
    """The layer rule of ``layer``, in words, for messages."""
    if allow_same_layer and layer in SAME_LAYER_RULES:
        return SAME_LAYER_RULES[layer]
    return RULES[layer]


def broken_rule(layer: str, upstream_layer: str, allow_same_layer: bool) -> str:
    """Why an asset of ``layer`` may not read one of ``upstream_layer``, with the setting that
    would allow it when there is one (a same-layer dependency)."""
    text = rule(layer, allow_same_layer)
    if upstream_layer == layer and layer in SAME_LAYER_RULES and not allow_same_layer:
        text += (
            f" (to allow {layer} -> {layer} dependencies, set allow_same_layer_deps = true "
            "under [tool.polster] in pyproject.toml)"
        )
    return text
