"""The one kubelet endpoint the apiserver needs from this node: container logs, so that
`kubectl logs [-f] [--previous] [--tail N]` works."""

from __future__ import annotations

import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# (namespace, pod, container, previous) -> (log file, is the container still running)
LogLookup = Callable[[str, str, str, bool], tuple[Path | None, Callable[[], bool]]]


def serve(host: str, port: int, cert: Path, key: Path, lookup: LogLookup) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            url = urllib.parse.urlparse(self.path)
            parts = url.path.strip("/").split("/")
            if len(parts) != 4 or parts[0] != "containerLogs":
                self.send_error(404, "only /containerLogs/<namespace>/<pod>/<container> is served")
                return
            query = urllib.parse.parse_qs(url.query)
            previous = query.get("previous", ["false"])[0] == "true"
            path, running = lookup(parts[1], parts[2], parts[3], previous)
            if path is None:
                self.send_error(404, f"no logs for container {parts[3]} of pod {parts[1]}/{parts[2]}")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            data = path.read_bytes()
            if "tailLines" in query:
                lines = data.splitlines(keepends=True)
                data = b"".join(lines[-int(query["tailLines"][0]) :]) if int(query["tailLines"][0]) else b""
            self.wfile.write(data)
            self.wfile.flush()
            if query.get("follow", ["false"])[0] != "true":
                return
            offset = path.stat().st_size
            with path.open("rb") as stream:
                stream.seek(offset)
                while True:
                    chunk = stream.read(65536)
                    if chunk:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                    elif not running():
                        return
                    else:
                        time.sleep(0.2)

    server = ThreadingHTTPServer((host, port), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="kubelet-api", daemon=True).start()
    return server
