"""An HTTP server with byte-range answers (206), as cloud object stores give, for GDAL's /vsicurl/.

Run as its own process (GDAL holds the GIL while it waits for an answer, so a server thread in the
test's process would never reply): python range_server.py FOLDER [CERT KEY] prints the port, then
serves FOLDER on 127.0.0.1 (over HTTPS with CERT and KEY) until stopped."""

import http.server
import re
import sys
from pathlib import Path


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Files with single byte-range answers."""

    def do_GET(self):  # noqa: N802 - http.server's naming
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            return self.send_error(404)
        data = path.read_bytes()
        match = re.match(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2)) if match.group(2) else len(data) - 1, len(data) - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            data = data[start:end + 1]
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a, **k: RangeHandler(*a, directory=sys.argv[1], **k))
    if len(sys.argv) == 4:  # CERT KEY: HTTPS
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[2], sys.argv[3])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()
