"""Client against real loopback servers: redirects never carry the key; webhooks; the auto-emulator."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from client_fixtures import KEY, status_json, wav_bytes

from zonos_lab import errors as E
from zonos_lab.client import ZonosClient
from zonos_lab.client.models import JobStatus
from zonos_lab.webhooks import WebhookReceiver


class Recorder:
    def __init__(self, routes):
        self.routes = routes
        self.seen: list[tuple[str, dict]] = []
        rec = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                rec.seen.append((self.path, dict(self.headers)))
                code, headers, body = rec.routes(self.path)
                self.send_response(code)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers():
    other = Recorder(lambda p: (200, {"content-type": "audio/wav"}, wav_bytes()))

    def gw_routes(path):
        if path.startswith("/v2/requests/status/"):
            return 302, {"location": other.url + "/steal"}, b""
        return 302, {"location": other.url + "/media.wav"}, b""

    gw = Recorder(gw_routes)
    yield gw, other
    gw.close()
    other.close()


def test_redirects_never_carry_the_key(servers, tmp_path):
    gw, other = servers
    with ZonosClient(api_key=KEY, base_url=gw.url, max_retries=0) as c:
        with pytest.raises(E.ProtocolError, match="redirect"):
            c.status("r1")
        assert other.seen == [], "the API client must not follow a redirect"
        d = status_json("COMPLETED")
        d["output"]["media_url"] = [gw.url + "/cdn/out.wav"]
        path = c.download(JobStatus.from_json(d), tmp_path / "x.wav")
    assert path.read_bytes()[:4] == b"RIFF"
    assert [p for p, _ in other.seen] == ["/media.wav"]
    assert gw.seen[0][0] == "/v2/requests/status/r1" and gw.seen[0][1]["Ocp-Apim-Subscription-Key"] == KEY
    media_requests = gw.seen[1:] + other.seen
    assert [p for p, _ in media_requests] == ["/cdn/out.wav", "/media.wav"]
    for _, headers in media_requests:
        assert KEY not in json.dumps(headers)


def post(url, payload):
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status


def test_webhook_receiver_keeps_early_callbacks_and_matches_ids():
    with WebhookReceiver() as hooks:
        assert post(hooks.url, status_json("PROCESSING", rid="a")) == 204
        assert post(hooks.url, status_json("COMPLETED", rid="a")) == 204  # before anyone waits
        threads = [threading.Thread(target=post, args=(hooks.url, status_json("ERROR", rid=f"c{i}")))
                   for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert hooks.wait("a", timeout=1).is_completed
        assert [s.status for s in hooks.history("a")] == ["PROCESSING", "COMPLETED"]
        assert all(hooks.wait(f"c{i}", timeout=1).status == "ERROR" for i in range(20))
        with pytest.raises(E.WaitTimeout) as info:
            hooks.wait("nope", timeout=0.05)
        assert info.value.request_id == "nope"
        with pytest.raises(urllib.error.HTTPError):
            post(hooks.url, {"status": "BOGUS"})
        assert hooks.rejected == 1


def test_webhook_receiver_async():
    async def main():
        with WebhookReceiver() as hooks:
            task = asyncio.create_task(hooks.await_status("z", timeout=5))
            await asyncio.sleep(0.01)
            await asyncio.to_thread(post, hooks.url, status_json("QUEUED", rid="z"))
            assert not task.done()
            await asyncio.to_thread(post, hooks.url, status_json("FAILED", rid="z", error="bad"))
            st = await task
            with pytest.raises(E.WaitTimeout):
                await hooks.await_status("never", timeout=0.05)
            return st

    assert asyncio.run(main()).status == "FAILED"


def test_debug_logging_of_real_requests_is_redacted(caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    gw = Recorder(lambda p: (200, {"content-type": "application/json"},
                             json.dumps(status_json("QUEUED")).encode()))
    try:
        with ZonosClient(api_key=KEY, base_url=gw.url) as c:
            c.status("r1")
            logging.getLogger("httpcore.http11").debug("send_request_headers %r",
                                                       [(b"Ocp-Apim-Subscription-Key", KEY.encode())])
    finally:
        gw.close()
    assert "httpcore" in caplog.text and "HTTP Request" in caplog.text
    assert KEY not in caplog.text


def test_async_client_refuses_a_second_loop():
    from zonos_lab.client import AsyncZonosClient

    c = AsyncZonosClient(api_key=KEY, base_url="http://127.0.0.1:9", max_retries=0)
    with pytest.raises(E.ConnectionFailed):
        asyncio.run(c.status("r1"))
    with pytest.raises(RuntimeError, match="event loop"):
        asyncio.run(c.status("r1"))
