"""Start and stop the team server: a local Ray instance (or a cluster's), Serve's HTTP proxy on
`host:port`, the model deployment (one replica per GPU, or one CPU process) and the ingress.

    client ──HTTP──▶ Serve proxy ──▶ Ingress (auth, limits) ──handle──▶ ModelReplica × N
"""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diffcoder.model.types import LoadOptions
from diffcoder.serving.requests import Limits

APP_NAME = "diffcoder"
MODEL_DEPLOYMENT = "DiffCoderModel"
INGRESS_DEPLOYMENT = "DiffCoderIngress"


@dataclass(frozen=True)
class ServeSettings:
    model: str  # checkpoint directory, the same path on every host of a cluster
    host: str = "127.0.0.1"
    port: int = 8000
    replicas: int | None = None  # None: one per GPU in the cluster, else one
    autoscale: tuple[int, int] | None = None  # (min, max) replicas instead of a fixed number
    max_batch: int = 8
    device: str = "auto"
    quant: str = "auto"
    dtype: str | None = None
    address: str | None = None  # join this Ray cluster instead of starting one
    token_digests: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    num_cpus: int | None = None  # a local Ray's CPUs (default: all)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def port_problem(host: str, port: int) -> str | None:
    """Why Serve could not listen on `host:port` here, or None (checked before Ray starts)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is in use; pick another with --port"
            return f"cannot listen on {host}:{port}: {error.strerror or error}"
    return None


def _uses_gpu(device: str, cluster_gpus: int) -> bool:
    return device.startswith("cuda") or (device == "auto" and cluster_gpus > 0)


def build_app(settings: ServeSettings, cluster_gpus: int) -> Any:
    """The Serve application (not yet running)."""
    from ray import serve

    from diffcoder.serving.ingress import Ingress
    from diffcoder.serving.replica import ModelReplica

    gpu = _uses_gpu(settings.device, cluster_gpus)
    scaling: dict[str, Any]
    if settings.autoscale is not None:
        low, high = settings.autoscale
        scaling = {
            "autoscaling_config": {
                "min_replicas": low,
                "max_replicas": high,
                "target_ongoing_requests": settings.max_batch,
            }
        }
    else:
        scaling = {"num_replicas": settings.replicas or max(cluster_gpus if gpu else 1, 1)}
    # Inside a replica Ray shows only its own GPU: "auto" (or "cuda") picks it.
    device = "cuda" if gpu and settings.device.startswith("cuda") else settings.device
    options = LoadOptions(
        device=device, quant=settings.quant, dtype=settings.dtype, progress_bars=False
    )
    model = serve.deployment(
        ModelReplica,
        name=MODEL_DEPLOYMENT,
        ray_actor_options={"num_cpus": 1, "num_gpus": 1 if gpu else 0},
        max_ongoing_requests=settings.max_batch,
        health_check_period_s=2.0,
        health_check_timeout_s=30.0,
        graceful_shutdown_wait_loop_s=0.5,
        graceful_shutdown_timeout_s=5.0,
        max_constructor_retry_count=1,
        **scaling,
    ).bind(settings.model, options, settings.max_batch, settings.limits)
    ingress = serve.deployment(
        Ingress,
        name=INGRESS_DEPLOYMENT,
        num_replicas=1,
        ray_actor_options={"num_cpus": 0},
        max_ongoing_requests=4096,
        graceful_shutdown_wait_loop_s=0.5,
        graceful_shutdown_timeout_s=5.0,
    )
    model_name = Path(settings.model).name
    return ingress.bind(model, list(settings.token_digests), settings.limits, model_name)


def _has_ray_token() -> bool:
    """Ray's token for authenticated clusters: RAY_AUTH_TOKEN(_PATH) or ~/.ray/auth_token."""
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return True
    return (Path.home() / ".ray" / "auth_token").is_file()


def start(settings: ServeSettings) -> dict[str, Any]:
    """Start (or join) Ray, then Serve and the application; returns a replica's `describe()`.
    Raises RuntimeError with Serve's reason when the deployment fails."""
    if settings.address and "RAY_AUTH_MODE" not in os.environ and _has_ray_token():
        # As `ray start` does: a cluster whose token is here expects it from its clients too.
        os.environ["RAY_AUTH_MODE"] = "token"
    import ray
    from ray import serve

    if settings.address:
        ray.init(address=settings.address, log_to_driver=False)
    else:
        # "local": a new instance even where `ray start` left one (use --address to join it)
        ray.init(
            address="local",
            num_cpus=settings.num_cpus,
            include_dashboard=False,
            log_to_driver=False,
        )
    serve.start(http_options={"host": settings.host, "port": settings.port})
    gpus = int(ray.cluster_resources().get("GPU", 0))
    serve.run(build_app(settings, gpus), name=APP_NAME, route_prefix="/")
    handle = serve.get_deployment_handle(MODEL_DEPLOYMENT, app_name=APP_NAME)
    return handle.describe.remote().result()


def replica_count() -> int:
    from ray import serve

    status = serve.status().applications[APP_NAME].deployments[MODEL_DEPLOYMENT]
    return sum(status.replica_states.values())


def stop(settings: ServeSettings) -> None:
    """Remove the application; a local Ray (and Serve with it) stops, a cluster keeps running."""
    import ray
    from ray import serve

    if not ray.is_initialized():
        return
    try:
        if settings.address:
            serve.delete(APP_NAME)
        else:
            serve.shutdown()
    finally:
        ray.shutdown()
