"""Scaling sweeps out: seed sweeps and reports fanned out as Ray tasks (``--on ray``)."""
