"""A TCP server on 127.0.0.1 that accepts connections and never says a
word: for timeouts and for signals that must end a wait."""
import socket
import threading


class SilentServer:
    def __init__(self):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.srv.settimeout(0.2)
        self.port = self.srv.getsockname()[1]
        self.connections = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self):
        while not self._stop.is_set():
            try:
                self.connections.append(self.srv.accept()[0])
            except OSError:
                pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.srv.close()
        for c in self.connections:
            c.close()
        return False
