"""Issue 12's attacks, each run against the site started the way the README does (``scripts/run.sh``: gunicorn with
the Procfile's workers, the Celery worker and scheduler, nothing set: DEBUG off, a random key kept under var/,
SQLite, the file cache), and each refused or bounded.

Every request comes from 127.0.0.1, like a class behind one school router. Clients keep their ``digits_client``
cookie as browsers do (:class:`Browser`), so the cookie-less budget of that address is not spent by the test itself.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import sqlite3
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core import signing
from PIL import Image, ImageDraw

from bench.drawing import data_url, draw_digit
from tests.support.site import Site, running_site

pytestmark = pytest.mark.slow

PREDICT = "/api/predictions/"
NUMBERS = "/api/numbers/"
#: The key the source used to carry for DEBUG: an attacker knows it.
PUBLIC_KEY = "django-insecure-development-only-key-change-me"
#: set_signed_cookie's salt for the client cookie: its name, then recognizer.api.authentication.SALT.
COOKIE_SALT = "digits_clientrecognizer.client"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with running_site(tmp_path_factory.mktemp("attacks")) as running:
        yield running


class Browser:
    """A client that keeps its cookies, as a browser does."""

    def __init__(self, site: Site) -> None:
        self.site, self.cookies = site, {}

    def call(self, method: str, path: str, body: object = None, raw: bytes | None = None) -> tuple[int, dict, bytes]:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection = http.client.HTTPConnection("127.0.0.1", self.site.port, timeout=60)
        try:
            payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            headers = {"Content-Type": "application/json", **({"Cookie": cookie} if cookie else {})}
            connection.request(method, path, payload, headers)
            response = connection.getresponse()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key] = rest.split(";", 1)[0]
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def json(self, method: str, path: str, body: object = None) -> tuple[int, dict]:
        status, _, data = self.call(method, path, body)
        return status, json.loads(data) if data else {}

    def predict(self, digit: int = 7) -> tuple[int, dict]:
        return self.json("POST", PREDICT, {"image": data_url(draw_digit(digit))})


def database(site: Site) -> sqlite3.Connection:
    return sqlite3.connect(site.var / "db.sqlite3", timeout=20)


def strokes(count: int, width: int = 2400, height: int = 280) -> Image.Image:
    image = Image.new("L", (width, height), 255)
    pen = ImageDraw.Draw(image)
    for i in range(count):
        x = int((i + 0.5) * width / count)
        pen.line([(x, 40), (x, height - 40)], fill=0, width=8)
    return image


def test_thirty_children_behind_one_router_are_never_throttled_and_a_flooding_client_is(site) -> None:
    """The load test: 30 clients from one address, each drawing a digit every 2 s for 20 s (a brisk classroom),
    while one client floods as fast as it can (four connections). The class gets no 429; the flood does."""
    children = [Browser(site) for _ in range(30)]
    flood = Browser(site)
    flood.predict()  # it has its cookie, like any browser
    stop = time.monotonic() + 20
    statuses: dict[str, list[int]] = {"class": [], "flood": []}
    latencies: list[float] = []

    def child(browser: Browser, offset: float) -> None:
        time.sleep(offset)
        while time.monotonic() < stop:
            started = time.perf_counter()
            statuses["class"].append(browser.predict(3)[0])
            latencies.append(time.perf_counter() - started)
            time.sleep(max(0.0, 2.0 - (time.perf_counter() - started)))

    def flooding() -> None:
        # Four connections at once with the same cookie, during the class's 20 s and on (alone) until refused.
        while time.monotonic() < stop or (429 not in statuses["flood"] and time.monotonic() < stop + 60):
            statuses["flood"].append(flood.predict(1)[0])

    threads = [threading.Thread(target=child, args=(b, i * 2 / 30)) for i, b in enumerate(children)]
    threads += [threading.Thread(target=flooding) for _ in range(4)]
    first_window = int(time.time() // 60)  # the throttle's fixed windows: a minute each, by the clock
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    windows = int(time.time() // 60) - first_window + 1
    print(
        f"class: {len(statuses['class'])} predictions, statuses {sorted(set(statuses['class']))}, "
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms; "
        f"flood: {statuses['flood'].count(201)} admitted, {statuses['flood'].count(429)} refused"
    )
    assert set(statuses["class"]) == {201}
    assert len(statuses["class"]) >= 30 * 8
    assert statuses["flood"].count(429) > 0
    # At most its limit in each fixed window it spanned, give or take the embedded file cache's increments, which are
    # a read then a write and so lose a few counts to concurrent requests (130 admitted in one window was measured;
    # Redis, for production, counts atomically): a quarter more is the bound, far below an unthrottled flood.
    assert statuses["flood"].count(201) <= windows * 120 * 1.25


def test_no_debug_page_and_every_api_error_is_json(site) -> None:
    browser = Browser(site)
    status, _, body = browser.call("GET", "/no-such-page/")
    assert status == 404
    assert b"Traceback" not in body
    assert b"SECRET_KEY" not in body
    assert b"urlpatterns" not in body.lower()
    for method, path, raw, expected in [
        ("POST", "/api/predictions", json.dumps({"image": data_url(draw_digit(7))}).encode(), 308),
        ("POST", PREDICT, b"[" * 50_000 + b"]" * 50_000, 400),
        ("POST", NUMBERS, b'{"image": ' * 20_000 + b"1" + b"}" * 20_000, 400),
        ("POST", PREDICT, b'{"image": "data:image/png;base64,AAAA"}', 400),
        ("POST", PREDICT, b"{not json", 400),
        ("GET", "/api/no-such-thing/", None, 404),
        ("DELETE", PREDICT, None, 405),
    ]:
        status, headers, body = browser.call(method, path, raw=raw)
        assert status == expected, (path, status, body[:300])
        assert headers["content-type"].startswith("application/json"), (path, headers)
        assert "code" in json.loads(body)


def test_the_signing_key_is_random_and_private_so_the_public_one_forges_nothing(site) -> None:
    victim = Browser(site)
    status, drawn = victim.predict(7)
    assert status == 201
    kept = site.var / "secret_key"
    assert kept.stat().st_mode & 0o777 == 0o600
    with database(site) as db:
        (victim_key,) = db.execute("SELECT client_key FROM recognizer_drawing WHERE id = ?", (drawn["id"],)).fetchone()
    token = signing.dumps(drawn["id"], key=PUBLIC_KEY, salt="recognizer.correction")
    status, _ = Browser(site).json("POST", f"{PREDICT}{drawn['id']}/correction/", {"label": 1, "token": token})
    assert status == 403
    signer = signing.TimestampSigner(
        key=b"django.http.cookies" + PUBLIC_KEY.encode(), salt="digits_clientrecognizer.client"
    )
    cookie = signer.sign(victim_key)  # what set_signed_cookie would make with the public key
    forger = Browser(site)
    forger.cookies["digits_client"] = cookie
    assert forger.call("GET", f"{PREDICT}{drawn['id']}/")[0] == 404
    assert victim.call("GET", f"{PREDICT}{drawn['id']}/")[0] == 200


def test_media_is_not_public(site) -> None:
    owner, stranger = Browser(site), Browser(site)
    status, drawn = owner.predict(4)
    assert status == 201
    with database(site) as db:
        artifacts = db.execute("SELECT keras_file, tflite_file FROM recognizer_modelversion").fetchall()
        (image,) = db.execute("SELECT image FROM recognizer_drawing WHERE id = ?", (drawn["id"],)).fetchone()
    for name in (n for row in artifacts for n in row):
        assert stranger.call("GET", f"/media/{name}")[0] == 404, name
    assert len(image.rsplit("/", 1)[-1]) > 20  # a random name
    assert stranger.call("GET", f"/media/{image}")[0] == 404
    status, _, body = owner.call("GET", f"/media/{image}")
    assert status == 200
    assert body.startswith(b"\x89PNG")
    assert stranger.call("GET", "/media/../db.sqlite3")[0] == 404


def test_a_number_of_eighty_strokes_is_refused_at_once_and_the_site_stays_responsive(site) -> None:
    attack = json.dumps({"image": data_url(strokes(80))}).encode()
    browsers = [Browser(site) for _ in range(2)]
    browsers[0].predict()
    browsers[1].predict()
    with ThreadPoolExecutor(3) as pool:
        started = time.perf_counter()
        attacks = [pool.submit(b.call, "POST", NUMBERS, None, attack) for b in browsers]
        time.sleep(0.1)
        health = pool.submit(Browser(site).call, "GET", "/healthz")
        assert health.result()[0] == 200
        health_s = time.perf_counter() - started
        answers = [a.result() for a in attacks]
        elapsed = time.perf_counter() - started
    print(f"two 80-stroke numbers refused in {elapsed:.2f} s; /healthz meanwhile in {health_s:.2f} s")
    for status, _, body in answers:
        assert status == 400
        assert json.loads(body)["code"] == "number_too_large"
    # How fast is measured, not asserted (0.28 s on a quiet machine, docs/reliability.md); that no digit is read is
    # asserted in-process by test_hardening.py.


def test_slow_clients_hold_neither_every_worker_nor_a_thread_for_long(site) -> None:
    """Twelve connections that each send half a request and stop: two were enough to block both sync workers
    before; the Procfile's 2 gthread workers x 8 threads still answer a real request at once, and drop each silent
    connection after DIGITS_CLIENT_TIMEOUT (10 s) of silence, freeing its thread."""
    browser = Browser(site)
    assert browser.predict()[0] == 201  # the model is loaded before the slow clients come
    slow = []
    for _ in range(12):
        connection = socket.create_connection(("127.0.0.1", site.port))
        connection.sendall(
            b"POST /api/predictions/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n{"
        )
        slow.append(connection)
    dropped_at: list[float] = []

    def wait_for_drop(connection: socket.socket) -> None:
        connection.settimeout(60)  # a connection held for ever fails the test below (no drop time)
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            connection.recv(4096)  # returns when the server answers or closes it
            dropped_at.append(time.monotonic())

    watchers = [threading.Thread(target=wait_for_drop, args=(c,)) for c in slow]
    for watcher in watchers:
        watcher.start()
    try:
        started = time.monotonic()
        status, _ = browser.predict()
        answered_at = time.monotonic()
        assert status == 201
        for watcher in watchers:
            watcher.join(90)
        print(
            f"a prediction behind 12 slow clients answered in {answered_at - started:.2f} s; "
            f"they were dropped by {max(dropped_at, default=float('nan')) - started:.1f} s"
        )
        assert len(dropped_at) == 12  # every slow connection was dropped, none held for ever
        # Answered at once when it reached a worker with a free thread, else as soon as that worker dropped its slow
        # connections (DIGITS_CLIENT_TIMEOUT): never later than the last of them plus the request's own time (a CI
        # run answered 5 ms after the last drop, at 10.04 s). Behind nginx no thread waits at all.
        assert answered_at <= max(dropped_at) + 1.0
    finally:
        for connection in slow:
            connection.close()


def test_admin_login_guessing_is_slowed_then_locked(site) -> None:
    guesser = Browser(site)
    _, _, page = guesser.call("GET", "/admin/login/")
    token = page.split(b'name="csrfmiddlewaretoken" value="', 1)[1].split(b'"', 1)[0].decode()

    def guess(password: str) -> tuple[int, float]:
        body = f"csrfmiddlewaretoken={token}&username=teacher&password={password}".encode()
        cookie = "; ".join(f"{k}={v}" for k, v in guesser.cookies.items())
        connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=60)
        started = time.perf_counter()
        connection.request(
            "POST",
            "/admin/login/",
            body,
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie, "Referer": site.base + "/"},
        )
        response = connection.getresponse()
        response.read()
        connection.close()
        return response.status, time.perf_counter() - started

    answers = [guess(f"guess-{i}") for i in range(6)]
    print("admin login guesses:", [(s, round(t, 2)) for s, t in answers])
    assert [s for s, _ in answers[:4]] == [200] * 4  # the form again, each answered after the delay
    assert all(t >= 1.0 for _, t in answers[:4])
    assert [s for s, _ in answers[4:]] == [429, 429]  # locked from the fifth failure


def test_corrections_are_final_expire_and_take_plain_digits_only(site) -> None:
    client = Browser(site)
    status, drawn = client.predict(7)
    url = drawn["correction_url"].replace(site.base, "")
    assert client.json("POST", url, {"label": "\u0667", "token": drawn["correction_token"]})[0] == 400
    assert client.json("POST", url, {"label": "+7", "token": drawn["correction_token"]})[0] == 400
    assert client.json("POST", url, {"label": 7, "token": drawn["correction_token"]})[0] == 200
    key = (site.var / "secret_key").read_text().strip()
    real_time = time.time
    try:
        signing.time.time = lambda: real_time() - 25 * 3600
        old = signing.dumps(drawn["id"], key=key, salt="recognizer.correction")
    finally:
        signing.time.time = real_time
    assert Browser(site).json("POST", url, {"label": 2, "token": old})[0] == 403  # a day-old token has expired
    with database(site) as db:  # staff confirm it (what the admin's actions write)
        db.execute("UPDATE recognizer_drawing SET reviewed_at = CURRENT_TIMESTAMP WHERE id = ?", (drawn["id"],))
    status, body = client.json("POST", url, {"label": 1, "token": drawn["correction_token"]})
    assert (status, body["code"]) == (409, "correction_locked")
    with database(site) as db:
        row = db.execute(
            "SELECT corrected_label, reviewed_at IS NOT NULL FROM recognizer_drawing WHERE id = ?", (drawn["id"],)
        ).fetchone()
    assert row == (7, 1)


def test_a_client_clearing_its_cookie_is_still_one_network(site) -> None:
    ids = []
    for _ in range(5):
        status, drawn = Browser(site).predict(1)  # a new cookie-less client each time
        assert status == 201
        ids.append(drawn["id"])
    query = (
        "SELECT d.client_key, s.network_key FROM recognizer_drawing d JOIN recognizer_submission s "
        "ON s.id = d.submission_id WHERE d.id >= ? AND d.id <= ?"
    )
    with database(site) as db:
        rows = db.execute(query, (min(ids), max(ids))).fetchall()
    assert len({client for client, _ in rows}) == 5
    assert len({network for _, network in rows}) == 1
    assert len(rows[0][1]) == 16  # a key, not the address
