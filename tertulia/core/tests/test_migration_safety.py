"""Zero-downtime migrations (issue 10): every migration newer than the baseline must be safe to
apply while the previous release still runs against the same database (README, "Upgrading").

The upgrade is expand/contract: ``tertulia migrate`` runs first, with the old web processes and
consumers still serving; then they are rolled to the new code. So a new migration may only
*expand* the schema in ways the old code does not notice:

- AddField on an existing table must be nullable, or carry a ``db_default`` (a database-level
  default). A Python ``default`` is not enough: Django fills the existing rows with it and then
  drops the column default, so the old release's INSERTs (which do not name the new column)
  would fail on NOT NULL. (A table created in the same migration is new: anything goes.)
- RemoveField, DeleteModel, RenameField, RenameModel, and an AlterField that changes the column
  type, shortens it or makes it NOT NULL, break the old release's queries. They belong to the
  *contract* step, shipped one release later, once no running code uses the old shape; such a
  migration says so with the marker comment ``# zero-downtime: contract`` (followed by which
  expand step it completes), which a reviewer checks.

Migrations up to BASELINE (what releases before this check shipped) are not checked.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import pytest
from django.db import migrations, models
from django.db.migrations.loader import MigrationLoader
from django.db.models.fields import NOT_PROVIDED

# The newest migration of each app when this check was introduced; later ones are checked.
# Apps not listed (Django's own) are not checked.
BASELINE = {
    "analytics": "0003_metrics_rollups_web_traffic",
    "content": "0006_video_probe",
    "core": "0004_brand_branding",
    "giveaways": "0002_new_networks",
    "inbox": "0004",  # (prefix) 0005 onwards is checked
    "listening": "0003_new_networks",
    "networks": "0005_youtube",
    "nlp": "0001_initial",
    "publishing": "0003_queue_slots_delete_first_comment",
    "reports": "0001_reports_archive_schedules",
    "strategy": "0002_cadence",
}
MARKER = "# zero-downtime: contract"
CONTRACT_OPS = (migrations.RemoveField, migrations.DeleteModel, migrations.RenameField, migrations.RenameModel)


@dataclass
class Problem:
    migration: str
    operation: str
    why: str

    def __str__(self) -> str:
        return f"{self.migration}: {self.operation}: {self.why}"


def _number(name: str) -> int:
    return int(name.split("_", 1)[0])


def newer_than_baseline(loader: MigrationLoader):
    for (app, name), migration in sorted(loader.disk_migrations.items()):
        if app in BASELINE and _number(name) > _number(BASELINE[app]):
            yield app, name, migration


def _has_marker(migration) -> bool:
    try:
        source = inspect.getsource(inspect.getmodule(migration))
    except (OSError, TypeError):
        return False
    return MARKER in source


def _column_shape(field):
    kwargs = field.deconstruct()[3]
    return field.deconstruct()[1], kwargs.get("max_length"), kwargs.get("max_digits"), kwargs.get("decimal_places")


def _alter_problem(old, new) -> str | None:
    (old_path, old_len, old_digits, old_places), (new_path, new_len, new_digits, new_places) = (
        _column_shape(old), _column_shape(new))
    if old_path != new_path and old.get_internal_type() != new.get_internal_type():
        return f"changes the column type ({old.get_internal_type()} → {new.get_internal_type()})"
    if old_len and new_len and new_len < old_len:
        return f"shortens the column ({old_len} → {new_len})"
    if (old_digits, old_places) != (new_digits, new_places) and old_digits:
        return "changes the decimal precision"
    if old.null and not new.null:
        return "makes the column NOT NULL (the old release may still write NULL)"
    return None


def check(app: str, name: str, migration, before_state) -> list[Problem]:
    """The unsafe operations of one migration. ``before_state`` is the project state before it."""
    label = f"{app}.{name}"
    if _has_marker(migration):
        return []
    problems = []
    created = set()
    state = before_state.clone()
    for op in migration.operations:
        kind = type(op).__name__
        if isinstance(op, migrations.CreateModel):
            created.add(op.name_lower)
        elif isinstance(op, migrations.AddField) and op.model_name_lower not in created:
            field = op.field
            if not (field.null or field.many_to_many or getattr(field, "db_default", NOT_PROVIDED) is not NOT_PROVIDED):
                problems.append(Problem(label, f"{kind} {op.model_name}.{op.name}",
                                        "a NOT NULL column without db_default on an existing table"))
        elif isinstance(op, CONTRACT_OPS):
            problems.append(Problem(label, f"{kind} {getattr(op, 'model_name', getattr(op, 'old_name', ''))}",
                                    f"breaks the running release; ship it as the contract step with '{MARKER}'"))
        elif isinstance(op, migrations.AlterField) and op.model_name_lower not in created:
            try:
                old = state.models[app, op.model_name_lower].fields[op.name]
            except KeyError:
                old = None
            why = _alter_problem(old, op.field) if old is not None else None
            if why:
                problems.append(Problem(label, f"{kind} {op.model_name}.{op.name}",
                                        why + f"; ship it as the contract step with '{MARKER}'"))
        op.state_forwards(app, state)
    return problems


@pytest.fixture(scope="module")
def loader():
    return MigrationLoader(None, ignore_no_migrations=True)


def test_every_new_migration_is_safe_on_a_live_database(loader):
    checked, problems = 0, []
    for app, name, migration in newer_than_baseline(loader):
        before = loader.project_state((app, name), at_end=False)
        problems += check(app, name, migration, before)
        checked += 1
    assert checked >= 1  # at least this round's core migration is under the check
    assert not problems, "\n".join(map(str, problems))


def test_baseline_names_real_migrations(loader):
    for app, name in BASELINE.items():
        assert any(a == app and n.startswith(name) for a, n in loader.disk_migrations), (app, name)


# --- The checker itself refuses what it should (so the test above is not vacuous) -----------

def _migration(*operations, marker=False):
    m = migrations.Migration("0099_test", "core")
    m.operations = list(operations)
    return m


def _state(loader):
    return loader.project_state(("core", "0005_brand_soft_delete_and_export"), at_end=True)


UNSAFE = [
    migrations.AddField("brand", "slogan", models.CharField(max_length=20, default="")),
    migrations.AddField("brand", "rank", models.IntegerField()),
    migrations.RemoveField("brand", "signature"),
    migrations.DeleteModel("KnowledgeEntry"),
    migrations.RenameField("brand", "tone", "voice"),
    migrations.RenameModel("KnowledgeEntry", "Answer"),
    migrations.AlterField("brand", "name", models.IntegerField()),
    migrations.AlterField("brand", "name", models.CharField(max_length=50)),
    migrations.AlterField("brand", "deleted_at", models.DateTimeField()),
]
SAFE = [
    migrations.AddField("brand", "slogan", models.CharField(max_length=20, blank=True, null=True)),
    migrations.AddField("brand", "rank", models.IntegerField(db_default=0)),
    migrations.AddField("brand", "archived", models.BooleanField(default=False, db_default=False)),
    migrations.AlterField("brand", "name", models.CharField(max_length=200, verbose_name="name")),
    migrations.CreateModel("Gadget", [("id", models.AutoField(primary_key=True)), ("n", models.IntegerField())]),
]


@pytest.mark.parametrize("op", UNSAFE, ids=lambda op: op.describe())
def test_the_checker_refuses_unsafe_operations(loader, op):
    assert check("core", "0099_test", _migration(op), _state(loader))


@pytest.mark.parametrize("op", SAFE, ids=lambda op: op.describe())
def test_the_checker_accepts_safe_operations(loader, op):
    assert check("core", "0099_test", _migration(op), _state(loader)) == []


def test_a_field_added_to_a_table_created_in_the_same_migration_is_fine(loader):
    m = _migration(
        migrations.CreateModel("Gadget", [("id", models.AutoField(primary_key=True))]),
        migrations.AddField("gadget", "rank", models.IntegerField()),
    )
    assert check("core", "0099_test", m, _state(loader)) == []


CONTRACT_FILE = """
from django.db import migrations
{marker}

class Migration(migrations.Migration):
    dependencies = [("core", "0005_brand_soft_delete_and_export")]
    operations = [migrations.RemoveField("brand", "signature")]
"""


@pytest.mark.parametrize("marked", [True, False])
def test_the_contract_marker_in_the_migration_file_allows_a_contract_step(loader, tmp_path, monkeypatch, marked):
    import importlib

    module_name = f"contract_{'marked' if marked else 'plain'}"
    marker = MARKER + " (completes 0006_brand_voice_expand: nothing reads Brand.signature since 1.3)"
    (tmp_path / f"{module_name}.py").write_text(CONTRACT_FILE.format(marker=marker if marked else ""))
    monkeypatch.syspath_prepend(str(tmp_path))
    migration = importlib.import_module(module_name).Migration("0006_contract", "core")
    problems = check("core", "0006_contract", migration, _state(loader))
    assert (problems == []) == marked
    assert not _has_marker(loader.disk_migrations["core", "0005_brand_soft_delete_and_export"])
