"""Serves a directory on 127.0.0.1:PORT, cross-origin isolated (COOP/COEP), so TF.js's wasm
backend may use threads as cnnscope's adapter does. Usage: python3 serve.py DIR PORT"""
import functools
import http.server
import sys


class Isolated(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()

    def log_message(self, *args):
        pass


directory, port = sys.argv[1], int(sys.argv[2])
http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Isolated, directory=directory)).serve_forever()
