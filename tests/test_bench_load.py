"""bench/bench_load.py's readers of locust's CSV and gunicorn's access log (no database, no
locust in this process: gevent would monkey-patch pytest)."""

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import bench_load  # noqa: E402

HEADER = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
          "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
          "99.99%,100%")


def test_locust_stats_csv_per_endpoint_and_aggregated(tmp_path):
    prefix = tmp_path / "u50"
    (tmp_path / "u50_stats.csv").write_text("\n".join([
        HEADER,
        "GET,inbox list,120,0,41,52.5,12.1,388.2,30500.0,2.01,0.0,41,48,55,60,80,110,150,210,380,390,390",
        'POST,"compose (POST, new draft)",12,1,90,95.0,60.0,180.4,0.0,0.2,0.01,90,95,100,100,150,170,180,180,180,180,180',
        "GET,login,0,0,0,0.0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A",
        ",Aggregated,132,1,44,56.3,12.1,388.2,27727.0,2.21,0.01,44,50,57,62,85,120,160,200,380,390,390",
    ]) + "\n")
    rows = bench_load.read_locust_csv(prefix)
    assert rows["inbox list"] == {"requests": 120, "failures": 0, "rps": 2.01, "p50_ms": 41.0, "p95_ms": 110.0,
                                  "p99_ms": 210.0, "max_ms": 388.2}
    assert rows["compose (POST, new draft)"]["failures"] == 1  # a quoted name with a comma
    assert rows["login"]["p95_ms"] is None and rows["login"]["requests"] == 0
    assert rows["Aggregated"]["p95_ms"] == 120.0 and rows["Aggregated"]["requests"] == 132


def test_locust_failures_csv(tmp_path):
    (tmp_path / "u50_failures.csv").write_text(
        "Method,Name,Error,Occurrences,First Seen,Last Seen\n"
        "GET,analytics dashboard,CatchResponseError('HTTP 500'),37,2026-11-26T11:37:00Z,2026-11-26T11:38:00Z\n")
    assert bench_load.read_failures(tmp_path / "u50") == [
        {"name": "analytics dashboard", "error": "CatchResponseError('HTTP 500')", "count": 37}]
    assert bench_load.read_failures(tmp_path / "none") == []


def test_access_log_server_time_per_route_within_the_window(tmp_path):
    log = tmp_path / "access.log"
    before = "GET /login/ 200 900000\n"
    window = ("GET /brands/12/inbox/ 200 40000\nGET /brands/12/inbox/ 200 60000\n"
              "GET /brands/12/inbox/4521/ 200 80000\nGET /api/v1/brands/12/conversations 200 15000\n"
              "a line that is not ours\n")
    log.write_text(before + window)
    routes = bench_load.read_access_log(log, len(before), len(before) + len(window))
    assert set(routes) == {"GET /brands/<id>/inbox/", "GET /brands/<id>/inbox/<id>/",
                           "GET /api/v1/brands/<id>/conversations"}
    assert routes["GET /brands/<id>/inbox/"]["requests"] == 2
    assert routes["GET /brands/<id>/inbox/<id>/"]["p95_ms"] == 80.0


@pytest.mark.parametrize(("values", "q", "expected"), [([5.0], 95, 5.0), (list(range(1, 101)), 50, 51),
                                                       (list(range(1, 101)), 95, 95), ([], 95, None)])
def test_percentile(values, q, expected):
    assert bench_load.percentile([float(v) for v in values], q) == expected


def test_locustfile_is_valid_python_with_the_mix():
    tree = ast.parse((ROOT / "bench" / "load" / "locustfile.py").read_text())
    tasks = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
             and any(isinstance(d, ast.Call) and getattr(d.func, "id", "") == "task" for d in node.decorator_list)}
    assert tasks == {"calendar_month", "inbox_list", "conversation", "dashboard", "post_create",
                     "api_conversations", "api_posts", "api_calendar"}
