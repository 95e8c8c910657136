"""``archlab serve``'s web application: claims, runs, comparisons and the live cluster.

Pages are rendered on the server (Jinja2 templates in ``archlab/web/templates``); a little
plain JavaScript in ``archlab/web/static`` (shipped in the wheel, no CDN) streams a run's
progress over server-sent events and drives the live cluster through a JSON API:

=========================================  ==============================================
``GET /``                                  every claim in codex order with its last verdict
``GET /claims/{id}``                       one claim: run form, last result, runs to compare
``GET /claims/{id}/figure/{n}``            figure n of its last result (SVG, rendered once)
``POST /api/run``                          start a run (JSON: id, profile, seed, set.NAME)
``GET /api/jobs/{job}/events``             its progress and verdict (text/event-stream)
``GET /compare?a=PATH&b=PATH``             two runs value by value
``GET /live``                              the live simulated cluster (state in the URL)
``POST /api/live``                         a live run from protocol, seed, nodes, actions, step
``POST /api/live/{sid}/{step|act|goto}``   move it / act on it
``GET /api/live/{sid}/check``              the linearizability checker on its history
``GET /live/{sid}/timeline``               the checker's timeline page
``GET /cluster``, ``GET /api/cluster``       a real ``archlab cluster``: its nodes' status
``POST /api/cluster/{kill|start|put|get}``   act on it (:mod:`archlab.web.realcluster`)
=========================================  ==============================================
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from archlab.errors import ArchlabError
from archlab.lab import format as fmt, registry
from archlab.lab.chapters import chapter_title, section_title
from archlab.lab.result import Figure, Result
from archlab.web.jobs import JobRunner
from archlab.web.live import PROTOCOLS, LiveCluster, LiveSpec, decode_actions
from archlab.web.realcluster import RealCluster
from archlab.web.store import ResultStore, compare

STATIC = Path(__file__).parent / "static"
MAX_LIVE = 32


def status_of(result: Result | None) -> str:
    if result is None:
        return "not run"
    return result.verdict if result.ok and result.verdict else "error"


class Dashboard:
    """The application's state: results, jobs and live runs (see the module docstring)."""

    def __init__(
        self, results: Path, scratch: Path | None = None, cluster: Path = Path(".archlab-cluster")
    ) -> None:
        self.store = ResultStore(results)
        self.cluster = RealCluster(cluster)
        self.jobs = JobRunner(self.store, scratch)
        self.live: OrderedDict[str, LiveCluster] = OrderedDict()
        self._figures: OrderedDict[tuple[str, str, int, str, int], str] = OrderedDict()
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("archlab.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.templates.filters["number"] = fmt.number
        self.templates.filters["prose"] = fmt.prose

    def page(self, name: str, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.templates.get_template(name).render(**context))

    # -- claims -------------------------------------------------------------------------

    async def claims(self, request: Request) -> Response:
        latest = self.store.latest()
        chapters: list[dict[str, Any]] = []
        for exp in registry.all_experiments():
            if not chapters or chapters[-1]["number"] != exp.chapter:
                chapters.append(
                    {"number": exp.chapter, "title": chapter_title(exp.chapter), "rows": []}
                )
            result = latest.get(exp.id)
            chapters[-1]["rows"].append(
                {
                    "exp": exp,
                    "section_title": section_title(exp.section),
                    "status": status_of(result),
                    "result": result,
                }
            )
        counts: dict[str, int] = {}
        for chapter in chapters:
            for row in chapter["rows"]:
                counts[row["status"]] = counts.get(row["status"], 0) + 1
        return self.page(
            "claims.html", chapters=chapters, counts=counts, results=self.store.directory
        )

    async def claim(self, request: Request) -> Response:
        exp = registry.get(request.path_params["id"])
        result = self.store.latest().get(exp.id)
        figures = [] if result is None else [f.title for f in result.figures]
        return self.page(
            "claim.html",
            exp=exp,
            params=exp.params("quick"),
            full=exp.params("full"),
            result=result,
            status=status_of(result),
            figures=figures,
            runs=self.store.runs(exp.id),
        )

    async def figure(self, request: Request) -> Response:
        """Figure ``n`` of a claim's last result as SVG, rendered once per result."""
        result = self.store.latest().get(request.path_params["id"])
        n = int(request.path_params["n"])
        if result is None or not 0 <= n < len(result.figures):
            return Response("no such figure", status_code=404)
        key = (result.id, result.environment.started_at, result.seed, result.profile, n)
        if key not in self._figures:
            self._figures[key] = await run_in_threadpool(_render, result.figures[n], n)
            while len(self._figures) > 64:
                self._figures.popitem(last=False)
        return Response(self._figures[key], media_type="image/svg+xml")

    async def start_run(self, request: Request) -> Response:
        try:
            form = await request.json()
            if not isinstance(form, dict):
                raise ArchlabError("expected a JSON object of form fields")
            seed_text = str(form.get("seed", "0") or "0")
            if not seed_text.lstrip("-").isdigit():
                raise ArchlabError(f"seed: expected an integer, got {seed_text!r}")
            overrides = {str(k)[4:]: str(v) for k, v in form.items() if str(k).startswith("set.")}
            exp = registry.get(str(form.get("id", "")))
            defaults = exp.params(str(form.get("profile", "quick")))
            overrides = {k: v for k, v in overrides.items() if v != _text(defaults.get(k))}
            job = self.jobs.submit(
                exp.id, str(form.get("profile", "quick")), int(seed_text), overrides
            )
        except ArchlabError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"job": job.id, "events": f"/api/jobs/{job.id}/events"})

    async def job_events(self, request: Request) -> Response:
        job = self.jobs.jobs.get(request.path_params["job"])
        if job is None:
            return JSONResponse({"error": "no such job"}, status_code=404)

        async def stream() -> AsyncIterator[str]:
            sent = 0
            while True:
                while sent < len(job.events):
                    event = job.events[sent]
                    sent += 1
                    yield f"event: {event['kind']}\ndata: {json.dumps(event)}\n\n"
                    if event["kind"] == "done":
                        return
                if await request.is_disconnected():
                    return
                await asyncio.sleep(0.1)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    async def compare_page(self, request: Request) -> Response:
        a, b = request.query_params.get("a", ""), request.query_params.get("b", "")
        try:
            before, after = self.store.load(a), self.store.load(b)
        except ArchlabError as exc:
            return HTMLResponse(f"<p>{markupsafe.escape(str(exc))}</p>", 400)
        return self.page(
            "compare.html",
            a=a,
            b=b,
            before=before,
            after=after,
            rows=compare(before, after),
            status_of=status_of,
        )

    # -- live cluster --------------------------------------------------------------------

    async def cluster_page(self, request: Request) -> Response:
        return self.page("cluster.html", directory=self.cluster.directory)

    async def live_page(self, request: Request) -> Response:
        return self.page("live.html", protocols=PROTOCOLS)

    async def live_new(self, request: Request) -> Response:
        data = await request.json()
        try:
            spec = LiveSpec(
                str(data.get("protocol", "raft")), _int(data, "seed", 0), _int(data, "nodes", 3)
            )
            actions = decode_actions(str(data.get("actions", "")))
            live = LiveCluster.start(spec, actions, _int(data, "step", 0))
        except ArchlabError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        sid = secrets.token_hex(6)
        self.live[sid] = live
        while len(self.live) > MAX_LIVE:
            self.live.popitem(last=False)
        return JSONResponse({"sid": sid, "state": live.snapshot()})

    async def live_op(self, request: Request) -> Response:
        live = self.live.get(request.path_params["sid"])
        if live is None:
            return JSONResponse({"error": "this live run has expired; reload"}, status_code=404)
        self.live.move_to_end(request.path_params["sid"])
        data = await request.json()
        op = request.path_params["op"]
        try:
            if op == "step":
                live.advance(min(max(_int(data, "n", 1), 0), 2000))
            elif op == "goto":
                live.goto(_int(data, "step", live.step))
            elif op == "act":
                live.act(str(data.get("kind", "")), *[str(a) for a in data.get("args", [])])
            else:
                return JSONResponse({"error": f"unknown operation {op!r}"}, status_code=404)
        except ArchlabError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"state": live.snapshot()})

    async def live_check(self, request: Request) -> Response:
        live = self.live.get(request.path_params["sid"])
        if live is None:
            return JSONResponse({"error": "this live run has expired; reload"}, status_code=404)
        outcome = await run_in_threadpool(live.check)
        return JSONResponse({"valid": outcome["valid"], "summary": outcome["summary"]})

    async def live_timeline(self, request: Request) -> Response:
        live = self.live.get(request.path_params["sid"])
        if live is None:
            return HTMLResponse("<p>this live run has expired</p>", status_code=404)
        outcome = await run_in_threadpool(live.check)
        return HTMLResponse(outcome["timeline"])


def _render(figure: Figure, n: int) -> str:
    """A figure as a standalone SVG document (the report's renderer)."""
    from archlab.lab.plots import render_svg

    svg = render_svg(figure, id_prefix=f"f{n}-")
    return svg.replace(
        "<svg ",
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ',
        1,
    )


def _int(data: Any, name: str, default: int) -> int:
    value = data.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ArchlabError(f"{name}: expected an integer, got {value!r}") from None


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def create_app(
    results: Path = Path("results"),
    scratch: Path | None = None,
    cluster: Path = Path(".archlab-cluster"),
) -> Starlette:
    """The application over the results directory ``results`` and the cluster in ``cluster``."""
    dash = Dashboard(results, scratch, cluster)

    async def not_found(request: Request, exc: Exception) -> Response:
        return HTMLResponse(f"<p>{markupsafe.escape(str(exc))}</p>", 404)

    app = Starlette(
        routes=[
            Route("/", dash.claims),
            Route("/claims/{id}", dash.claim),
            Route("/claims/{id}/figure/{n:int}", dash.figure),
            Route("/api/run", dash.start_run, methods=["POST"]),
            Route("/api/jobs/{job}/events", dash.job_events),
            Route("/compare", dash.compare_page),
            Route("/live", dash.live_page),
            Route("/api/live", dash.live_new, methods=["POST"]),
            Route("/api/live/{sid}/check", dash.live_check),
            Route("/api/live/{sid}/{op}", dash.live_op, methods=["POST"]),
            Route("/live/{sid}/timeline", dash.live_timeline),
            Route("/cluster", dash.cluster_page),
            Route("/api/cluster", dash.cluster.status),
            Route("/api/cluster/{op}", dash.cluster.act, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        exception_handlers={ArchlabError: not_found},
    )
    app.state.dashboard = dash
    return app
