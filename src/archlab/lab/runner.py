"""Running an experiment: parameters, scratch space, timing, judging, provenance.

:func:`run` never lets an experiment's failure escape as a crash of the whole report: an
exception becomes a :class:`Result` with ``error`` set and no verdict, and the report shows
it as such. A result is saved as soon as it exists, so an interrupted report loses nothing
that had finished.
"""

from __future__ import annotations

import shlex
import shutil
import tempfile
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archlab.errors import ArchlabError
from archlab.lab import environment
from archlab.lab.context import Context
from archlab.lab.judging import flatten
from archlab.lab.progress import NullProgress, Progress
from archlab.lab.registry import Experiment
from archlab.lab.result import Result


def reproduce_command(
    exp: Experiment, profile: str, seed: int, overrides: Mapping[str, Any] | None = None
) -> str:
    parts = ["archlab", "run", exp.id, "--profile", profile, "--seed", str(seed)]
    for name, value in sorted((overrides or {}).items()):
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        parts += ["--set", f"{name}={text}"]
    return shlex.join(parts)


def run(
    exp: Experiment,
    *,
    profile: str = "quick",
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    scratch_root: Path | None = None,
    catch: bool = True,
) -> Result:
    """Run ``exp`` and return its judged :class:`Result`.

    With ``catch`` (the default), an exception inside the experiment is recorded in the
    result instead of propagating; :class:`ArchlabError` from bad parameters always propagates.
    """
    params = exp.params(profile, overrides)
    env = environment.current()
    if scratch_root is not None:
        scratch_root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{exp.id}-", dir=scratch_root))
    result = Result(
        id=exp.id,
        section=exp.section,
        title=exp.title,
        claim=exp.claim,
        method=exp.method,
        profile=profile,
        seed=seed,
        params=params,
        command=reproduce_command(exp, profile, seed, overrides),
        environment=env,
        wall_time_s=0.0,
        references=list(exp.references),
        rule=exp.rule,
    )
    ctx = Context(exp.id, profile, params, seed, scratch, progress or NullProgress())
    started = time.perf_counter()
    try:
        outcome = exp.run(ctx)
        values = flatten(outcome.measured)
        judgement = exp.judge(outcome.measured)
    except ArchlabError:
        raise
    except Exception as exc:
        if not catch:
            raise
        result.error = f"{type(exc).__name__}: {exc}"
        result.notes.append(traceback.format_exc(limit=8))
    else:
        result.summary = outcome.summary
        result.values = values
        result.tables = outcome.tables
        result.figures = outcome.figures
        result.notes = outcome.notes
        result.verdict = judgement.verdict
        result.reason = judgement.reason
        result.evidence = [e.to_dict() for e in judgement.evidence]
    finally:
        result.wall_time_s = round(time.perf_counter() - started, 3)
        shutil.rmtree(scratch, ignore_errors=True)
    return result
