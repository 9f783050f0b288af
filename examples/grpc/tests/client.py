"""A real gRPC client (grpcio) against the example server: python3 client.py PORT."""
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

JOHN = [("authorization", "Bearer secret-token-1")]
SUSAN = [("authorization", "Bearer secret-token-2")]
WRONG = [("authorization", "Bearer wrong-token")]
REQUEST = health_pb2.HealthCheckRequest(service="")


def refused(call):
    """The status of a call that must fail: (code, details, trailing metadata)."""
    try:
        call()
    except grpc.RpcError as err:
        return err.code(), err.details(), dict(err.trailing_metadata() or ())
    raise AssertionError("the call was not refused")


with grpc.insecure_channel(f"127.0.0.1:{sys.argv[1]}") as channel:
    health = health_pb2_grpc.HealthStub(channel)

    code, details, trailers = refused(lambda: health.Check(REQUEST, timeout=10))
    assert code == grpc.StatusCode.UNAUTHENTICATED, code
    assert details == "missing credentials", details
    assert trailers.get("www-authenticate") == 'Bearer realm="Authentication Required"', trailers
    print("no token: UNAUTHENTICATED")

    reply = health.Check(REQUEST, metadata=JOHN, timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING, reply
    print("john Check: SERVING")

    watch = health.Watch(REQUEST, metadata=JOHN, timeout=10)
    code, details, _ = refused(lambda: next(watch))
    assert code == grpc.StatusCode.PERMISSION_DENIED, code
    assert details == "insufficient role", details
    print("john Watch: PERMISSION_DENIED")

    watch = health.Watch(REQUEST, metadata=SUSAN, timeout=10)
    first = next(watch)
    assert first.status == health_pb2.HealthCheckResponse.SERVING, first
    watch.cancel()
    print("susan Watch: SERVING")

    # The server allows 10 failures per address: the 11th wrong token is not even checked.
    codes = []
    for _ in range(15):
        code, details, _ = refused(lambda: health.Check(REQUEST, metadata=WRONG, timeout=10))
        codes.append(code)
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            assert details == "too many failed attempts", details
            break
    assert codes == [grpc.StatusCode.UNAUTHENTICATED] * 10 + [grpc.StatusCode.RESOURCE_EXHAUSTED], codes
    print("11th wrong token: RESOURCE_EXHAUSTED")
