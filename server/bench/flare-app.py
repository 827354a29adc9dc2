"""The Flare bench's app, as a user would run it in their notebook pod (which has Python and tornado,
from Jupyter Server, but no Node.js): a small HTML page and a WebSocket echo, like the test app
(server/test/fixtures/flare/app.mjs). Listens on every address: the gateway reaches the pod's IP.
Usage: python3 flare-app.py <port>"""
import sys

import tornado.ioloop
import tornado.web
import tornado.websocket


class Page(tornado.web.RequestHandler):
    def get(self):
        self.set_header("x-app", "flare-bench")
        self.write("<html><body><h1>Flare bench app</h1></body></html>")


class Echo(tornado.websocket.WebSocketHandler):
    def check_origin(self, origin):
        return True

    def on_message(self, message):
        self.write_message(f"echo:{message}")


def main():
    app = tornado.web.Application([(r"/ws", Echo), (r"/.*", Page)])
    app.listen(int(sys.argv[1]), address="0.0.0.0")
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
