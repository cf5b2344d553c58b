"""Ask a listening socket, without credentials, whether it serves: for the security tests."""

from __future__ import annotations

import ipaddress

import grpc
import httpx

# One cheap method of each gRPC service a Ray process may serve; Ray checks the token per call,
# after the method is resolved, so an unknown method says UNIMPLEMENTED rather than UNAUTHENTICATED.
RAY_GRPC_METHODS = (
    "/ray.rpc.NodeInfoGcsService/GetAllNodeInfo",
    "/ray.rpc.NodeManagerService/GetNodeStats",
    "/ray.rpc.CoreWorkerService/GetCoreWorkerStats",
    "/ray.rpc.ObjectManagerService/Pull",
    "/ray.rpc.ReporterService/GetProfilingStats",
    "/ray.rpc.MetricsAgentService/ReportOCMetrics",
    "/ray.rpc.RuntimeEnvService/GetRuntimeEnvsInfo",
)


def is_loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def http_status(port: int, path: str = "/api/jobs/", headers: dict | None = None) -> int | None:
    """The HTTP status of ``GET path`` on 127.0.0.1:``port``, or None when it does not speak HTTP/1."""
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers or {}, timeout=3).status_code
    except httpx.HTTPError:
        return None


def grpc_answers(port: int) -> set[grpc.StatusCode]:
    """Status codes of an empty, unauthenticated call to each of :data:`RAY_GRPC_METHODS`."""
    codes = set()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        for method in RAY_GRPC_METHODS:
            try:
                channel.unary_unary(method, request_serializer=None, response_deserializer=None)(b"", timeout=5)
                codes.add(grpc.StatusCode.OK)
            except grpc.RpcError as error:
                codes.add(error.code())
    return codes


def refuses_unauthenticated(port: int) -> bool:
    """True when the server at ``port`` turns away a caller without a token: an HTTP server
    answers 401/403, a gRPC server answers UNAUTHENTICATED and serves no method."""
    status = http_status(port)
    if status is not None and status < 500:
        return status in (401, 403)
    codes = grpc_answers(port)
    return grpc.StatusCode.UNAUTHENTICATED in codes and grpc.StatusCode.OK not in codes
