"""The Peak page in Airflow's UI (Airflow 3.1+): a FastAPI app the API server mounts at ``/peak``,
shown under Browse -> Peak (an ``external_views`` entry). On older Airflow the plugin has no page.

The page is read under Airflow's auth: the user comes from the UI's session cookie (or a bearer
token), and only rows of the DAGs Airflow's auth manager lets that user read are shown.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_peak.version_compat import HAS_PLUGIN_PAGES, conf

#: Where the API server mounts the page's app.
URL_PREFIX = "/peak"
#: Nothing on the page runs or loads: inline style only; Airflow's UI may frame it.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def ui_base_path() -> str:
    """The path Airflow's UI is served under (``[api] base_url``'s path, without a trailing ``/``)."""
    base_url = conf.get("api", "base_url", fallback="/") or "/"
    path = urlsplit(base_url).path if base_url.startswith(("http://", "https://")) else base_url
    return path.rstrip("/")


def create_app() -> Any:
    """The page's FastAPI app."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.core_api.security import get_user
    from airflow.utils.session import create_session
    from fastapi import Depends, FastAPI
    from fastapi.responses import HTMLResponse

    from airflow_provider_peak.ui.peak_page import group, recent_rows, render

    app = FastAPI(title="Peak", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    def peak_page(user: Any = Depends(get_user)) -> HTMLResponse:  # noqa: B008 - FastAPI's idiom
        with create_session() as session:
            dag_ids = get_auth_manager().get_authorized_dag_ids(user=user, method="GET", session=session)
            rows = recent_rows(dag_ids, session=session)
        html = render(group(rows), base=ui_base_path(), user=user.get_name())
        return HTMLResponse(html, headers=HEADERS)

    return app


class LazyApp:
    """The page's app as an ASGI app that builds it on its first request.

    Every Airflow process loads plugins (the scheduler, the triggerer, each task's process), and
    only the API server serves the page: the others import nothing of it (FastAPI and Airflow's
    API modules take seconds to import).
    """

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            self._app = create_app()
        await self._app(scope, receive, send)


class PeakPlugin(AirflowPlugin):
    """The provider's page in Airflow's UI: recent Peak loads, Peaka caches, REST feeds and Peak
    workflow runs."""

    name = "peak"
    if HAS_PLUGIN_PAGES:
        fastapi_apps = [{"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "Peak"}]
        external_views = [
            {
                "name": "Peak",
                "href": f"{ui_base_path()}{URL_PREFIX}/",
                "destination": "nav",
                "category": "browse",
                "url_route": "peak",
            }
        ]
