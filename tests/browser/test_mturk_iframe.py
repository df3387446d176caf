"""An MTurk worker takes the study the way MTurk shows it: over HTTPS, inside an iframe of a page on another
site, in a browser that blocks third-party cookies, ending at the externalSubmit form with the assignmentId
of the accepted assignment (a re-accepted one included)."""
from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.studies.factories import make_study, make_user

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

PARENT_HOST = "worker.test"


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1: with the `cryptography` package when installed, else openssl."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        import datetime

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID
    except ImportError:
        if not shutil.which("openssl"):
            pytest.skip("neither the cryptography package nor the openssl command is available")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        return cert, key
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    import ipaddress

    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                               x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .sign(private, hashes.SHA256()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert, key


class TlsProxy:
    """Terminates TLS on a local port and pipes the bytes to the plain-HTTP live server."""

    def __init__(self, target_port: int, context: ssl.SSLContext):
        self.target_port, self.context = target_port, context
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            client = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        upstream = socket.create_connection(("127.0.0.1", self.target_port))

        def pipe(source, sink):
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                for end in (source, sink):
                    try:
                        end.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)

    def close(self) -> None:
        self.running = False
        self.listener.close()


class ParentSite:
    """The "MTurk" page on another site (https://worker.test, resolved to this machine) framing the study."""

    def __init__(self, context: ssl.SSLContext):
        self.frame_url = ""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = (f'<!doctype html><title>HIT</title><h1>Worker site</h1>'
                        f'<iframe id="hit" src="{owner.frame_url}" width="1000" height="1200"></iframe>').encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.origin = f"https://{PARENT_HOST}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def _without_resolver_rules(args: list[str]) -> list[str]:
    return [arg for arg in args if not arg.startswith("--host-resolver-rules=")]


@pytest.fixture
def blocked_third_party_cookies_browser(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    import os

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    # Chromium's own setting "Block third-party cookies" (cookie_controls_mode 1).
    (profile / "Default" / "Preferences").write_text(json.dumps(
        {"profile": {"cookie_controls_mode": 1, "block_third_party_cookies": True}}))
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, ignore_https_errors=True,
            args=[*_without_resolver_rules(CHROMIUM_ARGS), "--test-third-party-cookie-phaseout",
                  f"--host-resolver-rules=MAP app.prolific.com ~NOTFOUND, MAP {PARENT_HOST} 127.0.0.1"],
            viewport={"width": 1100, "height": 1400})
        try:
            yield context
        finally:
            context.close()


def test_an_mturk_worker_completes_the_study_in_a_cross_site_iframe_without_cookies(
        live_server, blocked_third_party_cookies_browser, tmp_path, settings):
    from studies.models import Participant

    cert, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    proxy = TlsProxy(urlsplit(live_server.url).port, context)
    parent = ParentSite(context)
    try:
        study_origin = f"https://127.0.0.1:{proxy.port}"
        settings.MTURK_FRAME_ANCESTORS = [parent.origin]
        settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
        study = make_study(owner=make_user(), slug="hit-study", platform="mturk")
        submitted: list[dict] = []

        def external_submit(route):
            submitted.append({k: v[0] for k, v in parse_qs(route.request.post_data or "").items()})
            route.fulfill(status=200, content_type="text/html", body="<p>HIT submitted</p>")

        browser = blocked_third_party_cookies_browser
        browser.route("https://www.mturk.com/**", external_submit)
        query = {"assignmentId": "ASSIGN-1", "hitId": "HIT-1", "workerId": "WORKER-1",
                 "turkSubmitTo": "https://www.mturk.com"}
        parent.frame_url = f"{study_origin}/s/{study.slug}/?{urlencode(query)}"
        page = browser.new_page()
        page.goto(parent.origin + "/")
        page.frame_locator("#hit").locator("#agree").wait_for()
        hit = page.frames[1]
        # The positive control: this browser really refuses cookies to the framed (third-party) site.
        probe = "() => { document.cookie = 'probe=1; Secure; SameSite=None'; return document.cookie; }"
        assert hit.evaluate(probe) == ""
        # The worker returns the HIT and accepts it again: same worker, new assignment.
        hit.click("#agree")
        hit.wait_for_url("**/instructions/")
        parent.frame_url = f"{study_origin}/s/{study.slug}/?{urlencode({**query, 'assignmentId': 'ASSIGN-2'})}"
        page.reload()
        page.frame_locator("#hit").locator("#next").wait_for()
        hit = page.frames[1]
        hit.click("#next")
        hit.wait_for_url("**/stimulus/")
        for key, value in (("arms", 6), ("colour", 3), ("attn", 2)):
            hit.check(f'input[name="item-{key}"][value="{value}"]')
        hit.wait_for_function("document.getElementById('save-status').textContent === 'Saved.'")
        hit.click("#next")
        hit.wait_for_url("**/satisfaction/")
        hit.check('input[name="item-useful"][value="5"]')
        hit.click("#next")
        hit.wait_for_url("**/free_text/")
        hit.fill('textarea[name="item-comments"]', "Seen inside the HIT frame.")
        hit.click("#next")
        hit.wait_for_url("**/complete/")
        hit.click("#mturk-submit button")
        for _ in range(50):
            if submitted:
                break
            page.wait_for_timeout(100)
        assert submitted and submitted[0]["assignmentId"] == "ASSIGN-2"
        participant = Participant.objects.get(study=study)
        assert participant.status == Participant.Status.COMPLETED and participant.responses.count() == 5
    finally:
        proxy.close()
        parent.close()
