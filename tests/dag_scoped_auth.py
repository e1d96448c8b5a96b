"""An auth manager for tests of what a user may see: Airflow's simple auth manager, except that
only admins may read DAGs named ``private_*`` (the simple auth manager scopes DAGs by team only).

Importable by a test process (``AIRFLOW__CORE__AUTH_MANAGER=tests.dag_scoped_auth.DagScopedAuthManager``)
and by an Airflow deployment a test starts with the repository on its ``PYTHONPATH``.
"""

from __future__ import annotations

from typing import Any

try:
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
except ImportError:  # Airflow 2.11: no auth manager of this kind (and no Peak page to test)
    SimpleAuthManager = object  # type: ignore[assignment,misc]

#: DAGs whose id starts with this only admins may read.
PRIVATE_PREFIX = "private_"
#: The class's import path, for ``[core] auth_manager``.
AUTH_MANAGER = f"{__name__}.DagScopedAuthManager"


class DagScopedAuthManager(SimpleAuthManager):  # type: ignore[misc,valid-type]
    """Airflow's simple auth manager, except that only admins may read DAGs named ``private_*``."""

    def is_authorized_dag(
        self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None
    ) -> bool:
        if details is not None and str(details.id).startswith(PRIVATE_PREFIX) and user.role != "admin":
            return False
        return bool(
            super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
        )
