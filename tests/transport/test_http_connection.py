"""HTTP/1.1 behaviour of the OTLP/HTTP receiver's own connection handling, over raw sockets:
pipelining, `Expect: 100-continue`, limits, malformed input, keep-alive and closing rules."""

from __future__ import annotations

import socket
import time

import pytest

from collector.signals import Signal
from collector.transport import http1
from tests.transport import payloads
from tests.transport.harness import RunningReceiver, default_args, running_receiver

PB = "application/x-protobuf"


def request(body: bytes, path: str = "/v1/logs", *extra: str, version: str = "1.1") -> bytes:
    head = [f"POST {path} HTTP/{version}", "Host: x", f"Content-Type: {PB}", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def read_answers(sock: socket.socket, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """Read `count` whole responses (Content-Length framed) from a socket."""
    buffer = b""
    answers = []
    while len(answers) < count:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed after {len(answers)} answers")
            buffer += chunk
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(buffer) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed inside a body")
            buffer += chunk
        answers.append((status, headers, buffer[:length]))
        buffer = buffer[length:]
    return answers


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def connect(rr: RunningReceiver) -> socket.socket:
    return socket.create_connection(("127.0.0.1", rr.http_port), timeout=10)


def test_pipelined_requests_are_answered_in_order(receiver: RunningReceiver) -> None:
    good = payloads.logs(2).SerializeToString()
    with connect(receiver) as sock:
        sock.sendall(request(good) + request(b"\xff\xff") + request(good) + request(good, "/v1/nowhere") + request(good))
        answers = read_answers(sock, 4)
        assert closed_by_server(sock)  # an answer given before the body is read closes the connection
    assert [status for status, _, _ in answers] == [200, 400, 200, 404]
    assert answers[-1][1]["connection"] == "close"
    assert receiver.admission.items(Signal.LOGS) == 4


def test_every_answer_has_a_date_and_a_length(receiver: RunningReceiver) -> None:
    with connect(receiver) as sock:
        sock.sendall(request(payloads.logs(1).SerializeToString()))
        [(status, headers, body)] = read_answers(sock, 1)
    assert status == 200 and headers["content-type"] == PB
    assert headers["date"].endswith(" GMT") and int(headers["content-length"]) == len(body)


def test_expect_100_continue_is_answered_before_the_body_is_sent(receiver: RunningReceiver) -> None:
    body = payloads.logs(3).SerializeToString()
    with connect(receiver) as sock:
        head, _, _ = request(body, "/v1/logs", "Expect: 100-continue").partition(b"\r\n\r\n")
        sock.sendall(head + b"\r\n\r\n")
        assert sock.recv(64) == http1.CONTINUE
        sock.sendall(body)
        [(status, _, _)] = read_answers(sock, 1)
    assert status == 200 and receiver.admission.items(Signal.LOGS) == 3


def test_expect_100_continue_on_a_wrong_path_gets_the_final_answer_instead(receiver: RunningReceiver) -> None:
    with connect(receiver) as sock:
        head, _, _ = request(b"x" * 10, "/v1/nowhere", "Expect: 100-continue").partition(b"\r\n\r\n")
        sock.sendall(head + b"\r\n\r\n")
        [(status, headers, _)] = read_answers(sock, 1)
        assert status == 404 and headers["connection"] == "close"
        sock.sendall(b"x" * 10)  # the body the client sends anyway is dropped; the server closes
        assert closed_by_server(sock)
    assert not receiver.admission.admitted


def test_a_header_field_over_the_limit_is_431_and_counted(receiver: RunningReceiver) -> None:
    from collector.selfmetrics.otelcol import RECEIVER_REFUSED_REQUESTS

    counter = RECEIVER_REFUSED_REQUESTS.labels("otelcol.receiver.otlp.default", "/", "http", "bad_http_request")
    before = counter._value.get()
    with connect(receiver) as sock:
        sock.sendall(request(b"", "/v1/logs", "X-Big: " + "a" * (http1.MAX_FIELD_BYTES + 1)))
        [(status, headers, _)] = read_answers(sock, 1)
        assert closed_by_server(sock)
    assert status == 431 and headers["connection"] == "close"
    assert counter._value.get() == before + 1


def test_headers_over_the_total_limit_are_431(receiver: RunningReceiver) -> None:
    fields = [f"X-H{i}: " + "a" * 1000 for i in range(http1.MAX_HEADER_BYTES // 1000 + 1)]
    with connect(receiver) as sock:
        sock.sendall(request(b"", "/v1/logs", *fields))
        [(status, _, _)] = read_answers(sock, 1)
    assert status == 431


def test_unparsable_input_is_400_and_the_connection_closes(receiver: RunningReceiver) -> None:
    with connect(receiver) as sock:
        sock.sendall(b"POST /v1/logs HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
        [(status, headers, body)] = read_answers(sock, 1)
        assert closed_by_server(sock)
    assert status == 400 and headers["connection"] == "close" and body.startswith(b"400 Bad Request")


def test_http_1_0_gets_its_answer_then_the_connection_closes(receiver: RunningReceiver) -> None:
    with connect(receiver) as sock:
        sock.sendall(request(payloads.logs(1).SerializeToString(), version="1.0"))
        [(status, headers, _)] = read_answers(sock, 1)
        assert closed_by_server(sock)
    assert status == 200 and headers["connection"] == "close"


def test_connection_close_is_honoured(receiver: RunningReceiver) -> None:
    with connect(receiver) as sock:
        sock.sendall(request(payloads.logs(1).SerializeToString(), "/v1/logs", "Connection: close"))
        [(status, _, _)] = read_answers(sock, 1)
        assert closed_by_server(sock)
    assert status == 200


def test_a_half_closed_client_still_gets_its_answer(receiver: RunningReceiver) -> None:
    with connect(receiver) as sock:
        sock.sendall(request(payloads.logs(2).SerializeToString()))
        sock.shutdown(socket.SHUT_WR)
        [(status, _, _)] = read_answers(sock, 1)
        assert closed_by_server(sock)
    assert status == 200 and receiver.admission.items(Signal.LOGS) == 2


def test_a_large_body_is_decoded_off_the_loop_and_answered_in_order() -> None:
    big = payloads.logs(3000).SerializeToString()
    assert len(big) > 64 * 1024  # over the offload threshold
    small = payloads.logs(1).SerializeToString()
    for rr in running_receiver():
        with connect(rr) as sock:
            sock.sendall(request(big) + request(small))
            answers = read_answers(sock, 2)
        assert [status for status, _, _ in answers] == [200, 200]
        assert [a.item_count for a in rr.admission.admitted] == [3000, 1]


def test_an_idle_keepalive_connection_is_closed() -> None:
    for rr in running_receiver(default_args(idle_timeout=0.2)):
        with socket.create_connection(("127.0.0.1", rr.http_port), timeout=10) as sock:
            sock.sendall(request(payloads.logs(1).SerializeToString()))
            [(status, _, _)] = read_answers(sock, 1)
            assert status == 200
            assert closed_by_server(sock)  # blocks until the idle timeout closes it


def test_shutdown_closes_idle_connections_and_finishes_answers() -> None:
    for rr in running_receiver():
        sock = connect(rr)
        try:
            sock.sendall(request(payloads.logs(1).SerializeToString()))
            read_answers(sock, 1)
            rr.loop.run(rr.component.shutdown(time.monotonic() + 5))
            assert closed_by_server(sock)
        finally:
            sock.close()


def test_a_full_queue_that_frees_room_soon_admits_instead_of_refusing(receiver: RunningReceiver) -> None:
    """The request waits for room (offered again as the workers free it) rather than being refused at
    once; the client sees a slower 200, and the items are counted once, as accepted."""
    receiver.admission.full_for = 2
    offers = receiver.admission.offers
    with connect(receiver) as sock:
        sock.sendall(request(payloads.logs(4).SerializeToString()))
        [(status, _, _)] = read_answers(sock, 1)
    assert status == 200 and receiver.admission.offers - offers == 3
    assert receiver.admission.items(Signal.LOGS) == 4


def test_a_failure_of_ours_is_a_500_and_the_connection_closes(receiver: RunningReceiver,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a 400 (the client did nothing wrong) and not a stalled connection, inline or offloaded."""

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug below the receiver")

    monkeypatch.setattr(receiver.admission, "admit", broken)
    for items in (1, 3000):  # decoded inline, then in the decode threads
        with connect(receiver) as sock:
            sock.sendall(request(payloads.logs(items).SerializeToString()))
            [(status, headers, _)] = read_answers(sock, 1)
            assert closed_by_server(sock)
        assert status == 500 and headers["connection"] == "close"
