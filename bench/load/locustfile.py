"""Locust scenario for ``bench/bench_load.py``: community managers working on one big brand.

Run by bench_load.py as a subprocess (never imported by pytest: locust monkey-patches with gevent):

    LOAD_CONFIG=/tmp/…/load.json locust -f bench/load/locustfile.py --headless -u 50 -r 25 -t 60s \
        --host http://127.0.0.1:PORT --csv /tmp/…/u50

``LOAD_CONFIG`` is a JSON file written by bench_load.py: the brand, its CMs (username, password,
API token), a sample of the brand's conversations and accounts, and the month to show. Each
simulated user signs in once through the login form (with its CSRF token), as one of the CMs in
turn, then works through a weighted mix until the run ends: the calendar's month view, the inbox
list (a few filters a CM uses), one conversation, the brand's analytics dashboard, a new post
(the compose form, then its POST with the CSRF token), and three API reads with the CM's token.

Two phases. Sign-in: every user signs in (argon2 checks the password: ~0.2 s of CPU each) and
waits until all have. Then the statistics are reset, each user starts after a random part of one
think time (no thundering herd), and the mix runs for ``LOAD_MEASURE_SECONDS``; locust then quits,
so its CSV holds the measured window only. Every response is checked (status code, and for the
pages a marker that must be in the body), so a login page served instead of the inbox, a 500 or a
form that did not save counts as a failure. With ``LOAD_SAMPLES`` set, every response time is also
written there at the end (the mix's, and the sign-in phase's apart, with its duration and failures),
for exact percentiles over the whole mix.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time

import gevent
from gevent.event import Event
from locust import HttpUser, between, events, task

CONFIG = json.loads(open(os.environ["LOAD_CONFIG"], encoding="utf-8").read())
BRAND = CONFIG["brand_id"]
CMS = CONFIG["users"]
CONVERSATIONS = CONFIG["conversation_ids"]
ACCOUNTS = CONFIG["account_ids"]
MEASURE_SECONDS = float(os.environ.get("LOAD_MEASURE_SECONDS", "60"))
WAIT = (float(os.environ.get("LOAD_WAIT_MIN", "1")), float(os.environ.get("LOAD_WAIT_MAX", "3")))
_next_cm = itertools.count()
_samples: dict[str, list[float]] = {}  # the measured window
_signin: dict = {"samples": {}, "failures": 0, "started": None, "all_in": None, "users": 0}
_all_in = Event()

# The inbox filters a CM flips between most (a subset of bench_inbox.py's list).
INBOX_QUERIES = ["", "?sentiment=negative", "?assignee=none", "?sort=due", "?intent=complaint", "?sort=priority"]
EDIT_URL = re.compile(r"/brands/\d+/posts/\d+/edit/$")


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception, **kwargs):
    if not _all_in.is_set():
        _signin["samples"].setdefault(name, []).append(response_time)
        _signin["failures"] += exception is not None
    elif exception is None:
        _samples.setdefault(name, []).append(response_time)


@events.quitting.add_listener
def _dump(environment, **kwargs):
    path = os.environ.get("LOAD_SAMPLES")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"mix": _samples, "signin": _signin}, fh)


def _why(response) -> str:
    if response.status_code == 0:  # no HTTP answer: the connection failed
        return f"no answer: {type(response.error).__name__}: {str(response.error)[:120]}"
    return f"HTTP {response.status_code}"


def _signed_in(environment) -> None:
    """One more user is in; the last one starts the measured window."""
    _signin["users"] += 1
    if _signin["users"] >= environment.runner.target_user_count and not _all_in.is_set():
        _signin["all_in"] = time.monotonic()
        _signin["seconds"] = round(_signin["all_in"] - (_signin["started"] or _signin["all_in"]), 2)
        environment.runner.stats.reset_all()
        _all_in.set()
        if os.environ.get("LOAD_MARK"):  # tells bench_load.py the measured window starts now
            open(os.environ["LOAD_MARK"], "w").close()
        gevent.spawn_later(MEASURE_SECONDS, environment.runner.quit)


class CommunityManager(HttpUser):
    wait_time = between(*WAIT)

    def on_start(self):
        self.cm = CMS[next(_next_cm) % len(CMS)]
        self.client.headers["Accept-Language"] = self.cm.get("language", "es")
        self.api = {"Authorization": f"Bearer {self.cm['token']}"}
        _signin["started"] = _signin["started"] or time.monotonic()
        try:
            self.client.get("/login/", name="login form")
            token = self.client.cookies.get("csrftoken", "")
            with self.client.post("/login/", name="login", allow_redirects=False, catch_response=True,
                                  data={"username": self.cm["username"], "password": self.cm["password"],
                                        "csrfmiddlewaretoken": token}) as r:
                if r.status_code != 302:
                    r.failure(f"login answered {r.status_code}")
        finally:
            _signed_in(self.environment)
        _all_in.wait()
        # The wait may have outlasted the server's keep-alive: start the measured window on fresh
        # connections (the cookies stay) rather than on ones the server is closing.
        self.client.close()
        gevent.sleep(random.uniform(0, WAIT[1]))

    def _page(self, url: str, name: str, marker: str) -> None:
        with self.client.get(url, name=name, allow_redirects=False, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(_why(r))
            elif marker not in r.text:
                r.failure(f"not the expected page (no {marker!r})")

    def _api(self, url: str, name: str, key: str | None = None) -> None:
        with self.client.get(url, name=name, headers=self.api, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(_why(r))
            elif key is not None and key not in r.json():
                r.failure(f"no {key!r} in the answer")

    @task(3)
    def calendar_month(self):
        self._page(f"/brands/{BRAND}/calendar/?view=month&date={CONFIG['month']}", "calendar (month)",
                   'id="main"')

    @task(4)
    def inbox_list(self):
        self._page(f"/brands/{BRAND}/inbox/{random.choice(INBOX_QUERIES)}", "inbox list", 'id="main"')

    @task(4)
    def conversation(self):
        self._page(f"/brands/{BRAND}/inbox/{random.choice(CONVERSATIONS)}/", "conversation", 'id="main"')

    @task(2)
    def dashboard(self):
        self._page(f"/brands/{BRAND}/analytics/?period={random.choice(['7d', '30d', 'month'])}",
                   "analytics dashboard", 'id="main"')

    @task(1)
    def post_create(self):
        self._page(f"/brands/{BRAND}/compose/", "compose (form)", 'name="csrfmiddlewaretoken"')
        token = self.client.cookies.get("csrftoken", "")
        data = {"csrfmiddlewaretoken": token, "text": f"[load] {self.cm['username']} {random.random():.8f}",
                "format": "text", "accounts": random.sample(ACCOUNTS, min(2, len(ACCOUNTS))), "action": "save"}
        with self.client.post(f"/brands/{BRAND}/compose/", name="compose (POST, new draft)", data=data,
                              allow_redirects=False, catch_response=True) as r:
            if r.status_code != 302 or not EDIT_URL.search(r.headers.get("Location", "")):
                r.failure(f"{_why(r)}: the draft was not saved")

    @task(2)
    def api_conversations(self):
        self._api(f"/api/v1/brands/{BRAND}/conversations?limit=25", "API conversations", "items")

    @task(1)
    def api_posts(self):
        self._api(f"/api/v1/brands/{BRAND}/posts?limit=25", "API posts", "items")

    @task(1)
    def api_calendar(self):
        self._api(f"/api/v1/brands/{BRAND}/calendar?start={CONFIG['month_start']}&end={CONFIG['month_end']}",
                  "API calendar (month)", "items")
