"""`polster enable celery` in a generated project: the dependency, `[tool.polster] executor`,
the settings in .env, .env.example and the README; a second time changes nothing, and
`polster upgrade` keeps what it added."""

from __future__ import annotations

from pathlib import Path

from polster_core.testing.projects import init_project, plugin_env, run_polster

NAMES = ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "POLSTER_SHARED_DISK")


def snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_enable_celery_adds_the_plugin_and_its_settings(tmp_path):
    project = init_project(tmp_path, "local", name="enable-demo")
    result = run_polster("enable", "celery", cwd=project, env=plugin_env())
    assert result.returncode == 0, result.stderr
    assert "python run_polster.py --worker --executor celery" in result.stdout
    pyproject = (project / "pyproject.toml").read_text()
    assert '"polster-celery>=0.1.1,<0.2"' in pyproject and 'executor = "celery"' in pyproject
    assert 'storage = "local"' in pyproject
    for rel in (".env", ".env.example"):
        text = (project / rel).read_text()
        for name in NAMES:
            assert f"\n{name}=" in text, (rel, name)
        assert "\nCELERY_BROKER_URL=\n" in text and "\nPOLSTER_SHARED_DISK=false\n" in text
    readme = (project / "README.md").read_text()
    for name in NAMES:
        assert f"| `{name}` |" in readme

    before = snapshot(project)
    again = run_polster("enable", "celery", cwd=project, env=plugin_env())
    assert again.returncode == 0, again.stderr
    assert (
        again.stdout.strip() == "Nothing to change: enable-demo already has everything celery adds."
    )
    assert snapshot(project) == before

    upgrade = run_polster("upgrade", cwd=project, env=plugin_env())
    assert upgrade.returncode == 0, upgrade.stderr
    after = snapshot(project)
    changed = sorted(
        k for k in after if after[k] != before.get(k) and k != ".polster/generated.json"
    )
    assert changed == []
