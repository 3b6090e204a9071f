"""Shared fixtures: two tenants (brand A and brand B in different workspaces) and people
with each role, built through the same services the app uses."""

from __future__ import annotations

import os

import pytest

from tertulia.core.roles import Role

IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_configure(config):
    # A bare `pytest` on a fresh checkout gets the compiled catalogs `make` would build.
    from tertulia.core import catalogs

    catalogs.compile_all()
    _offline_names()


# Tests that give the same result on every database because they never reach one: text rules,
# connectors against their fakes, the triage models, the draw's arithmetic, catalogs, and the
# `tertulia run` supervisor (its children always use a SQLite file of their own). CI's
# PostgreSQL pass (TERTULIA_DATABASE_TESTS_ONLY=1) leaves them to the SQLite pass. A test in
# these places that asks for a database (the db fixtures, the django_db marker) still runs.
SAME_ON_EVERY_DATABASE = (
    "tertulia/content/tests/", "tertulia/networks/tests/", "tertulia/nlp/tests/",
    "tertulia/giveaways/tests/test_draw.py", "tertulia/analytics/tests/test_kpis.py",
    "tertulia/core/tests/test_i18n_catalogs.py", "tests/test_run_command.py", "tests/test_bench_load.py",
    "tertulia/reports/tests/test_summary.py", "tertulia/strategy/tests/test_workload.py",
    "tertulia/analytics/tests/test_charts.py", "tertulia/core/tests/test_cache.py",
    "tertulia/core/tests/test_migration_safety.py",  # reads the migration files only
    "tertulia/analytics/tests/test_traffic_parse.py",
    "tertulia/reports/tests/test_audit_rules.py", "tertulia/reports/tests/test_problems.py",
    # Reports: the schedule arithmetic, the period defaults and the PDF fetcher (their
    # database tests, which use the brand fixtures, still run on every database).
    "tertulia/reports/tests/test_weekly_schedule.py", "tertulia/reports/tests/test_engine.py",
    "tertulia/reports/tests/test_pdf.py",
    # Security review: the route lists, the SSRF table and the redirect-target checks (their
    # database tests still run on every database).
    "tertulia/core/tests/test_security_routes.py", "tertulia/core/tests/test_security_ssrf.py",
    "tertulia/core/tests/test_security_redirects.py",
    # bandit over the code and the pip-audit helper: no database.
    "tertulia/core/tests/test_static_analysis.py",
    # Fault tests whose consumers bring their own databases (a SQLite file, a private PostgreSQL
    # cluster and Redis server): the same on both passes.
    "tests/faults/test_sigkill_queues.py", "tests/faults/test_postgres_faults.py",
)
# Tests whose subject is PostgreSQL itself (several processes share pytest-django's PostgreSQL
# test database): CI's SQLite pass leaves them out instead of skipping them.
POSTGRESQL_ONLY = ("tests/test_production_layout.py",)
_DATABASE_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "live_server"}


def pytest_collection_modifyitems(config, items):
    if IN_CI and not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        postgresql_only = [item for item in items if item.nodeid.startswith(POSTGRESQL_ONLY)]
        if postgresql_only:
            config.hook.pytest_deselected(items=postgresql_only)
            items[:] = [item for item in items if not item.nodeid.startswith(POSTGRESQL_ONLY)]
    if os.environ.get("TERTULIA_DATABASE_TESTS_ONLY", "") != "1":
        return
    keep, leave = [], []
    for item in items:
        databaseless = (item.nodeid.startswith(SAME_ON_EVERY_DATABASE) and not item.get_closest_marker("django_db")
                        and not _DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())))
        (leave if databaseless else keep).append(item)
    if leave:
        config.hook.pytest_deselected(items=leave)
        items[:] = keep


def _offline_names() -> None:
    """Nothing in the tests touches the internet, not even a DNS query: names other than
    localhost do not resolve here, as on the offline CI machine. Loopback fakes are reached by
    IP address; a test that would reach out fails the same way on every machine."""
    import ipaddress
    import socket

    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name and name != "localhost" and not name.endswith(".localhost"):
            try:
                ipaddress.ip_address(name.split("%", 1)[0])
            except ValueError:
                raise socket.gaierror(socket.EAI_NONAME, f"the tests are offline: {name} is not looked up") from None
        return real(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = terminalreporter.stats.get("skipped", [])
    if IN_CI and skipped:
        terminalreporter.write_line(
            f"CI=true: {len(skipped)} test(s) were skipped; in CI every test must run.", red=True
        )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if IN_CI and reporter is not None and reporter.stats.get("skipped") and session.exitstatus == 0:
        session.exitstatus = 1


# Tests that need a server or the browser ask for one of these fixtures. Outside CI they
# skip when it is absent; in CI a skip fails the run (pytest_sessionfinish above).

@pytest.fixture(scope="session")
def redis_url():
    import redis

    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis server at {url}")
    return url


@pytest.fixture(scope="session")
def chromium_path():
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not os.path.exists(path):
        pytest.skip(f"no Chromium at {path} (apt-get install chromium)")
    return path


@pytest.fixture
def make_user(db, django_user_model):
    counter = {"n": 0}

    def make(username: str | None = None, password: str = "correct horse battery", **extra):
        counter["n"] += 1
        username = username or f"user{counter['n']}"
        extra.setdefault("email", f"{username}@example.com")
        extra.setdefault("language", "en")
        return django_user_model.objects.create_user(username=username, password=password, **extra)

    return make


@pytest.fixture
def tenant(db, make_user):
    """A factory for a workspace with one brand, its owner, and optional members by role."""
    from tertulia.core import services
    from tertulia.core.services import Ctx

    def build(name: str, **members_by_role):
        owner = make_user(f"{name.lower()}_owner")
        ctx = Ctx(owner, via="test")
        org = services.do_create_organization(ctx, f"{name} Agency")
        brand = services.do_create_brand(ctx, org, name=f"{name} Brand", timezone="Europe/Madrid", language="es")
        people = {"owner": owner}
        for role_key, username in members_by_role.items():
            user = make_user(username)
            services.do_add_member(ctx, brand, user, Role(role_key).value)
            people[role_key] = user
        return brand, people

    return build


@pytest.fixture
def brand_a(tenant):
    return tenant("Alpha", manager="alpha_manager", community_manager="alpha_cm", analyst="alpha_analyst",
                  client_reviewer="alpha_client")


@pytest.fixture
def brand_b(tenant):
    return tenant("Beta", community_manager="beta_cm")
