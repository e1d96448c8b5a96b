"""One transport for every HTTP exchange of the provider, sync (``requests``) and async (``httpx``).

* ``client``: the JSON client of the Peak, Peak v2 and Peaka hooks: a pooled session, a deadline
  on every exchange, bounded replies, no redirects, typed errors and the retry policy, on the sync
  path and on the async one (the Peaka trigger) alike.
* ``retry``: the retry policy, in one place: what is retried, the back-off, ``Retry-After``.
* ``replies``: replies read into ``Reply`` or mapped to the typed errors of ``errors``.
* ``bounded``: deadlines and bounded, capped decompression (``requests`` and ``httpx``).
* ``session``: the ``requests.Session`` handed to fetch code, its per-origin credentials and the
  one 401 refresh.
* ``urls``: one URL joiner and one notion of "the same origin".

None of it imports Airflow. ``bounded``, ``session`` and ``urls`` import nothing of the provider
either (only the standard library, ``requests`` and ``urllib3``, and each other relatively): the
REST feed's fetch in a ``requirements=`` virtualenv, where only those are installed, loads this
package by path and uses them as the worker does. So this file imports nothing.
"""
