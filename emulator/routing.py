"""Route table types shared by the protocol routes, the admin API and the dispatcher."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PROTOCOL_ROUTES = (
    "/createRunnerInstance", "/revokeRunnerInstance", "/updateRunnerInstance",
    "/leaseWorkspaceJob", "/heartbeatWorkspaceJob", "/getWorkspaceRunnerContext",
    "/updateWorkspaceRunnerSummary", "/completeWorkspaceJob", "/failWorkspaceJob",
)


@dataclass(frozen=True, kw_only=True)
class ApiRequest:
    """One parsed request as a route handler sees it."""

    bearer: str | None
    body: dict[str, Any]
    tail: str = ""  # for a prefix route: the path after the prefix (e.g. a workspace id)
    query: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[ApiRequest], "tuple[int, Any]"]  # -> (HTTP status, JSON body)


@dataclass(frozen=True, kw_only=True)
class Route:
    """A path and its handler per HTTP method.

    ``protocol`` routes are the cloud's 9 routes: they get fault injection and refuse an
    empty body. A ``prefix`` route matches ``path`` + one more segment (``/admin/jobs/<id>``).
    """

    path: str
    handlers: Mapping[str, Handler]
    protocol: bool = False
    prefix: bool = False

    @property
    def name(self) -> str:
        """The route's name in stats."""
        return self.path + "{id}" if self.prefix else self.path


class RouteTable:
    """Resolves a request path to its route; exact paths win over prefix routes."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._exact: dict[str, Route] = {}
        self._prefixes: list[Route] = []
        for route in routes:
            if route.prefix:
                self._prefixes.append(route)
            else:
                self._exact[route.path] = route

    def resolve(self, path: str) -> tuple[Route, str] | None:
        route = self._exact.get(path)
        if route is not None:
            return route, ""
        for route in self._prefixes:
            tail = path[len(route.path):] if path.startswith(route.path) else ""
            if tail and "/" not in tail:
                return route, tail
        return None
