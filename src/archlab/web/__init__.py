"""The dashboard, ``archlab serve``: the claims and a live simulated cluster in a browser.

- :mod:`archlab.web.live`: the live cluster's state machine (sans-IO; rewind is replay);
- :mod:`archlab.web.store`: the ``results/`` JSON the CLI writes, read and written alike;
- :mod:`archlab.web.jobs`: experiment runs started from the page, with progress;
- :mod:`archlab.web.app`: the Starlette application (templates and static files ship in
  the package, so the dashboard works offline);
- :mod:`archlab.web.cli`: ``archlab serve`` and ``archlab live``.
"""
